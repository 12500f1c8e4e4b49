"""Fraud that does not hold still: train on what was known at month 18, test the last 6 months.

The protocol of the checks from outside, on the project's own generator. Two data sets of the same
size and seed: the stationary one and the drift setting (``riskml synth --drift``: a late cohort
of collusion rings and phantom-stay hospitals at providers designated after the training date,
and honest providers designated late too). For each, ``riskml train --as-of`` the first day of
month 19 (claims submitted and labels decided before it), every claim of the last 6 months
scored, and measured against the full ground truth (every improper claim, detected or not):
AUC-PR, precision in the top 1%, recall in the top 2%, and recall in the top 2% per typology and
for the claims of providers first seen after the training date. The baselines (rules, logistic
regression on the features, LightGBM on raw claim columns) learn from the same mature labels.

    python -m benchmarks --only drift            # 20,000 persons
    python -m benchmarks --only drift --quick    # 8,000 persons
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench_aging import _baselines, _truth
from riskml.config import TrainConfig
from riskml.data import ClaimsData, load_data_dir
from riskml.defaults import DEFAULT_FEATURE_SET
from riskml.evaluate import auc_pr, flag_top
from riskml.synth import SynthConfig, generate, write_result
from riskml.train import TrainResult, raw_score, train_model

TRAIN_MONTHS = 18
TEST_MONTHS = 6
#: Targets of the issue: recall in the top 2% per typology with this many test positives.
TARGET_RECALL, MIN_POSITIVES, AUC_PR_GAP = 0.75, 20, 0.05
FRAUD_RATE = 0.02


def _metrics(y: np.ndarray, score: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, float]:
    top1, top2 = flag_top(score, 0.01), flag_top(score, 0.02)
    out = {
        "auc_pr": auc_pr(y, score),
        "precision@1%": float(y[top1].mean()) if top1.any() else float("nan"),
        "recall@2%": float(top2[y == 1].mean()),
    }
    for name, mask in groups.items():
        positives = mask & (y == 1)
        out[f"n.{name}"] = float(positives.sum())
        out[f"recall.{name}"] = float(top2[positives].mean()) if positives.any() else np.nan
    return out


def _run(data_dir: Path, config: TrainConfig) -> tuple[dict[str, dict[str, float]], int, float]:
    data = load_data_dir(data_dir)
    truth = _truth(data_dir, data)
    sub = data.claims["submitted_at"]
    start = sub.dt.to_period("M").min()
    as_of = (start + TRAIN_MONTHS).start_time
    test_start = (sub.dt.to_period("M").max() + 1 - TEST_MONTHS).start_time
    test = (sub >= test_start).to_numpy()
    t0 = time.perf_counter()
    result = train_model(data, config, as_of=as_of)
    seconds = time.perf_counter() - t0
    y, typology = truth[0][test], truth[1][test]
    groups = {t: typology == t for t in sorted({t for t in typology if isinstance(t, str)})}
    groups["providers first seen after training"] = _new_providers(data, as_of)[test]
    features = result.feature_builder.transform(data, data.claims.iloc[np.flatnonzero(test)])
    x = features[result.feature_names].to_numpy(dtype=np.float64)
    runs = {"riskml": _metrics(y, raw_score(result.booster, x, 1), groups)}
    for name, row in _baseline_scores(result, data, test, truth).items():
        runs[name] = _metrics(y, row, groups)
    return runs, int(y.sum()), seconds


def _new_providers(data: ClaimsData, as_of: pd.Timestamp) -> np.ndarray:
    """Per claim: its provider's first claim was submitted on or after ``as_of``."""
    first = data.claims.groupby("provider_id")["submitted_at"].min()
    new = first.index[first >= as_of]
    return data.claims["provider_id"].isin(new).to_numpy()


def _baseline_scores(
    result: TrainResult, data: ClaimsData, test: np.ndarray, truth: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    scores: dict[str, np.ndarray] = {}
    _baselines(result, data, test, truth, keep=scores)
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_drift", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--persons", type=int)
    parser.add_argument("--feature-set", default=DEFAULT_FEATURE_SET, help="e.g. claims_v1")
    args, _ = parser.parse_known_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    persons = args.persons or (8_000 if args.quick else 20_000)
    config = TrainConfig().with_overrides(
        {"feature_set": args.feature_set,
         "lightgbm": {"num_threads": 2},
         "baselines": {k: False for k in ("rules", "logistic_regression", "isolation_forest",
                                          "raw_lightgbm")},
         "log_plots": False}
    )  # fmt: skip
    settings: dict[str, tuple[dict[str, dict[str, float]], int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="riskml-drift-") as tmp:
        for name, drift in (("stationary", False), ("drift", True)):
            out = Path(tmp) / name
            synth = SynthConfig(
                persons=persons, seed=5, months=TRAIN_MONTHS + TEST_MONTHS,
                fraud_rate=FRAUD_RATE, drift=drift,
            )  # fmt: skip
            write_result(generate(synth), out)
            settings[name] = _run(out, config)
    print(f"feature set {args.feature_set}")
    _print(settings, persons)


def _print(
    settings: dict[str, tuple[dict[str, dict[str, float]], int, float]], persons: int
) -> None:
    print(
        f"{persons:,} persons, {TRAIN_MONTHS + TEST_MONTHS} months, fraud rate {FRAUD_RATE}; "
        f"trained as of month {TRAIN_MONTHS + 1}, tested on the last {TEST_MONTHS} months "
        "against the full ground truth\n"
    )
    print("| setting | model | test positives | AUC-PR | precision@1% | recall@2% | train s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for setting, (runs, positives, seconds) in settings.items():
        for model, m in runs.items():
            secs = f"{seconds:.0f}" if model == "riskml" else ""
            print(
                f"| {setting} | {model} | {positives} | {m['auc_pr']:.3f} | "
                f"{m['precision@1%']:.3f} | {m['recall@2%']:.3f} | {secs} |"
            )
    gap = settings["stationary"][0]["riskml"]["auc_pr"] - settings["drift"][0]["riskml"]["auc_pr"]
    mark = "PASS" if gap <= AUC_PR_GAP else "FAIL"
    print(f"\nAUC-PR, stationary minus drift: {gap:.3f} (target at most {AUC_PR_GAP}: {mark})\n")
    runs = settings["drift"][0]
    names = [k[len("recall.") :] for k in runs["riskml"] if k.startswith("recall.")]
    models = list(runs)
    print("| drift setting: recall@2% of | positives | " + " | ".join(models) + " | target |")
    print("|---|---:|" + "---:|" * len(models) + "---|")
    for name in names:
        n = int(runs["riskml"][f"n.{name}"])
        cells = " | ".join(f"{runs[m][f'recall.{name}']:.2f}" for m in models)
        target = ""
        if n >= MIN_POSITIVES:
            ok = runs["riskml"][f"recall.{name}"] >= TARGET_RECALL
            target = f"{TARGET_RECALL} {'PASS' if ok else 'FAIL'}"
        print(f"| {name} | {n} | {cells} | {target} |")


if __name__ == "__main__":
    main()
