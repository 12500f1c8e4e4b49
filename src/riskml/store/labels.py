"""``riskml labels export``: investigators' decisions as a contract labels table.

Each claim's *final* decision counts (the last of its chain: the first decision, then reviews and
appeals that each reference the one before). ``is_fraud`` is true for fraud and abuse; error and
unfounded are not fraud and stay apart through ``outcome``. Claims drawn at random for audit are
``source = random_audit`` with their ``selection_probability``; the others ``investigation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from riskml.data import validate_frame, write_table
from riskml.io import atomic_path
from riskml.store.store import Store, open_store


@dataclass(frozen=True)
class LabelsExport:
    labels: int
    reviewed: int
    random_audits: int


def final_labels(store: Store) -> tuple[pd.DataFrame, int]:
    """(the labels table of final decisions, how many of them were reviewed or appealed)."""
    d, ra = store.tables["decisions"], store.tables["random_audits"]
    details = store.tables["decision_details"]
    n_decisions = sa.func.count().over(partition_by=d.c.claim_id).label("n_decisions")
    rn = (
        sa.func.row_number()
        .over(partition_by=d.c.claim_id, order_by=d.c.decision_id.desc())
        .label("rn")
    )
    sub = (
        sa.select(
            d.c.claim_id,
            d.c.outcome,
            d.c.typology,
            d.c.decided_at,
            sa.func.coalesce(details.c.kind, "decision").label("kind"),
            n_decisions,
            rn,
        )
        .outerjoin(details, details.c.decision_id == d.c.decision_id)
        .subquery()
    )
    stmt = (
        sa.select(
            sub.c.claim_id,
            sub.c.outcome,
            sub.c.typology,
            sub.c.decided_at,
            sub.c.kind,
            sub.c.n_decisions,
            ra.c.selection_probability,
        )
        .outerjoin(ra, ra.c.claim_id == sub.c.claim_id)
        .where(sub.c.rn == 1)
        .order_by(sub.c.claim_id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    cols = ["claim_id", "outcome", "typology", "decided_at", "kind", "n", "p"]
    frame = pd.DataFrame.from_records(rows, columns=cols)
    is_fraud = frame["outcome"].isin(["fraud", "abuse"])
    audited = frame["p"].notna()
    labels = pd.DataFrame(
        {
            "claim_id": frame["claim_id"].astype(object),
            "is_fraud": is_fraud.astype(bool),
            "typology": frame["typology"].astype(object).where(is_fraud, None),
            "decided_at": pd.to_datetime(frame["decided_at"]),
            "source": np.where(audited, "random_audit", "investigation").astype(object),
            "outcome": frame["outcome"].astype(object),
            "selection_probability": frame["p"].astype("float64"),
        }
    )
    reviewed = int((frame["n"] > 1).sum()) if len(frame) else 0
    return validate_frame(labels, "labels"), reviewed


def export_labels(out: Path | str, store_url: str | None = None) -> LabelsExport:
    """Write each claim's final decision as ``labels`` atomically to ``out``."""
    store = open_store(store_url)
    try:
        labels, reviewed = final_labels(store)
    finally:
        store.close()
    with atomic_path(out) as tmp:
        write_table(labels, tmp, "labels")
    return LabelsExport(
        labels=len(labels),
        reviewed=reviewed,
        random_audits=int((labels["source"] == "random_audit").sum()),
    )
