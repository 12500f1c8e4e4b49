"""riskml's window engine against independent ones: Polars, DuckDB and pandas compute the same
30-day rolling count and sum of each entity's earlier claims (``benchmarks/bench_engines.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.bench_engines import ENGINES, compare, synthetic_claims, with_riskml


@pytest.mark.parametrize("engine", ["polars", "polars_exact", "duckdb", "pandas"])
def test_an_independent_engine_gives_riskmls_rolling_counts_and_sums(engine: str) -> None:
    arrays = synthetic_claims(20_000, 300, seed=3)
    reference = with_riskml(*arrays)
    assert reference[0].max() > 10  # busy entities: windows with many earlier claims
    result = ENGINES[engine](*arrays)
    worst = compare(reference, result)
    if engine == "polars_exact":  # the same integer quanta: the same bits
        assert worst == 0.0
        np.testing.assert_array_equal(result[1], reference[1])


def test_a_claim_at_the_window_edge_counts_and_the_claim_itself_does_not() -> None:
    day = 86_400
    entity = np.array([0, 0, 0, 1], dtype="int64")
    time_s = np.array([0, 30 * day, 30 * day + 1, 30 * day + 2], dtype="int64")
    amount = np.array([1.0, 2.0, 4.0, 8.0])
    n, s = with_riskml(entity, time_s, amount)
    # [t - 30 d, t): the first claim is exactly 30 days before the second, so it counts
    np.testing.assert_array_equal(n, [0, 1, 1, 0])
    np.testing.assert_array_equal(s, [0.0, 1.0, 2.0, 0.0])
    for engine in ("polars", "duckdb", "pandas"):
        compare((n, s), ENGINES[engine](entity, time_s, amount))
