"""How fast a champion ages, and what the refit on every mature label is worth.

Trains as of several dates (``riskml train --as-of``: claims submitted and labels decided before
the date), and tests every model on the same later months against the full ground truth (every
improper claim, detected or not). The synthetic data set drifts: collusion rings begin in month
22 of 30 and phantom stays in month 19, so the only difference is the champion's age: the months
between its training date and the first test month. For each date two boosters are compared on
the same features: the one registered (refit on every label mature at the date, DESIGN
principle 3) and the booster of the train window (what was registered before the refit).

Recall at capacity = the share of improper claims among the top 1% of each test month's claims
by score, overall and per typology.

    python -m benchmarks --only aging                  # 8,000 persons, ages 0, 2, 4 and 6 months
    python -m benchmarks --only aging --quick          # 3,000 persons, ages 0 and 4
    python -m benchmarks --only aging --data DIR       # a data directory with ground_truth.parquet
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from riskml import baselines
from riskml.config import TrainConfig
from riskml.data import ClaimsData, load_data_dir
from riskml.evaluate import auc_pr, flag_top
from riskml.synth import SynthConfig, generate, write_result
from riskml.synth.config import preset_knobs
from riskml.train import (
    TrainResult,
    booster_params,
    claim_frame,
    data_as_of,
    raw_score,
    train_model,
)

CAPACITY = 0.01
TEST_MONTHS = 3


LATE = {"collusion_ring": 0.7, "phantom_hospitalization": 0.6}
"""Typologies that begin late in the synthetic window (onset as a share of its 30 months)."""


def _drifting(persons: int) -> SynthConfig:
    base = preset_knobs("stress")
    late = {name: dataclasses.replace(base[name], onset=onset) for name, onset in LATE.items()}
    return SynthConfig(persons=persons, seed=5, months=30, typologies=late)


def _truth(data_dir: Path, data: ClaimsData) -> tuple[np.ndarray, np.ndarray]:
    """1/0 improper per claim (ground truth when the directory has it, else its labels) and the
    typology of the improper ones."""
    ids = data.claims["claim_id"].astype(str)
    path = data_dir / "ground_truth.parquet"
    if path.is_file():
        truth = pd.read_parquet(path).drop_duplicates("claim_id").set_index("claim_id")
    else:
        assert data.labels is not None
        truth = data.labels.loc[data.labels["is_fraud"].astype(bool)].set_index("claim_id")
    typology = ids.map(truth["typology"].astype(object)).to_numpy()
    return ids.isin(truth.index).to_numpy(dtype=np.float64), typology


def _measure(
    result: TrainResult, data: ClaimsData, test: np.ndarray, truth: tuple[np.ndarray, np.ndarray]
) -> dict[str, dict[str, float]]:
    features = result.feature_builder.transform(data, data.claims.iloc[np.flatnonzero(test)])
    x = features[result.feature_names].to_numpy(dtype=np.float64)
    y, typology = truth[0][test], truth[1][test]
    month = data.claims["submitted_at"].dt.to_period("M").astype(str).to_numpy()[test]
    assert result.windowed_model is not None
    return {
        name: _row(y, raw_score(booster, x, 1), month, typology)
        for name, booster in (("refit", result.booster), ("windowed", result.windowed_model[0]))
    }


def _baselines(
    result: TrainResult,
    data: ClaimsData,
    test: np.ndarray,
    truth: tuple[np.ndarray, np.ndarray],
    keep: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """The project's baselines trained on the labels the refit learned from (every label mature
    at the training date), scored on the same test months (the scores also into ``keep``)."""
    known = data_as_of(data, result.windows.as_of)
    frame = claim_frame(known, result.windows)
    fit_windows = frame["window"].isin(["train", "validation", "calibration", "test"])
    train_ids = frame.index[fit_windows & frame["label_as_of"].notna()]
    y_train = frame.loc[train_ids, "label_as_of"].to_numpy()
    ids = data.claims["claim_id"].astype(str)
    pos = pd.Index(ids).get_indexer(train_ids)
    features = result.feature_builder.transform(data).reindex(ids)
    x = features[result.feature_names].to_numpy(dtype=np.float64)
    raw = baselines.raw_claim_matrix(data).to_numpy(dtype=np.float64)
    cfg = result.config
    trees = result.refit["registered"]["trees"]
    params = booster_params(cfg, cfg.lightgbm.sizes[cfg.lightgbm.default_size], {})
    raw_booster = lgb.train(params, lgb.Dataset(raw[pos], label=y_train), num_boost_round=trees)
    logistic = baselines.fit_logistic(x[pos], y_train, 200_000, cfg.lightgbm.seed)
    train_window = np.zeros(len(ids), dtype=bool)
    train_window[pd.Index(ids).get_indexer(frame.index[frame["window"] == "train"])] = True
    hits = baselines.rule_hits(data, train_window)
    amount = data.claims["amount_claimed"].to_numpy(dtype=np.float64)
    scores = {
        "rules": baselines.rules_score(hits.iloc[np.flatnonzero(test)], amount[test]),
        "logistic_regression": baselines.logistic_score(logistic, x[test]),
        "raw_lightgbm": raw_score(raw_booster, raw[test], 1),
    }
    if keep is not None:
        keep.update(scores)
    y, typology = truth[0][test], truth[1][test]
    month = data.claims["submitted_at"].dt.to_period("M").astype(str).to_numpy()[test]
    return {name: _row(y, s, month, typology) for name, s in scores.items()}


def _row(y: np.ndarray, score: np.ndarray, month: np.ndarray, typology: np.ndarray) -> dict:
    flagged = flag_top(score, CAPACITY, groups=month)
    row = {"auc_pr": auc_pr(y, score), "recall": float(flagged[y == 1].mean())}
    for typ in sorted({t for t in typology if isinstance(t, str)}):
        row[f"recall.{typ}"] = float(flagged[typology == typ].mean())
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_aging", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, help="a data directory (default: synthesise one)")
    parser.add_argument("--persons", type=int)
    parser.add_argument("--ages", type=str, help="comma-separated ages in months (e.g. 0,2,4,6)")
    args, _ = parser.parse_known_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    persons = args.persons or (3_000 if args.quick else 8_000)
    ages = (
        [int(a) for a in args.ages.split(",")]
        if args.ages
        else ([0, 4] if args.quick else [0, 2, 4, 6])
    )
    with tempfile.TemporaryDirectory(prefix="riskml-aging-") as tmp:
        data_dir = args.data
        if data_dir is None:
            data_dir = Path(tmp) / "data"
            write_result(generate(_drifting(persons)), data_dir)
        data = load_data_dir(data_dir)
        truth = _truth(data_dir, data)
        months = data.claims["submitted_at"].dt.to_period("M")
        test_start = (months.max() + 1 - TEST_MONTHS).start_time
        test = (data.claims["submitted_at"] >= test_start).to_numpy()
        config = TrainConfig().with_overrides(
            {
                "lightgbm": {"num_threads": 2},
                "baselines": {k: False for k in ("rules", "logistic_regression",
                                                  "isolation_forest", "raw_lightgbm")},
                "log_plots": False,
            }
        )  # fmt: skip
        print(
            f"{len(data.claims):,} claims; test months {test_start.date()} .. {months.max()} "
            f"({int(test.sum()):,} claims, {int(truth[0][test].sum()):,} improper); "
            f"capacity {CAPACITY:.0%} per month\n"
        )
        rows = []
        for age in ages:
            as_of = (pd.Period(test_start, freq="M") - age).start_time
            t0 = time.perf_counter()
            result = train_model(data, config, as_of=as_of)
            measured = _measure(result, data, test, truth)
            rows.append((age, as_of, measured, time.perf_counter() - t0))
            if age == min(ages):
                base = _baselines(result, data, test, truth)
        print(
            "| age (months) | trained as of | recall@1% refit | recall@1% train window "
            "| AUC-PR refit | AUC-PR train window | train s |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|")
        for age, as_of, m, secs in rows:
            print(
                f"| {age} | {as_of.date()} | {m['refit']['recall']:.3f} | "
                f"{m['windowed']['recall']:.3f} | {m['refit']['auc_pr']:.3f} | "
                f"{m['windowed']['auc_pr']:.3f} | {secs:.0f} |"
            )
        youngest = min(rows, key=lambda r: r[0])[2]
        runs = {
            "riskml, refit on every mature label (registered)": youngest["refit"],
            "riskml, booster of the train window": youngest["windowed"],
            **base,
        }
        print(
            f"\nthe youngest champion (age {min(ages)}) beside the baselines, which are trained "
            "on the same mature labels:\n"
        )
        print("| model | AUC-PR | recall@1% |")
        print("|---|---:|---:|")
        for name, m in runs.items():
            print(f"| {name} | {m['auc_pr']:.3f} | {m['recall']:.3f} |")
        typologies = sorted(k for k in rows[0][2]["refit"] if k.startswith("recall."))
        truth_counts = pd.Series(truth[1][test]).value_counts()
        print("\nrecall@1% per typology at the youngest age (test positives):\n")
        print("| typology | positives | " + " | ".join(runs) + " |")
        print("|---|---:|" + "---:|" * len(runs))
        for typ in typologies:
            name = typ.removeprefix("recall.")
            cells = " | ".join(f"{m[typ]:.2f}" for m in runs.values())
            print(f"| {name} | {int(truth_counts.get(name, 0))} | {cells} |")
        print("\nrecall@1% per typology (refit / train window), by age in months:\n")
        print("| typology | " + " | ".join(f"{a}" for a, *_ in rows) + " |")
        print("|---|" + "---:|" * len(rows))
        for typ in typologies:
            cells = [f"{m['refit'][typ]:.2f} / {m['windowed'][typ]:.2f}" for _, _, m, _ in rows]
            print(f"| {typ.removeprefix('recall.')} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
