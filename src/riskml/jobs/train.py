"""``riskml train``: load, train, log and register, and (with ``--promote``) the gate."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskml.config import load_train_config
from riskml.data import ClaimsData, load_data_dir, validate_frame
from riskml.errors import ConfigError, DataContractError
from riskml.fingerprint import data_fingerprint
from riskml.gate import GateDecision, promote_if_better
from riskml.jobs.options import parse_date
from riskml.registry import RegisteredVersion, log_and_register
from riskml.train import train_model


def with_labels(data: ClaimsData, paths: list[Path], mode: str) -> ClaimsData:
    """``data`` with the labels tables at ``paths`` beside (or instead of) its own."""
    frames = []
    for path in paths:
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataContractError(
                "labels", None, f"{path}: not a readable Parquet file ({type(exc).__name__})"
            ) from None
        frames.append(validate_frame(table, "labels"))
    exported = pd.concat(frames, ignore_index=True).drop_duplicates("claim_id", keep="last")
    unknown = ~exported["claim_id"].isin(data.claims["claim_id"])
    if unknown.any():
        raise DataContractError(
            "labels",
            "claim_id",
            f"{int(unknown.sum())} exported labels name claims the data directory does not hold",
            str(exported.loc[unknown, "claim_id"].iloc[0]),
        )
    own = data.labels
    if mode == "instead" or own is None or own.empty:
        merged = exported
    else:
        kept = own.loc[~own["claim_id"].isin(exported["claim_id"])]
        merged = pd.concat([kept, exported], ignore_index=True)
    if merged.empty:
        raise DataContractError("labels", None, "no labels to train on")
    return dataclasses.replace(data, labels=validate_frame(merged.reset_index(drop=True), "labels"))


def _with_files(fingerprint: str, paths: list[Path], mode: str) -> str:
    """The directory's fingerprint extended by the labels files the run also read."""
    digest = hashlib.sha256(f"{fingerprint}:{mode}".encode())
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_train(
    data_dir: Path,
    config_path: Path | None = None,
    experiment: str | None = None,
    promote: bool = False,
    as_of: str | None = None,
    labels: Sequence[Path] = (),
    labels_mode: str = "beside",
) -> dict[str, Any]:
    """``riskml train``: train on a data directory, log to MLflow, register, maybe promote.

    ``labels`` are further labels tables (``riskml labels export`` of the service's decisions and
    random audits); ``labels_mode`` ``beside`` adds them to the directory's own (theirs win for
    a claim both have: a recorded decision is the later word), ``instead`` uses only them.
    """
    config = load_train_config(config_path)
    if experiment:
        config = config.with_overrides({"experiment": experiment})
    if labels_mode not in ("beside", "instead"):
        raise ConfigError(f"--labels-mode {labels_mode!r}: expected beside or instead")
    data = load_data_dir(data_dir, require_labels=not labels)
    fingerprint = data_fingerprint(Path(data_dir))
    if labels:
        data = with_labels(data, [Path(p) for p in labels], labels_mode)
        fingerprint = _with_files(fingerprint, [Path(p) for p in labels], labels_mode)
    cutoff = parse_date(as_of, "--as-of") if as_of else None
    result = train_model(data, config, fingerprint=fingerprint, as_of=cutoff)
    registered: RegisteredVersion = log_and_register(result)
    summary: dict[str, Any] = {
        "model": registered.model_name,
        "version": registered.version,
        "run_id": registered.run_id,
        "model_uri": registered.uri,
        "windows": result.windows.to_dict(),
        "labels": {w: c for w, c in result.window_counts.items() if c["claims"]},
        "metrics": _headline(result.metrics),
        "metrics_from": "backtest" if result.refit else "windowed",
        "windowed_metrics": _headline(result.windowed_metrics),
        "refit": result.refit,
        "baselines": {k: _headline(v) for k, v in result.baselines.items()},
        "imbalance": result.imbalance,
        "size": result.size.label,
        "bands": result.band_summary(),
        "train_total_s": round(result.timings["train_total_s"], 1),
    }
    if promote:
        decision: GateDecision = promote_if_better(registered, data, result)
        summary["promoted"] = decision.promoted
        summary["gate"] = decision.reasons
        summary["gate_basis"] = decision.basis
        summary["gate_notes"] = decision.notes
    return summary


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "auc_pr",
        "roc_auc",
        "brier",
        "ece",
        "precision_at_capacity",
        "recall_at_capacity",
        "amount_recall_at_capacity",
    )
    return {k: metrics.get(k) for k in keys if metrics.get(k) is not None}
