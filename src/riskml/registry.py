"""MLflow: tracking, the self-contained model bundle, registering, the promotion gate, loading.

Embedded by default: without ``MLFLOW_TRACKING_URI`` the tracking and registry store is
``sqlite:///mlflow.db`` in the working directory and artifacts go to ``./mlartifacts`` beside it;
nothing has to be started. With the variable set, the same code talks to any MLflow server.

A registered version of ``riskml-claims`` is an MLflow pyfunc model whose ``artifacts/bundle``
folder holds everything needed to score (DESIGN principle 4): ``booster.txt`` (LightGBM's own
text format), ``feature_builder.pkl`` (the fitted builder with its peer norms and profiles),
``bundle.json`` (format version, feature names and set, calibrator parameters, risk-band
cut-offs, metrics, windows, data fingerprint) and ``model_card.md``. Versions are moved between
roles with aliases (``champion``), never stages.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.pyfunc.model import PythonModel

from riskml.bands import assign_bands
from riskml.calibration import Calibrator
from riskml.defaults import CHAMPION, DEFAULT_MODEL_URI
from riskml.errors import RiskmlError

if TYPE_CHECKING:
    from riskml.config import TrainConfig
    from riskml.data import ClaimsData
    from riskml.train import TrainResult

log = logging.getLogger(__name__)

BUNDLE_FORMAT = 1
BUNDLE_DIR = "bundle"


# ---------------------------------------------------------------------------------------------
# the bundle


@dataclass
class ModelBundle:
    """One model version, loaded: everything the Scorer needs, nothing recomputed."""

    feature_builder: Any
    booster: lgb.Booster
    calibrator: Calibrator
    band_thresholds: dict[str, float]
    feature_names: list[str]
    model_name: str
    model_version: str
    metrics: dict[str, Any]
    trained_at: str
    feature_set: str = ""
    feature_set_version: str = ""
    fingerprint: str = ""
    windows: dict[str, str] = field(default_factory=dict)
    alias: str | None = None
    model_card: str = ""

    def raw_score(self, features: np.ndarray | pd.DataFrame, num_threads: int = 1) -> np.ndarray:
        """The booster's raw log-odds score (what TreeSHAP contributions add up to)."""
        x = self._matrix(features)
        return np.asarray(
            self.booster.predict(x, raw_score=True, num_threads=num_threads), dtype=np.float64
        )

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability of fraud from raw scores."""
        return self.calibrator(raw)

    def predict_risk(self, features: np.ndarray | pd.DataFrame, num_threads: int = 1) -> np.ndarray:
        """Calibrated risk score in [0, 1] for a feature matrix (columns = ``feature_names``)."""
        return self.calibrate(self.raw_score(features, num_threads))

    def band(self, scores: np.ndarray) -> np.ndarray:
        """``high`` / ``medium`` / ``low`` from the cut-offs fixed at training."""
        return assign_bands(scores, self.band_thresholds)

    def _matrix(self, features: np.ndarray | pd.DataFrame) -> np.ndarray:
        if isinstance(features, pd.DataFrame):
            missing = [c for c in self.feature_names if c not in features.columns]
            if missing:
                raise RiskmlError(f"features: column {missing[0]!r} of the model is missing")
            return features[self.feature_names].to_numpy(dtype=np.float64)
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise RiskmlError(
                f"features: expected a matrix with {len(self.feature_names)} columns, "
                f"got shape {x.shape}"
            )
        return x


def write_bundle(result: TrainResult, out: Path, model_card: str) -> None:
    """Write the self-contained bundle of a training result into the folder ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    result.booster.save_model(str(out / "booster.txt"))
    with (out / "feature_builder.pkl").open("wb") as fh:
        pickle.dump(result.feature_builder, fh, protocol=5)
    meta = {
        "format": BUNDLE_FORMAT,
        "model_name": result.config.model_name,
        "feature_set": result.feature_set,
        "feature_set_version": result.feature_set_version,
        "feature_names": result.feature_names,
        "calibrator": result.calibrator.to_dict(),
        "band_thresholds": result.band_thresholds,
        "metrics": result.metrics,
        "trained_at": result.trained_at,
        "fingerprint": result.fingerprint,
        "windows": result.windows.to_dict(),
        "imbalance": result.imbalance,
        "size": result.size.model_dump(),
    }
    (out / "bundle.json").write_text(json.dumps(_jsonable(meta), indent=2, sort_keys=True))
    (out / "model_card.md").write_text(model_card, encoding="utf-8")


def read_bundle(
    folder: Path, model_version: str = "unregistered", alias: str | None = None
) -> ModelBundle:
    """Load a bundle folder written by :func:`write_bundle`."""
    meta_path = folder / "bundle.json"
    if not meta_path.is_file():
        raise RiskmlError(f"model bundle: {meta_path} is missing; not a riskml model")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != BUNDLE_FORMAT:
        raise RiskmlError(
            f"model bundle: format {meta.get('format')!r} is not readable by this riskml "
            f"(reads format {BUNDLE_FORMAT})"
        )
    with (folder / "feature_builder.pkl").open("rb") as fh:
        builder = pickle.load(fh)  # our own artefact, written by write_bundle
    card = folder / "model_card.md"
    return ModelBundle(
        feature_builder=builder,
        booster=lgb.Booster(model_file=str(folder / "booster.txt")),
        calibrator=Calibrator.from_dict(meta["calibrator"]),
        band_thresholds={k: float(v) for k, v in meta["band_thresholds"].items()},
        feature_names=list(meta["feature_names"]),
        model_name=str(meta["model_name"]),
        model_version=str(model_version),
        metrics=dict(meta.get("metrics", {})),
        trained_at=str(meta.get("trained_at", "")),
        feature_set=str(meta.get("feature_set", "")),
        feature_set_version=str(meta.get("feature_set_version", "")),
        fingerprint=str(meta.get("fingerprint", "")),
        windows=dict(meta.get("windows", {})),
        alias=alias,
        model_card=card.read_text(encoding="utf-8") if card.is_file() else "",
    )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if not np.isfinite(f) else f
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ---------------------------------------------------------------------------------------------
# MLflow plumbing


def _embedded() -> bool:
    return not os.environ.get("MLFLOW_TRACKING_URI")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, or the embedded SQLite store in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _artifact_root() -> str | None:
    """Where new experiments keep artifacts: ``mlartifacts`` beside a SQLite store."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


def client() -> MlflowClient:
    """An MLflow client on the configured tracking and registry store."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI") or uri)
    return MlflowClient(tracking_uri=uri, registry_uri=os.environ.get("MLFLOW_REGISTRY_URI") or uri)


def experiment_id(mc: MlflowClient, name: str) -> str:
    exp = mc.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    return str(mc.create_experiment(name, artifact_location=_artifact_root()))


def git_commit() -> str | None:
    """The commit of the riskml source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: str
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


class RiskmlModel(PythonModel):
    """pyfunc face of a bundle: a feature matrix in, calibrated risk score and band out.

    Raw claims need their history to become features; that is the Scorer's job
    (``riskml.scoring.load_scorer``). This face serves tools that hold a feature matrix
    (``mlflow models predict``, notebooks, ``mlflow.evaluate``).
    """

    def load_context(self, context: Any) -> None:
        self.bundle = read_bundle(Path(context.artifacts[BUNDLE_DIR]))

    # no type hints on purpose: MLflow would read them as a schema; the signature is explicit
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        frame = pd.DataFrame(model_input)
        scores = self.bundle.predict_risk(frame)
        return pd.DataFrame({"risk_score": scores, "risk_band": self.bundle.band(scores)})


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

    skip = {"per_typology_recall", "fairness"}
    for k, v in result.metrics.items():
        if k not in skip:
            put(f"test_{k}", v)
    for typ, v in result.metrics.get("per_typology_recall", {}).items():
        put(f"test_recall_at_capacity.{typ}", v)
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
    from mlflow.models import infer_signature

    import riskml
    from riskml.report import render_model_card, write_plots

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
        }
        (tmpdir / "metrics.json").write_text(json.dumps(_jsonable(report), indent=2))
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


# ---------------------------------------------------------------------------------------------
# loading


def _parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/name@alias`` or ``models:/name/version`` -> (name, alias, version)."""
    rest = uri.removeprefix("models:/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, alias, None
    if "/" in rest:
        name, ver = rest.rsplit("/", 1)
        return name, None, ver
    raise RiskmlError(
        f"model URI {uri!r}: expected models:/<name>@<alias> or models:/<name>/<version>"
    )


def resolve_version(uri: str) -> tuple[str, str, str | None]:
    """(name, version, alias) of a ``models:/`` URI, asking the registry."""
    name, alias, ver = _parse_models_uri(uri)
    mc = client()
    try:
        if alias is not None:
            mv = mc.get_model_version_by_alias(name, alias)
        else:
            mv = mc.get_model_version(name, str(ver))
    except MlflowException as exc:
        hint = " (run `riskml train --promote` first)" if alias == CHAMPION else ""
        raise RiskmlError(
            f"model URI {uri!r} not found in the registry at {tracking_uri()}{hint}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return name, str(mv.version), alias


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


# ---------------------------------------------------------------------------------------------
# the promotion gate


@dataclass
class GateDecision:
    promoted: bool
    reasons: list[str]
    new_metrics: dict[str, Any]
    champion_metrics: dict[str, Any] | None = None
    champion_version: str | None = None


def gate(
    new: dict[str, Any],
    champion: dict[str, Any] | None,
    config: TrainConfig,
) -> tuple[bool, list[str]]:
    """Pure decision of the promotion gate on two metrics JSONs of the same test window.

    Returns (passes, reasons). Quality may not drop beyond the tolerances; the fairness bounds
    (false-positive-rate ratio, per-group precision floor) apply to the new model always.
    """
    from riskml.evaluate import fairness_frame, fairness_violations

    g, fc = config.gate, config.fairness
    reasons: list[str] = []
    if champion is not None:
        for key, tol in (
            ("auc_pr", g.auc_pr_tolerance),
            ("recall_at_capacity", g.recall_tolerance),
        ):
            n, c = new.get(key), champion.get(key)
            if n is None:
                reasons.append(f"{key} of the new model is undefined on the test window")
            elif c is not None and n < c - tol:
                reasons.append(
                    f"{key} {n:.4f} is worse than the champion's {c:.4f} by more than {tol}"
                )
    table = fairness_frame(new)
    if not table.empty:
        table = table[table["attribute"].isin(g.attributes)]
    if table.empty:
        reasons.append("no fairness table in the new model's metrics")
    else:
        precision = new.get("precision_at_capacity")
        reasons += fairness_violations(
            table,
            float("nan") if precision is None else float(precision),
            max_fpr_ratio=g.max_fpr_ratio,
            min_group_precision_ratio=g.min_group_precision_ratio,
            min_group_negatives=fc.min_group_negatives,
            min_group_flagged=fc.min_group_flagged,
            alpha=g.alpha,
        )
    return (not reasons), reasons


def champion_metrics_on(
    bundle: ModelBundle, data: ClaimsData, result: TrainResult
) -> dict[str, Any]:
    """The champion's metrics on the new run's test window (same claims, same labels)."""
    from riskml.train import score_window

    test = result.test_frame
    claims = data.claims[data.claims["claim_id"].astype(str).isin(test.index)]
    feats = bundle.feature_builder.transform(data, claims).reindex(test.index)
    scores = bundle.predict_risk(feats, num_threads=result.config.lightgbm.num_threads)
    return score_window(test, scores, result.config, probability=True)


def promote_if_better(
    registered: RegisteredVersion, data: ClaimsData, result: TrainResult
) -> GateDecision:
    """Move ``champion`` to the new version only if it passes the gate; say why otherwise."""
    mc = client()
    name = registered.model_name
    champion: ModelBundle | None = None
    try:
        mv = mc.get_model_version_by_alias(name, CHAMPION)
        champion = load_model_bundle(f"models:/{name}/{mv.version}")
    except MlflowException:
        champion = None
    champ_metrics = champion_metrics_on(champion, data, result) if champion else None
    ok, reasons = gate(result.metrics, champ_metrics, result.config)
    decision = GateDecision(
        promoted=ok,
        reasons=reasons,
        new_metrics=result.metrics,
        champion_metrics=champ_metrics,
        champion_version=champion.model_version if champion else None,
    )
    if ok:
        mc.set_registered_model_alias(name, CHAMPION, registered.version)
        was = f" (was version {decision.champion_version})" if champion else ""
        decision.reasons = [f"promoted version {registered.version} to {CHAMPION}{was}"]
        log.info("%s", decision.reasons[0])
    else:
        log.warning(
            "version %s not promoted; %s stays with version %s: %s",
            registered.version,
            CHAMPION,
            decision.champion_version,
            "; ".join(reasons),
        )
    mc.set_tag(registered.run_id, "gate", "passed" if ok else "refused")
    mc.set_tag(registered.run_id, "gate_reasons", "; ".join(decision.reasons)[:4000])
    mc.set_model_version_tag(name, registered.version, "gate", "passed" if ok else "refused")
    mc.set_model_version_tag(name, registered.version, "gate_reasons", "; ".join(reasons)[:4000])
    return decision
