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
from typing import TYPE_CHECKING, Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError

from riskml.clock import local_now
from riskml.online import InvalidClaims, request_frames, score_against_store
from riskml.security import pseudonymise
from riskml.store import AuditEntry
from serve.deps import Decider, MetricsDep, ScorerDep, ScoringUser, StoreDep
from serve.schemas import (
    MAX_ID_LENGTH,
    TEXT,
    DecisionIn,
    DecisionOut,
    ScoreResponse,
    build_request_models,
    score_out,
)
from serve.settings import Settings

if TYPE_CHECKING:
    from serve.schemas import ScoreRequest

log = logging.getLogger(__name__)


def _invalid(loc: tuple[str | int, ...], msg: str, value: object) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def _frames(body: "ScoreRequest") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The request's claims and items as contract frames; 422 naming the field otherwise."""
    try:
        return request_frames([claim.model_dump() for claim in body.claims])
    except InvalidClaims as exc:
        raise _invalid(("body", *exc.loc), exc.problem, exc.value) from exc


def make_router(settings: Settings) -> APIRouter:
    """The claims router, with the request models sized by ``settings``."""
    router = APIRouter(prefix="/v1/claims", tags=["claims"])
    score_request = build_request_models(settings.max_batch_claims, settings.max_items_per_claim)
    # Scoring is CPU-bound Python (pandas, the GIL): more threads at once only take turns on
    # the GIL, with every request slowed; queued requests wait here instead.
    gate = threading.BoundedSemaphore(settings.scoring_concurrency)

    @router.post("/score", response_model=ScoreResponse)
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

        With ``dry_run=true`` the claims are scored exactly the same way (against the store's
        history as it is now) but neither they nor their scores are kept.
        """
        with gate:  # at most settings.scoring_concurrency requests compute at once
            started = time.perf_counter()
            claims, items = _frames(body)
            bad = store.unknown_reference(claims)
            if bad is not None:
                pos, column, value = bad
                raise _invalid(
                    ("body", "claims", pos, column), f"unknown {column}: not in the store", value
                )
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
                results = score_against_store(store, scorer, claims, items)
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
                store.record_scoring(
                    claims,
                    items,
                    [{**o, "model_version": version, "scored_at": now} for o in out],
                    audited([o["risk_band"] for o in out]),
                )
            for o in out:
                metrics.claims_scored.labels(o["risk_band"]).inc()
            log.info(
                "scored %d claims (subjects %s) with model %s for %s in %.1f ms",
                len(out),
                ",".join(subjects[:5]) + (",..." if len(subjects) > 5 else ""),
                version,
                user.name,
                1000 * (time.perf_counter() - started),
            )
            return ScoreResponse.model_validate({"model_version": version, "results": out})

    @router.post(
        "/{claim_id}/decision", response_model=DecisionOut, status_code=status.HTTP_201_CREATED
    )
    def decide(
        claim_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=TEXT)],
        body: DecisionIn,
        request: Request,
        store: StoreDep,
        metrics: MetricsDep,
        user: Decider,
    ) -> DecisionOut:
        """Record who decided what on a claim, and why; kept and audited, never overwritten."""
        secret: bytes = request.app.state.secret
        typology = body.typology if body.outcome in ("fraud", "abuse") else None
        row = store.record_decision(
            claim_id,
            body.outcome,
            body.note,
            typology,
            decided_by=user.name,
            decided_role=user.role,
            subject=lambda person: pseudonymise(person, secret),
        )
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such claim in the store")
        metrics.decisions.labels(body.outcome).inc()
        log.info("decision %s by %s recorded", body.outcome, user.name)
        return DecisionOut.model_validate(row)

    return router
