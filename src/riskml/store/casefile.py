"""What the workspace shows: one claim's case file and the supervisor's dashboard figures.

Read-only queries over the store. The case file holds personal data (the claimant's history), so
the page that shows it audits the view (:func:`riskml.store.workspace.append_audit`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from riskml.bands import FLAGGED_BANDS
from riskml.store.decisions import decisions_of
from riskml.store.store import Store
from riskml.store.workspace import (
    Interval,
    approved_cutoffs,
    blocked_intervals,
    effective_band,
    latest_scores,
    random_audit_of,
    top_typology,
)

TIMELINE_LIMIT = 60
SIMILAR_LIMIT = 10
AUDIT_TRAIL_LIMIT = 100


def _rows(conn: sa.Connection, stmt: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(stmt)]


def case_file(store: Store, claim_id: str) -> dict[str, Any] | None:
    """Everything the claim view shows, or None for an unknown claim."""
    c, ci, p = store.tables["claims"], store.tables["claim_items"], store.tables["providers"]
    d, audit = store.tables["decisions"], store.tables["audit_log"]
    assignments = store.tables["assignments"]
    latest = latest_scores(store)
    with store.engine.connect() as conn:
        claim = conn.execute(sa.select(c).where(c.c.claim_id == claim_id)).first()
        if claim is None:
            return None
        claim_d = dict(claim._mapping)
        band = effective_band(latest, approved_cutoffs(conn, store)).label("band")
        score_row = conn.execute(
            sa.select(latest, band).where(latest.c.claim_id == claim_id, latest.c.rn == 1)
        ).first()
        score = None if score_row is None else dict(score_row._mapping)
        if score is not None and isinstance(score["reasons"], str):
            score["reasons"] = json.loads(score["reasons"])
        items = _rows(conn, sa.select(ci).where(ci.c.claim_id == claim_id).order_by(ci.c.line_no))
        outcome = (
            sa.select(d.c.outcome)
            .where(d.c.claim_id == c.c.claim_id)
            .order_by(d.c.decision_id.desc())
            .limit(1)
            .scalar_subquery()
        )
        timeline = _rows(
            conn,
            sa.select(
                c.c.claim_id,
                c.c.submitted_at,
                c.c.benefit_type,
                c.c.provider_id,
                c.c.diagnosis_code,
                c.c.amount_claimed,
                latest.c.risk_band,
                outcome.label("outcome"),
            )
            .outerjoin(latest, sa.and_(latest.c.claim_id == c.c.claim_id, latest.c.rn == 1))
            .where(c.c.person_id == claim_d["person_id"])
            .order_by(c.c.submitted_at.desc(), c.c.claim_id.desc())
            .limit(TIMELINE_LIMIT),
        )
        provider = None
        if claim_d.get("provider_id"):
            provider = _provider_profile(conn, store, str(claim_d["provider_id"]))
        # similar past decisions: same benefit and diagnosis group, or same provider
        group = (claim_d.get("diagnosis_code") or "")[:3]
        similar_where = [c.c.benefit_type == claim_d["benefit_type"]]
        if group:
            similar_where.append(c.c.diagnosis_code.like(f"{group}%"))
        same_kind = sa.and_(*similar_where)
        if claim_d.get("provider_id"):
            same_kind = sa.or_(same_kind, c.c.provider_id == claim_d["provider_id"])
        similar = _rows(
            conn,
            sa.select(
                d.c.claim_id,
                d.c.outcome,
                d.c.typology,
                d.c.decided_at,
                c.c.benefit_type,
                c.c.diagnosis_code,
                c.c.provider_id,
                c.c.amount_claimed,
            )
            .join(c, c.c.claim_id == d.c.claim_id)
            .where(same_kind, d.c.claim_id != claim_id)
            .order_by(d.c.decided_at.desc(), d.c.decision_id.desc())
            .limit(SIMILAR_LIMIT),
        )
        trail = _rows(
            conn,
            sa.select(audit)
            .where(audit.c.claim_id == claim_id)
            .order_by(audit.c.audit_id.desc())
            .limit(AUDIT_TRAIL_LIMIT),
        )
        assignment = conn.execute(
            sa.select(assignments).where(assignments.c.claim_id == claim_id)
        ).first()
    provider_row = None
    if claim_d.get("provider_id"):
        with store.engine.connect() as conn:
            found = conn.execute(
                sa.select(p).where(p.c.provider_id == claim_d["provider_id"])
            ).first()
            provider_row = None if found is None else dict(found._mapping)
    return {
        "claim": claim_d,
        "score": score,
        "typology": top_typology(score["reasons"]) if score else None,
        "line_items": items,
        "timeline": timeline,
        "provider": provider_row,
        "provider_profile": provider,
        "similar": similar,
        "audit_trail": trail,
        "decisions": decisions_of(store, claim_id),
        "random_audit": random_audit_of(store, claim_id),
        "assignment": None if assignment is None else dict(assignment._mapping),
    }


def _provider_profile(conn: sa.Connection, store: Store, provider_id: str) -> dict[str, Any]:
    """The provider's billing against its peers (same type and tier), per benefit type."""
    c, p = store.tables["claims"], store.tables["providers"]
    me = conn.execute(sa.select(p).where(p.c.provider_id == provider_id)).first()
    if me is None:
        return {"rows": []}
    peers = sa.select(p.c.provider_id).where(p.c.provider_type == me.provider_type)
    peers = peers.where(p.c.tier.is_(None) if me.tier is None else p.c.tier == me.tier)
    n_peers = conn.execute(sa.select(sa.func.count()).select_from(peers.subquery())).scalar_one()
    by: dict[str, dict[str, Any]] = {}
    for key, where in (
        ("own", c.c.provider_id == provider_id),
        ("peers", sa.and_(c.c.provider_id.in_(peers), c.c.provider_id != provider_id)),
    ):
        stats = (
            sa.select(
                c.c.benefit_type,
                sa.func.count().label("claims"),
                sa.func.avg(c.c.amount_claimed).label("mean_amount"),
                sa.func.count(sa.distinct(c.c.person_id)).label("patients"),
            )
            .where(where)
            .group_by(c.c.benefit_type)
        )
        for r in conn.execute(stats):
            row = by.setdefault(str(r.benefit_type), {"benefit_type": r.benefit_type})
            row[f"{key}_claims"] = int(r.claims)
            row[f"{key}_mean_amount"] = float(r.mean_amount or 0.0)
            row[f"{key}_patients"] = int(r.patients)
    out = []
    other_peers = max(int(n_peers) - 1, 1)
    for row in by.values():
        if "own_claims" not in row:
            continue
        row["peers_claims_per_provider"] = row.get("peers_claims", 0) / other_peers
        peer_mean = row.get("peers_mean_amount")
        row["amount_ratio"] = (row["own_mean_amount"] / peer_mean) if peer_mean else None
        out.append(row)
    return {"peers": int(n_peers) - 1, "rows": sorted(out, key=lambda r: -r["own_claims"])}


def dashboard(store: Store, capacity: int, at: dt.datetime) -> dict[str, Any]:
    """The supervisor's figures: alert volume against capacity, hit rates by band and typology,
    amounts found, backlog age."""
    c, d = store.tables["claims"], store.tables["decisions"]
    details, ra = store.tables["decision_details"], store.tables["random_audits"]
    latest = latest_scores(store)
    with store.engine.connect() as conn:
        band = effective_band(latest, approved_cutoffs(conn, store)).label("band")
        scored = (
            sa.select(latest.c.claim_id, latest.c.scored_at, latest.c.reasons, band)
            .where(latest.c.rn == 1)
            .subquery()
        )
        flagged = scored.c.band.in_(list(FLAGGED_BANDS))
        open_rows = _rows(
            conn,
            sa.select(scored.c.claim_id, scored.c.band, scored.c.scored_at, c.c.submitted_at)
            .join(c, c.c.claim_id == scored.c.claim_id)
            .where(flagged, ~sa.exists().where(d.c.claim_id == scored.c.claim_id))
            .where(~sa.exists().where(ra.c.claim_id == scored.c.claim_id)),
        )
        blocked = blocked_intervals(conn, store)
        month_ago = at - dt.timedelta(days=30)
        alerts_30d = conn.execute(
            sa.select(sa.func.count()).where(flagged, scored.c.scored_at >= month_ago)
        ).scalar_one()
        final = (
            sa.select(
                d.c.claim_id,
                d.c.outcome,
                d.c.typology,
                details.c.improper_amount,
                sa.func.row_number()
                .over(partition_by=d.c.claim_id, order_by=d.c.decision_id.desc())
                .label("rn"),
            )
            .outerjoin(details, details.c.decision_id == d.c.decision_id)
            .subquery()
        )
        decided = _rows(
            conn,
            sa.select(
                final.c.claim_id,
                final.c.outcome,
                final.c.typology,
                final.c.improper_amount,
                scored.c.band,
                scored.c.reasons,
                ra.c.claim_id.label("audited"),
            )
            .outerjoin(scored, scored.c.claim_id == final.c.claim_id)
            .outerjoin(ra, ra.c.claim_id == final.c.claim_id)
            .where(final.c.rn == 1),
        )
    open_rows = [r for r in open_rows if not _in(blocked, r["scored_at"])]
    ages = sorted((at - r["scored_at"]).total_seconds() / 86400 for r in open_rows)
    buckets = {"< 7": 0, "7-30": 0, "30-90": 0, ">= 90": 0}
    for age in ages:
        key = "< 7" if age < 7 else "7-30" if age < 30 else "30-90" if age < 90 else ">= 90"
        buckets[key] += 1

    def rate(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(str(r[key] or "-"), []).append(r)
        out = []
        for name, g in sorted(groups.items()):
            hits = sum(r["outcome"] in ("fraud", "abuse") for r in g)
            errors = sum(r["outcome"] == "error" for r in g)
            out.append(
                {
                    key: name,
                    "decided": len(g),
                    "fraud_or_abuse": hits,
                    "error": errors,
                    "hit_rate": hits / len(g),
                    "amount_found": sum(float(r["improper_amount"] or 0.0) for r in g),
                }
            )
        return out

    for r in decided:
        reasons = r.get("reasons")
        r["top_typology"] = top_typology(reasons) if reasons else None
        if r["audited"] is not None:
            r["band"] = "random_audit"
    amounts: dict[str, float] = {}
    for r in decided:
        amounts[r["outcome"]] = amounts.get(r["outcome"], 0.0) + float(r["improper_amount"] or 0)
    return {
        "capacity": capacity,
        "alerts_30d": int(alerts_30d),
        "open": len(open_rows),
        "open_high": sum(r["band"] == "high" for r in open_rows),
        "backlog_median_days": ages[len(ages) // 2] if ages else None,
        "backlog_oldest_days": ages[-1] if ages else None,
        "backlog_buckets": buckets,
        "by_band": rate(decided, "band"),
        "by_typology": rate([r for r in decided if r["band"] != "random_audit"], "top_typology"),
        "amounts": amounts,
        "decided": len(decided),
    }


def _in(intervals: list[Interval], at: dt.datetime) -> bool:
    return any(at >= s and (e is None or at < e) for s, e in intervals)
