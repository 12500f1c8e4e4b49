"""The generator's pipeline: population, work, providers, honest claims, injectors, items, labels.

:func:`generate` is pure (config in, tables out); :func:`run_synth` is the ``riskml synth``
verb: it validates the arguments, reports progress per stage on stderr and writes the data
directory atomically with ``ground_truth.parquet`` and ``manifest.json``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskml.contract import BENEFIT_TYPES, TYPOLOGIES
from riskml.data import ClaimsData
from riskml.errors import ConfigError
from riskml.io import atomic_path
from riskml.synth import cash, medical
from riskml.synth.config import SynthConfig
from riskml.synth.drift import late_cohorts
from riskml.synth.employment import make_employers, simulate_working_lives
from riskml.synth.injectors import INJECTORS
from riskml.synth.items import build_items
from riskml.synth.labels import simulate_labels
from riskml.synth.population import make_persons
from riskml.synth.providers import ProviderChooser, make_providers
from riskml.synth.world import BENEFIT, Timeline, World, add_claims, stage_rng
from riskml.synth.writer import lookalike_counts, to_contract

Progress = Callable[[str], None]


@dataclass
class SynthResult:
    """A generated data set: contract tables with labels, the ground truth and the manifest."""

    data: ClaimsData
    ground_truth: pd.DataFrame
    manifest: dict[str, Any]


def _quiet(_: str) -> None:
    return None


def build_world(config: SynthConfig, progress: Progress = _quiet) -> World:
    """Population, employment, providers and the honest claims of every benefit."""
    seed = config.seed
    tl = Timeline(np.datetime64(config.start.isoformat(), "D"), config.months)
    progress(f"persons: {config.persons:,}")
    persons = make_persons(stage_rng(seed, "persons"), config.persons, tl)
    world = World(config=config, timeline=tl, persons=persons)
    world.employers = make_employers(stage_rng(seed, "employers"), config.persons, tl)
    world.providers = make_providers(stage_rng(seed, "providers"), config.persons, tl)
    progress("working lives and contributions")
    world = simulate_working_lives(stage_rng(seed, "work"), world)
    chooser = ProviderChooser(world.providers)
    progress("honest claims")
    parts = [
        cash.pension_claims(stage_rng(seed, "pension"), world),
        cash.unemployment_claims(stage_rng(seed, "unemployment"), world),
        cash.maternity_claims(stage_rng(seed, "maternity"), world, chooser),
        cash.work_injury_claims(stage_rng(seed, "work_injury"), world, chooser),
        medical.outpatient_claims(stage_rng(seed, "outpatient"), world, chooser),
        medical.pharmacy_claims(stage_rng(seed, "pharmacy"), world, chooser),
        medical.inpatient_claims(stage_rng(seed, "inpatient"), world, chooser),
        medical.chronic_claims(stage_rng(seed, "chronic"), world, chooser)[0],
        medical.chemo_claims(stage_rng(seed, "chemo"), world, chooser),
    ]
    claims = pd.concat(parts, ignore_index=True)
    claims = medical.apply_migration(stage_rng(seed, "migration"), world, chooser, claims)
    claims["key"] = np.arange(len(claims), dtype=np.int64)
    outpatient = claims[(claims["benefit"] == BENEFIT["outpatient"]) & (claims["look"] < 0)]
    series = medical.infusion_series(stage_rng(seed, "infusion"), outpatient)
    death = world.persons["death"].to_numpy()[series["pid"].to_numpy()]
    series = series.loc[series["start"].to_numpy() < death]
    claims = add_claims(replace(world, claims=claims), series)
    return replace(world, claims=claims)


def _finish_claims(world: World) -> World:
    """Keep claims submitted inside the window (the data is extracted at its end)."""
    cl = world.claims
    end_s = world.timeline.n_days * 86_400
    keep = (cl["sub_s"].to_numpy() < end_s) & (cl["start"].to_numpy() >= 0)
    return replace(world, claims=cl.loc[keep].reset_index(drop=True))


def generate(config: SynthConfig, progress: Progress = _quiet) -> SynthResult:
    """Generate a synthetic data set for ``config`` (same config, identical tables)."""
    world = build_world(config, progress)
    chooser = ProviderChooser(world.providers)
    for name in TYPOLOGIES:
        knobs = config.typologies[name]
        if knobs.prevalence <= 0:
            continue
        progress(f"injecting {name}")
        if name not in INJECTORS:
            continue
        world = INJECTORS[name](stage_rng(config.seed, f"inject:{name}"), world, knobs, chooser)
    if config.drift:
        progress("late cohorts at newly designated providers")
        world = late_cohorts(stage_rng(config.seed, "drift"), world, chooser)
    world = _finish_claims(world)
    progress(f"line items for {len(world.claims):,} claims")
    items, claims = build_items(stage_rng(config.seed, "items"), world)
    world = replace(world, claims=claims)
    progress("labels")
    labels = simulate_labels(stage_rng(config.seed, "labels"), claims, config)
    progress("contract tables")
    data, truth = to_contract(world, items, labels)
    manifest = build_manifest(config, world, data, truth)
    return SynthResult(data=data, ground_truth=truth, manifest=manifest)


def _calibration(world: World) -> dict[str, float]:
    """Figures to compare with DOMAIN.md section 4."""
    cl = world.claims
    n_years = world.timeline.months / 12
    persons = len(world.persons)
    inp = cl[(cl["benefit"] == BENEFIT["inpatient"]) & (cl["typ"] < 0)]
    outp = cl[(cl["benefit"] == BENEFIT["outpatient"]) & (cl["typ"] < 0)]
    s = inp.sort_values(["pid", "start"])
    same = s["pid"].to_numpy()[1:] == s["pid"].to_numpy()[:-1]
    gap = s["start"].to_numpy()[1:] - s["end"].to_numpy()[:-1]
    readm = same & (gap >= 0) & (gap <= 15)
    return {
        "claims_per_person": round(len(cl) / persons, 2),
        "admissions_per_person_year": round(len(inp) / persons / n_years, 3),
        "mean_cost_per_stay": round(float(inp["amount"].mean()), 0) if len(inp) else 0.0,
        "mean_length_of_stay": round(float(inp["los"].mean()), 2) if len(inp) else 0.0,
        "mean_cost_per_outpatient_visit": round(float(outp["amount"].mean()), 0)
        if len(outp)
        else 0.0,
        "readmission_15d_rate": round(float(readm.sum() / max(len(inp), 1)), 4),
    }


def build_manifest(
    config: SynthConfig, world: World, data: ClaimsData, truth: pd.DataFrame
) -> dict[str, Any]:
    """Row counts, typology counts (labels and ground truth), look-alikes, calibration, config."""
    labels = data.labels if data.labels is not None else pd.DataFrame()
    pos = labels[labels["is_fraud"]] if len(labels) else labels
    fraud_truth = truth[truth["class"] != "error"]
    per_typ: dict[str, dict[str, Any]] = {}
    for name in TYPOLOGIES:
        t = fraud_truth[fraud_truth["typology"] == name]
        cand = world.candidates.get(name, 0)
        units = int(t["unit_id"].nunique())
        per_typ[name] = {
            "units": units,
            "candidate_units": cand,
            "unit_prevalence": round(units / cand, 5) if cand else None,
            "claims": len(t),
            "claim_share": round(len(t) / max(len(data.claims), 1), 5),
            "labelled_positive": int((pos["typology"] == name).sum()) if len(pos) else 0,
            "improper_amount": round(float(t["improper_amount"].sum()), 2),
        }
    benefit_counts = data.claims["benefit_type"].value_counts()
    return {
        "generator": "riskml.synth",
        "seed": config.seed,
        "config": config.to_dict(),
        "rows": {name: len(frame) for name, frame in data.tables().items()}
        | {"ground_truth": len(truth)},
        "claims_by_benefit": {b: int(benefit_counts.get(b, 0)) for b in BENEFIT_TYPES},
        "typologies": per_typ,
        "labels": {
            "labelled_share": round(len(labels) / max(len(data.claims), 1), 4),
            "by_outcome": {
                k: int(v) for k, v in labels["outcome"].value_counts().sort_index().items()
            },
            "by_source": {
                k: int(v) for k, v in labels["source"].value_counts().sort_index().items()
            },
            "positives_by_typology": {
                k: int(v) for k, v in pos["typology"].value_counts().sort_index().items()
            },
        },
        "ground_truth": {
            "by_class": {k: int(v) for k, v in truth["class"].value_counts().sort_index().items()},
            "by_typology": {
                k: int(v) for k, v in truth["typology"].value_counts().sort_index().items()
            },
        },
        "lookalikes": lookalike_counts(world),
        "calibration": _calibration(world),
    }


def _stderr(msg: str) -> None:
    print(f"synth: {msg}", file=sys.stderr, flush=True)


def run_synth(
    out: Path,
    persons: int,
    seed: int,
    fraud_rate: float | None,
    preset: str,
    months: int,
    drift: bool = False,
) -> None:
    """The ``riskml synth`` verb: generate and write a data directory atomically."""
    config = SynthConfig(
        persons=persons,
        seed=seed,
        fraud_rate=fraud_rate,
        preset=preset,
        months=months,
        drift=drift,
    )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"synth: --out {str(out)!r} exists and is not a directory")
    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        _stderr(f"[{time.perf_counter() - t0:6.1f}s] {msg}")

    result = generate(config, progress)
    progress(f"writing {out}")
    write_result(result, out)
    rows = result.manifest["rows"]
    progress(
        f"done: {rows['persons']:,} persons, {rows['claims']:,} claims, "
        f"{rows['labels']:,} labels, {rows['ground_truth']:,} ground-truth rows"
    )


def write_result(result: SynthResult, out: Path) -> None:
    """Write the tables, ``ground_truth.parquet`` and ``manifest.json`` into ``out`` atomically."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        from riskml.data import write_table

        for name, frame in result.data.tables().items():
            write_table(frame, tmp / f"{name}.parquet", name)
        truth = pa.Table.from_pandas(result.ground_truth, preserve_index=False)
        truth = truth.replace_schema_metadata(None)
        pq.write_table(truth, tmp / "ground_truth.parquet", compression="zstd")
        (tmp / "manifest.json").write_text(
            json.dumps(result.manifest, indent=2, sort_keys=True) + "\n"
        )
