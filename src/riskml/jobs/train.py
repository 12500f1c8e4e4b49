"""``riskml train``: load, train, log and register, and (with ``--promote``) the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from riskml.config import load_train_config
from riskml.data import load_data_dir
from riskml.fingerprint import data_fingerprint
from riskml.gate import GateDecision, promote_if_better
from riskml.registry import RegisteredVersion, log_and_register
from riskml.train import train_model


def run_train(
    data_dir: Path,
    config_path: Path | None = None,
    experiment: str | None = None,
    promote: bool = False,
) -> dict[str, Any]:
    """``riskml train``: train on a data directory, log to MLflow, register, maybe promote."""
    config = load_train_config(config_path)
    if experiment:
        config = config.with_overrides({"experiment": experiment})
    data = load_data_dir(data_dir, require_labels=True)
    result = train_model(data, config, fingerprint=data_fingerprint(Path(data_dir)))
    registered: RegisteredVersion = log_and_register(result)
    summary: dict[str, Any] = {
        "model": registered.model_name,
        "version": registered.version,
        "run_id": registered.run_id,
        "model_uri": registered.uri,
        "metrics": _headline(result.metrics),
        "baselines": {k: _headline(v) for k, v in result.baselines.items()},
        "imbalance": result.imbalance,
        "size": result.size.label,
        "train_total_s": round(result.timings["train_total_s"], 1),
    }
    if promote:
        decision: GateDecision = promote_if_better(registered, data, result)
        summary["promoted"] = decision.promoted
        summary["gate"] = decision.reasons
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
