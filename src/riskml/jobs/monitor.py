"""``riskml monitor``: drift and health of a model version on a data directory's claims."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from riskml.bundle import jsonable
from riskml.config import load_monitor_config
from riskml.data import load_data_dir
from riskml.defaults import DEFAULT_MODEL_URI
from riskml.errors import RiskmlError
from riskml.io import atomic_path
from riskml.jobs.options import parse_date
from riskml.monitor import Reference, compare, render_html
from riskml.registry import load_model_bundle
from riskml.tracking import client, experiment_id

log = logging.getLogger(__name__)


def run_monitor(
    data_dir: Path,
    out: Path,
    model_uri: str = DEFAULT_MODEL_URI,
    since: str | None = None,
    config_path: Path | None = None,
) -> dict[str, Any]:
    """Compare the claims of ``data_dir`` (submitted since ``since``) with the model's training
    reference; write the JSON report to ``out`` (and an HTML page when ``out`` ends in .html,
    the JSON beside it); log both to MLflow. Returns the report."""
    config = load_monitor_config(config_path)
    bundle = load_model_bundle(model_uri)
    if not bundle.reference:
        raise RiskmlError(
            f"model {model_uri!r} (version {bundle.model_version}) carries no training "
            "reference (trained before riskml monitor existed): retrain it"
        )
    reference = Reference.from_dict(bundle.reference)
    data = load_data_dir(data_dir)
    claims = data.claims
    if since is not None:
        start = parse_date(since, "--since")
        claims = claims.loc[claims["submitted_at"] >= start]
    if claims.empty:
        raise RiskmlError(f"claims: none of {data_dir} submitted since {since}; nothing to monitor")
    features = bundle.feature_builder.transform(data, claims)
    x = features[bundle.feature_names].to_numpy(dtype=np.float64)
    scores = bundle.predict_risk(x, num_threads=2)
    columns = {name: x[:, j] for j, name in enumerate(bundle.feature_names)}
    amount = claims.set_index(claims["claim_id"].astype(str))["amount_claimed"]
    columns["amount_claimed"] = amount.reindex(features.index).to_numpy(dtype=np.float64)
    report = compare(
        reference,
        columns,
        scores,
        bundle.band(scores),
        psi_warn=config.psi_warn,
        psi_alert=config.psi_alert,
        band_share_tolerance=config.band_share_tolerance,
        min_claims=config.min_claims,
    )
    submitted = claims["submitted_at"]
    report = {
        "model_name": bundle.model_name,
        "model_version": bundle.model_version,
        "period": [str(submitted.min()), str(submitted.max())],
        **report,
    }
    text = json.dumps(jsonable(report), indent=2, ensure_ascii=False)
    json_path = out.with_suffix(".json") if out.suffix.lower() == ".html" else out
    with atomic_path(json_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    if out.suffix.lower() == ".html":
        page = render_html(report, f"riskml monitor: {bundle.model_name} v{bundle.model_version}")
        with atomic_path(out) as tmp:
            tmp.write_text(page, encoding="utf-8")
    if config.log_to_mlflow:
        _log(report, json_path, out, config.experiment)
    for alert in report["alerts"]:
        log.warning("alert: %s", alert["message"])
    return report


def _log(report: dict[str, Any], json_path: Path, out: Path, experiment: str) -> None:
    mc = client()
    tags = {"model_version": str(report["model_version"]), "kind": "monitor"}
    with mlflow.start_run(experiment_id=experiment_id(mc, experiment), tags=tags):
        metrics = {f"psi.{k}": v["psi"] for k, v in report["features"].items()}
        metrics["score_psi"] = report["score"]["psi"]
        metrics["alerts"] = float(len(report["alerts"]))
        metrics["claims"] = float(report["claims"])
        for band, row in report["bands"].items():
            metrics[f"band_share.{band}"] = float(row["share"])
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            for path in {json_path, out}:
                target = Path(tmp) / path.name
                target.write_bytes(path.read_bytes())
                mlflow.log_artifact(str(target))
