"""The model registry: log a training run to MLflow, register it, load a version by URI.

A registered version of ``riskml-claims`` is an MLflow pyfunc model (:mod:`riskml.pyfunc`) whose
``artifacts/bundle`` folder is a :mod:`riskml.bundle`. Versions are moved between roles with
aliases (``champion``, ``challenger``), never stages; moving ``champion`` is the promotion gate's
job (:mod:`riskml.gate`).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

import riskml
from riskml.bundle import BUNDLE_DIR, ModelBundle, jsonable, read_bundle, write_bundle
from riskml.defaults import DEFAULT_MODEL_URI
from riskml.errors import RiskmlError
from riskml.pyfunc import RiskmlModel
from riskml.report import render_model_card, write_plots
from riskml.tracking import client, experiment_id, git_commit, resolve_version

if TYPE_CHECKING:
    from riskml.train import TrainResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: str
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


def _flat(prefix: str, obj: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, list):
        out[prefix] = json.dumps(obj)
    else:
        out[prefix] = obj
    return out


def _metric_dict(result: TrainResult) -> dict[str, float]:
    out: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float | np.floating | np.integer) and np.isfinite(value):
            out[name] = float(value)

    skip = {"per_typology_recall", "fairness", "random_audit"}
    for k, v in result.metrics.items():
        if k not in skip:
            put(f"test_{k}", v)
    for typ, v in result.metrics.get("per_typology_recall", {}).items():
        put(f"test_recall_at_capacity.{typ}", v)
    for name, est in (result.metrics.get("random_audit") or {}).items():
        if isinstance(est, dict):  # unbiased estimates from random audits, with their interval
            for k, v in est.items():
                put(f"test_audit_{name}.{k}", v)
    if result.refit:  # ``test_*`` is then the backtest; the booster of the train window beside it
        for k, v in result.windowed_metrics.items():
            if k not in skip:
                put(f"windowed_test_{k}", v)
        for typ, v in result.windowed_metrics.get("per_typology_recall", {}).items():
            put(f"windowed_test_recall_at_capacity.{typ}", v)
        for which, info in result.refit.items():
            for k in ("trees", "labelled_rows", "oof_claims", "oof_labelled"):
                put(f"refit_{which}.{k}", info.get(k))
    for attr, v in result.metrics.get("fairness", {}).get("fpr_ratio", {}).items():
        put(f"fairness_fpr_ratio.{attr}", v)
    for name, m in result.baselines.items():
        for k in ("auc_pr", "roc_auc", "precision_at_capacity", "recall_at_capacity"):
            put(f"baseline_{name}.{k}", m.get(k))
        put(f"baseline_{name}.amount_recall_at_capacity", m.get("amount_recall_at_capacity"))
    for row in result.imbalance_table:
        put(f"imbalance_{row['imbalance']}.val_auc_pr", row["val_auc_pr"])
    for row in result.size_table:
        for k in ("val_auc_pr", "trees", "shap_rows_per_s", "predict_rows_per_s"):
            put(f"size_{row['size']}.{k}", row[k])
    for k, v in result.timings.items():
        put(f"time_{k}", v)
    for w, counts in result.window_counts.items():
        for k, v in counts.items():
            put(f"rows_{w}.{k}", v)
    put("band_threshold_high", result.band_thresholds["high"])
    put("band_threshold_medium", result.band_thresholds["medium"])
    return out


def log_and_register(result: TrainResult) -> RegisteredVersion:
    """Log one training run to MLflow and register its model as a new version."""
    mc = client()
    cfg = result.config
    exp_id = experiment_id(mc, cfg.experiment)
    tags = {
        "feature_set": result.feature_set,
        "feature_set_version": result.feature_set_version,
        "data_fingerprint": result.fingerprint,
        "riskml_version": riskml.__version__,
        "imbalance": result.imbalance,
        "model_size": result.size.label,
        **{f"window.{k}": v for k, v in result.windows.to_dict().items()},
    }
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    with (
        mlflow.start_run(experiment_id=exp_id, tags=tags) as run,
        tempfile.TemporaryDirectory(prefix="riskml-run-") as tmp,
    ):
        tmpdir = Path(tmp)
        params = _flat("", cfg.model_dump(), {})
        params.update({f"chosen.{k}": v for k, v in result.size.model_dump().items()})
        params["chosen.min_child_samples"] = cfg.lightgbm.leaf_min_rows(result.size)
        params["chosen.imbalance"] = result.imbalance
        params["calibration.fitted"] = json.dumps(result.calibrator.to_dict())[:5000]
        mlflow.log_params({k: str(v)[:5000] for k, v in params.items()})
        mlflow.log_metrics(_metric_dict(result))

        report = {
            "metrics": result.metrics,
            "baselines": result.baselines,
            "imbalance": result.imbalance_table,
            "sizes": result.size_table,
            "windows": result.windows.to_dict(),
            "window_counts": result.window_counts,
            "timings": result.timings,
            "band_thresholds": result.band_thresholds,
            "windowed_metrics": result.windowed_metrics,
            "refit": result.refit,
            "label_coverage": result.label_coverage,
        }
        (tmpdir / "metrics.json").write_text(json.dumps(jsonable(report), indent=2))
        mlflow.log_artifact(str(tmpdir / "metrics.json"))
        groups = result.metrics.get("fairness", {}).get("groups", [])
        pd.DataFrame(groups).to_csv(tmpdir / "fairness.csv", index=False)
        mlflow.log_artifact(str(tmpdir / "fairness.csv"))
        if cfg.log_plots:
            plot_dir = tmpdir / "plots"
            write_plots(result, plot_dir)
            mlflow.log_artifacts(str(plot_dir), artifact_path="plots")

        card = render_model_card(result, run_id=run.info.run_id)
        (tmpdir / "model_card.md").write_text(card, encoding="utf-8")
        mlflow.log_artifact(str(tmpdir / "model_card.md"))

        bundle_dir = tmpdir / BUNDLE_DIR
        write_bundle(result, bundle_dir, card)
        example = pd.DataFrame(result.test_matrix[:5], columns=result.feature_names)
        bundle = read_bundle(bundle_dir)
        out_example = pd.DataFrame(
            {
                "risk_score": bundle.predict_risk(example),
                "risk_band": bundle.band(bundle.predict_risk(example)),
            }
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RiskmlModel(),
            artifacts={BUNDLE_DIR: str(bundle_dir)},
            signature=infer_signature(example, out_example),
            input_example=example,
            registered_model_name=cfg.model_name,
            pip_requirements=_requirements(),
        )
    version = str(info.registered_model_version)
    for key in ("feature_set", "feature_set_version", "data_fingerprint"):
        mc.set_model_version_tag(cfg.model_name, version, key, tags[key])
    if result.metrics.get("auc_pr") is not None:
        mc.set_model_version_tag(
            cfg.model_name, version, "test_auc_pr", f"{result.metrics['auc_pr']:.4f}"
        )
    log.info("registered %s version %s (run %s)", cfg.model_name, version, run.info.run_id)
    return RegisteredVersion(cfg.model_name, version, run.info.run_id)


def _requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ("lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "pyarrow", "networkx")
    out = []
    for pkg in pkgs:
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except Exception:  # pragma: no cover - a package that is not installed is not pinned
            continue
    return out


def load_model_bundle(uri: str = DEFAULT_MODEL_URI) -> ModelBundle:
    """Load a model version by MLflow URI into a :class:`ModelBundle`, without pyfunc checks.

    ``models:/riskml-claims@champion`` (default), ``models:/riskml-claims/3``, ``runs:/<id>/model``
    or a local folder of a logged model all work.
    """
    client()
    alias = None
    version = "unregistered"
    if uri.startswith("models:/"):
        name, version, alias = resolve_version(uri)
        uri = f"models:/{name}/{version}"
    local = Path(uri)
    if local.is_dir():
        root = local
    else:
        try:
            root = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        except Exception as exc:
            raise RiskmlError(f"model URI {uri!r}: cannot download: {exc}") from None
    folder = root / "artifacts" / BUNDLE_DIR
    if not folder.is_dir():
        folder = root / BUNDLE_DIR if (root / BUNDLE_DIR).is_dir() else root
    return read_bundle(folder, model_version=version, alias=alias)
