"""The README's demo: the main job end to end on embedded defaults."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def run_demo(workdir: Path, persons: int, seed: int) -> None:
    """Generate a synthetic data set (if not there yet), print its summary, train a champion."""
    from riskml.synth import run_synth

    data_dir = workdir / "data"
    if not (data_dir / "manifest.json").is_file():
        run_synth(
            out=data_dir, persons=persons, seed=seed, fraud_rate=None, preset="stress", months=24
        )
    manifest = json.loads((data_dir / "manifest.json").read_text())
    typer.echo(f"data directory: {data_dir}")
    typer.echo(json.dumps(manifest, indent=2))
    _train_champion(workdir, data_dir)


def _train_champion(workdir: Path, data_dir: Path) -> None:
    """Train, register and promote a champion (skipped when it was trained on this data)."""
    import os

    from riskml.batch import data_fingerprint
    from riskml.registry import CHAMPION, DEFAULT_MODEL_NAME, client
    from riskml.train import run_train

    # the demo keeps its MLflow store in its own folder unless one is configured
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{(workdir / 'mlflow.db').resolve()}"
    typer.echo(f"MLflow store: {os.environ['MLFLOW_TRACKING_URI']}")
    try:
        mv = client().get_model_version_by_alias(DEFAULT_MODEL_NAME, CHAMPION)
        trained_on = mv.tags.get("data_fingerprint")
    except Exception:
        trained_on = None
    if trained_on is not None and trained_on == data_fingerprint(data_dir):
        typer.echo(f"champion: version {mv.version}, already trained on this data")
        return
    summary = run_train(data_dir, promote=True)
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"see the run: mlflow ui --backend-store-uri {os.environ['MLFLOW_TRACKING_URI']}")
