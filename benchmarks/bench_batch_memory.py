"""Batch memory benchmark: does the peak memory of ``riskml score`` grow with the backlog?

The same population (same persons, same claim rate) is generated over backlogs of different
lengths, a champion is trained once on a small separate data set, and each backlog is scored by
``riskml score`` as an operator would (reasons for the flagged bands), sampling the process's
resident memory. Since no feature reads further back than a year, a chunk reads only a bounded
reach of history before it (:mod:`riskml.backlog`), and the peak should stay flat while the
backlog doubles.

    python -m benchmarks --only batch_memory                  # 32,000 persons, 30 and 60 months
    python -m benchmarks --only batch_memory --persons 8000   # quicker
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.backlogs import synth_backlog, train_champion
from benchmarks.bench_scoring import _riskml
from riskml.batch import CHUNK_SIZE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_batch_memory")
    parser.add_argument("--persons", type=int, default=32_000)
    parser.add_argument("--months", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    args, _ = parser.parse_known_args(argv)

    with tempfile.TemporaryDirectory(prefix="riskml-bench-mem-") as tmp:
        work = Path(tmp)
        train_champion(work, persons=6_000)
        rows = []
        for months in args.months:
            data_dir, _claims = synth_backlog(work, args.persons, months)
            out, seconds, peak = _riskml(
                work,
                "score",
                "--data",
                str(data_dir),
                "--out",
                str(work / f"scores-{months}.parquet"),
                "--threads",
                str(args.threads),
                "--chunk-size",
                str(args.chunk_size),
            )
            summary = json.loads(out.strip().splitlines()[-1])
            rows.append((months, summary["claims"], seconds, peak))
            (work / f"scores-{months}.parquet").unlink()
        base = rows[0]
        print(f"\nbatch memory, {args.persons:,} persons, chunks of {args.chunk_size:,} claims\n")
        print("| months | claims | claims/s | peak memory | peak / first |")
        print("|---:|---:|---:|---:|---:|")
        for months, claims, seconds, peak in rows:
            print(
                f"| {months} | {claims:,} | {claims / seconds:,.0f} | {peak:,.0f} MiB "
                f"| {peak / base[3]:.2f}x |"
            )


if __name__ == "__main__":
    main()
