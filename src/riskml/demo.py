"""The README's demo: the main job end to end on embedded defaults.

Generates a synthetic population, trains and promotes a champion (MLflow store in the demo
folder), loads the data into the service store, scores the last months as a backlog with reasons,
puts the flagged claims in the triage queue, and serves the API with a ready-to-paste ``curl``.
Each step is skipped when its result is already there, so running the demo again is quick.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pandas as pd
import typer

BACKLOG_MONTHS = 2


def run_demo(
    workdir: Path,
    persons: int,
    seed: int,
    serve: bool = True,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Set everything up in ``workdir`` and (unless ``serve`` is false) start the service."""
    from riskml.synth import run_synth

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # embedded stores live in the demo folder unless the environment says otherwise
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    os.environ.setdefault("RISKML_STORE_URL", f"sqlite:///{workdir / 'riskml-store.db'}")
    os.environ.setdefault("RISKML_SECRET_FILE", str(workdir / "riskml-secret.key"))

    data_dir = workdir / "data"
    _step("1/5 synthetic data")
    if not (data_dir / "manifest.json").is_file():
        run_synth(
            out=data_dir, persons=persons, seed=seed, fraud_rate=None, preset="stress", months=24
        )
    manifest = json.loads((data_dir / "manifest.json").read_text())
    typer.echo(f"data directory: {data_dir}")
    typer.echo("rows: " + ", ".join(f"{k} {v:,}" for k, v in manifest["rows"].items()))

    _step("2/5 train and promote a champion")
    _train_champion(data_dir)

    _step("3/5 load the data into the service store")
    from riskml.store.ingest import run_ingest

    counts = run_ingest(data_dir)
    typer.echo(f"store: {os.environ['RISKML_STORE_URL']} ({counts.get('claims', 0):,} claims)")

    _step(f"4/5 score the backlog of the last {BACKLOG_MONTHS} months, with reasons")
    scores_path, example = _score_backlog(data_dir, workdir)

    _step("5/5 API keys and the service")
    from riskml.security import create_api_key

    scorer_key = create_api_key("scorer", name="demo-scorer")
    investigator_key = create_api_key("investigator", name="demo-investigator")
    example_file = workdir / "example-claim.json"
    example_file.write_text(json.dumps({"claims": [example]}, indent=2, ensure_ascii=False))
    url = f"http://{host}:{port}"
    typer.echo(f"batch scores: {scores_path}")
    typer.echo(f"MLflow UI:    mlflow ui --backend-store-uri {os.environ['MLFLOW_TRACKING_URI']}")
    typer.echo(f"\nservice: {url}   (OpenAPI docs at {url}/docs)")
    typer.echo("score a claim (the key is shown once; keep it):")
    typer.echo(
        f"  curl -s -X POST {url}/v1/claims/score -H 'Authorization: Bearer {scorer_key}' "
        f"-H 'Content-Type: application/json' -d @{shlex.quote(str(example_file))}"
    )
    typer.echo("the triage queue:")
    typer.echo(f"  curl -s '{url}/v1/queue?limit=5' -H 'Authorization: Bearer {investigator_key}'")
    if serve:
        from serve.app import run
        from serve.settings import Settings

        run(host=host, port=port, settings=Settings())


def _step(title: str) -> None:
    typer.secho(f"\n== {title}", bold=True, err=True)


def _train_champion(data_dir: Path) -> None:
    """Train, register and promote a champion (skipped when it was trained on this data)."""
    from riskml.defaults import CHAMPION, MODEL_NAME
    from riskml.fingerprint import data_fingerprint
    from riskml.jobs.train import run_train
    from riskml.registry import client

    try:
        mv = client().get_model_version_by_alias(MODEL_NAME, CHAMPION)
        trained_on = mv.tags.get("data_fingerprint")
    except Exception:  # no registered model or no champion yet
        trained_on = None
    if trained_on is not None and trained_on == data_fingerprint(data_dir):
        typer.echo(f"champion: version {mv.version}, already trained on this data")
        return
    summary = run_train(data_dir, promote=True)
    typer.echo(json.dumps(summary, indent=2, default=str))


def _score_backlog(data_dir: Path, workdir: Path) -> tuple[Path, dict[str, object]]:
    """Score the last months with reasons, fill the triage queue; one flagged claim as example."""
    from serve.schemas import request_claims

    from riskml.batch import score_backlog
    from riskml.data import load_data_dir
    from riskml.store import open_store

    claims = pd.read_parquet(data_dir / "claims.parquet", columns=["submitted_at"])
    last = claims["submitted_at"].max()
    since = (last - pd.DateOffset(months=BACKLOG_MONTHS)).normalize()
    out = workdir / "scores.parquet"
    summary = score_backlog(data_dir, out, since=since)
    typer.echo(json.dumps(summary))
    scores = pd.read_parquet(out)
    store = open_store()
    loaded = store.record_batch_scores(scores)
    typer.echo(f"triage queue: {loaded:,} flagged claims")
    flagged = scores.loc[scores["risk_band"] == "high"].sort_values("risk_score")
    data = load_data_dir(data_dir, tables=["claims", "claim_items"])
    claim_id = flagged["claim_id"].iloc[-1] if len(flagged) else scores["claim_id"].iloc[-1]
    example = request_claims(data.claims.loc[data.claims["claim_id"] == claim_id], data.claim_items)
    return out, example[0]
