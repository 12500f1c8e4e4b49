"""``--engine spark`` partitioned by entity: each feature family per bucket of its entity key.

The default Spark plan (``--partition-by entity``). For each feature family
(:mod:`riskml.features.partitions`) the claims are hashed into buckets by the family's key (the
claimant for the claim and claimant families, the provider for the provider and network
families, the employer for the employer family; a claim without the key is bucketed by its own
id). A bucket's task reads its claims, plus the claims reaching them through the family's other
relations (a doctor's claims at another provider, the claims of a drug trace code billed by
somebody else, the claimant's claims at other employers), their line items and the
contributions the family reads, and runs that family of the fitted builder on it
(:meth:`~riskml.features.FeatureBuilder.transform_family`). Since a family's features read
nothing else, the values are exactly those of the whole data set (the parity tests). The five
families' columns are joined on ``claim_id``; scoring then runs the one
:class:`~riskml.scoring.Scorer` on ranges of claims in ``(submitted_at, claim_id)`` order
(``mapInArrow``, one LightGBM thread per task), and the driver streams the ranges, in order, into
the one output file.

A claim is read by one bucket per family plus the few buckets that reach it through a secondary
relation, whatever the length or size of the backlog; time chunks copy it into every chunk whose
400-day reach covers it (:mod:`riskml.spark.engine`, ``--partition-by time``).

**Resumable by stage**: each family's job and the scoring job are committed by Spark as a whole
(``_SUCCESS``) under ``.<out>.parts/`` beside a ``checkpoint.json`` that pins the model version,
the data fingerprint and the plan; a re-run with the same settings skips the committed stages and
redoes the one that was interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskml.backlog import DataDirReader
from riskml.batch import SCORES_SCHEMA
from riskml.data import ClaimsData, empty_table, isin
from riskml.errors import RiskmlError
from riskml.features.partitions import FamilyPartition, family_partition
from riskml.features.registry import FAMILIES
from riskml.fingerprint import data_fingerprint
from riskml.location import Location
from riskml.reach import contribution_reach_start, reach_before
from riskml.spark.engine import (
    CHUNK_COLUMN,
    NO_LOWER_US,
    SEP,
    TABLE_COLUMN,
    Mode,
    SparkPlan,
    _master_of,
    _open_work,
    _output_file,
    _prefixed,
    _read_large,
    _spark_schema,
    _us,
    data_hint,
    unpack,
)
from riskml.spark.paths import Where, engine_paths, remove_tree, spark_url, work_folder
from riskml.spark.session import (
    DEFAULT_MASTER,
    check_available,
    open_session,
    silence_pandas3_warning,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from riskml.features import FeatureBuilder
    from riskml.scoring import Explain, Scorer

log = logging.getLogger(__name__)

TARGET_COLUMN = "_target"
SUB_COLUMN = "_sub_us"
#: Claims per bucket of an entity key by default (a bucket holds every claim of its entities).
BUCKET_CLAIMS = 100_000
#: Columns of ``claims`` the scoring step reads beside the features (order, cold-start checks).
SCORE_CLAIM_COLUMNS = ("claim_id", "submitted_at", "benefit_type", "diagnosis_code", "provider_id")


def _bucket_of(key: str, n_buckets: int) -> Any:
    """A claim's bucket by ``key``: a hash of the key's value, of the claim's own id without one."""
    from pyspark.sql import functions as F

    value = F.coalesce(F.col(key).cast("string"), F.concat(F.lit("\x00"), F.col("claim_id")))
    return F.pmod(F.xxhash64(value), F.lit(n_buckets)).cast("long")


def family_rows(
    claims: DataFrame,
    items: DataFrame | None,
    contributions: DataFrame | None,
    partition: FamilyPartition,
    n_buckets: int,
    since_us: int,
    month0_days: int | None,
) -> DataFrame:
    """The rows every bucket of ``partition`` reads, packed as the time-chunk engine packs a
    chunk's (columns prefixed by table, a ``_table`` tag, the bucket in ``_chunk``) plus the
    ``_target`` flag of the bucket's own claims to compute."""
    from pyspark.sql import functions as F

    columns = [c for c in claims.columns if c != SUB_COLUMN]
    home = claims.withColumn(CHUNK_COLUMN, _bucket_of(partition.key, n_buckets))
    targets = home.where(F.col(SUB_COLUMN) >= F.lit(since_us))
    own = home.select(
        CHUNK_COLUMN, *columns, (F.col(SUB_COLUMN) >= F.lit(since_us)).alias(TARGET_COLUMN)
    )
    reached: list[DataFrame] = []
    for column in partition.secondary:
        if column not in claims.columns:
            continue
        wanted = targets.where(F.col(column).isNotNull()).select(CHUNK_COLUMN, column).distinct()
        reached.append(home.withColumnRenamed(CHUNK_COLUMN, "_home").join(wanted, column))
    for column in partition.item_relations:
        if items is None or column not in items.columns:
            continue
        billed = items.where(F.col(column).isNotNull()).select("claim_id", column)
        wanted = (
            billed.join(targets.select(CHUNK_COLUMN, "claim_id"), "claim_id")
            .select(CHUNK_COLUMN, column)
            .distinct()
        )
        ids = billed.join(wanted, column).select(CHUNK_COLUMN, "claim_id").distinct()
        reached.append(home.withColumnRenamed(CHUNK_COLUMN, "_home").join(ids, "claim_id"))
    rows = own
    for part in reached:
        other = (
            part.where(F.col("_home") != F.col(CHUNK_COLUMN))
            .select(CHUNK_COLUMN, *columns)
            .dropDuplicates([CHUNK_COLUMN, "claim_id"])
            .withColumn(TARGET_COLUMN, F.lit(False))
        )
        rows = rows.unionByName(other)
    if len(reached) > 1:  # one claim reached through two relations is read once
        rows = rows.dropDuplicates([CHUNK_COLUMN, "claim_id"])
    packed = [
        _prefixed(
            rows.select(CHUNK_COLUMN, TARGET_COLUMN, *columns),
            "claims",
            chunk=CHUNK_COLUMN,
            keep=(TARGET_COLUMN,),
        )
    ]
    if items is not None:
        ids = rows.select(CHUNK_COLUMN, F.col("claim_id").alias("_cid"))
        joined = items.join(ids, items["claim_id"] == ids["_cid"]).drop("_cid")
        packed.append(
            _prefixed(
                joined.select(CHUNK_COLUMN, *items.columns), "claim_items", chunk=CHUNK_COLUMN
            )
        )
    if contributions is not None and partition.contribution_relations:
        related = []
        for column in partition.contribution_relations:
            wanted = targets.where(F.col(column).isNotNull()).select(CHUNK_COLUMN, column)
            related.append(
                contributions.join(wanted.distinct(), column).select(
                    CHUNK_COLUMN, *contributions.columns
                )
            )
        known = related[0]
        for part in related[1:]:
            known = known.unionByName(part)
        known = known.dropDuplicates([CHUNK_COLUMN, "person_id", "employer_id", "month"])
        if month0_days is not None:
            known = known.where(F.unix_date(F.col("month")) >= F.lit(month0_days))
        packed.append(_prefixed(known, "contributions", chunk=CHUNK_COLUMN))
    out = packed[0]
    for part in packed[1:]:
        out = out.unionByName(part, allowMissingColumns=True)
    return out


@dataclass(frozen=True)
class FamilyTask:
    """One bucket of one family, pickled into the Spark task: the small tables, the rules and
    the fitted builder; returns ``claim_id`` and the family's columns of the bucket's claims."""

    family: str
    builder: FeatureBuilder
    persons: pd.DataFrame
    employers: pd.DataFrame
    providers: pd.DataFrame
    rules: Any
    schema: pa.Schema

    def __call__(self, packed: pa.Table) -> pa.Table:
        silence_pandas3_warning()
        t0 = time.perf_counter()
        bucket = int(packed.column(CHUNK_COLUMN)[0].as_py())
        tables = unpack(packed, self.rules)
        is_claim = pc.equal(packed.column(TABLE_COLUMN), "claims")
        own = packed.filter(pc.and_(is_claim, pc.fill_null(packed.column(TARGET_COLUMN), False)))
        wanted = own.column(f"claims{SEP}claim_id").to_pandas()
        history = tables["claims"]
        data = ClaimsData(
            persons=self.persons,
            employers=self.employers,
            providers=self.providers,
            contributions=tables["contributions"],
            claims=history,
            claim_items=tables["claim_items"],
            labels=None,
        )
        targets = history.loc[isin(history["claim_id"], wanted)]
        frame = self.builder.transform_family(self.family, data, targets).reset_index()
        log.info(
            "%s bucket %d: %d claims, %d rows read, %.1fs",
            self.family,
            bucket,
            len(targets),
            packed.num_rows,
            time.perf_counter() - t0,
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return table.select(self.schema.names).cast(self.schema)


@dataclass(frozen=True)
class ScoreTask:
    """Claims with their joined features (one Arrow batch at a time): the output rows, in the
    batch's order, with the submission time kept for the merge."""

    mode: Mode
    scorer: Scorer | None
    feature_names: list[str]
    providers: pd.DataFrame
    explain: str
    schema: pa.Schema

    def __call__(self, batches: Any) -> Any:
        silence_pandas3_warning()
        for batch in batches:
            if batch.num_rows == 0:
                continue
            frame = batch.to_pandas()
            feats = frame.set_index(pd.Index(frame["claim_id"], name="claim_id"))
            feats = feats[self.feature_names].astype("float64")
            if self.mode == "score":
                assert self.scorer is not None
                claims = frame[list(SCORE_CLAIM_COLUMNS)].astype({"claim_id": "str"})
                data = ClaimsData(  # the cold-start check reads only the providers' types
                    persons=empty_table("persons"),
                    employers=empty_table("employers"),
                    providers=self.providers,
                    contributions=empty_table("contributions"),
                    claims=empty_table("claims"),
                    claim_items=empty_table("claim_items"),
                )
                out = self.scorer.score_features_frame(
                    feats,
                    data,
                    claims,
                    self.explain,  # type: ignore[arg-type]
                )
            else:
                out = feats.reset_index()
            out.insert(0, SUB_COLUMN, frame[SUB_COLUMN].to_numpy())
            table = pa.Table.from_pandas(out, preserve_index=False)
            yield from table.select(self.schema.names).cast(self.schema).to_batches()


def _family_schema(names: list[str]) -> pa.Schema:
    return pa.schema(
        [pa.field("claim_id", pa.string()), *(pa.field(n, pa.float64()) for n in names)]
    )


def _plain(task: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``task`` as a one-argument function (pyspark counts a callable's parameters to decide
    whether to pass the group key; an object's ``__call__`` counts ``self``)."""

    def run(arg: Any) -> Any:
        return task(arg)

    return run


def _committed(stage: Where) -> bool:
    return (stage / "_SUCCESS").is_file()


def run_entities(
    data_dir: Path | str | Location,
    out: Path | str | Location,
    *,
    mode: Mode,
    model_version: str,
    builder: FeatureBuilder,
    scorer: Scorer | None = None,
    master: str = DEFAULT_MASTER,
    explain: Explain = "flagged",
    bucket_claims: int = BUCKET_CLAIMS,
    since: pd.Timestamp | None = None,
    spark: SparkSession | None = None,
    on_stage: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Every feature family of ``data_dir`` per bucket of its entity key on Spark, then the
    scores (or the feature matrix) in claim order into ``out`` (see the module docstring)."""

    if bucket_claims < 1:
        raise RiskmlError("--chunk-size (claims per bucket) must be positive")
    data_dir, out = engine_paths(data_dir, out)
    if spark is None:
        check_available(master)
    started = time.perf_counter()
    reader = DataDirReader(data_dir)
    keys = reader.pop_claim_keys()
    if since is not None:
        keys = keys.loc[keys["submitted_at"] >= since]
        if keys.empty:
            raise RiskmlError(f"--since {since}: no claim of {data_dir} was submitted since then")
    n_claims = len(keys)
    del keys
    plan = SparkPlan(
        engine="spark-entity",
        mode=mode,
        model_version=model_version,
        data_fingerprint=data_fingerprint(data_dir),
        chunk_size=bucket_claims,
        chunks_per_wave=0,  # a stage's output does not depend on its bucket count
        n_claims=n_claims,
        explain=explain,
        since=None if since is None else str(since),
    )
    work = work_folder(out)
    resumed = _open_work(work, plan)
    names = [str(n) for n in builder.get_feature_names_out()]
    families = [f for f in FAMILIES if builder.family_names(f)]
    since_us = _us(since) if since is not None else NO_LOWER_US
    lower_us = _us(reach_before(since)) if since is not None else NO_LOWER_US
    month0 = None
    if since is not None:
        first = contribution_reach_start(pd.DataFrame({"submitted_at": [since]}))
        month0 = int(pd.Timestamp(first).normalize().value // (86_400 * 10**9))
    own_session = False
    if spark is None and n_claims > 0:
        spark, own_session = open_session(master)
    ran_on = _master_of(spark, master)
    n_buckets = max(-(-n_claims // bucket_claims), _parallelism(spark))
    score_schema = pa.schema(
        [pa.field(SUB_COLUMN, pa.int64())]
        + (list(SCORES_SCHEMA) if mode == "score" else list(_family_schema(names)))
    )
    try:
        if spark is not None and n_claims:
            stage_plan = _Stages(
                data_dir, work, builder, scorer, reader, names, n_buckets, since_us, month0
            )
            with _shuffle_partitions(spark, n_buckets):
                skipped = stage_plan.run(spark, mode, explain, lower_us, score_schema, on_stage)
        else:
            skipped = len(families) + 1
    finally:
        if own_session and spark is not None:
            spark.stop()
    bands = _merge_ordered(work / "output", out, score_schema, mode, n_claims, work)
    remove_tree(work)
    summary: dict[str, object] = {
        "engine": "spark",
        "partition_by": "entity",
        "master": ran_on,
        "claims": n_claims,
        "model_version": model_version,
        "buckets": n_buckets,
        "families": len(families),
        "resumed_stages": skipped if resumed else 0,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if mode == "score":
        summary["bands"] = bands
    return summary


@dataclass
class _Stages:
    """The Spark jobs of one run: a job per feature family, then the output job."""

    data_dir: Where
    work: Where
    builder: FeatureBuilder
    scorer: Scorer | None
    reader: DataDirReader
    names: list[str]
    n_buckets: int
    since_us: int
    month0: int | None

    def run(
        self,
        spark: SparkSession,
        mode: Mode,
        explain: str,
        lower_us: int,
        score_schema: pa.Schema,
        on_stage: Callable[[int, int], None] | None,
    ) -> int:
        """Run the stages not committed yet; how many were already committed."""
        from pyspark.sql import functions as F

        claims = _read_large(spark, self.data_dir, "claims")
        if claims is None:
            raise RiskmlError(f"{self.data_dir}: the claims table is missing")
        claims = claims.withColumn(
            SUB_COLUMN, F.unix_micros(F.col("submitted_at").cast("timestamp"))
        ).where(F.col(SUB_COLUMN) >= F.lit(lower_us))
        items = _read_large(spark, self.data_dir, "claim_items")
        contributions = _read_large(spark, self.data_dir, "contributions")
        families = [f for f in FAMILIES if self.builder.family_names(f)]
        skipped = 0
        for i, family in enumerate(families):
            stage = self.work / f"family-{family}"
            if _committed(stage):
                skipped += 1
                continue
            t0 = time.perf_counter()
            part = family_partition(family, self.names)
            schema = _family_schema(self.builder.family_names(family))
            task = FamilyTask(
                family,
                self.builder,
                self.reader.persons,
                self.reader.employers,
                self.reader.providers,
                self.reader.rules,
                schema,
            )
            rows = family_rows(
                claims, items, contributions, part, self.n_buckets, self.since_us, self.month0
            )
            rows = rows.repartition(self.n_buckets, CHUNK_COLUMN)
            result = rows.groupBy(CHUNK_COLUMN).applyInArrow(_plain(task), _spark_schema(schema))
            result.write.mode("overwrite").parquet(spark_url(stage))
            log.info(
                "family %s committed: %d buckets, %.0f s",
                family,
                self.n_buckets,
                time.perf_counter() - t0,
            )
            if on_stage is not None:
                on_stage(i + 1, len(families) + 1)
        stage = self.work / "output"
        if _committed(stage):
            return skipped + 1
        t0 = time.perf_counter()
        joined = claims.where(F.col(SUB_COLUMN) >= F.lit(self.since_us)).select(
            SUB_COLUMN, *SCORE_CLAIM_COLUMNS
        )
        for family in families:
            features = spark.read.parquet(spark_url(self.work / f"family-{family}"))
            joined = joined.join(features, "claim_id")
        joined = joined.select(SUB_COLUMN, *SCORE_CLAIM_COLUMNS, *self.names)
        ordered = joined.repartitionByRange(self.n_buckets, SUB_COLUMN, "claim_id")
        ordered = ordered.sortWithinPartitions(SUB_COLUMN, "claim_id")
        scoring = ScoreTask(
            mode, self.scorer, self.names, self.reader.providers, explain, score_schema
        )
        result = ordered.mapInArrow(_plain(scoring), _spark_schema(score_schema))
        result.write.mode("overwrite").parquet(spark_url(stage))
        log.info("output committed: %.0f s", time.perf_counter() - t0)
        if on_stage is not None:
            on_stage(len(families) + 1, len(families) + 1)
        return skipped


@contextlib.contextmanager
def _shuffle_partitions(spark: SparkSession, n: int) -> Iterator[None]:
    """Every join and distinct of the run shuffles into ``n`` partitions (the buckets), not
    Spark's default 200: on a small cluster most of a run was the scheduling of near-empty
    tasks (a 26,000-claim backlog on 2 cores: 58 s, of which the families' work is a few)."""
    key = "spark.sql.shuffle.partitions"
    before = spark.conf.get(key)
    spark.conf.set(key, str(n))
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def _parallelism(spark: SparkSession | None) -> int:
    """The tasks the session runs at once (its default parallelism; 1 without a session). A
    backlog smaller than that many buckets is still cut into that many, so no core idles."""
    if spark is None:
        return 1
    try:
        return max(1, int(spark.sparkContext.defaultParallelism))
    except Exception:  # Spark Connect has no SparkContext: the setting, else two tasks
        return max(1, int(spark.conf.get("spark.default.parallelism", "2") or 2))


def _part_files(stage: Where) -> list[tuple[str, Any]]:
    """The Parquet files of a committed stage in partition order (Spark numbers them
    ``part-00000``, ``part-00001``... by partition), with their file system."""
    if isinstance(stage, Location):
        from pyarrow import fs as pafs

        infos = stage.filesystem.get_file_info(pafs.FileSelector(stage.path))
        paths = [i.path for i in infos if i.path.rsplit("/", 1)[-1].startswith("part-")]
        return [(p, stage.filesystem) for p in sorted(paths)]
    return [(str(p), None) for p in sorted(Path(stage).glob("part-*.parquet"))]


def _merge_ordered(
    stage: Where, out: Where, schema: pa.Schema, mode: Mode, n_claims: int, work: Where
) -> dict[str, int]:
    """Stream the range-partitioned output into ``out`` atomically, in claim order; the claims
    per band (score mode). The row count and the order are checked before the commit."""
    bands: dict[str, int] = {"high": 0, "medium": 0, "low": 0}
    final = SCORES_SCHEMA if mode == "score" else pa.schema(list(schema)[1:])
    n = 0
    last = (NO_LOWER_US, "")
    with _output_file(work, out) as (where, filesystem):
        writer = pq.ParquetWriter(where, final, compression="zstd", filesystem=filesystem)
        try:
            for path, fs in _part_files(stage) if n_claims else []:
                table = pq.read_table(path, schema=schema, filesystem=fs)
                if table.num_rows == 0:
                    continue
                first = (table.column(SUB_COLUMN)[0].as_py(), table.column("claim_id")[0].as_py())
                if first < last:
                    raise RiskmlError(f"the Spark output is out of claim order: {data_hint(work)}")
                last = (table.column(SUB_COLUMN)[-1].as_py(), table.column("claim_id")[-1].as_py())
                table = table.drop_columns([SUB_COLUMN]).cast(final)
                n += table.num_rows
                if mode == "score":
                    values, counts = np.unique(
                        table.column("risk_band").to_numpy(zero_copy_only=False),
                        return_counts=True,
                    )
                    for v, c in zip(values, counts, strict=True):
                        bands[str(v)] += int(c)
                writer.write_table(table)
        finally:
            writer.close()
        if n != n_claims:
            raise RiskmlError(
                f"the Spark run wrote {n} rows for {n_claims} claims: {data_hint(work)}"
            )
    return bands
