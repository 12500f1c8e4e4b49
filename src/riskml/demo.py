"""The README's demo: the main job end to end on embedded defaults."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def run_demo(workdir: Path, persons: int, seed: int) -> None:
    """Generate a synthetic data set (if not there yet) and print its summary."""
    from riskml.synth import run_synth

    data_dir = workdir / "data"
    if not (data_dir / "manifest.json").is_file():
        run_synth(
            out=data_dir, persons=persons, seed=seed, fraud_rate=None, preset="stress", months=24
        )
    manifest = json.loads((data_dir / "manifest.json").read_text())
    typer.echo(f"data directory: {data_dir}")
    typer.echo(json.dumps(manifest, indent=2))
