"""The set-up the backlog benchmarks share (:mod:`benchmarks.bench_batch_memory`,
:mod:`benchmarks.bench_spark`): a champion trained once on a small separate data set, then one
population (same persons, same claim rate, seed 5) generated over backlogs of different lengths,
all through the ``riskml`` command in one working folder with an embedded MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_scoring import _riskml


def train_champion(work: Path, persons: int) -> None:
    """Synthesise ``persons`` persons (seed 3) in ``work/train`` and promote a model trained on
    them to ``models:/riskml-claims@champion`` in ``work``'s MLflow store."""
    train_dir = work / "train"
    _riskml(work, "synth", "--out", str(train_dir), "--persons", str(persons), "--seed", "3")
    _riskml(work, "train", "--data", str(train_dir), "--promote")


def synth_backlog(work: Path, persons: int, months: int) -> tuple[Path, int]:
    """The backlog of ``persons`` persons over ``months`` months in ``work/data-<months>`` (the
    same population whatever the length) and its number of claims."""
    data_dir = work / f"data-{months}"
    _riskml(
        work,
        "synth",
        "--out",
        str(data_dir),
        "--persons",
        str(persons),
        "--months",
        str(months),
        "--seed",
        "5",
    )
    manifest = json.loads((data_dir / "manifest.json").read_text())
    return data_dir, int(manifest["rows"]["claims"])
