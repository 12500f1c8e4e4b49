"""``--engine spark``: the chunked batch engine with its chunks run as Spark tasks.

The backlog is cut into the same chunks as the pandas engine (:mod:`riskml.batch`: claims in
``(submitted_at, claim_id)`` order, ``chunk_size`` claims each). Spark reads the large tables
(claims, line items, contributions) from Parquet and gives every chunk the rows its features
may read, by one non-equi join with the small chunk table:

- the claims up to the chunk's last one, from :func:`riskml.reach.reach_before` its first one
  (a claim is thus copied into every chunk whose reach covers it: the cost of time chunks);
- the line items of those claims;
- the contributions of the chunk's claimants and of its claims' employers, from
  :func:`riskml.reach.contribution_reach_start` up to the month of its last claim (a month's
  contributions are known only from the next month on, so no feature reads a later one).

The three are packed into one frame (columns prefixed by table, a ``_table`` tag), grouped by
chunk and handed as Arrow tables to ``applyInArrow``. Each task unpacks its chunk, checks it
against the contract (:func:`riskml.data.validate_frame`, the reader's own check) and builds
exactly what the pandas reader builds (:func:`riskml.backlog.assemble_chunk`); the one
:class:`~riskml.scoring.Scorer` (or the fitted feature builder) then runs on it, one LightGBM
thread per task. Since the pandas chunked engine is exact, so is this one.

The small tables (persons, employers, providers) are read and checked on the driver by
:class:`riskml.backlog.DataDirReader` (which also checks the whole directory against the
contract in one streaming pass and yields the claim keys the chunks are planned from) and are
shipped inside the task's closure.

**Resumable.** Chunks run in *waves* of ``chunks_per_wave``; each wave is one Spark job whose
output Spark commits as a whole (``_SUCCESS``) under ``.<out>.parts/``, beside a
``checkpoint.json`` that pins the model version, the data fingerprint and the chunk plan, as the
pandas engine's does. A run that is killed and started again with the same settings skips the
committed waves; different settings are refused. The committed waves are then streamed, in claim
order, into the one output file (atomically: renamed into place, or on an object store written
aside and copied, :func:`riskml.location.commit_file`), and the work folder is removed.

``--data`` and ``--out`` are paths of the driver or URLs (``file://``, ``s3a://``, ``hdfs://``):
the driver's steps read and write through the URL's pyarrow file system, Spark through its own
(:mod:`riskml.spark.paths`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from riskml.backlog import ChunkBounds, DataDirReader, assemble_chunk, chunk_bounds
from riskml.batch import SCORES_SCHEMA, CheckpointMismatchError
from riskml.contract import TABLES
from riskml.data import empty_table, validate_frame
from riskml.errors import RiskmlError
from riskml.fingerprint import data_fingerprint
from riskml.io import atomic_path
from riskml.location import Location, atomic_location
from riskml.reach import contribution_reach_start, reach_before
from riskml.spark.paths import (
    Where,
    engine_paths,
    make_folder,
    remove_tree,
    spark_url,
    work_folder,
)
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

#: The large tables Spark reads and partitions; the small ones travel with the task.
LARGE_TABLES = ("claims", "claim_items", "contributions")
CHUNK_COLUMN = "_chunk"
ROW_COLUMN = "_row"
TABLE_COLUMN = "_table"
SEP = "__"
NO_LOWER_US = -(2**63)
Mode = Literal["score", "features"]


@dataclass(frozen=True)
class SparkPlan:
    """What the checkpoint of a Spark run pins: resume only when all of it is the same."""

    engine: str
    mode: str
    model_version: str
    data_fingerprint: str
    chunk_size: int
    chunks_per_wave: int
    n_claims: int
    explain: str
    since: str | None

    @property
    def n_chunks(self) -> int:
        return -(-self.n_claims // self.chunk_size)

    @property
    def n_waves(self) -> int:
        return -(-self.n_chunks // self.chunks_per_wave)


#: Claims per Spark task by default: a task's memory is its chunk plus the chunk's 400-day reach,
#: and the reach is copied into every task (docs/spark.md, "Partitioning, skew and sizing").
CHUNK_SIZE = 50_000


def _us(ts: pd.Timestamp) -> int:
    """Microseconds since the epoch of a naive timestamp read as UTC (Spark's ``unix_micros``
    with the session zone at UTC)."""
    return int(pd.Timestamp(ts).value // 1_000)  # .value is in nanoseconds


def _days(ts: pd.Timestamp) -> int:
    return int(pd.Timestamp(ts).normalize().value // (86_400 * 10**9))


def chunk_frame(keys: pd.DataFrame, bounds: list[ChunkBounds], chunk_size: int) -> pd.DataFrame:
    """One row per chunk: the bounds of its claims and of the rows Spark gives it (integers:
    microseconds and days since the epoch, so no time zone touches them)."""
    sub = keys["submitted_at"].to_numpy()
    rows = []
    for i, b in enumerate(bounds):
        first = pd.Timestamp(sub[i * chunk_size])
        lows = [x for x in (b.after[0] if b.after else None, b.since) if x is not None]
        upto_month = pd.Timestamp(b.upto[0]).to_period("M").to_timestamp()
        rows.append(
            {
                "chunk": i,
                "lower_us": _us(reach_before(max(lows))) if lows else NO_LOWER_US,
                "after_us": _us(b.after[0]) if b.after else NO_LOWER_US,
                "after_id": b.after[1] if b.after else "",
                "since_us": _us(b.since) if b.since is not None else NO_LOWER_US,
                "upto_us": _us(b.upto[0]),
                "upto_id": b.upto[1],
                "month0_days": _days(
                    contribution_reach_start(pd.DataFrame({"submitted_at": [first]}))
                ),
                "month_hi_days": _days(upto_month),
            }
        )
    return pd.DataFrame(rows)


def _table_path(data_dir: Where, name: str) -> str | None:
    """Where Spark reads table ``name``: ``name.parquet`` or a ``name/`` folder of parts, as the
    URL of what the driver checked (:func:`riskml.spark.paths.spark_url`)."""
    for candidate in (data_dir / f"{name}.parquet", data_dir / name):
        if candidate.exists():
            return spark_url(candidate)
    return None


def _read_large(spark: SparkSession, data_dir: Where, name: str) -> DataFrame | None:
    """The contract columns of table ``name`` (None when the table is absent), read by Spark."""
    path = _table_path(data_dir, name)
    if path is None:
        return None
    frame = spark.read.parquet(path)
    wanted = [c.name for c in TABLES[name].columns if c.name in frame.columns]
    return frame.select(*wanted)


def packed_chunks(spark: SparkSession, data_dir: Where, chunks: pd.DataFrame) -> DataFrame:
    """The rows every chunk of ``chunks`` reads, in one frame of prefixed columns tagged by
    table (see the module docstring)."""
    from pyspark.sql import functions as F

    k = F.broadcast(spark.createDataFrame(chunks))
    claims = _read_large(spark, data_dir, "claims")
    if claims is None:
        raise RiskmlError(f"{data_dir}: the claims table is missing")
    c = claims.withColumn("_sub_us", F.unix_micros(F.col("submitted_at").cast("timestamp")))
    key_upto = (F.col("_sub_us") < F.col("upto_us")) | (
        (F.col("_sub_us") == F.col("upto_us")) & (F.col("claim_id") <= F.col("upto_id"))
    )
    hist = c.join(k, (F.col("_sub_us") >= F.col("lower_us")) & key_upto)
    after = (F.col("_sub_us") > F.col("after_us")) | (
        (F.col("_sub_us") == F.col("after_us")) & (F.col("claim_id") > F.col("after_id"))
    )
    targets = hist.where(after & (F.col("_sub_us") >= F.col("since_us")))
    parts = [_prefixed(hist.select("chunk", *claims.columns), "claims")]

    items = _read_large(spark, data_dir, "claim_items")
    if items is not None:
        ids = hist.select("chunk", F.col("claim_id").alias("_cid"))
        joined = items.join(ids, items["claim_id"] == ids["_cid"]).drop("_cid")
        parts.append(_prefixed(joined.select("chunk", *items.columns), "claim_items"))

    contributions = _read_large(spark, data_dir, "contributions")
    if contributions is not None:
        bounds = k.select("chunk", "month0_days", "month_hi_days")
        related = []
        for column in ("person_id", "employer_id"):
            wanted = targets.where(F.col(column).isNotNull()).select("chunk", column).distinct()
            related.append(
                contributions.join(wanted, column).select("chunk", *contributions.columns)
            )
        month = F.unix_date(F.col("month"))
        known = (
            related[0]
            .unionByName(related[1])
            .dropDuplicates(["chunk", "person_id", "employer_id", "month"])
            .join(bounds, "chunk")
            .where((month >= F.col("month0_days")) & (month <= F.col("month_hi_days")))
            .select("chunk", *contributions.columns)
        )
        parts.append(_prefixed(known, "contributions"))
    packed = parts[0]
    for part in parts[1:]:
        packed = packed.unionByName(part, allowMissingColumns=True)
    return packed


def _prefixed(
    frame: DataFrame, table: str, chunk: str = "chunk", keep: tuple[str, ...] = ()
) -> DataFrame:
    """``frame``'s columns as one table's part of a packed frame: the chunk (or bucket) column
    ``chunk`` as :data:`CHUNK_COLUMN`, the table's tag, the columns of ``keep`` as they are and
    the others prefixed by the table's name."""
    from pyspark.sql import functions as F

    cols = [F.col(chunk).alias(CHUNK_COLUMN), F.lit(table).alias(TABLE_COLUMN)]
    cols += [F.col(c) for c in keep]
    skip = {chunk, *keep}
    cols += [F.col(c).alias(f"{table}{SEP}{c}") for c in frame.columns if c not in skip]
    return frame.select(*cols)


def unpack(packed: pa.Table, rules: Any) -> dict[str, pd.DataFrame]:
    """The claims, line items and contributions of one chunk, checked against the contract and
    in key order (the row order Spark's shuffle leaves is not the files')."""
    tags = packed.column(TABLE_COLUMN)
    out: dict[str, pd.DataFrame] = {}
    for name in LARGE_TABLES:
        spec = TABLES[name]
        prefix = f"{name}{SEP}"
        names = [n for n in packed.column_names if n.startswith(prefix)]
        if not names:  # an optional table the directory does not have
            out[name] = empty_table(name)
            continue
        rows = packed.filter(pc.equal(tags, name)).select(names)
        rows = rows.rename_columns([n[len(prefix) :] for n in names])
        frame = validate_frame(rows, spec, plausibility=rules)
        key = [k for k in spec.key if k in frame.columns]
        out[name] = frame.sort_values(key, kind="stable").reset_index(drop=True)
    if "submitted_at" in out["claims"].columns:
        claims = out["claims"]
        out["claims"] = claims.sort_values(["submitted_at", "claim_id"], kind="stable")
        out["claims"] = out["claims"].reset_index(drop=True)
    return out


@dataclass(frozen=True)
class ChunkTask:
    """What one Spark task needs, pickled into its closure: the bounds of every chunk, the
    small tables, the plausibility rules and what to run (the Scorer or a feature builder)."""

    mode: Mode
    bounds: list[ChunkBounds]
    persons: pd.DataFrame
    employers: pd.DataFrame
    providers: pd.DataFrame
    rules: Any
    scorer: Scorer | None
    builder: FeatureBuilder | None
    explain: str
    schema: pa.Schema

    def __call__(self, packed: pa.Table) -> pa.Table:
        silence_pandas3_warning()
        t0 = time.perf_counter()
        chunk = int(packed.column(CHUNK_COLUMN)[0].as_py())
        tables = unpack(packed, self.rules)
        history, claims = assemble_chunk(
            self.bounds[chunk],
            tables["claims"],
            tables["claim_items"],
            tables["contributions"],
            self.persons,
            self.employers,
            self.providers,
        )
        if self.mode == "score":
            assert self.scorer is not None
            frame = self.scorer.score_frame(history, claims, explain=self.explain)  # type: ignore[arg-type]
        else:
            assert self.builder is not None
            frame = self.builder.transform(history, claims).reset_index()
        frame.insert(0, ROW_COLUMN, np.arange(len(frame), dtype="int64"))
        frame.insert(0, CHUNK_COLUMN, np.full(len(frame), chunk, dtype="int64"))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        log.info(
            "chunk %d: %d claims, %d rows of history, %.1fs",
            chunk,
            len(claims),
            packed.num_rows,
            time.perf_counter() - t0,
        )
        return table.select(self.schema.names).cast(self.schema)


def _output_schema(mode: Mode, feature_names: list[str]) -> pa.Schema:
    head = [pa.field(CHUNK_COLUMN, pa.int64()), pa.field(ROW_COLUMN, pa.int64())]
    if mode == "score":
        return pa.schema([*head, *SCORES_SCHEMA])
    return pa.schema(
        [
            *head,
            pa.field("claim_id", pa.string()),
            *(pa.field(n, pa.float64()) for n in feature_names),
        ]
    )


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    kinds = {pa.int64(): LongType(), pa.float64(): DoubleType(), pa.string(): StringType()}
    return StructType([StructField(f.name, kinds[f.type], True) for f in schema])


def run_chunks(
    data_dir: Path | str | Location,
    out: Path | str | Location,
    *,
    mode: Mode,
    model_version: str,
    scorer: Scorer | None = None,
    builder: FeatureBuilder | None = None,
    feature_names: list[str] | None = None,
    master: str = DEFAULT_MASTER,
    explain: Explain = "flagged",
    chunk_size: int = CHUNK_SIZE,
    chunks_per_wave: int = 16,
    since: pd.Timestamp | None = None,
    spark: SparkSession | None = None,
    on_wave: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Run every chunk of ``data_dir`` on Spark and write the output file ``out`` (see the
    module docstring); resume from ``out``'s work folder when its checkpoint matches.
    ``data_dir`` and ``out`` are paths of the driver or URLs (:mod:`riskml.spark.paths`)."""
    if chunk_size < 1 or chunks_per_wave < 1:
        raise RiskmlError("--chunk-size and the chunks per wave must be positive")
    data_dir, out = engine_paths(data_dir, out)
    if spark is None:
        check_available(master)  # before minutes of reading: a missing Java is one line now
    started = time.perf_counter()
    reader = DataDirReader(data_dir)
    keys = reader.pop_claim_keys()
    if since is not None:
        keys = keys.loc[keys["submitted_at"] >= since]
        if keys.empty:
            raise RiskmlError(f"--since {since}: no claim of {data_dir} was submitted since then")
    keys = keys.sort_values(["submitted_at", "claim_id"], kind="stable").reset_index(drop=True)
    plan = SparkPlan(
        engine="spark",
        mode=mode,
        model_version=model_version,
        data_fingerprint=data_fingerprint(data_dir),
        chunk_size=chunk_size,
        chunks_per_wave=chunks_per_wave,
        n_claims=len(keys),
        explain=explain,
        since=None if since is None else str(since),
    )
    bounds = chunk_bounds(keys, chunk_size, since)
    chunks = chunk_frame(keys, bounds, chunk_size)
    del keys
    work = work_folder(out)
    resumed = _open_work(work, plan)
    schema = _output_schema(mode, feature_names or [])
    task = ChunkTask(
        mode=mode,
        bounds=bounds,
        persons=reader.persons,
        employers=reader.employers,
        providers=reader.providers,
        rules=reader.rules,
        scorer=scorer,
        builder=builder,
        explain=explain,
        schema=schema,
    )
    own_session = False
    if spark is None and plan.n_chunks > 0:
        spark, own_session = open_session(master)
    ran_on = _master_of(spark, master)
    waves_done = 0
    t0 = time.perf_counter()
    try:
        for w in range(plan.n_waves):
            wave_dir = work / f"wave-{w:05d}"
            if (wave_dir / "_SUCCESS").is_file():
                waves_done += 1
                continue
            assert spark is not None
            these = chunks.iloc[w * chunks_per_wave : (w + 1) * chunks_per_wave]
            packed = packed_chunks(spark, data_dir, these)
            # one chunk per partition: the groups then run side by side, none waits behind another
            packed = packed.repartitionByRange(len(these), CHUNK_COLUMN)
            result = packed.groupBy(CHUNK_COLUMN).applyInArrow(
                _as_function(task), _spark_schema(schema)
            )
            result.write.mode("overwrite").parquet(spark_url(wave_dir))
            done = min((w + 1) * chunks_per_wave, plan.n_chunks)
            log.info(
                "wave %d/%d committed: chunks up to %d of %d, %.0f s",
                w + 1,
                plan.n_waves,
                done,
                plan.n_chunks,
                time.perf_counter() - t0,
            )
            if on_wave is not None:
                on_wave(w + 1, plan.n_waves)
    finally:
        if own_session and spark is not None:
            spark.stop()
    bands = _merge(work, plan, schema, out, mode)
    remove_tree(work)
    summary: dict[str, object] = {
        "engine": "spark",
        "master": ran_on,
        "claims": plan.n_claims,
        "model_version": model_version,
        "chunks": plan.n_chunks,
        "waves": plan.n_waves,
        "resumed_waves": waves_done if resumed else 0,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if mode == "score":
        summary["bands"] = bands
    return summary


def _master_of(spark: SparkSession | None, asked: str) -> str:
    """The master the run ran on: the session's (spark-submit's ``--master`` under it), else
    the one asked for (Spark Connect, or no session needed)."""
    if spark is None or asked.startswith("sc://"):
        return asked
    try:
        return str(spark.sparkContext.master)
    except Exception:  # a Connect session has no SparkContext
        return asked


def _as_function(task: ChunkTask) -> Callable[[pa.Table], pa.Table]:
    """``task`` as a plain one-argument function (pyspark counts a callable's parameters to
    decide whether to pass the group key; an object's ``__call__`` counts ``self``)."""

    def run_chunk(packed: pa.Table) -> pa.Table:
        return task(packed)

    return run_chunk


def _open_work(work: Where, plan: SparkPlan) -> bool:
    """Create the work folder with the checkpoint, or check the one there; True when resuming.

    The checkpoint appears whole or not at all: written aside, then renamed into place, or on an
    object store copied (:func:`riskml.location.commit_file`). A work folder without one
    (a run killed before it was written) holds nothing to keep and is started afresh."""
    checkpoint = work / "checkpoint.json"
    if checkpoint.is_file():
        recorded = json.loads(checkpoint.read_text())
        if recorded != asdict(plan):
            diffs = {
                k: (recorded.get(k), v) for k, v in asdict(plan).items() if recorded.get(k) != v
            }
            raise CheckpointMismatchError(
                f"an unfinished run in {work} was started with different settings {diffs} "
                f"(recorded, now); rerun with the recorded settings or delete {work} to start over"
            )
        log.info("resuming the Spark run recorded in %s", work)
        return True
    if work.exists():
        remove_tree(work)
    make_folder(work)
    text = json.dumps(asdict(plan), indent=2)
    if isinstance(checkpoint, Location):
        checkpoint.write_text(text)
        return False
    tmp = checkpoint.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, checkpoint)
    return False


def _wave_tables(work: Where, plan: SparkPlan, schema: pa.Schema) -> Iterator[pa.Table]:
    """Each committed wave in claim order (chunk, then row), the helper columns dropped."""
    for w in range(plan.n_waves):
        wave_dir = work / f"wave-{w:05d}"
        if isinstance(wave_dir, Location):
            wave = pq.read_table(wave_dir.path, schema=schema, filesystem=wave_dir.filesystem)
        else:
            wave = pq.read_table(wave_dir, schema=schema)
        wave = wave.sort_by([(CHUNK_COLUMN, "ascending"), (ROW_COLUMN, "ascending")])
        yield wave.drop_columns([CHUNK_COLUMN, ROW_COLUMN])


def _merge(
    work: Where, plan: SparkPlan, schema: pa.Schema, out: Where, mode: Mode
) -> dict[str, int]:
    """Stream the waves into ``out`` atomically; the claims per band (score mode).

    A driver path is written beside ``out`` and renamed (:func:`riskml.io.atomic_path`); a URL
    is written to ``output.parquet`` in the work folder and then committed to ``out``
    (:func:`riskml.location.commit_file`: a rename, or on an object store a server-side copy),
    so ``out`` never shows a half-written file. The row count is checked before the commit."""
    bands: dict[str, int] = {"high": 0, "medium": 0, "low": 0}
    final = SCORES_SCHEMA if mode == "score" else pa.schema(list(schema)[2:])
    n = 0
    with _output_file(work, out) as (where, filesystem):
        writer = pq.ParquetWriter(where, final, compression="zstd", filesystem=filesystem)
        try:
            for table in _wave_tables(work, plan, schema):
                table = table.cast(final)
                n += table.num_rows
                if mode == "score":
                    values, counts = np.unique(
                        table.column("risk_band").to_numpy(), return_counts=True
                    )
                    for v, c in zip(values, counts, strict=True):
                        bands[str(v)] += int(c)
                writer.write_table(table)
        finally:
            writer.close()
        if n != plan.n_claims:
            raise RiskmlError(
                f"the Spark run wrote {n} rows for {plan.n_claims} claims: {data_hint(work)}"
            )
    return bands


@contextlib.contextmanager
def _output_file(work: Where, out: Where) -> Iterator[tuple[str, pafs.FileSystem | None]]:
    """Where to write the output (a path and its file system, None for the driver's), made
    ``out`` only if the block succeeds."""
    if isinstance(out, Location):
        assert isinstance(work, Location)
        with atomic_location(out, tmp=work / "output.parquet") as tmp:
            yield tmp.path, tmp.filesystem
    else:
        with atomic_path(out) as tmp_out:
            yield str(tmp_out), None


def data_hint(work: Where) -> str:
    return f"the data directory changed during the run; delete {work} and run again"


__all__ = [
    "SparkPlan",
    "chunk_frame",
    "packed_chunks",
    "run_chunks",
    "unpack",
]
