"""Request and response models of the HTTP API (CONTRACT.md section 3).

The claim and item models are generated from :data:`riskml.contract.TABLES`, so the API accepts
exactly the contract's columns, with its allowed values, patterns and bounds; an invalid claim is
answered 422 with the path of the bad field (``["body", "claims", 3, "amount_claimed"]``).
JSON types are strict: numbers are JSON numbers (no booleans, no numeric strings), dates and
timestamps ISO 8601 text (no epoch seconds), ids and codes carry no control or bidirectional
control characters and no surrounding whitespace. Dates and timestamps must lie within
1900..2199 (the range pandas and both stores represent), numbers must be finite. Timestamps are
naive local time in Asia/Shanghai, in requests (an offset is converted) and answers alike, and the
OpenAPI document declares them so (``format: date-time-local``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    create_model,
    model_validator,
)

from riskml.clock import naive_local
from riskml.contract import OUTCOMES, TABLES, TYPOLOGIES, ColumnSpec
from riskml.scoring import ScoreResult

MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)
MAX_ID_LENGTH = 128
MAX_AMOUNT = 1e12
TEXT = r"^[^\x00-\x1f\x7f]*$"
#: Free text of several lines: no control characters but tab and newline, not only spaces.
NOTE_TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x08\x0b-\x1f\x7f]*$"
MAX_REASON_LENGTH = 4000
#: Characters an id or code never holds: control characters and the bidirectional controls
#: (U+200E, U+200F, U+061C, U+202A..U+202E, U+2066..U+2069) that make an id display as another.
_NOT_IN_ID = r"\x00-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: An id or code: none of those characters, and no whitespace at either end.
ID_TEXT = rf"^[^\s{_NOT_IN_ID}]([^{_NOT_IN_ID}]*[^\s{_NOT_IN_ID}])?$"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"
)
#: How timestamps are declared in the OpenAPI document: naive local time, as in the data.
LOCAL_TIMESTAMP_DOC = (
    "naive local time in Asia/Shanghai (ISO 8601 without an offset, as in the data directory), "
    "e.g. 2024-05-01T09:00:00"
)
_LOCAL_TIMESTAMP_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time-local",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
    "description": LOCAL_TIMESTAMP_DOC,
    "examples": ["2024-05-01T09:00:00"],
}


def _iso_text(pattern: re.Pattern[str], what: str) -> Callable[[Any], Any]:
    """A before-validator: JSON text in ISO form only (no numbers, booleans or epoch seconds)."""

    def check(value: Any) -> Any:
        if isinstance(value, dt.date):  # from Python (tests, request_claims): already typed
            return value
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"{what} must be an ISO 8601 string such as {_EXAMPLES[what]}")
        return value

    return check


_EXAMPLES = {"date": "2024-05-01", "timestamp": "2024-05-01T09:00:00"}


def _naive_local(value: dt.datetime) -> dt.datetime:
    """Timestamps are naive Asia/Shanghai time: an aware one is converted, then made naive."""
    value = naive_local(value)
    if not (MIN_DATE <= value.date() <= MAX_DATE):
        raise ValueError(f"timestamp must lie between {MIN_DATE} and {MAX_DATE}")
    return value


#: A timestamp in a request: ISO text, naive local time (an offset is converted to it).
RequestTimestamp = Annotated[
    dt.datetime,
    BeforeValidator(_iso_text(_TIMESTAMP_RE, "timestamp")),
    AfterValidator(_naive_local),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time-local",
            "pattern": _TIMESTAMP_RE.pattern,
            "description": LOCAL_TIMESTAMP_DOC + "; a time with an offset is converted to it",
            "examples": ["2024-05-01T09:00:00"],
        }
    ),
]
#: A date in a request: ``YYYY-MM-DD`` text.
RequestDate = Annotated[
    dt.date,
    BeforeValidator(_iso_text(_DATE_RE, "date")),
    Field(ge=MIN_DATE, le=MAX_DATE),
]
#: A timestamp in an answer: naive local time.
LocalTimestamp = Annotated[dt.datetime, WithJsonSchema(_LOCAL_TIMESTAMP_SCHEMA)]


def _field_type(col: ColumnSpec) -> Any:
    """The pydantic type of one contract column, with the contract's constraints; numbers are
    strict (no booleans, no numeric strings), dates and timestamps ISO text."""
    if col.kind == "str":
        if col.allowed is not None:
            return Literal[col.allowed]
        return Annotated[
            str,
            Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=col.pattern or ID_TEXT),
        ]
    if col.kind == "date":
        return RequestDate
    if col.kind == "timestamp":
        return RequestTimestamp
    if col.kind == "float":
        low = col.min_value if col.min_value is not None else -MAX_AMOUNT
        if col.exclusive_min:
            return Annotated[float, Strict(), Field(allow_inf_nan=False, gt=low, le=MAX_AMOUNT)]
        return Annotated[float, Strict(), Field(allow_inf_nan=False, ge=low, le=MAX_AMOUNT)]
    if col.kind == "int":
        low = int(col.min_value) if col.min_value is not None else 0
        high = int(col.max_value) if col.max_value is not None else 2**31 - 1
        return Annotated[int, Strict(), Field(ge=low, le=high)]
    if col.kind == "bool":
        return Annotated[bool, Strict()]
    raise AssertionError(col.kind)  # pragma: no cover


def _contract_fields(table: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for col in TABLES[table].columns:
        if col.name in skip:
            continue
        typ = _field_type(col)
        doc = col.description
        if col.kind == "timestamp":
            doc = f"{doc}; {LOCAL_TIMESTAMP_DOC}" if doc else LOCAL_TIMESTAMP_DOC
        if col.nullable or col.optional:
            fields[col.name] = (typ | None, Field(default=None, description=doc))
        else:
            fields[col.name] = (typ, Field(description=doc))
    return fields


_LENIENT = ConfigDict(extra="ignore", str_strip_whitespace=False)


class _ClaimChecks(BaseModel):
    """Checks across fields of one claim, on top of the generated per-field ones."""

    model_config = _LENIENT

    @model_validator(mode="after")
    def _service_period(self) -> _ClaimChecks:
        start, end = getattr(self, "service_start", None), getattr(self, "service_end", None)
        if start is not None and end is not None and end < start:
            raise ValueError("service_end is before service_start")
        return self


if TYPE_CHECKING:

    class ItemIn(BaseModel):
        line_no: int

    class ClaimIn(BaseModel):
        claim_id: str
        person_id: str
        items: list[ItemIn] | None

    class ScoreRequest(BaseModel):
        claims: list[ClaimIn]

    class CorrectionRequest(BaseModel):
        claim: ClaimIn
        reason: str

else:
    ItemIn = create_model(
        "ItemIn",
        __config__=_LENIENT,
        __doc__="One line item of a claim: the columns of claim_items without claim_id.",
        **_contract_fields("claim_items", skip=("claim_id",)),
    )


def build_request_models(
    max_batch: int, max_items: int
) -> tuple[type[ScoreRequest], type[CorrectionRequest]]:
    """The body models of ``POST /v1/claims/score`` and ``PUT /v1/claims/{claim_id}`` with the
    configured size limits (one claim model for both)."""
    claim = create_model(
        "ClaimIn",
        __base__=_ClaimChecks,
        __doc__="A claim: the columns of the contract's claims table plus optional line items.",
        items=(list[ItemIn] | None, Field(default=None, max_length=max_items)),
        **_contract_fields("claims"),
    )
    request: Any = create_model(
        "ScoreRequest",
        __config__=ConfigDict(extra="forbid"),
        claims=(list[claim], Field(min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
    )
    correction: Any = create_model(
        "CorrectionRequest",
        __config__=ConfigDict(extra="forbid"),
        __doc__="A corrected version of a stored claim, and why it is corrected.",
        claim=(claim, Field(description="the claim as it should have been stored")),
        reason=(
            str,
            Field(
                min_length=1,
                max_length=MAX_REASON_LENGTH,
                pattern=NOTE_TEXT,
                description="why the stored claim is wrong (kept with the earlier version)",
            ),
        ),
    )
    return request, correction


class ClaimConflictOut(BaseModel):
    """A claim of the request already stored with other content, and the fields that differ."""

    index: int = Field(description="position of the claim in the request's claims")
    claim_id: str
    fields: list[str] = Field(
        description="claim columns, or items[line_no=N] / items[line_no=N].column, that differ"
    )


class ConflictDetail(BaseModel):
    message: str
    conflicts: list[ClaimConflictOut]


class ConflictResponse(BaseModel):
    """409: history is append-only; a changed claim goes through ``PUT /v1/claims/{id}``."""

    detail: ConflictDetail


class ErrorResponse(BaseModel):
    """An error answer other than 409 and 422: what went wrong, in one sentence."""

    detail: str


class OverloadedResponse(ErrorResponse):
    """A 503 of the score route: no model is loaded yet (``detail`` only), or the worker is at
    its in-flight limit (``limit`` names it, with its value and the ``Retry-After`` seconds)."""

    limit: str | None = Field(default=None, description="the limit reached: max_in_flight")
    max_in_flight: int | None = Field(
        default=None, description="score requests one worker admits at once"
    )
    retry_after_seconds: int | None = Field(
        default=None, description="as the Retry-After header: when to try again"
    )


#: The score route's 503, as the OpenAPI document states it.
OVERLOADED_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "model": OverloadedResponse,
        "description": "no model is loaded yet, or this worker is at its limit of score "
        "requests in flight (answered at once, nothing scored or stored; retry after the "
        "Retry-After header's seconds)",
        "headers": {
            "Retry-After": {
                "description": "seconds to wait before retrying (at the in-flight limit)",
                "schema": {"type": "integer"},
            }
        },
    }
}


#: The answers besides 200 and 422 that routes give, as documented in the OpenAPI document.
ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "no valid API key: Authorization: Bearer <key> from `riskml keys create`",
    403: "the key's role may not use this route",
    404: "no such claim in the store",
    413: "request body larger than the configured limit",
    500: "scoring failed; the attempt is audited",
    503: "no model is loaded yet",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: ``codes`` with their description and body model."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code == 409:
            out[code] = {
                "model": ConflictResponse,
                "description": "a claim is stored with other content; nothing was stored",
            }
        else:
            out[code] = {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]}
    return out


class ReasonOut(BaseModel):
    """One SHAP contribution to a score, with its plain-language text."""

    feature: str
    value: float | None
    contribution: float
    text: str


class ScoreOut(BaseModel):
    claim_id: str
    risk_score: float = Field(ge=0, le=1)
    risk_band: str
    reasons: list[ReasonOut]


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def score_out(claim_id: str, result: ScoreResult) -> dict[str, Any]:
    """One result of the score route as JSON-safe values (no NaN, no numpy scalars); also what
    the store keeps as the score's row."""
    reasons = []
    for r in result.reasons:
        d = r.as_dict()
        reasons.append(
            {
                "feature": str(d["feature"]),
                "value": _finite(d.get("value")),
                "contribution": _finite(d.get("contribution")) or 0.0,
                "text": str(d.get("text", "")),
            }
        )
    return {
        "claim_id": claim_id,
        "risk_score": float(result.risk_score),
        "risk_band": str(result.risk_band),
        "reasons": reasons,
    }


class ScoreResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    results: list[ScoreOut]


class CorrectionOut(BaseModel):
    """A corrected claim: its version now, what changed, and its score on the corrected data."""

    model_config = ConfigDict(protected_namespaces=())

    claim_id: str
    version: int = Field(description="current version of the claim (1: as first stored)")
    changed_fields: list[str]
    model_version: str
    result: ScoreOut
    rescored: int = Field(
        description="other stored claims whose features read this claim, scored again"
    )


class QueueEntry(BaseModel):
    """A flagged claim awaiting a decision, with the score and reasons that flagged it."""

    model_config = ConfigDict(protected_namespaces=())

    claim_id: str
    person_id: str
    benefit_type: str
    provider_id: str | None
    region_code: str
    submitted_at: LocalTimestamp
    amount_claimed: float
    risk_score: float
    risk_band: str
    model_version: str
    scored_at: LocalTimestamp
    reasons: list[ReasonOut]


class QueueResponse(BaseModel):
    claims: list[QueueEntry]


class DecisionIn(BaseModel):
    """An investigator's decision on a claim. Error and fraud are kept apart by ``outcome``."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    note: str = Field(
        max_length=4000, pattern=r"^[^\x00]*$", description="the reason for the decision"
    )
    typology: Literal[TYPOLOGIES] | None = Field(  # type: ignore[valid-type]
        default=None, description="for fraud or abuse: which typology it was"
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


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    """Readiness: 200 only when a model is loaded and the store answers."""

    model_config = ConfigDict(protected_namespaces=())

    ready: bool
    worker_pid: int = Field(
        description="the worker process that answered (`riskml serve --workers N`: each "
        "worker loads the model and follows its alias on its own)"
    )
    model_version: str | None
    model_error: str | None
    store: Literal["ok", "unreachable"]


class ModelInfo(BaseModel):
    """The loaded model (``GET /v1/model``); extra keys of the model's own info pass through."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    name: str | None = None
    version: str
    alias: str | None = None
    trained_at: str | None = None
    features: list[str] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)


def request_claims(claims: pd.DataFrame, items: pd.DataFrame) -> list[dict[str, Any]]:
    """Claims of a data directory (loader dtypes) as a client sends them to the score route.

    Dates become ISO dates, ``submitted_at`` an ISO timestamp, nulls ``None``; each claim carries
    its line items. Values stay Python numbers, so the online score sees exactly what a batch run
    reads from Parquet.
    """
    out = []
    by_claim = {cid: g for cid, g in items.groupby("claim_id", sort=False)}
    for row in claims.to_dict("records"):
        body: dict[str, Any] = {}
        for k, v in row.items():
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                body[str(k)] = None
            elif isinstance(v, pd.Timestamp):
                body[str(k)] = v.isoformat() if k == "submitted_at" else v.date().isoformat()
            else:
                body[str(k)] = v
        lines = by_claim.get(row["claim_id"])
        if lines is not None:
            body["items"] = [
                {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in r.items()}
                for r in lines.drop(columns="claim_id").astype(object).to_dict("records")
            ]
        out.append(body)
    return out
