"""The verbs' Spark entry points: ``riskml score`` and ``riskml features`` with
``--engine spark``, on either plan (``--partition-by entity``, :mod:`riskml.spark.entities`, the
default; ``--partition-by time``, :mod:`riskml.spark.engine`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from riskml.batch import check_explain
from riskml.defaults import DEFAULT_MODEL_URI
from riskml.errors import RiskmlError
from riskml.location import Location
from riskml.spark.engine import CHUNK_SIZE, run_chunks
from riskml.spark.entities import BUCKET_CLAIMS, run_entities
from riskml.spark.paths import engine_paths
from riskml.spark.session import DEFAULT_MASTER, check_available

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from riskml.features import FeatureBuilder
    from riskml.scoring import Explain, Scorer

#: How the Spark engine cuts the work: per entity key (:mod:`riskml.spark.entities`, the default)
#: or in the pandas engine's time chunks (this module).
PartitionBy = Literal["entity", "time"]
PARTITIONS: tuple[str, ...] = ("entity", "time")


def check_partition(partition_by: str) -> None:
    if partition_by not in PARTITIONS:
        raise RiskmlError(
            f"--partition-by {partition_by!r}: expected one of {', '.join(PARTITIONS)}"
        )


def score_backlog_spark(
    data_dir: Path | str | Location,
    out: Path | str | Location,
    model_uri: str = DEFAULT_MODEL_URI,
    explain: Explain = "flagged",
    chunk_size: int | None = None,
    master: str = DEFAULT_MASTER,
    since: pd.Timestamp | None = None,
    scorer: Scorer | None = None,
    spark: SparkSession | None = None,
    chunks_per_wave: int = 16,
    on_wave: Callable[[int, int], None] | None = None,
    partition_by: PartitionBy = "entity",
) -> dict[str, object]:
    """``riskml score --engine spark``: what :func:`riskml.batch.score_backlog` writes, run on
    Spark (one LightGBM thread per task): each feature family per bucket of its entity key
    (``partition_by="entity"``, ``chunk_size`` claims per bucket) or in time chunks
    (``"time"``, ``chunk_size`` claims per chunk)."""
    from riskml.scoring import Scorer, load_scorer

    check_explain(explain)
    check_partition(partition_by)
    data_dir, out = engine_paths(data_dir, out)
    if spark is None:
        check_available(master)  # before the model is loaded
    scorer = scorer or load_scorer(model_uri, num_threads=1)
    if scorer.num_threads != 1:  # Spark runs a task per core: one thread each
        scorer = Scorer(scorer.bundle, num_threads=1, top_k=scorer.top_k)
    if partition_by == "entity":
        return run_entities(
            data_dir,
            out,
            mode="score",
            model_version=scorer.model_version,
            builder=scorer.bundle.feature_builder,
            scorer=scorer,
            master=master,
            explain=explain,
            bucket_claims=chunk_size or BUCKET_CLAIMS,
            since=since,
            spark=spark,
            on_stage=on_wave,
        )
    return run_chunks(
        data_dir,
        out,
        mode="score",
        model_version=scorer.model_version,
        scorer=scorer,
        master=master,
        explain=explain,
        chunk_size=chunk_size or CHUNK_SIZE,
        chunks_per_wave=chunks_per_wave,
        since=since,
        spark=spark,
        on_wave=on_wave,
    )


def features_spark(
    data_dir: Path | str | Location,
    out: Path | str | Location,
    builder: FeatureBuilder,
    model_version: str,
    master: str = DEFAULT_MASTER,
    chunk_size: int | None = None,
    spark: SparkSession | None = None,
    chunks_per_wave: int = 16,
    partition_by: PartitionBy = "entity",
) -> dict[str, object]:
    """``riskml features --engine spark``: the feature matrix of every claim of ``data_dir``
    (rows in ``(submitted_at, claim_id)`` order), built by ``builder`` on Spark per entity
    bucket or per time chunk (as :func:`score_backlog_spark`)."""
    check_partition(partition_by)
    if partition_by == "entity":
        return run_entities(
            data_dir,
            out,
            mode="features",
            model_version=model_version,
            builder=builder,
            master=master,
            explain="none",
            bucket_claims=chunk_size or BUCKET_CLAIMS,
            spark=spark,
        )
    return run_chunks(
        data_dir,
        out,
        mode="features",
        model_version=model_version,
        builder=builder,
        feature_names=[str(n) for n in builder.get_feature_names_out()],
        master=master,
        chunk_size=chunk_size or CHUNK_SIZE,
        chunks_per_wave=chunks_per_wave,
        spark=spark,
        explain="none",
    )
