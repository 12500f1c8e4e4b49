"""``riskml train``: load, train, log and register, and (with ``--promote``) the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from riskml.config import load_train_config
from riskml.data import load_data_dir
from riskml.errors import ConfigError
from riskml.fingerprint import data_fingerprint
from riskml.gate import GateDecision, promote_if_better
from riskml.registry import RegisteredVersion, log_and_register
from riskml.train import train_model


def parse_as_of(text: str) -> pd.Timestamp:
    """``--as-of``: a date or an ISO timestamp in naive local time, as the data's timestamps."""
    try:
        value = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(
            f"--as-of {text!r}: not a date (YYYY-MM-DD) or timestamp (YYYY-MM-DDTHH:MM:SS)"
        ) from None
    if pd.isna(value) or value.tzinfo is not None:
        raise ConfigError(f"--as-of {text!r}: give a naive local date or time, without an offset")
    return value


def run_train(
    data_dir: Path,
    config_path: Path | None = None,
    experiment: str | None = None,
    promote: bool = False,
    as_of: str | None = None,
) -> dict[str, Any]:
    """``riskml train``: train on a data directory, log to MLflow, register, maybe promote."""
    config = load_train_config(config_path)
    if experiment:
        config = config.with_overrides({"experiment": experiment})
    data = load_data_dir(data_dir, require_labels=True)
    cutoff = parse_as_of(as_of) if as_of else None
    result = train_model(data, config, fingerprint=data_fingerprint(Path(data_dir)), as_of=cutoff)
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
