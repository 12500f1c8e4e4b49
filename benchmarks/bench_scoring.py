"""Scoring benchmark: batch claims/s against its floor, peak memory, and online latency over HTTP.

Everything runs through the ``riskml`` command as an operator would, in a temporary folder with
embedded stores: ``synth`` a population, ``train --promote`` a champion (its wall time is the
training time), ``score`` the whole backlog (reasons for the flagged bands), then ``ingest`` +
``serve`` and post one claim per request at concurrency 1 and 8, beside a bare FastAPI endpoint
served the same way in the same run.

The batch floor is what LightGBM alone needs for the same answer: ``predict`` on the finished
feature matrix plus exact TreeSHAP (``pred_contrib``) on the flagged rows, timed in-process.

    python -m benchmarks.bench_scoring            # 80,000 persons, about 1M claims
    python -m benchmarks.bench_scoring --quick    # 8,000 persons
    python -m benchmarks.bench_scoring --data DIR --model-db mlflow.db   # no synth, no training
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from serve.schemas import request_claims

ENV = {**os.environ, "OMP_WAIT_POLICY": "passive", "PYTHONUNBUFFERED": "1"}
ENV.pop("MLFLOW_TRACKING_URI", None)
ENV.pop("RISKML_STORE_URL", None)


def _riskml(cwd: Path, *args: str) -> tuple[str, float, float]:
    """Run one ``riskml`` verb: its stdout, wall seconds and peak RSS (MiB, children included)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", *args],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0.0
    ps = psutil.Process(proc.pid)
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for r in readers:
        r.start()
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True))
            peak = max(peak, rss / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.1)
    for r in readers:
        r.join()
    if proc.returncode != 0:
        raise RuntimeError(f"riskml {args[0]} failed:\n{''.join(err)[-3000:]}")
    return "".join(out), time.perf_counter() - started, peak


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} never became ready")


def _claim_bodies(data_dir: Path, n: int) -> list[dict[str, Any]]:
    """``n`` claims of the last month as a client would send them, with their items."""
    from riskml.data import load_data_dir

    data = load_data_dir(data_dir, tables=["claims", "claim_items"])
    last = data.claims.sort_values("submitted_at").tail(n)
    items = data.claim_items
    return request_claims(last, items[items["claim_id"].isin(last["claim_id"])])


def _load(
    url: str, key: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float
) -> dict[str, float]:
    """Post one claim per request from ``concurrency`` threads for ``seconds``; latency stats."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        nonlocal errors
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            i = offset
            while time.monotonic() < stop:
                body = {"claims": [bodies[i % len(bodies)]]}
                t = time.perf_counter()
                r = client.post(url, json=body)
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    errors += r.status_code != 200
                i += concurrency

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "req_per_s": len(lat) / wall,
        "requests": len(lat),
        "errors": errors,
    }


def _floor(work: Path, data_dir: Path, num_threads: int) -> dict[str, float]:
    """LightGBM alone: predict on the finished matrix + pred_contrib on the flagged rows."""
    os.environ["MLFLOW_TRACKING_URI"] = ENV.get(
        "MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}"
    )
    from riskml.data import load_data_dir
    from riskml.explain import tree_contributions
    from riskml.scoring import load_scorer

    scorer = load_scorer(num_threads=num_threads)
    data = load_data_dir(data_dir)
    t = time.perf_counter()
    feats = scorer.features(data)
    features_s = time.perf_counter() - t
    matrix = feats[scorer.feature_names].to_numpy(dtype=np.float64)
    booster = scorer.bundle.booster
    t = time.perf_counter()
    scores = scorer.bundle.predict_risk(matrix, num_threads=num_threads)
    predict_s = time.perf_counter() - t
    flagged = np.flatnonzero(scorer.bundle.band(scores) != "low")
    t = time.perf_counter()
    tree_contributions(booster, matrix[flagged], num_threads=num_threads)
    shap_s = time.perf_counter() - t
    return {
        "features_s": features_s,
        "predict_s": predict_s,
        "shap_s": shap_s,
        "flagged": float(len(flagged)),
        "claims": float(len(matrix)),
        "trees": float(booster.num_trees()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_scoring")
    parser.add_argument("--quick", action="store_true", help="8,000 persons instead of 80,000")
    parser.add_argument("--persons", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=20.0, help="load per concurrency level")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--data", type=Path, default=None, help="an existing data directory")
    parser.add_argument(
        "--model-db", type=Path, default=None, help="an MLflow store with a champion"
    )
    args, _ = parser.parse_known_args(argv)
    persons = args.persons or (8_000 if args.quick else 80_000)
    if (args.data is None) != (args.model_db is None):
        parser.error("--data and --model-db go together (a data set and its champion)")

    with tempfile.TemporaryDirectory(prefix="riskml-bench-") as tmp:
        work = Path(tmp)
        rows: list[tuple[str, str]] = []
        if args.data is None:
            data_dir = work / "data"
            _, synth_s, _ = _riskml(
                work, "synth", "--out", str(data_dir), "--persons", str(persons), "--seed", "7"
            )
            _, train_s, train_mb = _riskml(work, "train", "--data", str(data_dir), "--promote")
            rows += [
                ("synth wall time", f"{synth_s:,.1f} s"),
                (
                    "train --promote wall time (incl. evaluation, baselines, logging)",
                    f"{train_s / 60:,.1f} min, peak {train_mb:,.0f} MiB",
                ),
            ]
        else:
            data_dir = args.data.resolve()
            ENV["MLFLOW_TRACKING_URI"] = f"sqlite:///{args.model_db.resolve()}"
        out, score_s, score_mb = _riskml(
            work,
            "score",
            "--data",
            str(data_dir),
            "--out",
            str(work / "scores.parquet"),
            "--threads",
            str(args.threads),
            "--chunk-size",
            str(args.chunk_size),
        )
        summary = json.loads(out.strip().splitlines()[-1])
        n = summary["claims"]
        floor = _floor(work, data_dir, args.threads)
        floor_s = floor["predict_s"] + floor["shap_s"]
        source = f"{persons:,} persons" if args.data is None else str(data_dir)
        rows[:0] = [("data / claims", f"{source} / {n:,}")]
        rows += [
            (
                "batch score (reasons for flagged)",
                f"{n / score_s:,.0f} claims/s ({score_s:,.1f} s)",
            ),
            (
                "  flagged (high + medium) with reasons",
                f"{summary['bands']['high'] + summary['bands']['medium']:,}",
            ),
            ("  peak memory of `riskml score`", f"{score_mb:,.0f} MiB"),
            (
                "floor: predict + pred_contrib(flagged)",
                f"{n / floor_s:,.0f} claims/s "
                f"({floor['predict_s']:.2f} s + {floor['shap_s']:.2f} s)",
            ),
            ("  ratio batch / floor (time)", f"{score_s / floor_s:,.1f}x"),
            (
                "  features alone (in-process, one pass)",
                f"{n / floor['features_s']:,.0f} claims/s ({floor['features_s']:.1f} s)",
            ),
        ]

        store_env = {
            "RISKML_STORE_URL": f"sqlite:///{work / 'store.db'}",
            "RISKML_SECRET": "bench-secret-not-for-production",
            "RISKML_MODEL_POLL_SECONDS": "0",
        }
        ENV.update(store_env)
        _, ingest_s, _ = _riskml(work, "ingest", "--data", str(data_dir))
        key = _riskml(work, "keys", "create", "--role", "scorer")[0].strip().splitlines()[-1]
        rows.append(("ingest into the SQLite store", f"{n / ingest_s:,.0f} claims/s"))
        bodies = _claim_bodies(data_dir, 400)
        servers = {}
        try:
            port = _free_port()
            servers["riskml"] = (
                subprocess.Popen(
                    [sys.executable, "-m", "riskml", "serve", "--port", str(port)],
                    cwd=work,
                    env=ENV,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
                port,
            )
            bare_port = _free_port()
            servers["bare"] = (
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "benchmarks.bare_app:app",
                        "--port",
                        str(bare_port),
                        "--log-level",
                        "warning",
                    ],
                    cwd=Path(__file__).parent.parent,
                    env=ENV,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
                bare_port,
            )
            _wait_ready(f"http://127.0.0.1:{port}/readyz")
            _wait_ready(f"http://127.0.0.1:{bare_port}/docs")
            for conc in (1, 8):
                for name, (_, p) in servers.items():
                    url = f"http://127.0.0.1:{p}/v1/claims/score"
                    _load(url, key, bodies, conc, 3)  # warm-up
                    r = _load(url, key, bodies, conc, args.seconds)
                    rows.append(
                        (
                            f"online {name}, concurrency {conc}",
                            f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                            f"{r['req_per_s']:,.0f} req/s, {r['errors']} errors",
                        )
                    )
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=30)

    width = max(len(k) for k, _ in rows)
    print(f"\nscoring benchmark ({args.threads} LightGBM threads)")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")


if __name__ == "__main__":
    main()
