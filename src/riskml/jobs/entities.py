"""``riskml entities``: providers, employers or doctors ranked for targeted audits."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from riskml.batch import score_backlog
from riskml.data import load_data_dir
from riskml.defaults import DEFAULT_MODEL_URI
from riskml.entities import KINDS, rank_entities
from riskml.errors import ConfigError, RiskmlError
from riskml.io import write_parquet
from riskml.jobs.options import parse_date

log = logging.getLogger(__name__)


def run_entities(
    data_dir: Path,
    out: Path,
    kind: str,
    model_uri: str = DEFAULT_MODEL_URI,
    since: str | None = None,
) -> dict[str, Any]:
    """Score the claims of ``data_dir`` (since ``since``) with the batch engine, rank the
    entities of ``kind`` by :func:`riskml.entities.rank_entities`, write them to ``out``."""
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    start = None
    if since is not None:
        start = parse_date(since, "--since")
    claims = load_data_dir(data_dir, tables=["claims"]).claims
    column = KINDS[kind]
    if column not in claims.columns:
        raise RiskmlError(f"claims.{column}: the column is absent, so there are no {kind}s to rank")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="riskml-entities-", dir=out.parent) as tmp:
        scored = Path(tmp) / "scores.parquet"
        summary = score_backlog(data_dir, scored, model_uri=model_uri, since=start)
        scores = pd.read_parquet(scored)
    frame = scores.merge(
        claims[["claim_id", column, "amount_claimed"]].astype({"claim_id": str}),
        on="claim_id",
        how="left",
    )
    ranked = rank_entities(frame, kind)
    write_parquet(ranked, out)
    log.info("ranked %d %ss from %d claims into %s", len(ranked), kind, len(frame), out)
    return {
        "kind": kind,
        "entities": len(ranked),
        "claims": len(frame),
        "model_version": summary.get("model_version"),
        "out": str(out),
    }
