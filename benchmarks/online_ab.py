"""Paired online-latency comparison of two checkouts of riskml on one store and one model.

On a shared machine the latency of one service swings by 30-50% from minute to minute, so two
runs measured one after the other do not compare. This starts ``riskml serve`` from each checkout
(``--before`` and ``--after``, e.g. a ``git worktree`` of the previous commit and this one) on
copies of one SQLite store, and posts the same claim to both in turn, alternating which goes
first, one request at a time: both see the same load at the same moment. It prints p50/p99 per
checkout and the median of the paired ratios.

The data (``riskml synth``), champion (``riskml train --promote``) and store (``riskml ingest``)
are made with the ``--after`` checkout in a temporary folder. Not run by ``make bench``:

    git worktree add /tmp/riskml-before HEAD~5
    python -m benchmarks.online_ab --before /tmp/riskml-before --after . --persons 8000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.bench_scoring import ENV, _claim_bodies, _free_port, _wait_ready


def _env(root: Path, work: Path) -> dict[str, str]:
    """The environment of a ``riskml`` command run from checkout ``root`` on ``work``'s store."""
    return {
        **ENV,
        "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}",
        "RISKML_STORE_URL": f"sqlite:///{work / 'store.db'}",
        "RISKML_SECRET": "bench-secret-not-for-production",
        "RISKML_MODEL_POLL_SECONDS": "0",
    }


def _run(root: Path, work: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "riskml", *args],
        cwd=work,
        env=_env(root, work),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"riskml {args[0]} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="online_ab", description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="checkout measured first")
    parser.add_argument("--after", type=Path, required=True, help="checkout compared to it")
    parser.add_argument("--persons", type=int, default=8_000)
    parser.add_argument("--seconds", type=float, default=40.0, help="duration of the paired load")
    args = parser.parse_args(argv)
    roots = {"before": args.before.resolve(), "after": args.after.resolve()}

    with tempfile.TemporaryDirectory(prefix="riskml-ab-") as tmp:
        made = Path(tmp) / "made"
        made.mkdir()
        data = made / "data"
        _run(roots["after"], made, "synth", "--out", str(data), "--persons", str(args.persons))
        _run(roots["after"], made, "train", "--data", str(data), "--promote")
        _run(roots["after"], made, "ingest", "--data", str(data))
        bodies = _claim_bodies(data, 400)
        servers: dict[str, tuple[subprocess.Popen[bytes], str, str]] = {}
        try:
            for label, root in roots.items():
                work = Path(tmp) / label
                shutil.copytree(made, work, ignore=shutil.ignore_patterns("data"))
                key = _run(root, work, "keys", "create", "--role", "scorer").strip().splitlines()
                port = _free_port()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "riskml", "serve", "--port", str(port)],
                    cwd=work,
                    env=_env(root, work),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                servers[label] = (proc, f"http://127.0.0.1:{port}", key[-1])
            for _, url, _ in servers.values():
                _wait_ready(f"{url}/readyz")
            latencies = _paired_load(servers, bodies, args.seconds)
        finally:
            for proc, _, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=30)

    print(f"\nonline latency, one claim with reasons, paired ({args.persons:,} persons)")
    for label, lat in latencies.items():
        print(
            f"| {label} ({roots[label]}) | p50 {np.percentile(lat, 50):.1f} ms, "
            f"p99 {np.percentile(lat, 99):.1f} ms, {len(lat)} requests |"
        )
    ratio = np.median(latencies["after"] / latencies["before"])
    print(f"| median of paired ratios after / before | {ratio:.2f} |")


def _paired_load(
    servers: dict[str, tuple[subprocess.Popen[bytes], str, str]],
    bodies: list[dict[str, object]],
    seconds: float,
) -> dict[str, np.ndarray]:
    """Milliseconds per request and checkout: each claim to both, alternating the order; the
    first 10 pairs warm up."""
    clients = {
        label: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        for label, (_, url, key) in servers.items()
    }
    out: dict[str, list[float]] = {label: [] for label in servers}
    stop = time.monotonic() + seconds
    i = 0
    while time.monotonic() < stop:
        body = {"claims": [bodies[i % len(bodies)]]}
        order = list(servers) if i % 2 == 0 else list(servers)[::-1]
        for label in order:
            t = time.perf_counter()
            r = clients[label].post("/v1/claims/score", json=body)
            elapsed = (time.perf_counter() - t) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{label}: {r.status_code} {r.text[:300]}")
            if i >= 10:
                out[label].append(elapsed)
        i += 1
    for client in clients.values():
        client.close()
    return {label: np.asarray(v) for label, v in out.items()}


if __name__ == "__main__":
    main()
