"""Rolling-window engines on the same aggregate: riskml's ``Groups`` against Polars, DuckDB and
pandas (issue 13: "features against the same aggregates written directly in Polars or DuckDB").

The aggregate is the one most declared features take: per entity, the count and the sum of an
amount over the entity's earlier claims submitted in the previous 30 days (``[t - 30 d, t)``, the
claim itself and later ones excluded). The data are synthetic arrays shaped like a scheme's
claims: entities of very unequal size (a Zipf law: a few tertiary hospitals, many clinics),
submission times in seconds over two years, unique per claim, and amounts in yuan with cents.

Each engine starts from the same NumPy arrays in history order and returns its values in that
order; the timing covers the engine's own work (building its frame from the arrays included),
after a first call on 1,000 claims (imports and set-up). Polars and DuckDB use every core;
riskml and pandas one.
Outputs are checked against riskml's: counts equal, sums within riskml's rounding bound (its sums
are exact integer sums of values rounded to ``SUM_QUANTUM``, so they are the same bits in any
order and chunking; the others are float sums).

    python -m benchmarks --only engines                  # 5M claims, 20,000 entities
    python -m benchmarks --only engines --claims 1000000
    python -m benchmarks --only engines --engines riskml,polars   # leave out the slow ones
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from riskml.features.context import DAY_S, SUM_QUANTUM, Groups

WINDOW_S = 30 * DAY_S
#: Relative rounding allowed to a float engine's sums (beside riskml's quantum).
RTOL = 1e-9

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # entity code, time (s), amount
Result = tuple[np.ndarray, np.ndarray]  # count, sum; per claim, in history order


def synthetic_claims(n: int, entities: int, seed: int = 7) -> Arrays:
    """``n`` claims in history order: entity codes (Zipf-sized), unique submission seconds over
    two years, amounts (log-normal, in cents)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, entities + 1) ** 1.1
    entity = rng.choice(entities, size=n, p=weights / weights.sum()).astype("int64")
    span = 730 * DAY_S
    time_s = np.sort(rng.choice(span, size=n, replace=False)).astype("int64")
    amount = np.round(rng.lognormal(6.0, 1.2, size=n), 2)
    return entity, time_s, amount


def with_riskml(entity: np.ndarray, time_s: np.ndarray, amount: np.ndarray) -> Result:
    rank = np.arange(len(entity), dtype="int64")
    groups = Groups(entity, rank, time_s)
    return groups.window_count(time_s, WINDOW_S), groups.window_sum(amount, time_s, WINDOW_S)


def with_polars(entity: np.ndarray, time_s: np.ndarray, values: np.ndarray) -> Result:
    """Polars' rolling sums by time over each entity (``rolling_sum_by(...).over``), closed on
    the left: ``[t - 30 d, t)``."""
    import polars as pl

    frame = pl.DataFrame({"e": entity, "t": time_s, "v": values, "one": np.ones(len(entity))})
    window = f"{WINDOW_S}i"  # an integer time column: the window in its units
    out = frame.select(
        pl.col("one").rolling_sum_by("t", window_size=window, closed="left").over("e").alias("n"),
        pl.col("v").rolling_sum_by("t", window_size=window, closed="left").over("e").alias("s"),
    )
    return (
        out["n"].fill_null(0).to_numpy().astype("float64"),
        out["s"].fill_null(0).to_numpy(),
    )


def with_polars_exact(entity: np.ndarray, time_s: np.ndarray, amount: np.ndarray) -> Result:
    """Polars on riskml's integer quanta: the same exact, order-free sums, bit for bit."""
    quanta = np.rint(amount / SUM_QUANTUM).astype("int64")
    n, s = with_polars(entity, time_s, quanta)
    return n, s.astype("float64") * SUM_QUANTUM


def with_duckdb(entity: np.ndarray, time_s: np.ndarray, amount: np.ndarray) -> Result:
    import duckdb

    frame = pd.DataFrame({"e": entity, "t": time_s, "v": amount, "row": np.arange(len(entity))})
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("claims", frame)
        out = con.execute(
            f"""
            SELECT row,
                   count(*) OVER w AS n,
                   coalesce(sum(v) OVER w, 0) AS s
            FROM claims
            WINDOW w AS (PARTITION BY e ORDER BY t
                         RANGE BETWEEN {WINDOW_S} PRECEDING AND 1 PRECEDING)
            ORDER BY row
            """
        ).fetchnumpy()
    finally:
        con.close()
    return out["n"].astype("float64"), out["s"].astype("float64")


def with_pandas(entity: np.ndarray, time_s: np.ndarray, amount: np.ndarray) -> Result:
    frame = pd.DataFrame(
        {"e": entity, "t": pd.to_datetime(time_s, unit="s"), "v": amount}
    ).sort_values(["e", "t"], kind="stable")
    rolled = frame.groupby("e").rolling(f"{WINDOW_S}s", on="t", closed="left")["v"]
    count = rolled.count().to_numpy()
    total = rolled.sum().to_numpy()
    order = frame.index.to_numpy()
    n, s = np.empty(len(order)), np.empty(len(order))
    n[order], s[order] = np.nan_to_num(count), np.nan_to_num(total)
    return n, s


ENGINES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Result]] = {
    "riskml": with_riskml,
    "polars": with_polars,
    "polars_exact": with_polars_exact,
    "duckdb": with_duckdb,
    "pandas": with_pandas,
}


def compare(reference: Result, other: Result) -> float:
    """Largest difference of ``other``'s sums to ``reference``'s, in units of riskml's
    rounding bound; raises when a count differs or a sum is off by more than that bound.

    riskml rounds each value to ``SUM_QUANTUM`` before its exact integer sum, so its sum of
    ``n`` values is within ``n * SUM_QUANTUM / 2`` of the true sum; a float engine adds its own
    rounding, bounded by :data:`RTOL` of the sum.
    """
    (n_ref, s_ref), (n, s) = reference, other
    if not np.array_equal(n_ref, n):
        bad = int(np.flatnonzero(n_ref != n)[0])
        raise AssertionError(f"claim {bad}: count {n[bad]} against riskml's {n_ref[bad]}")
    bound = n_ref * SUM_QUANTUM / 2 + RTOL * np.maximum(np.abs(s_ref), 1.0)
    used = np.abs(s - s_ref) / bound
    worst = float(used.max()) if len(used) else 0.0
    if worst > 1.0:
        bad = int(np.argmax(used))
        raise AssertionError(f"claim {bad}: sum {s[bad]!r} against riskml's {s_ref[bad]!r}")
    return worst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --only engines")
    parser.add_argument("--claims", type=int, default=5_000_000)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--engines", default=",".join(ENGINES))
    args, _ = parser.parse_known_args(argv)
    chosen = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(chosen) - set(ENGINES))
    if unknown:
        parser.error(f"--engines: unknown {unknown}; choose from {sorted(ENGINES)}")
    arrays = synthetic_claims(args.claims, args.entities)
    reference = with_riskml(*arrays)
    rows = []
    warm = tuple(a[:1_000] for a in arrays)
    for name in chosen:
        ENGINES[name](*warm)  # imports and first-call set-up outside the timing
        t0 = time.perf_counter()
        result = ENGINES[name](*arrays)
        seconds = time.perf_counter() - t0
        try:
            rows.append((name, seconds, compare(reference, result)))
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
    base = dict((name, s) for name, s, _ in rows).get("riskml")
    print(
        f"\n30-day rolling count and sum per entity, {args.claims:,} claims, "
        f"{args.entities:,} entities"
    )
    print("| engine | seconds | vs riskml | largest sum difference / rounding bound |")
    print("|---|---:|---:|---:|")
    for name, seconds, diff in rows:
        ratio = f"{seconds / base:.2f}x" if base else "-"
        print(f"| {name} | {seconds:.2f} | {ratio} | {diff:.2f} |")


if __name__ == "__main__":
    main()
