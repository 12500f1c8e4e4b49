"""``riskml features``: write the point-in-time feature matrix of a data directory."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from riskml.data import load_data_dir
from riskml.errors import ConfigError
from riskml.features import FeatureBuilder, default_fit_end
from riskml.io import write_parquet
from riskml.jobs.options import check_engine
from riskml.location import Location, local_path

if TYPE_CHECKING:
    from riskml.spark.verbs import PartitionBy

log = logging.getLogger(__name__)


def run_features(
    data_dir: Path | str,
    out: Path | str,
    model_uri: str | None = None,
    engine: str = "pandas",
    spark_master: str = "local[*]",
    chunk_size: int | None = None,
    chunks_per_wave: int = 16,
    partition_by: str = "entity",
) -> None:
    """Write ``claim_id`` plus the features of every claim of ``data_dir`` to ``out`` (Parquet).

    ``engine="spark"`` builds them on Spark (:mod:`riskml.spark`: per entity bucket, or per
    time chunk with ``partition_by="time"``), equal to the
    pandas engine's, rows in ``(submitted_at, claim_id)`` order; without ``model_uri`` the
    builder's norms are still fitted on the driver, on DIR's training window. With the Spark
    engine ``data_dir`` and ``out`` may be URLs (:mod:`riskml.spark.paths`); the pandas engine
    refuses them.
    """
    check_engine(engine)
    data: Path | Location
    target: Path | Location
    if engine == "spark":
        from riskml.spark.paths import engine_paths
        from riskml.spark.session import check_available

        data, target = engine_paths(data_dir, out)
        from riskml.spark.verbs import check_partition

        check_partition(partition_by)
        check_available(spark_master)  # before the model or the data is read
    else:
        data, target = local_path("--data", data_dir), local_path("--out", out)
    started = time.perf_counter()
    loaded = None
    if model_uri:
        from riskml.registry import load_model_bundle  # MLflow: seconds to import, only if needed

        bundle = load_model_bundle(model_uri)
        builder = bundle.feature_builder
        if not isinstance(builder, FeatureBuilder):
            raise ConfigError(f"--model {model_uri!r} holds no fitted FeatureBuilder")
        version = f"{bundle.model_name}/{bundle.model_version}"
    else:
        loaded = load_data_dir(data)
        fit_end = default_fit_end(loaded)
        log.info("fitting feature norms on claims submitted before %s", fit_end.date())
        builder = FeatureBuilder(fit_end=fit_end).fit(loaded)
        version = f"fitted before {fit_end}"
    if engine == "spark":
        from riskml.spark.verbs import features_spark

        del loaded  # the driver holds only the small tables and the chunk plan from here on
        summary = features_spark(
            data,
            target,
            builder,
            version,
            master=spark_master,
            chunk_size=chunk_size,
            chunks_per_wave=chunks_per_wave,
            partition_by=cast("PartitionBy", partition_by),  # checked above
        )
        log.info(
            "wrote the features of %s claims to %s with Spark: %s",
            summary["claims"],
            target,
            summary,
        )
        return
    assert isinstance(data, Path) and isinstance(target, Path)
    if loaded is None:
        loaded = load_data_dir(data)
    matrix, timings = builder.transform_timed(loaded)
    frame = matrix.reset_index()
    write_parquet(frame, target)
    elapsed = time.perf_counter() - started
    log.info(
        "wrote %d claims x %d features to %s in %.1fs (%s)",
        len(frame),
        matrix.shape[1],
        target,
        elapsed,
        ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
    )
