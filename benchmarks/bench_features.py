"""Feature-building benchmark: speed, memory, time per family, and what the features are worth.

Generates a synthetic data set (``riskml.synth``), fits a :class:`FeatureBuilder` on the first 60%
of months and builds the features of every claim, reporting claims per second, the peak resident
memory while building, and the share of time per feature family. Then it trains LightGBM twice on
the training months, once on the ``claims_v1`` features and once on raw claim columns only
(benefit type, amount, length of stay, tier, provider type and ownership, channel, diagnosis
category, province, item count and total), and prints recall at 1% capacity (the top 1% of each
later month's claims by score) overall and per typology, against the full ground truth.

    python -m benchmarks.bench_features            # 80,000 persons, about 1M claims
    python -m benchmarks.bench_features --quick    # 8,000 persons
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psutil

from riskml.data import ClaimsData
from riskml.features import FeatureBuilder, default_fit_end

CAPACITY = 0.01


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Sample this process's resident memory every 50 ms; yields a dict filled with the peak."""
    proc = psutil.Process(os.getpid())
    result = {"start_mb": proc.memory_info().rss / 2**20, "peak_mb": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["peak_mb"] = max(result["peak_mb"], proc.memory_info().rss / 2**20)
            stop.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mb"] = max(result["peak_mb"], proc.memory_info().rss / 2**20)


def raw_columns(data: ClaimsData) -> pd.DataFrame:
    """The baseline's inputs: the claim's own columns, coded, without history or norms."""
    c = data.claims
    prov = data.providers.set_index("provider_id")
    pid = c["provider_id"]
    items = data.claim_items.groupby("claim_id").agg(
        n_items=("line_no", "size"), items_amount=("amount", "sum")
    )
    out = pd.DataFrame(
        {
            "benefit_type": pd.factorize(c["benefit_type"], sort=True)[0],
            "amount_claimed": c["amount_claimed"].to_numpy(),
            "service_days": (c["service_end"] - c["service_start"]).dt.days.to_numpy() + 1,
            "tier": pid.map(prov["tier"].astype("float64")).to_numpy(dtype="float64"),
            "provider_type": pd.factorize(pid.map(prov["provider_type"]), sort=True)[0],
            "private": (pid.map(prov["ownership"]) == "private").to_numpy(dtype="float64"),
            "channel": pd.factorize(c["channel"], sort=True)[0],
            "diagnosis": pd.factorize(c["diagnosis_code"].str.slice(0, 3), sort=True)[0],
            "province": c["region_code"].str.slice(0, 2).astype("int64").to_numpy(),
            "n_items": c["claim_id"].map(items["n_items"]).fillna(0).to_numpy(dtype="float64"),
            "items_amount": c["claim_id"]
            .map(items["items_amount"])
            .fillna(0)
            .to_numpy(dtype="float64"),
        },
        index=pd.Index(c["claim_id"], name="claim_id"),
    )
    return out.astype("float64")


def recall_table(
    scores: dict[str, np.ndarray], month: np.ndarray, truth: pd.Series, typology: np.ndarray
) -> pd.DataFrame:
    """Recall at capacity (top 1% of each month's claims) per typology for each model."""
    rows = []
    flagged: dict[str, np.ndarray] = {}
    for name, s in scores.items():
        frame = pd.DataFrame({"s": s, "m": month})
        rank = frame.groupby("m")["s"].rank(ascending=False, method="first")
        size = frame.groupby("m")["s"].transform("size")
        flagged[name] = (rank <= np.ceil(CAPACITY * size)).to_numpy()
    positive = truth.to_numpy()
    for t in [*sorted(set(typology[positive])), "all"]:
        mask = positive if t == "all" else positive & (typology == t)
        row: dict[str, object] = {"typology": t, "test_positives": int(mask.sum())}
        for name, f in flagged.items():
            row[f"recall@1% {name}"] = float(f[mask].mean()) if mask.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    """A Markdown table (floats with two decimals)."""
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    numeric = pd.api.types.is_numeric_dtype
    aligns = ["---:" if numeric(frame[c]) else "---" for c in frame.columns]
    rule = "|" + "|".join(aligns) + "|"
    body = [
        "| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


def train_lightgbm(X: pd.DataFrame, y: np.ndarray, threads: int) -> object:
    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        num_threads=threads,
        verbose=-1,
        random_state=0,
    )
    model.fit(X, y)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_features", description=__doc__)
    parser.add_argument("--persons", type=int, default=80_000)
    parser.add_argument("--quick", action="store_true", help="8,000 persons")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--preset",
        default="low",
        help="synthetic fraud prevalence: low (0.1-0.5%% of units, below the 1%% capacity, so "
        "recall measures ranking) or stress (2-5%%, more positives than capacity)",
    )
    args, _ = parser.parse_known_args(argv)
    persons = 8_000 if args.quick else args.persons

    from riskml.synth import SynthConfig, generate

    t0 = time.perf_counter()
    config = SynthConfig(persons=persons, seed=args.seed, months=24, preset=args.preset)
    result = generate(config)
    data = result.data
    n = len(data.claims)
    print(
        f"synthetic data: {persons:,} persons, {n:,} claims, preset {args.preset} "
        f"({time.perf_counter() - t0:.0f}s)"
    )

    fit_end = default_fit_end(data)
    with peak_rss() as mem:
        t0 = time.perf_counter()
        builder = FeatureBuilder(fit_end=fit_end).fit(data)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        X, timings = builder.transform_timed(data)
        build_s = time.perf_counter() - t0
    print()
    print("| step | seconds | claims/s |")
    print("|---|---:|---:|")
    n_fit = builder.n_fit_claims_
    window = f"window < {fit_end.date()}: {n_fit:,} claims"
    print(f"| fit ({window}) | {fit_s:.1f} | {n_fit / fit_s:,.0f} |")
    shape = f"{n:,} claims, {X.shape[1]} features"
    print(f"| transform ({shape}) | {build_s:.1f} | {n / build_s:,.0f} |")
    peak, start = mem["peak_mb"], mem["start_mb"]
    print(f"\npeak RSS while building: {peak:,.0f} MB (before: {start:,.0f} MB, data included)")
    print("\n| family | seconds | share |")
    print("|---|---:|---:|")
    total = sum(timings.values())
    for family, sec in timings.items():
        print(f"| {family} | {sec:.1f} | {sec / total:.0%} |")

    # quality: features vs raw columns, ground truth of later months
    truth = result.ground_truth.drop_duplicates("claim_id").set_index("claim_id")
    ids = X.index
    positive = ids.isin(truth.index)
    typology = truth["typology"].reindex(ids).fillna("").to_numpy(dtype=object)
    sub = data.claims.set_index("claim_id").loc[ids, "submitted_at"]
    train = (sub < fit_end).to_numpy()
    test = ~train
    month = sub.dt.to_period("M").astype("str").to_numpy()
    raw = raw_columns(data).loc[ids]
    scores = {}
    for name, frame in (("features", X), ("raw columns", raw)):
        t0 = time.perf_counter()
        model = train_lightgbm(frame.loc[train], positive[train].astype(int), args.threads)
        scores[name] = model.predict_proba(frame.loc[test])[:, 1]  # type: ignore[attr-defined]
        print(f"\nLightGBM on {name}: trained in {time.perf_counter() - t0:.0f}s", end="")
    print(
        f"\n\nrecall at {CAPACITY:.0%} capacity per month, test months from {fit_end.date()} "
        f"({int(test.sum()):,} claims); positives = ground-truth rows (fraud, abuse, error)\n"
    )
    table = recall_table(scores, month[test], pd.Series(positive[test]), typology[test])
    print(markdown(table))


if __name__ == "__main__":
    main()
