"""``POST /v1/claims/score`` and ``POST /v1/claims/{claim_id}/decision``.

Scoring reads like the contract: validate the claims (422 naming the field), refuse unknown
persons, providers and employers (422), score them against the store's history
(:func:`riskml.online.score_against_store`: the world a batch run over the same data would see),
persist claims, items, scores and audit rows in one transaction, answer. A retry replaces the
stored claim (upsert by ``claim_id``), so it neither duplicates it nor sees itself in its history.
A dry run (``?dry_run=true``) answers the same scores and persists only its audit rows.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the request model built at
# runtime in make_router as a real annotation, not a string it cannot resolve.
import logging
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any, cast

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError

from riskml.clock import local_now
from riskml.online import InvalidClaims, request_frames, request_world, score_against_store
from riskml.security import pseudonymise
from riskml.store import AuditEntry, ClaimConflict, ClaimDiff, Store
from serve.deps import Corrector, Decider, MetricsDep, ScorerDep, ScoringUser, StoreDep
from serve.json_route import JsonBodyRoute
from serve.schemas import (
    ID_TEXT,
    MAX_ID_LENGTH,
    OVERLOADED_RESPONSES,
    TEXT,
    CorrectionOut,
    ScoreResponse,
    build_request_models,
    error_responses,
    score_out,
)
from serve.settings import Settings
from serve.shadow import ShadowJob
from serve.web.decision_api import DecisionIn, DecisionOut, record_decision

if TYPE_CHECKING:
    from serve.schemas import CorrectionRequest, ScoreRequest

log = logging.getLogger(__name__)


def _invalid(loc: tuple[str | int, ...], msg: str, value: object) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def _frames(claims: list[Any], one: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Request claims as contract frames; 422 naming the field otherwise. ``one``: the body
    holds a single ``claim``, not a list of ``claims``."""
    try:
        return request_frames([claim.model_dump() for claim in claims])
    except InvalidClaims as exc:
        loc = ("claim", *exc.loc[2:]) if one else exc.loc
        raise _invalid(("body", *loc), exc.problem, exc.value) from exc


def _check_references(store: Store, claims: pd.DataFrame, one: bool = False) -> None:
    """422 for the first claim naming a person, provider or employer the store does not know."""
    bad = store.unknown_reference(claims)
    if bad is not None:
        pos, column, value = bad
        loc = ("body", "claim", column) if one else ("body", "claims", pos, column)
        raise _invalid(loc, f"unknown {column}: not in the store", value)


def _conflict(diffs: list[ClaimDiff]) -> HTTPException:
    """409 naming, per claim, the fields in which it differs from the stored claim."""
    return HTTPException(
        status.HTTP_409_CONFLICT,
        {
            "message": "claims already stored with other content; history is not rewritten "
            "by a re-send (an administrator corrects a claim with PUT /v1/claims/{claim_id})",
            "conflicts": [
                {"index": d.position, "claim_id": d.claim_id, "fields": list(d.fields)}
                for d in diffs
            ],
        },
    )


def make_router(settings: Settings) -> APIRouter:
    """The claims router, with the request models sized by ``settings``."""
    router = APIRouter(
        prefix="/v1/claims",
        tags=["claims"],
        route_class=JsonBodyRoute,
        responses=error_responses(401, 403, 413),
    )
    score_request, correction_request = build_request_models(
        settings.max_batch_claims, settings.max_items_per_claim
    )
    # Scoring is CPU-bound Python (pandas, the GIL): more threads at once only take turns on
    # the GIL, with every request slowed; queued requests wait here instead.
    gate = threading.BoundedSemaphore(settings.scoring_concurrency)

    @router.post(
        "/score",
        response_model=ScoreResponse,
        responses={**error_responses(409, 500), **OVERLOADED_RESPONSES},
    )
    def score_claims(
        user: ScoringUser,  # first: credentials are checked before anything else answers
        body: score_request,  # type: ignore[valid-type]
        request: Request,
        scorer: ScorerDep,
        store: StoreDep,
        metrics: MetricsDep,
        dry_run: Annotated[
            bool,
            Query(
                description="score against the store's history and store nothing (no claim, "
                "no score, no queue entry); the request is still audited"
            ),
        ] = False,
    ) -> ScoreResponse:
        """Score claims with reasons; every score is stored with its model version and audited.

        A claim already stored is scored again only if it is sent with the same content
        (idempotent); with other content the request is refused with 409 naming the fields that
        differ, and nothing is stored. With ``dry_run=true`` the claims are scored exactly the
        same way (against the store's history as it is now) but neither they nor their scores
        are kept, and a stored claim_id is not checked for conflicts.
        """
        with gate:  # at most settings.scoring_concurrency requests compute at once
            started = time.perf_counter()
            claims, items = _frames(cast("ScoreRequest", body).claims)
            _check_references(store, claims)
            secret: bytes = request.app.state.secret
            subjects = [pseudonymise(p, secret) for p in claims["person_id"].astype(str)]
            ids = claims["claim_id"].astype(str).tolist()
            version = str(scorer.model_version)
            now = local_now()

            def audited(outcomes: list[str]) -> list[AuditEntry]:
                return [
                    AuditEntry(
                        user.name,
                        user.role,
                        action="score_dry_run" if dry_run else "score",
                        outcome=outcome,
                        claim_id=cid,
                        subject=subject,
                        model_version=version,
                        at=now,
                    )
                    for cid, subject, outcome in zip(ids, subjects, outcomes, strict=True)
                ]

            try:
                world = request_world(store, claims, items)
                results = world.score(scorer)
            except Exception as exc:
                store.audit(audited(["error"] * len(ids)))
                log.error("scoring %d claims failed: %s", len(ids), type(exc).__name__)
                raise HTTPException(
                    status.HTTP_500_INTERNAL_SERVER_ERROR, "scoring failed; the attempt is audited"
                ) from exc
            out = [score_out(cid, r) for cid, r in zip(ids, results, strict=True)]
            if dry_run:
                store.audit(audited([o["risk_band"] for o in out]))
            else:
                try:
                    store.record_scoring(
                        claims,
                        items,
                        [{**o, "model_version": version, "scored_at": now} for o in out],
                        audited([o["risk_band"] for o in out]),
                    )
                except ClaimConflict as exc:  # checked where it is written, so no race
                    raise _conflict(exc.diffs) from exc
            for o in out:
                metrics.claims_scored.labels(o["risk_band"]).inc()
            if not dry_run:  # what the service scored and kept: the drift gauges and the shadow
                request.app.state.drift.add(
                    version, results, claims["amount_claimed"].astype("float64").tolist()
                )
                request.app.state.shadow.submit(ShadowJob(world, version, out))
            log.info(
                "scored %d claims (subjects %s) with model %s for %s in %.1f ms",
                len(out),
                ",".join(subjects[:5]) + (",..." if len(subjects) > 5 else ""),
                version,
                user.name,
                1000 * (time.perf_counter() - started),
            )
            return ScoreResponse.model_validate({"model_version": version, "results": out})

    @router.put(
        "/{claim_id}",
        response_model=CorrectionOut,
        responses=error_responses(404, 500, 503),
    )
    def correct_claim(
        user: Corrector,
        claim_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_TEXT)],
        body: correction_request,  # type: ignore[valid-type]
        request: Request,
        scorer: ScorerDep,
        store: StoreDep,
    ) -> CorrectionOut:
        """Correct a stored claim (administrators only): the earlier version is kept and
        audited, the claim and its items are replaced, and the claim is scored again, with every
        stored, scored claim whose features read it, as a batch run over the corrected data
        would score them. Sending the stored content again changes nothing.
        """
        correction_body = cast("CorrectionRequest", body)
        claims, items = _frames([correction_body.claim], one=True)
        if str(claims["claim_id"].iloc[0]) != claim_id:
            raise _invalid(
                ("body", "claim", "claim_id"), "must be the claim_id of the path", claim_id
            )
        _check_references(store, claims, one=True)
        secret: bytes = request.app.state.secret
        with gate:
            before, before_items = store.stored_claim(claim_id)
            correction = store.correct_claim(
                claims,
                items,
                actor=user.name,
                role=user.role,
                reason=correction_body.reason,
                subject=lambda person: pseudonymise(person, secret),
            )
            if correction is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such claim in the store")
            readers, reader_items = (
                store.scored_readers([before, claims], [before_items, items])
                if correction.fields
                else (claims.iloc[:0], items.iloc[:0])
            )
            to_score = pd.concat([claims, readers], ignore_index=True)
            lines = pd.concat([items, reader_items], ignore_index=True)
            version = str(scorer.model_version)
            now = local_now()
            try:
                results = score_against_store(store, scorer, to_score, lines)
            except Exception as exc:
                store.audit(
                    [AuditEntry(user.name, user.role, "rescore", "error", claim_id, None, version)]
                )
                log.error("rescoring a corrected claim failed: %s", type(exc).__name__)
                raise HTTPException(
                    status.HTTP_500_INTERNAL_SERVER_ERROR,
                    "the correction is kept, but scoring it failed; the attempt is audited",
                ) from exc
            out = [
                score_out(str(cid), r) for cid, r in zip(to_score["claim_id"], results, strict=True)
            ]
            persons = to_score["person_id"].astype(str).tolist()
            store.record_scores(
                [{**o, "model_version": version, "scored_at": now} for o in out],
                [
                    AuditEntry(
                        user.name,
                        user.role,
                        action="rescore",
                        outcome=o["risk_band"],
                        claim_id=o["claim_id"],
                        subject=pseudonymise(person, secret),
                        model_version=version,
                        at=now,
                    )
                    for o, person in zip(out, persons, strict=True)
                ],
            )
        log.info(
            "claim corrected by %s (%d fields), %d readers rescored",
            user.name,
            len(correction.fields),
            len(readers),
        )
        return CorrectionOut.model_validate(
            {
                "claim_id": claim_id,
                "version": correction.version,
                "changed_fields": list(correction.fields),
                "model_version": version,
                "result": out[0],
                "rescored": len(readers),
            }
        )

    @router.post(
        "/{claim_id}/decision",
        response_model=DecisionOut,
        status_code=status.HTTP_201_CREATED,
        responses={
            **error_responses(404),
            409: {"description": "the claim is decided: send a review or appeal of its final one"},
            429: {"description": "too many writes with this key; wait a minute"},
        },
    )
    def decide(
        claim_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=TEXT)],
        body: DecisionIn,
        request: Request,
        store: StoreDep,
        metrics: MetricsDep,
        user: Decider,
    ) -> DecisionOut:
        """Record who decided what on a claim, and why; kept and audited, never overwritten:
        the decision form's code path (``riskml.store.decisions``), rate-limited per key."""
        decision = record_decision(request, store, user, claim_id, body)
        metrics.decisions.labels(body.outcome).inc()
        log.info("decision %s by %s recorded", body.outcome, user.name)
        return decision

    return router
