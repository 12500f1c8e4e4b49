"""Spark engine benchmark: ``--engine pandas`` against ``--engine spark`` (``local[*]``) on the
same machine and data, then the backlog doubled.

Everything runs through the ``riskml`` command as an operator would, in a temporary folder with
an embedded MLflow store: a champion is trained once on a small separate data set, then one
population (same persons, same claim rate) is generated over ``--months`` and over twice as many
months, and each backlog is scored (reasons for the flagged bands) and its features written
with ``--model`` by both engines. Wall time includes each verb's start-up (the Spark engine's
includes the JVM's, 5-10 s); peak memory is the resident memory of the verb's process and all
its children (Spark's JVM and Python workers included), sampled every 0.1 s. Each ratio compares
runs of this one invocation (the machine is shared: absolute times are only indicative).

    python -m benchmarks --only spark          # 8,000 persons, 24 and 48 months
    python -m benchmarks --only spark --persons 80000 --months 12 24 # 530,000 claims doubled
    python -m benchmarks --only spark --persons 80000 --months 24 48 # 1.06M claims doubled
    python -m benchmarks --only spark --verbs score                  # scoring only
    python -m benchmarks --only spark --engines pandas spark spark-time  # both Spark plans
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.backlogs import synth_backlog, train_champion
from benchmarks.bench_scoring import _riskml

#: The engines compared: the pandas engine, and Spark per entity key (its default) or in time
#: chunks.
ENGINES = {
    "pandas": ["--engine", "pandas"],
    "spark": ["--engine", "spark", "--partition-by", "entity"],
    "spark-time": ["--engine", "spark", "--partition-by", "time"],
}


def _run(work: Path, verb: str, engine: str, data_dir: Path, chunk_size: int | None, threads: int):
    out = work / f"{verb}-{engine}-{data_dir.name}.parquet"
    args = [verb, "--data", str(data_dir), "--out", str(out), *ENGINES[engine]]
    if chunk_size is not None:
        args += ["--chunk-size", str(chunk_size)]
    if verb == "features":
        args += ["--model", "models:/riskml-claims@champion"]
    elif engine == "pandas":
        args += ["--threads", str(threads)]
    _stdout, seconds, peak = _riskml(work, *args)
    out.unlink()
    return seconds, peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_spark")
    parser.add_argument("--persons", type=int, default=8_000)
    parser.add_argument("--months", type=int, nargs=2, default=[24, 48])
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="claims per chunk or bucket (engine default)"
    )
    parser.add_argument("--engines", nargs="+", default=["pandas", "spark"], choices=ENGINES)
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads, pandas engine")
    parser.add_argument("--verbs", nargs="+", default=["score", "features"])
    args, _ = parser.parse_known_args(argv)

    with tempfile.TemporaryDirectory(prefix="riskml-bench-spark-") as tmp:
        work = Path(tmp)
        train_champion(work, persons=4_000)
        rows = []
        for months in args.months:
            data_dir, claims = synth_backlog(work, args.persons, months)
            for verb in args.verbs:
                for engine in args.engines:
                    seconds, peak = _run(
                        work, verb, engine, data_dir, args.chunk_size, args.threads
                    )
                    rows.append((verb, engine, months, claims, seconds, peak))
                    print(
                        f"  {verb} --engine {engine}, {months} months, {claims:,} claims: "
                        f"{seconds:.1f} s, {peak:,.0f} MiB",
                        flush=True,
                    )
        print(
            f"\nSpark engine, {args.persons:,} persons, chunks of "
            f"{args.chunk_size or 'the engine default'} claims, local[*] against pandas "
            "(spark: per entity key; spark-time: time chunks)\n"
        )
        print(
            "| verb | engine | months | claims | seconds | claims/s | peak memory "
            "| time / pandas | time doubled / base |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        at = {(v, e, m): (s, c) for v, e, m, c, s, _ in rows}
        base_months = args.months[0]
        for verb, engine, months, claims, seconds, peak in rows:
            ref = at.get((verb, "pandas", months))
            vs_pandas = seconds / ref[0] if ref else float("nan")
            vs_base = seconds / at[(verb, engine, base_months)][0]
            print(
                f"| {verb} | {engine} | {months} | {claims:,} | {seconds:.1f} "
                f"| {claims / seconds:,.0f} | {peak:,.0f} MiB | {vs_pandas:.2f}x "
                f"| {vs_base:.2f}x |"
            )


if __name__ == "__main__":
    main()
