"""``riskml features``: write the point-in-time feature matrix of a data directory."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from riskml.data import load_data_dir
from riskml.errors import ConfigError
from riskml.features import FeatureBuilder, default_fit_end
from riskml.io import write_parquet

log = logging.getLogger(__name__)


def run_features(data_dir: Path, out: Path, model_uri: str | None = None) -> None:
    """Write ``claim_id`` plus the features of every claim of ``data_dir`` to ``out`` (Parquet)."""
    data = load_data_dir(data_dir)
    started = time.perf_counter()
    if model_uri:
        from riskml.registry import load_model_bundle  # MLflow: seconds to import, only if needed

        builder = load_model_bundle(model_uri).feature_builder
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
