"""The self-contained model bundle: the format every registered version stores and scoring reads.

A bundle folder holds everything needed to score (DESIGN principle 4): ``booster.txt``
(LightGBM's own text format), ``feature_builder.pkl`` (the fitted builder with its population
norms), ``bundle.json`` (format version, feature names and set, calibrator parameters, risk-band
cut-offs, metrics, windows, data fingerprint) and ``model_card.md``. :data:`BUNDLE_FORMAT` is
bumped when the layout changes; a reader refuses a format it does not know.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from riskml.bands import assign_bands
from riskml.calibration import Calibrator
from riskml.errors import RiskmlError

if TYPE_CHECKING:
    from riskml.train import TrainResult

BUNDLE_FORMAT = 1
BUNDLE_DIR = "bundle"
"""The artifact name of the bundle folder inside a logged MLflow model."""


def raw_score(booster: lgb.Booster, x: np.ndarray, num_threads: int) -> np.ndarray:
    """A booster's raw log-odds scores of a feature matrix (what TreeSHAP contributions sum to)."""
    return np.asarray(booster.predict(x, raw_score=True, num_threads=num_threads), dtype=np.float64)


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
    windowed_metrics: dict[str, Any] = field(default_factory=dict)
    refit: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    """The training reference of ``riskml monitor`` (:class:`riskml.monitor.Reference`)."""

    @property
    def trained_as_of(self) -> pd.Timestamp:
        """The latest instant whose labels this version may have learned from: its training date
        when refit, the start of its test window otherwise (what it was trained and calibrated
        on was decided before that)."""
        if self.refit and self.windows.get("as_of"):
            return pd.Timestamp(self.windows["as_of"])
        return pd.Timestamp(self.windows.get("test_start", "1970-01-01"))

    def raw_score(self, features: np.ndarray | pd.DataFrame, num_threads: int = 1) -> np.ndarray:
        """The booster's raw log-odds score (what TreeSHAP contributions add up to)."""
        return raw_score(self.booster, self._matrix(features), num_threads)

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
        "windowed_metrics": result.windowed_metrics,
        "refit": result.refit,
        "reference": result.reference.to_dict() if result.reference else {},
    }
    (out / "bundle.json").write_text(json.dumps(jsonable(meta), indent=2, sort_keys=True))
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
        windowed_metrics=dict(meta.get("windowed_metrics", {})),
        refit=dict(meta.get("refit", {})),
        reference=dict(meta.get("reference", {})),
    )


def jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if not np.isfinite(f) else f
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
