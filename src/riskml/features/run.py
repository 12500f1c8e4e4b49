"""``riskml features``: write the feature matrix of a data directory."""

from __future__ import annotations

import importlib
import logging
import math
import time
from pathlib import Path

import pandas as pd

from riskml.data import ClaimsData, load_data_dir
from riskml.errors import ConfigError
from riskml.io import write_parquet

log = logging.getLogger(__name__)

DEFAULT_TRAIN_SHARE = 0.6


def default_fit_end(data: ClaimsData, share: float = DEFAULT_TRAIN_SHARE) -> pd.Timestamp:
    """End of the default training window: the first ``share`` of months by ``submitted_at``."""
    months = pd.to_datetime(data.claims["submitted_at"]).dt.to_period("M").unique()
    if len(months) == 0:
        raise ConfigError("claims table is empty: no training window to fit features on")
    ordered = sorted(months)
    k = min(max(math.ceil(share * len(ordered)), 1), len(ordered))
    if k >= len(ordered):
        return pd.Timestamp(ordered[-1].end_time).floor("D") + pd.Timedelta(days=1)
    return pd.Timestamp(ordered[k].start_time)


def _load_builder(model_uri: str) -> object:
    try:
        load_model_bundle = importlib.import_module("riskml.registry").load_model_bundle
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"--model {model_uri!r}: loading a registered model is not available in this "
            "version (riskml.registry.load_model_bundle is missing); run without --model to fit "
            "a builder on the data's own training window"
        ) from exc
    bundle = load_model_bundle(model_uri)
    return bundle.feature_builder


def run_features(data_dir: Path, out: Path, model_uri: str | None = None) -> None:
    """Write ``claim_id`` plus the features of every claim of ``data_dir`` to ``out`` (Parquet)."""
    from riskml.features.builder import FeatureBuilder

    data = load_data_dir(data_dir)
    started = time.perf_counter()
    if model_uri:
        builder = _load_builder(model_uri)
        if not isinstance(builder, FeatureBuilder):
            raise ConfigError(f"--model {model_uri!r} holds no fitted FeatureBuilder")
    else:
        fit_end = default_fit_end(data)
        log.info("fitting feature norms on claims submitted before %s", fit_end.date())
        builder = FeatureBuilder(fit_end=fit_end).fit(data)
    matrix, timings = builder.transform_timed(data)
    frame = matrix.reset_index()
    write_parquet(frame, out)
    elapsed = time.perf_counter() - started
    log.info(
        "wrote %d claims x %d features to %s in %.1fs (%s)",
        len(frame),
        matrix.shape[1],
        out,
        elapsed,
        ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
    )
