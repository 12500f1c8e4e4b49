"""Kill-and-resume at scale: ``riskml score`` killed half-way through a large backlog, run again.

An operator's crash, reproduced: the backlog is scored once without interruption (the
reference), then again with ``SIGKILL`` once about half of the chunks are written, then the same
command is started again. The resumed output must hold every claim exactly once, with the
scores of the reference, and the second start must have skipped the finished chunks.

    python -m benchmarks --only resume                      # 80,000 persons, about 1M claims
    python -m benchmarks --only resume --persons 8000       # quicker
    python -m benchmarks --only resume --data DIR --model-db mlflow.db --reference SCORES
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench_scoring import ENV, _riskml
from riskml.batch import CHUNK_SIZE


def _score_cmd(data_dir: Path, out: Path, chunk_size: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "riskml",
        "score",
        "--data",
        str(data_dir),
        "--out",
        str(out),
        "--chunk-size",
        str(chunk_size),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_resume")
    parser.add_argument("--persons", type=int, default=80_000)
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    parser.add_argument("--data", type=Path, default=None, help="an existing data directory")
    parser.add_argument("--model-db", type=Path, default=None, help="its MLflow SQLite store")
    parser.add_argument(
        "--reference", type=Path, default=None, help="an uninterrupted run's scores of --data"
    )
    args, _ = parser.parse_known_args(argv)

    with tempfile.TemporaryDirectory(prefix="riskml-bench-resume-") as tmp:
        work = Path(tmp)
        if args.data is None:
            data_dir = work / "data"
            _riskml(work, "synth", "--out", str(data_dir), "--persons", str(args.persons))
            _riskml(work, "synth", "--out", str(work / "train"), "--persons", "6000", "--seed", "3")
            _riskml(work, "train", "--data", str(work / "train"), "--promote")
        else:
            data_dir = args.data.resolve()
            if args.model_db is None:
                parser.error("--data needs --model-db, the MLflow store holding its champion")
            ENV["MLFLOW_TRACKING_URI"] = f"sqlite:///{args.model_db.resolve()}"
        reference = work / "reference.parquet"
        t0 = time.perf_counter()
        if args.reference is None:
            _riskml(work, *_score_cmd(data_dir, reference, args.chunk_size)[3:])
        else:
            reference = args.reference.resolve()
        uninterrupted_s = time.perf_counter() - t0

        out = work / "scores.parquet"
        parts = work / f".{out.name}.parts"
        proc = subprocess.Popen(
            _score_cmd(data_dir, out, args.chunk_size),
            cwd=work,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        n_chunks = None
        while proc.poll() is None:
            if (parts / "checkpoint.json").is_file() and n_chunks is None:
                recorded = json.loads((parts / "checkpoint.json").read_text())
                n_chunks = -(-recorded["n_claims"] // recorded["chunk_size"])
            done = len(list(parts.glob("part-*.parquet"))) if parts.is_dir() else 0
            if n_chunks is not None and done >= n_chunks // 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.2)
        proc.wait()
        killed_with = len(list(parts.glob("part-*.parquet")))
        leftovers = [p.name for p in parts.iterdir() if not p.name.startswith("part-")]
        t0 = time.perf_counter()
        summary_out, _, _ = _riskml(work, *_score_cmd(data_dir, out, args.chunk_size)[3:])
        resumed_s = time.perf_counter() - t0
        summary = json.loads(summary_out.strip().splitlines()[-1])

        got = pd.read_parquet(out)
        ref = pd.read_parquet(reference)
        claims = pd.read_parquet(data_dir / "claims.parquet", columns=["claim_id"])["claim_id"]
        dup = int(got["claim_id"].duplicated().sum())
        missing = len(set(claims) - set(got["claim_id"]))
        ref = ref.set_index("claim_id").loc[got["claim_id"]]
        diff = float(np.max(np.abs(got["risk_score"].to_numpy() - ref["risk_score"].to_numpy())))
        same_bands = bool((got["risk_band"].to_numpy() == ref["risk_band"].to_numpy()).all())
        rows = [
            ("claims in the backlog", f"{len(claims):,}"),
            ("chunks", f"{summary['chunks']} of {args.chunk_size:,} claims"),
            (
                "uninterrupted run",
                f"{uninterrupted_s:,.0f} s" if args.reference is None else "given",
            ),
            ("killed (SIGKILL) with parts written", f"{killed_with}"),
            ("files in the work folder besides parts", ", ".join(leftovers) or "none"),
            ("second start skipped (resumed) chunks", f"{summary['resumed_chunks']}"),
            ("second start wall time", f"{resumed_s:,.0f} s"),
            ("claims in the output / duplicates / missing", f"{len(got):,} / {dup} / {missing}"),
            ("max |score - uninterrupted score|", f"{diff:.1e}"),
            ("bands equal to the uninterrupted run", str(same_bands)),
        ]
        print("\n| kill and resume | result |\n|---|---|")
        for name, value in rows:
            print(f"| {name} | {value} |")
        if dup or missing or diff > 1e-9 or not same_bands:
            raise SystemExit("resume FAILED: see the table")


if __name__ == "__main__":
    main()
