"""``POST /v1/claims/{claim_id}/decision`` on the workspace's decision code path
(:mod:`riskml.store.decisions`): the same rules as the decision form, answered as JSON."""

# No ``from __future__ import annotations``: FastAPI reads these models' annotations at runtime.
from typing import Literal

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from riskml.contract import OUTCOMES, TYPOLOGIES
from riskml.security import Principal, pseudonymise
from riskml.store import Store, decisions
from riskml.store.workspace_schema import DECISION_KINDS
from serve.schemas import LocalTimestamp


class DecisionIn(BaseModel):
    """An investigator's decision on a claim. Error and fraud are kept apart by ``outcome``;
    ``fraud`` and ``abuse`` name the ``typology``. A claim has one first decision; a later one is
    a ``review`` or ``appeal`` whose ``review_of`` is the claim's final decision id."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    note: str = Field(
        max_length=decisions.MAX_NOTE_CHARS,
        description="what was found and why, in words (at least a few words of real text); "
        "no control characters",
    )
    typology: Literal[TYPOLOGIES] | None = Field(  # type: ignore[valid-type]
        default=None, description="required for fraud or abuse: which typology it was"
    )
    improper_amount: float | None = Field(
        default=None, ge=0, le=decisions.MAX_IMPROPER_AMOUNT, strict=True,
        description="improper amount found, CNY",
    )  # fmt: skip
    kind: Literal[DECISION_KINDS] = "decision"  # type: ignore[valid-type]
    review_of: int | None = Field(
        default=None, ge=1, strict=True, description="for a review or appeal: the decision id"
    )


class DecisionOut(BaseModel):
    decision_id: int
    claim_id: str
    outcome: str
    typology: str | None
    note: str
    decided_by: str
    decided_role: str
    decided_at: LocalTimestamp
    kind: str
    review_of: int | None
    improper_amount: float | None


def record_decision(
    request: Request, store: Store, user: Principal, claim_id: str, body: DecisionIn
) -> DecisionOut:
    """Rate-limit per key, then record through :func:`riskml.store.decisions.record`: 422 names
    the field, 409 a decision that contradicts the recorded one, 404 an unknown claim."""
    limiter = getattr(request.app.state, "write_limiter", None)
    if limiter is not None and not limiter.hit(f"key:{user.name}"):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many writes; wait a minute")
    secret: bytes = request.app.state.secret
    try:
        row = decisions.record(
            store,
            claim_id,
            decisions.DecisionInput(
                outcome=body.outcome,
                note=body.note,
                typology=body.typology,
                improper_amount=body.improper_amount,
                kind=body.kind,
                review_of=body.review_of,
            ),
            decided_by=user.name,
            decided_role=user.role,
            subject=lambda person: pseudonymise(person, secret),
        )
    except decisions.DecisionInvalid as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", exc.field), "msg": exc.message, "input": None}]
        ) from exc
    except decisions.DecisionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except decisions.ClaimUnknown as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return DecisionOut.model_validate(row)
