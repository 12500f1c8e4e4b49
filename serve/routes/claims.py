"""``POST /v1/claims/score`` and ``POST /v1/claims/{claim_id}/decision``.

Scoring: validate the claims (422 naming the field), refuse unknown persons, providers and
employers (422), read their history from the store, score them in the world "history + these
claims" exactly as a batch run scores a data directory, then persist claims, items, scores and
audit rows in one transaction. A retry replaces the stored claim (upsert by ``claim_id``), so it
neither duplicates it nor sees itself in its history.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the request model built at
# runtime in make_router as a real annotation, not a string it cannot resolve.
import datetime as dt
import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError

from riskml.contract import TABLES
from riskml.data import ClaimsData, null_column, validate_frame
from riskml.errors import DataContractError
from riskml.scoring import ScoreResult
from riskml.security import pseudonymise
from serve.deps import Decider, MetricsDep, ScorerDep, ScoringUser, StoreDep
from serve.schemas import MAX_ID_LENGTH, TEXT, ScoreResponse, build_request_models
from serve.settings import Settings
from serve.web.decision_api import DecisionIn, DecisionOut, record_decision

if TYPE_CHECKING:
    from serve.schemas import ScoreRequest

log = logging.getLogger(__name__)


def _invalid(loc: tuple[str | int, ...], msg: str, value: object) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def _optional_absent(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Drop optional contract columns no row filled, as if the client had not sent them."""
    optional = [c.name for c in TABLES[table].columns if c.optional and c.name in frame.columns]
    empty = [c for c in optional if frame[c].isna().all()]
    return frame.drop(columns=empty)


def request_frames(body: "ScoreRequest") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The request's claims and items as contract frames (loader dtypes); 422 on what pydantic
    cannot see alone: a claim_id twice in one request, a line_no twice in one claim.
    """
    claim_cols = list(TABLES["claims"].column_names)
    item_cols = list(TABLES["claim_items"].column_names)
    claims = pd.DataFrame(
        [c.model_dump(include=set(claim_cols)) for c in body.claims], columns=claim_cols
    )
    dup = claims["claim_id"].duplicated()
    if dup.any():
        pos = int(dup.to_numpy().nonzero()[0][0])
        raise _invalid(
            ("body", "claims", pos, "claim_id"),
            "claim_id appears more than once in the request",
            claims["claim_id"].iloc[pos],
        )
    rows: list[dict[str, Any]] = []
    for i, claim in enumerate(body.claims):
        seen: set[int] = set()
        for j, item in enumerate(claim.items or []):
            if item.line_no in seen:
                raise _invalid(
                    ("body", "claims", i, "items", j, "line_no"),
                    "line_no appears more than once in this claim",
                    item.line_no,
                )
            seen.add(item.line_no)
            rows.append({**item.model_dump(include=set(item_cols)), "claim_id": claim.claim_id})
    items = pd.DataFrame(rows, columns=item_cols)
    try:
        claims_v = validate_frame(_optional_absent(claims, "claims"), "claims")
        items_v = validate_frame(_optional_absent(items, "claim_items"), "claim_items")
    except DataContractError as exc:  # pragma: no cover - the request models check these first
        raise _invalid(("body", "claims", exc.column or ""), exc.problem, exc.example) from exc
    return claims_v, items_v


def _padded(frame: pd.DataFrame, columns: list[str], table: str) -> pd.DataFrame:
    """``frame`` with ``columns`` in that order, the optional contract columns it lacks added as
    nulls in the loader's dtype (what validating a concatenation with a frame that has them
    gives its rows)."""
    missing = [c for c in columns if c not in frame.columns]
    if not missing:
        return frame if list(frame.columns) == columns else frame[columns]
    spec = TABLES[table]
    extra = {c: null_column(spec.column(c).kind, frame.index) for c in missing}
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)[columns]


def _combine(history: pd.DataFrame, new: pd.DataFrame, table: str) -> pd.DataFrame:
    """History rows followed by the request's rows, with the loader's dtypes.

    Both parts are contract-clean already (the store's rows were validated when they entered it,
    the request's by :func:`request_frames`), and the contract's row rules are per row, so when
    both have the same columns and dtypes and share no ``claim_id`` (no key can repeat), their
    concatenation is what :func:`validate_frame` would return: it is returned without the second
    validation (about 15 ms on a one-claim request). An optional column only one side has (a
    claim sent without ``doctor_id``, items without ``trace_code``) is added to the other as
    nulls first, as that validation would; anything else goes through it as before.
    """
    if not len(history):
        return new.reset_index(drop=True)
    spec = TABLES[table]
    columns = [c.name for c in spec.columns if c.name in history.columns or c.name in new.columns]
    one_sided = set(columns) - (set(history.columns) & set(new.columns))
    if all(spec.column(c).optional for c in one_sided) and set(columns) == set(
        history.columns
    ) | set(new.columns):
        history, new = _padded(history, columns, table), _padded(new, columns, table)
    same_layout = list(history.columns) == list(new.columns) and list(history.dtypes) == list(
        new.dtypes
    )
    seen = pd.Index(history["claim_id"]).unique().get_indexer(new["claim_id"]) >= 0  # hash lookup
    if same_layout and not seen.any():
        return pd.concat([history, new], ignore_index=True)
    return validate_frame(pd.concat([history, new], ignore_index=True), table)


def world_for(history: ClaimsData, claims: pd.DataFrame, items: pd.DataFrame) -> ClaimsData:
    """The data a batch run would see: the store's history plus the request's claims and items."""
    return ClaimsData(
        persons=history.persons,
        employers=history.employers,
        providers=history.providers,
        contributions=history.contributions,
        claims=_combine(history.claims, claims, "claims"),
        claim_items=_combine(history.claim_items, items, "claim_items"),
        labels=None,
    )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _reasons(result: ScoreResult) -> list[dict[str, Any]]:
    """Reasons as JSON-safe dicts (no NaN, no numpy scalars)."""
    out = []
    for r in result.reasons:
        d = r.as_dict()
        out.append(
            {
                "feature": str(d["feature"]),
                "value": _finite(d.get("value")),
                "contribution": _finite(d.get("contribution")) or 0.0,
                "text": str(d.get("text", "")),
            }
        )
    return out


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
    ) -> ScoreResponse:
        """Score claims with reasons; every score is stored with its model version and audited."""
        with gate:  # at most settings.scoring_concurrency requests compute at once
            started = time.perf_counter()
            claims, items = request_frames(body)
            bad = store.unknown_reference(claims)
            if bad is not None:
                pos, column, value = bad
                raise _invalid(
                    ("body", "claims", pos, column), f"unknown {column}: not in the store", value
                )
            secret: bytes = request.app.state.secret
            subjects = [pseudonymise(p, secret) for p in claims["person_id"].astype(str)]
            version = str(scorer.model_version)
            now = dt.datetime.now()
            ids = claims["claim_id"].astype(str).tolist()
            try:
                world = world_for(store.history_for(claims, items), claims, items)
                to_score = world.claims.iloc[len(world.claims) - len(claims) :]
                results = {str(r.claim_id): r for r in scorer.score(world, to_score)}
                ordered = [results[cid] for cid in ids]
            except Exception as exc:
                store.audit(
                    [
                        {
                            "at": now,
                            "actor": user.name,
                            "role": user.role,
                            "action": "score",
                            "claim_id": cid,
                            "subject": subj,
                            "model_version": version,
                            "outcome": "error",
                        }
                        for cid, subj in zip(ids, subjects, strict=True)
                    ]
                )
                log.error("scoring %d claims failed: %s", len(ids), type(exc).__name__)
                raise HTTPException(
                    status.HTTP_500_INTERNAL_SERVER_ERROR, "scoring failed; the attempt is audited"
                ) from exc
            out = [
                {
                    "claim_id": cid,
                    "risk_score": float(r.risk_score),
                    "risk_band": str(r.risk_band),
                    "reasons": _reasons(r),
                }
                for cid, r in zip(ids, ordered, strict=True)
            ]
            store.record_scoring(
                claims,
                items,
                [{**o, "model_version": version, "scored_at": now} for o in out],
                [
                    {
                        "at": now,
                        "actor": user.name,
                        "role": user.role,
                        "action": "score",
                        "claim_id": o["claim_id"],
                        "subject": subj,
                        "model_version": version,
                        "outcome": o["risk_band"],
                    }
                    for o, subj in zip(out, subjects, strict=True)
                ],
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
        "/{claim_id}/decision",
        response_model=DecisionOut,
        status_code=status.HTTP_201_CREATED,
        responses={
            404: {"description": "no such claim in the store"},
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
