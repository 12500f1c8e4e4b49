"""Investigators' decisions worth training on: the one code path of the decision route and the
workspace's decision form.

A decision carries an outcome (``fraud``, ``abuse``, ``error``, ``unfounded``: error kept apart
from fraud), a note of real text (no control characters), a typology for fraud and abuse, and
the improper amount found. There is one first decision per claim; a later one is a ``review`` or
an ``appeal`` that names the decision it reviews (the claim's current final one), and both are
kept. The database enforces it too (unique claim and reviewed decision in ``decision_details``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from riskml.contract import OUTCOMES, TYPOLOGIES
from riskml.errors import RiskmlError
from riskml.store.audit import AuditEntry
from riskml.store.store import Store
from riskml.store.workspace import append_audit, now, write
from riskml.store.workspace_schema import DECISION_KINDS

#: Letters a note needs at least (a CJK character counts as two: it is a word).
MIN_NOTE_LETTERS = 8
MAX_NOTE_CHARS = 4000
#: Outcomes that are fraud (training positives); they name a typology.
FRAUD_OUTCOMES = ("fraud", "abuse")
#: Largest improper amount accepted (CNY): above any single claim of the schemes.
MAX_IMPROPER_AMOUNT = 1e9


class DecisionInvalid(RiskmlError):
    """A field of the decision is not acceptable (answered 422, naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DecisionConflict(RiskmlError):
    """The decision contradicts what is recorded (answered 409)."""


class ClaimUnknown(RiskmlError):
    """No such claim in the store (answered 404)."""


@dataclass(frozen=True)
class DecisionInput:
    outcome: str
    note: str
    typology: str | None = None
    improper_amount: float | None = None
    kind: str = "decision"
    review_of: int | None = None


def _is_cjk(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"))


def clean_note(note: str) -> str:
    """The note as stored: line ends normalised, outer space stripped; refuses control and
    bidirectional-override characters and notes without real text."""
    text = note.replace("\r\n", "\n").replace("\r", "\n").strip()
    for ch in text:
        cat = unicodedata.category(ch)
        if (cat == "Cc" and ch not in "\n\t") or (cat == "Cf" and ch not in "\u200d"):
            raise DecisionInvalid("note", f"control character U+{ord(ch):04X} is not allowed")
    if len(text) > MAX_NOTE_CHARS:
        raise DecisionInvalid("note", f"at most {MAX_NOTE_CHARS} characters")
    letters = [ch for ch in text if ch.isalpha()]
    weight = sum(2 if _is_cjk(ch) else 1 for ch in letters)
    if weight < MIN_NOTE_LETTERS or len({ch.lower() for ch in letters}) < 3:
        raise DecisionInvalid("note", "say what was found and why, in words (a few words at least)")
    return text


def validate(decision: DecisionInput) -> DecisionInput:
    """The decision with its note cleaned, or :class:`DecisionInvalid` naming the field."""
    if decision.outcome not in OUTCOMES:
        raise DecisionInvalid("outcome", f"one of {', '.join(OUTCOMES)}")
    if decision.kind not in DECISION_KINDS:
        raise DecisionInvalid("kind", f"one of {', '.join(DECISION_KINDS)}")
    note = clean_note(decision.note)
    typology = decision.typology or None
    if decision.outcome in FRAUD_OUTCOMES:
        if typology is None:
            raise DecisionInvalid("typology", f"{decision.outcome} needs the typology found")
        if typology not in TYPOLOGIES:
            raise DecisionInvalid("typology", f"unknown typology {typology!r}")
    else:
        typology = None  # error and unfounded are not fraud: no typology
    amount = decision.improper_amount
    if amount is not None:
        if not math.isfinite(amount) or amount < 0 or amount > MAX_IMPROPER_AMOUNT:
            raise DecisionInvalid("improper_amount", "a non-negative amount in CNY")
        if decision.outcome == "unfounded" and amount > 0:
            raise DecisionInvalid("improper_amount", "an unfounded claim has no improper amount")
    if decision.kind == "decision" and decision.review_of is not None:
        raise DecisionInvalid("review_of", "only a review or an appeal references a decision")
    if decision.kind != "decision" and decision.review_of is None:
        raise DecisionInvalid("review_of", f"a {decision.kind} names the decision it reviews")
    return DecisionInput(
        decision.outcome, note, typology, amount, decision.kind, decision.review_of
    )


def final_decision_id(conn: sa.Connection, store: Store, claim_id: str) -> int | None:
    """The claim's current final decision (the latest of its chain), or None."""
    d = store.tables["decisions"]
    return conn.execute(
        sa.select(sa.func.max(d.c.decision_id)).where(d.c.claim_id == claim_id)
    ).scalar_one_or_none()


def _scored_with(conn: sa.Connection, store: Store, claim_id: str) -> str | None:
    """The model version of the claim's latest score (or of its random-audit draw)."""
    s, ra = store.tables["scores"], store.tables["random_audits"]
    drawn = conn.execute(
        sa.select(ra.c.model_version).where(ra.c.claim_id == claim_id)
    ).scalar_one_or_none()
    if drawn is not None:
        return str(drawn)
    latest = conn.execute(
        sa.select(s.c.model_version)
        .where(s.c.claim_id == claim_id)
        .order_by(s.c.scored_at.desc(), s.c.model_version.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if latest is None else str(latest)


def record(
    store: Store,
    claim_id: str,
    decision: DecisionInput,
    decided_by: str,
    decided_role: str,
    subject: Callable[[str], str],
    model_version: str | None = None,
) -> dict[str, Any]:
    """Record a decision, once validated, with its details and audit row in one transaction.

    ``subject`` maps the claim's person id to its pseudonym for the audit log. Raises
    :class:`DecisionInvalid`, :class:`DecisionConflict` or :class:`ClaimUnknown`.
    """
    c, d = store.tables["claims"], store.tables["decisions"]
    details, a = store.tables["decision_details"], store.tables["assignments"]
    at = now()
    try:
        with write(store) as conn:
            person = conn.execute(
                sa.select(c.c.person_id).where(c.c.claim_id == claim_id)
            ).scalar_one_or_none()
            if person is None:  # an unknown claim is 404 whatever the body says
                raise ClaimUnknown("no such claim in the store")
            decision = validate(decision)
            if model_version is None:
                model_version = _scored_with(conn, store, claim_id)
            final = final_decision_id(conn, store, claim_id)
            if decision.kind == "decision" and final is not None:
                raise DecisionConflict(
                    f"claim already decided (decision {final}); record a review or an appeal "
                    "of it instead"
                )
            if decision.kind != "decision" and decision.review_of != final:
                raise DecisionConflict(
                    f"a {decision.kind} reviews the claim's final decision"
                    + (f" ({final})" if final is not None else ", and it has none yet")
                )
            row = {
                "claim_id": claim_id,
                "outcome": decision.outcome,
                "typology": decision.typology,
                "note": decision.note,
                "decided_by": decided_by,
                "decided_role": decided_role,
                "decided_at": at,
            }
            decision_id = int(
                conn.execute(sa.insert(d).returning(d.c.decision_id), row).scalar_one()
            )
            conn.execute(
                sa.insert(details),
                {
                    "decision_id": decision_id,
                    "claim_id": claim_id,
                    "kind": decision.kind,
                    "review_of": decision.review_of or 0,
                    "improper_amount": decision.improper_amount,
                    "model_version": model_version,
                },
            )
            values = {"status": "decided", "updated_by": decided_by, "updated_at": at}
            if not conn.execute(
                sa.update(a).where(a.c.claim_id == claim_id).values(**values)
            ).rowcount:
                conn.execute(sa.insert(a), {"claim_id": claim_id, "assignee": None, **values})
            append_audit(
                conn,
                store,
                [
                    AuditEntry(
                        decided_by,
                        decided_role,
                        "decide" if decision.kind == "decision" else decision.kind,
                        decision.outcome,
                        claim_id=claim_id,
                        subject=subject(person),
                        model_version=model_version,
                    )
                ],
            )
    except sa.exc.IntegrityError as exc:  # a concurrent decision won the race
        raise DecisionConflict("another decision on this claim was recorded just now") from exc
    return {
        "decision_id": decision_id,
        **row,
        "kind": decision.kind,
        "review_of": decision.review_of,
        "improper_amount": decision.improper_amount,
    }


def decisions_of(store: Store, claim_id: str) -> list[dict[str, Any]]:
    """The claim's decisions, oldest first, with their details."""
    d, details = store.tables["decisions"], store.tables["decision_details"]
    stmt = (
        sa.select(
            d,
            sa.func.coalesce(details.c.kind, "decision").label("kind"),
            details.c.review_of,
            details.c.improper_amount,
            details.c.model_version,
        )
        .outerjoin(details, details.c.decision_id == d.c.decision_id)
        .where(d.c.claim_id == claim_id)
        .order_by(d.c.decision_id)
    )
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
