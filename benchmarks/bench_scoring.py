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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from serve.schemas import request_claims

from riskml.batch import CHUNK_SIZE

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


@dataclass
class Sample:
    """What one slice of load saw: (status, seconds) per request, and the slice's wall time."""

    answers: list[tuple[int, float]] = field(default_factory=list)
    wall: float = 0.0

    def add(self, other: Sample) -> None:
        self.answers += other.answers
        self.wall += other.wall

    def stats(self) -> dict[str, float]:
        """p50/p99 of the accepted (200) requests, their rate, and the share refused (503)."""
        ok = np.array([dt for code, dt in self.answers if code == 200]) * 1000
        refused = np.array([dt for code, dt in self.answers if code == 503]) * 1000
        n = len(self.answers)
        return {
            "p50_ms": float(np.percentile(ok, 50)) if len(ok) else float("nan"),
            "p99_ms": float(np.percentile(ok, 99)) if len(ok) else float("nan"),
            "req_per_s": len(ok) / self.wall if self.wall else 0.0,
            "requests": float(n),
            "refused_share": len(refused) / n if n else 0.0,
            "refused_p99_ms": float(np.percentile(refused, 99)) if len(refused) else float("nan"),
            "errors": float(n - len(ok) - len(refused)),
        }


def _load(
    url: str, key: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float
) -> Sample:
    """Post one claim per request from ``concurrency`` threads for ``seconds``.

    Closed loop: each thread sends its next request when the last is answered, a refused (503)
    one included, so under overload the refusals are counted per attempt.
    """
    out = Sample()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            i = offset
            while time.monotonic() < stop:
                body = {"claims": [bodies[i % len(bodies)]]}
                t = time.perf_counter()
                r = client.post(url, json=body)
                dt = time.perf_counter() - t
                with lock:
                    out.answers.append((r.status_code, dt))
                i += concurrency

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.wall = time.perf_counter() - t0
    return out


def _interleaved(
    urls: dict[str, str],
    key: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    seconds: float,
    slice_s: float = 2.5,
) -> dict[str, dict[str, float]]:
    """``seconds`` of load per service, in alternating slices of ``slice_s`` (the order flipped
    every round), so that on a shared, noisy machine every service sees the same moments."""
    samples = {name: Sample() for name in urls}
    for url in urls.values():
        _load(url, key, bodies, concurrency, 2)  # warm-up
    rounds = max(1, round(seconds / slice_s))
    for k in range(rounds):
        order = list(urls) if k % 2 == 0 else list(urls)[::-1]
        for name in order:
            samples[name].add(_load(urls[name], key, bodies, concurrency, slice_s))
    return {name: sample.stats() for name, sample in samples.items()}


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


def _batch_rows(
    work: Path, data_dir: Path, args: argparse.Namespace, rows: list[tuple[str, str]], source: str
) -> int:
    """``riskml score`` of the whole backlog against the floor; appends its rows, returns the
    number of claims."""
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
            f"{n / floor_s:,.0f} claims/s ({floor['predict_s']:.2f} s + {floor['shap_s']:.2f} s)",
        ),
        ("  ratio batch / floor (time)", f"{score_s / floor_s:,.1f}x"),
        (
            "  features alone (in-process, one pass)",
            f"{n / floor['features_s']:,.0f} claims/s ({floor['features_s']:.1f} s)",
        ),
    ]
    return int(n)


def _start_riskml(work: Path, workers: int, **settings: str) -> tuple[subprocess.Popen[bytes], str]:
    """``riskml serve --workers N`` on a free port with ``RISKML_*`` settings; its base URL."""
    port = _free_port()
    env = {**ENV, **{f"RISKML_{k.upper()}": v for k, v in settings.items()}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait_workers(url: str, workers: int, timeout: float = 300) -> None:
    """Until ``workers`` processes have a model loaded (their series in /metrics)."""
    _wait_ready(f"{url}/readyz", timeout)
    if workers == 1:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        loaded = [
            line
            for line in text.splitlines()
            if line.startswith("riskml_model_loaded{") and line.endswith(" 1.0")
        ]
        if len(loaded) >= workers:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{url}: fewer than {workers} workers loaded the model")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _ms(x: float) -> str:
    return f"{x:,.1f} ms" if x == x else "-"


def _online(
    work: Path, key: str, bodies: list[dict[str, Any]], seconds: float, overload: int
) -> list[tuple[str, str]]:
    """Online latency and throughput of ``riskml serve`` with 1 and 2 workers against a bare
    FastAPI endpoint, interleaved in one run; then an overload run at ``overload`` concurrency
    against 2 workers with ``max_in_flight`` 4 each, and the same load without a binding limit.
    """
    rows: list[tuple[str, str]] = []
    bare_port = _free_port()
    bare_cmd = [sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app", "--port"]
    bare = subprocess.Popen(
        [*bare_cmd, str(bare_port), "--log-level", "warning"],
        cwd=Path(__file__).parent.parent,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare_url = f"http://127.0.0.1:{bare_port}"
    score = "/v1/claims/score"
    try:
        _wait_ready(f"{bare_url}/docs")
        for workers in (1, 2):
            proc, url = _start_riskml(work, workers, max_in_flight="64")
            try:
                _wait_workers(url, workers)
                for conc in (1, 8):
                    urls = {"riskml": url + score, "bare": bare_url + score}
                    got = _interleaved(urls, key, bodies, conc, seconds)
                    r, b = got["riskml"], got["bare"]
                    rows.append(
                        (
                            f"online, {workers} worker{'s' if workers > 1 else ''}, "
                            f"concurrency {conc}",
                            f"p50 {_ms(r['p50_ms'])}, p99 {_ms(r['p99_ms'])}, "
                            f"{r['req_per_s']:,.1f} req/s, {r['errors']:.0f} errors "
                            f"| bare p50 {_ms(b['p50_ms'])}, p99 {_ms(b['p99_ms'])}, "
                            f"{b['req_per_s']:,.0f} req/s | ratios p50 "
                            f"{r['p50_ms'] / b['p50_ms']:,.0f}x, p99 "
                            f"{r['p99_ms'] / b['p99_ms']:,.0f}x, throughput "
                            f"{r['req_per_s'] / b['req_per_s']:.4f}",
                        )
                    )
            finally:
                _stop(proc)
    finally:
        _stop(bare)

    for limit in ("4", "64"):
        proc, url = _start_riskml(work, 2, max_in_flight=limit)
        try:
            _wait_workers(url, 2)
            _load(url + score, key, bodies, overload, 2)  # warm-up
            r = _load(url + score, key, bodies, overload, seconds).stats()
        finally:
            _stop(proc)
        rows.append(
            (
                f"overload: concurrency {overload}, 2 workers, max_in_flight {limit} per worker",
                f"{r['refused_share']:.0%} of attempts refused 503 (p99 of a refusal "
                f"{_ms(r['refused_p99_ms'])}); accepted p50 {_ms(r['p50_ms'])}, "
                f"p99 {_ms(r['p99_ms'])}, {r['req_per_s']:,.1f} req/s, "
                f"{r['errors']:.0f} errors",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_scoring")
    parser.add_argument("--quick", action="store_true", help="8,000 persons instead of 80,000")
    parser.add_argument("--persons", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=20.0, help="load per concurrency level")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--online-only", action="store_true", help="skip the batch score and its floor"
    )
    parser.add_argument(
        "--overload-concurrency", type=int, default=32, help="clients of the overload run"
    )
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
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
        source = f"{persons:,} persons" if args.data is None else str(data_dir)
        if args.online_only:
            from riskml.data import load_data_dir

            n = len(load_data_dir(data_dir, tables=["claims"]).claims)
            rows[:0] = [("data / claims", f"{source} / {n:,}")]
        else:
            n = _batch_rows(work, data_dir, args, rows, source)
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
        rows += _online(work, key, bodies, args.seconds, args.overload_concurrency)

    width = max(len(k) for k, _ in rows)
    print(f"\nscoring benchmark ({args.threads} LightGBM threads)")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")


if __name__ == "__main__":
    main()
