"""Service-store benchmark: ingest rows per second and the online history read, SQLite and
PostgreSQL.

Generates a synthetic data set, ingests it into a fresh SQLite store and (when PostgreSQL's
binaries are on the machine) a throwaway PostgreSQL cluster, then ingests it again (an upsert of
every row: what re-ingesting an extract costs), and times ``Store.history_for`` for single claims
of the last month (the store's share of an online score).

    python -m benchmarks.bench_store              # 80,000 persons, about 1M claims
    python -m benchmarks.bench_store --quick      # 8,000 persons
    python -m benchmarks --only store --persons 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from riskml.data import ClaimsData
from riskml.store import open_store


def _bench(url: str, label: str, data: ClaimsData, chunk_rows: int) -> None:
    store = open_store(url)
    rows = sum(len(f) for f in data.tables().values())
    try:
        for attempt in ("first ingest", "re-ingest (upsert)"):
            t0 = time.perf_counter()
            store.ingest(data, chunk_rows=chunk_rows)
            seconds = time.perf_counter() - t0
            print(
                f"| {label} | {attempt} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | "
                f"{len(data.claims) / seconds:,.0f} |",
                flush=True,
            )
        claims = data.claims.sort_values(["submitted_at", "claim_id"]).iloc[-2000:]
        rng = np.random.default_rng(0)
        picks = rng.choice(len(claims), size=50, replace=False)
        times = []
        sizes = []
        for i in picks:
            t0 = time.perf_counter()
            hist = store.history_for(claims.iloc[[i]])
            times.append(time.perf_counter() - t0)
            sizes.append(len(hist.claims))
        ms = np.array(times) * 1000
        print(
            f"| {label} | history_for, one claim (p50 / p99 ms; median claims read) | | "
            f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f} | | "
            f"{int(np.median(sizes)):,} |",
            flush=True,
        )
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_store", description=__doc__)
    parser.add_argument("--persons", type=int, default=80_000)
    parser.add_argument("--quick", action="store_true", help="8,000 persons")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--no-postgres", action="store_true")
    args, _ = parser.parse_known_args(argv)
    persons = 8_000 if args.quick else args.persons

    from riskml.synth import SynthConfig, generate

    t0 = time.perf_counter()
    data = generate(SynthConfig(persons=persons, seed=args.seed, months=24, preset="low")).data
    print(
        f"synthetic data: {persons:,} persons, {len(data.claims):,} claims, "
        f"{len(data.claim_items):,} items, {len(data.contributions):,} contributions "
        f"({time.perf_counter() - t0:.0f}s)"
    )
    print()
    print("| store | step | rows | seconds | rows/s | claims/s |")
    print("|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="riskml-bench-store-") as tmp:
        _bench(f"sqlite:///{Path(tmp) / 'store.db'}", "SQLite", data, args.chunk_rows)
    if args.no_postgres:
        return
    from tests.serve.support import PostgresServer, _pg_bin

    bindir = _pg_bin()
    if bindir is None:
        print("| PostgreSQL | skipped: no initdb/pg_ctl on this machine | | | | |")
        return
    server = PostgresServer(bindir)
    server.start()
    try:
        _bench(server.new_database(), "PostgreSQL", data, args.chunk_rows)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
