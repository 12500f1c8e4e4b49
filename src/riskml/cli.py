"""The ``riskml`` command (CONTRACT.md section 2).

Each verb is a thin wrapper: it parses options, calls one function of the module that does the
work, and turns a :class:`~riskml.errors.RiskmlError` into a one-line message and exit code 2.
Heavy imports happen inside the verbs so that ``riskml --help`` stays fast.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar, cast

import typer

from riskml.defaults import DEFAULT_MODEL_URI
from riskml.errors import RiskmlError

if TYPE_CHECKING:
    from riskml.scoring import Explain
    from riskml.spark.verbs import PartitionBy

app = typer.Typer(
    help="riskml: fraud and error risk scores for social insurance claims "
    "(advice, never decisions).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

P = ParamSpec("P")
R = TypeVar("R")


def _friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn expected errors into one line on stderr and exit code 2.

    Also makes OpenMP threads sleep rather than spin when idle, before any verb starts LightGBM:
    spinning threads on a busy 2-core machine make training and scoring several times slower.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        try:
            return fn(*args, **kwargs)
        except RiskmlError as exc:
            typer.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


DataDir = Annotated[Path, typer.Option("--data", help="data directory (CONTRACT.md section 1)")]
#: ``--data``/``--out`` of the verbs with an engine: strings, not paths, because ``Path`` folds
#: a URL's ``//`` (``s3a://b/x`` would become the local ``s3a:/b/x``); see docs/spark.md.
DataLocation = Annotated[
    str,
    typer.Option(
        "--data",
        help="data directory (CONTRACT.md section 1); with --engine spark also a URL: "
        "file://, s3a://, s3:// or hdfs://",
    ),
]
Since = Annotated[str | None, typer.Option(help="only claims submitted on or after this date")]
Engine = Annotated[
    str,
    typer.Option(
        help="pandas (one machine) or spark (the same results on Spark, see --partition-by; "
        "needs the extra riskml[spark] and Java 17+)"
    ),
]
ChunksPerWave = Annotated[
    int,
    typer.Option(
        min=1,
        help="with --engine spark --partition-by time: chunks per Spark job (at most this many "
        "tasks run at once; a killed run resumes from the last committed job)",
    ),
]
PartitionOption = Annotated[
    str,
    typer.Option(
        "--partition-by",
        help="with --engine spark: entity (each feature family per bucket of its entity key; "
        "--chunk-size claims per bucket) or time (the pandas engine's chunks with their 400-day "
        "reach; --chunk-size claims per chunk)",
    ),
]
SparkMaster = Annotated[
    str,
    typer.Option(
        "--spark-master",
        help="with --engine spark: local[*] (default, no cluster), spark://HOST:PORT, or a "
        "Spark Connect server sc://HOST:PORT",
    ),
]


@app.command()
@_friendly
def synth(
    out: Annotated[Path, typer.Option(help="data directory to write")],
    persons: Annotated[int, typer.Option(min=100, help="number of insured persons")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same bytes")] = 7,
    fraud_rate: Annotated[
        float | None, typer.Option(help="override the preset's overall share of fraudulent units")
    ] = None,
    preset: Annotated[str, typer.Option(help="fraud prevalence preset: low or stress")] = "stress",
    months: Annotated[int, typer.Option(min=6, max=60, help="months of history")] = 24,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift",
            help="late rings and phantom-stay hospitals at providers designated late, and "
            "honest late designations (riskml.synth.drift)",
        ),
    ] = False,
) -> None:
    """Generate a synthetic social-insurance population with labelled fraud."""
    from riskml.synth import run_synth

    run_synth(
        out=out,
        persons=persons,
        seed=seed,
        fraud_rate=fraud_rate,
        preset=preset,
        months=months,
        drift=drift,
    )


@app.command()
@_friendly
def validate(data: DataDir) -> None:
    """Check a data directory against the contract and print its row counts and warnings."""
    from riskml.data import Finding, load_data_dir

    findings: list[Finding] = []
    loaded = load_data_dir(data, findings=findings)
    for name, frame in loaded.tables().items():
        typer.echo(f"{name:14s} {len(frame):>12,d} rows")
    for finding in findings:
        typer.echo(f"warning: {finding}")
    typer.echo(f"ok: the data directory meets the contract ({len(findings)} warnings, 0 errors)")


@app.command()
@_friendly
def features(
    data: DataLocation,
    out: Annotated[
        str,
        typer.Option(
            help="Parquet file to write: claim_id plus the features (a URL with --engine spark)"
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(help="MLflow model URI whose fitted feature builder to use"),
    ] = None,
    engine: Engine = "pandas",
    spark_master: SparkMaster = "local[*]",
    chunk_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="with --engine spark: claims per Spark task; default 100,000 (entity), 50,000 "
            "(time)",
        ),
    ] = None,
    chunks_per_wave: ChunksPerWave = 16,
    partition_by: PartitionOption = "entity",
) -> None:
    """Write the point-in-time feature matrix of every claim (fits on DIR's first 60% of months
    unless --model is given). With --engine spark the rows are in (submitted_at, claim_id)
    order; a killed run resumes from its committed waves (see docs/spark.md)."""
    from riskml.jobs.features import run_features

    run_features(
        data_dir=data,
        out=out,
        model_uri=model,
        engine=engine,
        spark_master=spark_master,
        chunk_size=chunk_size,
        chunks_per_wave=chunks_per_wave,
        partition_by=partition_by,
    )


@app.command()
@_friendly
def train(
    data: DataDir,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name")] = None,
    promote: Annotated[
        bool, typer.Option(help="move alias 'champion' to the new version if it passes the gate")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="run config, e.g. pipelines/train.yaml (default: built-in)")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="train as the administration knew the data on this date: claims submitted "
            "and labels decided before it (default: everything in the directory)",
        ),
    ] = None,
    labels: Annotated[
        list[Path] | None,
        typer.Option(help="a labels table (riskml labels export) to train on; repeatable"),
    ] = None,
    labels_mode: Annotated[
        str, typer.Option(help="beside (default: added to DIR's labels) or instead")
    ] = "beside",
) -> None:
    """Train, evaluate out of time, log to MLflow and register a new version of riskml-claims."""
    import json

    from riskml.jobs.train import run_train

    summary = run_train(
        data,
        config_path=config,
        experiment=experiment,
        promote=promote,
        as_of=as_of,
        labels=labels or [],
        labels_mode=labels_mode,
    )
    typer.echo(json.dumps(summary, indent=2))


@app.command()
@_friendly
def evaluate(
    data: DataDir,
    model: Annotated[str, typer.Option(help="MLflow model URI")] = DEFAULT_MODEL_URI,
    capacity: Annotated[
        float, typer.Option(min=0.0001, max=0.5, help="share of claims per month referred")
    ] = 0.01,
    challenger: Annotated[
        str | None,
        typer.Option(help="a second model URI (e.g. models:/riskml-claims@challenger) to compare"),
    ] = None,
) -> None:
    """Print the metrics JSON of a model version on the labelled claims of a data directory."""
    import json

    from riskml.jobs.evaluate import run_evaluate

    result = run_evaluate(data, model_uri=model, capacity=capacity, challenger_uri=challenger)
    typer.echo(json.dumps(result))


@app.command()
@_friendly
def promote(
    version: Annotated[str, typer.Option(help="registered version of riskml-claims")],
    alias: Annotated[
        str, typer.Option(help="champion (gated) or challenger (shadow)")
    ] = "champion",
    supervisor: Annotated[
        str | None, typer.Option(help="who overrides a refused gate (champion only)")
    ] = None,
    justification: Annotated[
        str | None, typer.Option(help="why the version should serve although the gate refused it")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="service store whose audit log records the promotion (default: "
            "RISKML_STORE_URL, else the default SQLite store if it exists)"
        ),
    ] = None,
) -> None:
    """Move the champion or challenger alias to a version (a refused gate needs a supervisor)."""
    import json

    from riskml.jobs.promote import run_promote

    out = run_promote(
        version, alias, justification=justification, supervisor=supervisor, store_url=store
    )
    typer.echo(json.dumps(out))


@app.command()
@_friendly
def entities(
    data: DataDir,
    out: Annotated[Path, typer.Option(help="Parquet file of ranked entities to write")],
    kind: Annotated[str, typer.Option(help="provider, employer or doctor")],
    model: Annotated[str, typer.Option(help="MLflow model URI")] = DEFAULT_MODEL_URI,
    since: Since = None,
) -> None:
    """Rank providers, employers or doctors for targeted audits, with reasons."""
    import json

    from riskml.jobs.entities import run_entities

    typer.echo(json.dumps(run_entities(data, out, kind, model_uri=model, since=since)))


@app.command()
@_friendly
def monitor(
    data: DataDir,
    out: Annotated[Path, typer.Option(help="report file: .json, or .html (the JSON beside it)")],
    model: Annotated[str, typer.Option(help="MLflow model URI")] = DEFAULT_MODEL_URI,
    since: Since = None,
    config: Annotated[
        Path | None, typer.Option(help="alert thresholds, e.g. pipelines/monitor.yaml")
    ] = None,
) -> None:
    """Drift and health of a model on DIR's claims against its training reference."""
    import json

    from riskml.jobs.monitor import run_monitor

    report = run_monitor(data, out, model_uri=model, since=since, config_path=config)
    summary = {k: report[k] for k in ("model_version", "period", "claims", "score", "alerts")}
    typer.echo(json.dumps({**summary, "report": str(out)}, default=str))


@app.command()
@_friendly
def demo(
    workdir: Annotated[Path, typer.Option(help="folder for the demo's data and stores")] = Path(
        "demo"
    ),
    persons: Annotated[int, typer.Option(min=500, help="synthetic insured persons")] = 10_000,
    seed: Annotated[int, typer.Option()] = 7,
    serve: Annotated[bool, typer.Option(help="start the service at the end")] = True,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Run the main job on embedded defaults: data, champion, store, backlog scores, service."""
    from riskml.demo import run_demo

    run_demo(workdir=workdir, persons=persons, seed=seed, serve=serve, host=host, port=port)


@app.command()
@_friendly
def score(
    data: DataLocation,
    out: Annotated[
        str, typer.Option(help="Parquet file of scores to write (a URL with --engine spark)")
    ],
    model: Annotated[str, typer.Option(help="MLflow model URI")] = DEFAULT_MODEL_URI,
    explain: Annotated[
        str, typer.Option(help="reasons for: flagged (high and medium bands), all or none")
    ] = "flagged",
    engine: Engine = "pandas",
    spark_master: SparkMaster = "local[*]",
    chunk_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="claims per checkpointed chunk (pandas, default 200,000) or per Spark task "
            "(spark: 100,000 per entity bucket, 50,000 per time chunk)",
        ),
    ] = None,
    threads: Annotated[
        int, typer.Option(min=1, help="LightGBM threads (pandas; Spark: one per task)")
    ] = 2,
    since: Annotated[
        str | None,
        typer.Option(help="score only claims submitted at or after this date (YYYY-MM-DD)"),
    ] = None,
    chunks_per_wave: ChunksPerWave = 16,
    partition_by: PartitionOption = "entity",
) -> None:
    """Batch-score every claim of a data directory, resumable after a crash.

    Run again after a kill, with the same settings, it scores only what is missing: the pandas
    engine skips its finished chunks, the Spark engine its committed waves of chunks; other
    settings are refused until the work folder beside --out is deleted."""
    import json

    import pandas as pd

    from riskml.batch import score_backlog
    from riskml.errors import RiskmlError
    from riskml.jobs.options import check_engine

    check_engine(engine)
    since_ts = None
    if since is not None:
        try:
            since_ts = pd.Timestamp(since)
        except ValueError as exc:
            raise RiskmlError(f"--since: {since!r} is not a date (YYYY-MM-DD)") from exc
    if engine == "spark":
        from riskml.spark.verbs import check_partition, score_backlog_spark

        check_partition(partition_by)

        summary = score_backlog_spark(
            data,
            out,
            model_uri=model,
            explain=cast("Explain", explain),  # checked by the engine (check_explain)
            since=since_ts,
            master=spark_master,
            chunks_per_wave=chunks_per_wave,
            chunk_size=chunk_size,
            partition_by=cast("PartitionBy", partition_by),  # checked above
        )
    else:
        from riskml.batch import CHUNK_SIZE
        from riskml.location import local_path

        summary = score_backlog(
            local_path("--data", data),
            local_path("--out", out),
            model_uri=model,
            explain=cast("Explain", explain),  # checked by the engine (check_explain)
            since=since_ts,
            num_threads=threads,
            chunk_size=chunk_size or CHUNK_SIZE,
        )
    typer.echo(json.dumps(summary))


@app.command()
@_friendly
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    model: Annotated[
        str | None, typer.Option(help="MLflow model URI (default RISKML_MODEL_URI or champion)")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="worker processes (default RISKML_WORKERS, else one per usable CPU core); "
            "each loads the model and follows its alias on its own",
        ),
    ] = None,
) -> None:
    """Start the HTTP service (CONTRACT.md section 3); store from RISKML_STORE_URL."""
    from serve.app import run
    from serve.settings import Settings

    settings = Settings() if model is None else Settings(model_uri=model)
    run(host=host, port=port, settings=settings, workers=workers)


@app.command()
@_friendly
def ingest(
    data: DataDir,
    chunk_rows: Annotated[int, typer.Option(min=100, help="rows per transaction")] = 50_000,
) -> None:
    """Load a data directory into the service store, upserting by key (safe to repeat)."""
    from riskml.store.ingest import run_ingest

    counts = run_ingest(data, chunk_rows=chunk_rows)
    for name, n in counts.items():
        typer.echo(f"{name:14s} {n:>12,d} rows upserted")


@app.command()
@_friendly
def shadow(
    store: Annotated[
        str | None, typer.Option(help="service store URL (default RISKML_STORE_URL or SQLite)")
    ] = None,
) -> None:
    """Champion against the challenger scored in shadow on the same live claims (JSON list)."""
    import json

    from riskml.store import open_store

    opened = open_store(store)
    try:
        typer.echo(json.dumps(opened.shadow_comparison()))
    finally:
        opened.close()


keys_app = typer.Typer(help="API keys of the service.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
@_friendly
def keys_create(
    role: Annotated[str, typer.Option(help="scorer, investigator, supervisor or admin")],
    name: Annotated[
        str | None, typer.Option(help="who holds the key (recorded with their decisions)")
    ] = None,
) -> None:
    """Print a new API key once; only its keyed hash is stored."""
    from riskml.security import create_api_key

    typer.echo(create_api_key(role, name=name))


labels_app = typer.Typer(help="Investigation labels.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")


@labels_app.command("export")
@_friendly
def labels_export(
    out: Annotated[Path, typer.Option(help="Parquet file to write")],
) -> None:
    """Write each claim's final decision as a labels table (source investigation, or
    random_audit with its selection probability) for training."""
    from riskml.store.labels import export_labels

    done = export_labels(out)
    typer.echo(
        f"wrote {done.labels:,d} labels to {out} ({done.reviewed:,d} after a review or appeal, "
        f"{done.random_audits:,d} from random audits)"
    )


def main() -> None:  # pragma: no cover
    app()
