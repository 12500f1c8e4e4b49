"""The investigators' workspace on top of the service store: the queue with assignments and
statuses, the claim view, random audits, band cut-off proposals, the kill switch, the dashboard.

Functions take the existing :class:`~riskml.store.Store` and use its engine and tables; every
change is written together with its audit row in one transaction. Scores advise, people decide:
nothing here denies, suspends or recovers a payment.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskml.bands import FLAGGED_BANDS
from riskml.clock import local_now
from riskml.errors import RiskmlError
from riskml.signals import TYPOLOGY_SIGNALS
from riskml.store.audit import AuditEntry
from riskml.store.store import Store
from riskml.store.workspace_schema import STATUSES

#: Default share of the unit's capacity given to random audits (DOMAIN.md R11).
DEFAULT_RANDOM_AUDIT_SHARE = 0.03

#: The typology whose signals a feature carries first (for "typology of the top reason").
FEATURE_TYPOLOGY: dict[str, str] = {}
for _typology, _features in TYPOLOGY_SIGNALS.items():
    for _f in _features:
        FEATURE_TYPOLOGY.setdefault(_f, _typology)


#: A period the kill switch was engaged (end None: still engaged).
Interval = tuple[dt.datetime, dt.datetime | None]


class WorkspaceError(RiskmlError):
    """A workspace action that cannot be done as asked (the message says why)."""


class NotAllowed(WorkspaceError):
    """The action is refused for this person (e.g. approving one's own proposal)."""


def now() -> dt.datetime:
    """Naive local time (Asia/Shanghai) to the second, as the service's other timestamps."""
    return local_now().replace(microsecond=0)


@contextmanager
def write(store: Store) -> Iterator[Connection]:
    """One write transaction on the store (BEGIN IMMEDIATE on SQLite)."""
    with store.engine.connect() as conn:
        conn = conn.execution_options(riskml_write=True)
        with conn.begin():
            yield conn


def append_audit(conn: Connection, store: Store, entries: Sequence[AuditEntry]) -> None:
    """Append ``entries`` to the audit log inside the caller's transaction."""
    store._append_audit(conn, entries)


def top_typology(reasons: Any) -> str | None:
    """The typology whose signals the top reason carries, or None."""
    if isinstance(reasons, str):
        reasons = json.loads(reasons)
    if not reasons:
        return None
    return FEATURE_TYPOLOGY.get(str(reasons[0].get("feature")))


# -- kill switch ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillSwitch:
    engaged: bool
    since: dt.datetime | None
    actor: str | None
    reason: str | None


def kill_switch_state(store: Store) -> KillSwitch:
    k = store.tables["kill_switch"]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(k).order_by(k.c.event_id.desc()).limit(1)).first()
    if row is None:
        return KillSwitch(False, None, None, None)
    return KillSwitch(bool(row.engaged), row.at, row.actor, row.reason)


def set_kill_switch(store: Store, engaged: bool, actor: str, role: str, reason: str) -> None:
    """Engage or release the kill switch (audited). While engaged, scores made after it was
    engaged do not reach the queue; the service keeps answering."""
    if not reason.strip():
        raise WorkspaceError("say why the kill switch is changed")
    k = store.tables["kill_switch"]
    with write(store) as conn:
        conn.execute(
            sa.insert(k),
            # to the microsecond: a score made in the same second before it is not blocked
            {"at": local_now(), "actor": actor, "engaged": engaged, "reason": reason.strip()},
        )
        append_audit(
            conn,
            store,
            [AuditEntry(actor, role, "kill_switch", "engaged" if engaged else "released")],
        )


def blocked_intervals(conn: Connection, store: Store) -> list[Interval]:
    """The periods the kill switch was engaged: scores made in them never reach the queue."""
    k = store.tables["kill_switch"]
    out: list[Interval] = []
    start: dt.datetime | None = None
    for row in conn.execute(sa.select(k.c.at, k.c.engaged).order_by(k.c.event_id)):
        if row.engaged and start is None:
            start = row.at
        elif not row.engaged and start is not None:
            out.append((start, row.at))
            start = None
    if start is not None:
        out.append((start, None))
    return out


# -- band cut-offs --------------------------------------------------------------------------------


def propose_cutoffs(
    store: Store,
    model_version: str,
    high: float,
    medium: float,
    reason: str,
    actor: str,
    role: str,
) -> int:
    """Propose new band cut-offs for a model version; another person must approve them."""
    if not (0.0 < medium <= high < 1.0):
        raise WorkspaceError("cut-offs must satisfy 0 < medium <= high < 1")
    if not reason.strip():
        raise WorkspaceError("a proposal needs a reason")
    p = store.tables["band_proposals"]
    with write(store) as conn:
        pid = conn.execute(
            sa.insert(p).returning(p.c.proposal_id),
            {
                "model_version": model_version,
                "high": float(high),
                "medium": float(medium),
                "reason": reason.strip(),
                "proposed_by": actor,
                "proposed_at": now(),
                "status": "pending",
            },
        ).scalar_one()
        append_audit(
            conn,
            store,
            [
                AuditEntry(
                    actor,
                    role,
                    "propose_cutoffs",
                    f"proposal {pid}: high {high:g}, medium {medium:g}",
                    model_version=model_version,
                )
            ],
        )
    return int(pid)


def decide_proposal(store: Store, proposal_id: int, approve: bool, actor: str, role: str) -> None:
    """Approve or reject a pending proposal; the proposer may not decide their own."""
    p = store.tables["band_proposals"]
    with write(store) as conn:
        row = conn.execute(sa.select(p).where(p.c.proposal_id == proposal_id)).first()
        if row is None:
            raise WorkspaceError(f"no proposal {proposal_id}")
        if row.status != "pending":
            raise WorkspaceError(f"proposal {proposal_id} is already {row.status}")
        if row.proposed_by == actor:
            raise NotAllowed("a proposal must be approved by someone other than its proposer")
        status = "approved" if approve else "rejected"
        conn.execute(
            sa.update(p)
            .where(p.c.proposal_id == proposal_id)
            .values(status=status, decided_by=actor, decided_at=now())
        )
        append_audit(
            conn,
            store,
            [
                AuditEntry(
                    actor,
                    role,
                    "approve_cutoffs" if approve else "reject_cutoffs",
                    f"proposal {proposal_id} by {row.proposed_by}: {status}",
                    model_version=row.model_version,
                )
            ],
        )


def proposals(store: Store) -> list[dict[str, Any]]:
    p = store.tables["band_proposals"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(p).order_by(p.c.proposal_id.desc()).limit(50))
        return [dict(r._mapping) for r in rows]


def promotions(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest promotions of the audit log (``riskml promote``), overrides of the gate with
    their supervisor and justification included, latest first."""
    log = store.audit_log(["promote", "promote_override"])
    rows = log.iloc[::-1].head(limit)
    return [
        {str(k): (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]


def approved_cutoffs(conn: Connection, store: Store) -> dict[str, tuple[float, float]]:
    """model_version -> (high, medium) of its latest approved proposal."""
    p = store.tables["band_proposals"]
    rows = conn.execute(
        sa.select(p.c.model_version, p.c.high, p.c.medium)
        .where(p.c.status == "approved")
        .order_by(p.c.decided_at, p.c.proposal_id)
    )
    return {r.model_version: (float(r.high), float(r.medium)) for r in rows}


# -- the queue ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    region: str | None = None
    benefit_type: str | None = None
    band: str | None = None
    typology: str | None = None
    provider_id: str | None = None
    assignment: str = "all"  # mine | unassigned | all
    status: str | None = None  # new | in_review | decided (default: new and in_review)


def latest_scores(store: Store) -> sa.Subquery:
    s = store.tables["scores"]
    rn = (
        sa.func.row_number()
        .over(partition_by=s.c.claim_id, order_by=(s.c.scored_at.desc(), s.c.model_version.desc()))
        .label("rn")
    )
    return sa.select(s, rn).subquery("latest")


def effective_band(latest: sa.Subquery, cutoffs: Mapping[str, tuple[float, float]]) -> Any:
    """The band under approved cut-offs of the score's model version, else the stored band."""
    if not cutoffs:
        return latest.c.risk_band
    whens = []
    for version, (high, medium) in cutoffs.items():
        is_v = latest.c.model_version == version
        whens.append((sa.and_(is_v, latest.c.risk_score >= high), sa.literal("high")))
        whens.append((sa.and_(is_v, latest.c.risk_score >= medium), sa.literal("medium")))
        whens.append((is_v, sa.literal("low")))
    return sa.case(*whens, else_=latest.c.risk_band)


def queue(
    store: Store,
    user: str,
    filters: QueueFilters,
    limit: int = 100,
    order: Literal["priority", "risk"] = "priority",
) -> tuple[list[dict[str, Any]], int]:
    """Flagged claims ranked by ``priority`` (band first, then the amount at stake, risk x
    amount) or by ``risk`` (then amount; the JSON queue's order).

    Returns (the first ``limit`` rows, the number of rows matching). Random-audit claims are not
    here (they are listed without their score by :func:`audit_queue`); scores made while the kill
    switch was engaged never are; ``risk_band`` is the band under approved cut-offs.
    """
    c, a, d = store.tables["claims"], store.tables["assignments"], store.tables["decisions"]
    ra = store.tables["random_audits"]
    latest = latest_scores(store)
    with store.engine.connect() as conn:
        band = effective_band(latest, approved_cutoffs(conn, store)).label("band")
        decided = sa.exists().where(d.c.claim_id == c.c.claim_id)
        status = sa.case(
            (decided, sa.literal("decided")), else_=sa.func.coalesce(a.c.status, "new")
        ).label("status")
        inner = (
            sa.select(
                c.c.claim_id,
                c.c.person_id,
                c.c.benefit_type,
                c.c.provider_id,
                c.c.region_code,
                c.c.submitted_at,
                c.c.amount_claimed,
                latest.c.risk_score,
                latest.c.model_version,
                latest.c.reasons,
                latest.c.scored_at,
                band,
                status,
                a.c.assignee,
            )
            .join(latest, latest.c.claim_id == c.c.claim_id)
            .outerjoin(a, a.c.claim_id == c.c.claim_id)
            .where(latest.c.rn == 1)
            .where(~sa.exists().where(ra.c.claim_id == c.c.claim_id))
        )
        for start, end in blocked_intervals(conn, store):
            blocked = latest.c.scored_at >= start
            if end is not None:
                blocked = sa.and_(blocked, latest.c.scored_at < end)
            inner = inner.where(~blocked)
        if filters.region:
            inner = inner.where(c.c.region_code == filters.region)
        if filters.benefit_type:
            inner = inner.where(c.c.benefit_type == filters.benefit_type)
        if filters.provider_id:
            inner = inner.where(c.c.provider_id == filters.provider_id)
        if filters.assignment == "mine":
            inner = inner.where(a.c.assignee == user)
        elif filters.assignment == "unassigned":
            inner = inner.where(a.c.assignee.is_(None))
        sub = inner.subquery("q")
        stmt = sa.select(sub).where(sub.c.band.in_(list(FLAGGED_BANDS)))
        if filters.band:
            stmt = stmt.where(sub.c.band == filters.band)
        if filters.status:
            stmt = stmt.where(sub.c.status == filters.status)
        else:
            stmt = stmt.where(sub.c.status != "decided")
        if order == "priority":
            stmt = stmt.order_by(
                sa.case((sub.c.band == "high", 0), else_=1),
                (sub.c.risk_score * sub.c.amount_claimed).desc(),
                sub.c.claim_id,
            )
        else:
            stmt = stmt.order_by(
                sub.c.risk_score.desc(), sub.c.amount_claimed.desc(), sub.c.claim_id
            )
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for row in rows:
        reasons = row["reasons"]
        row["reasons"] = json.loads(reasons) if isinstance(reasons, str) else reasons
        row["typology"] = top_typology(row["reasons"])
        row["priority"] = float(row["risk_score"]) * float(row["amount_claimed"])
        row["risk_band"] = row["band"]
    if filters.typology:
        rows = [r for r in rows if r["typology"] == filters.typology]
    return rows[:limit], len(rows)


def audit_queue(store: Store, user: str, filters: QueueFilters) -> list[dict[str, Any]]:
    """Random-audit claims awaiting a decision, without score, band or reasons (no anchoring)."""
    c, a, d = store.tables["claims"], store.tables["assignments"], store.tables["decisions"]
    ra = store.tables["random_audits"]
    decided = sa.exists().where(d.c.claim_id == c.c.claim_id)
    status = sa.case(
        (decided, sa.literal("decided")), else_=sa.func.coalesce(a.c.status, "new")
    ).label("status")
    inner = (
        sa.select(
            c.c.claim_id,
            c.c.benefit_type,
            c.c.provider_id,
            c.c.region_code,
            c.c.submitted_at,
            c.c.amount_claimed,
            ra.c.drawn_at,
            status,
            a.c.assignee,
        )
        .join(ra, ra.c.claim_id == c.c.claim_id)
        .outerjoin(a, a.c.claim_id == c.c.claim_id)
    )
    if filters.region:
        inner = inner.where(c.c.region_code == filters.region)
    if filters.benefit_type:
        inner = inner.where(c.c.benefit_type == filters.benefit_type)
    if filters.provider_id:
        inner = inner.where(c.c.provider_id == filters.provider_id)
    if filters.assignment == "mine":
        inner = inner.where(a.c.assignee == user)
    elif filters.assignment == "unassigned":
        inner = inner.where(a.c.assignee.is_(None))
    sub = inner.subquery("ra_q")
    stmt = sa.select(sub)
    stmt = stmt.where(
        sub.c.status == filters.status if filters.status else sub.c.status != "decided"
    )
    stmt = stmt.order_by(sub.c.drawn_at, sub.c.claim_id)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def set_assignment(
    store: Store,
    claim_id: str,
    actor: str,
    role: str,
    assignee: str | None,
    status: str,
) -> None:
    """Assign a claim (or release it) and set its status; audited."""
    if status not in STATUSES or status == "decided":
        raise WorkspaceError("status must be new or in_review (a decision sets decided)")
    a, c = store.tables["assignments"], store.tables["claims"]
    with write(store) as conn:
        if conn.execute(sa.select(c.c.claim_id).where(c.c.claim_id == claim_id)).first() is None:
            raise WorkspaceError("no such claim in the store")
        values = {"assignee": assignee, "status": status, "updated_by": actor, "updated_at": now()}
        done = conn.execute(sa.update(a).where(a.c.claim_id == claim_id).values(**values))
        if not done.rowcount:
            conn.execute(sa.insert(a), {"claim_id": claim_id, **values})
        append_audit(
            conn,
            store,
            [
                AuditEntry(
                    actor,
                    role,
                    "assign",
                    f"{assignee or 'unassigned'} / {status}",
                    claim_id=claim_id,
                )
            ],
        )


# -- random audits --------------------------------------------------------------------------------


def random_audit_count(capacity: int, share: float) -> int:
    """Claims per draw: ``share`` of the unit's capacity, at least one."""
    if not 0 < share <= 1:
        raise WorkspaceError("the random-audit share must be in (0, 1]")
    return max(1, round(capacity * share))


def record_unflagged_scores(store: Store, scores: Any, chunk: int = 5_000) -> int:
    """Keep the batch scores of the claims *not* flagged too (the batch loader keeps only the
    queue's bands), so random audits draw from every scored claim; a claim's stored score for
    that model version is left as it is. ``scores`` is a batch-scores frame (``claim_id``,
    ``model_version``, ``risk_score``, ``risk_band``). Returns the rows offered."""
    from sqlalchemy.dialects import postgresql, sqlite

    low = scores.loc[~scores["risk_band"].isin(list(FLAGGED_BANDS))]
    at = local_now()  # the store's clock, as every score is stamped
    records = [
        {
            "claim_id": str(cid),
            "model_version": str(version),
            "risk_score": float(score),
            "risk_band": str(band),
            "reasons": [],
            "scored_at": at,
        }
        for cid, version, score, band in zip(
            low["claim_id"], low["model_version"], low["risk_score"], low["risk_band"], strict=True
        )
    ]
    insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
    table = store.tables["scores"]
    with write(store) as conn:
        for start in range(0, len(records), chunk):
            stmt = insert(table).on_conflict_do_nothing(
                index_elements=["claim_id", "model_version"]
            )
            conn.execute(stmt, records[start : start + chunk])
    return len(records)


def scored_population(store: Store) -> list[dict[str, Any]]:
    """Every claim the store holds a score for (its latest score), whatever its band."""
    latest = latest_scores(store)
    stmt = sa.select(
        latest.c.claim_id, latest.c.model_version, latest.c.risk_score, latest.c.risk_band
    ).where(latest.c.rn == 1)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def draw_random_audits(
    store: Store,
    population: Sequence[Mapping[str, Any]],
    n: int,
    actor: str,
    role: str,
    rng: np.random.Generator | None = None,
) -> list[str]:
    """Draw ``n`` claims uniformly at random, without replacement, from ``population`` (scored
    claims: ``claim_id``, ``model_version``, ``risk_score``, ``risk_band``), leaving out claims
    already drawn or decided; each gets selection probability n / eligible. Audited.
    """
    ra, d = store.tables["random_audits"], store.tables["decisions"]
    rng = rng or np.random.default_rng(secrets.randbits(64))
    with write(store) as conn:
        taken = {r[0] for r in conn.execute(sa.select(ra.c.claim_id))}
        taken |= {r[0] for r in conn.execute(sa.select(d.c.claim_id).distinct())}
        eligible = sorted(
            {str(p["claim_id"]): p for p in population if str(p["claim_id"]) not in taken}.items()
        )
        if not eligible:
            raise WorkspaceError("no scored claim is left to draw from")
        k = min(n, len(eligible))
        picked = rng.choice(len(eligible), size=k, replace=False)
        probability = k / len(eligible)
        draw_id = f"draw-{now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        at = now()
        rows = []
        for i in sorted(int(x) for x in picked):
            cid, p = eligible[i]
            rows.append(
                {
                    "claim_id": cid,
                    "draw_id": draw_id,
                    "drawn_at": at,
                    "drawn_by": actor,
                    "selection_probability": probability,
                    "population": len(eligible),
                    "model_version": p.get("model_version"),
                    "risk_score": None if p.get("risk_score") is None else float(p["risk_score"]),
                    "risk_band": p.get("risk_band"),
                }
            )
        conn.execute(sa.insert(ra), rows)
        append_audit(
            conn,
            store,
            [
                AuditEntry(
                    actor,
                    role,
                    "draw_random_audits",
                    f"{draw_id}: {k} of {len(eligible)} (p={probability:.6f})",
                )
            ],
        )
    return [str(r["claim_id"]) for r in rows]


def random_audit_of(store: Store, claim_id: str) -> dict[str, Any] | None:
    ra = store.tables["random_audits"]
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(ra).where(ra.c.claim_id == claim_id)).first()
    return None if row is None else dict(row._mapping)
