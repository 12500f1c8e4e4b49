"""Minutes of ``riskml train`` by step (issue 13: 1M claims under 5 minutes).

``python -m benchmarks.bench_train [--data DIR] [--persons N] [--seed S] [--quick]`` trains once,
in a fresh process (its imports count, as they do for ``riskml train``), on DIR or on a
``riskml synth`` set of N persons (default 76,000 persons, seed 11: 1,013,167 claims; ``--quick``
8,000 persons), with the MLflow store in a temporary directory. It prints the wall seconds of
each step, the same ``time_*_s`` the run logs to MLflow, the peak memory and the holdout
AUC-PR, so that two runs of different code on the same set (``PYTHONPATH=OTHER/src``) compare
their steps and show that the model did not change.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The child: ``jobs.train.run_train``'s steps, each timed (no --labels, no --promote).
CHILD = r"""
import json, os, sys, time
t = time.perf_counter()
from pathlib import Path
from riskml.config import load_train_config
from riskml.data import load_data_dir
from riskml.fingerprint import data_fingerprint
from riskml.registry import log_and_register
from riskml.train import train_model
steps = {"import": time.perf_counter() - t}
data_dir = Path(sys.argv[1])
t = time.perf_counter()
config = load_train_config(None)
data = load_data_dir(data_dir, require_labels=True)
steps["load"] = time.perf_counter() - t
t = time.perf_counter()
fingerprint = data_fingerprint(data_dir)
result = train_model(data, config, fingerprint=fingerprint)
steps["train_model"] = time.perf_counter() - t
t = time.perf_counter()
log_and_register(result)
steps["log_register"] = time.perf_counter() - t
print("RESULT " + json.dumps({
    "claims": len(data.claims),
    "steps": steps,
    "timings": result.timings,
    "auc_pr": result.metrics.get("auc_pr"),
    "windowed_auc_pr": result.windowed_metrics.get("auc_pr"),
    "imbalance": result.imbalance,
    "size": result.size.label,
    "baselines": {k: v.get("auc_pr") for k, v in result.baselines.items()},
}), flush=True)
"""

ROWS = (
    ("import", "steps", "import"),
    ("read and check the directory", "steps", "load"),
    ("features, one pass (fit and transform)", "timings", "features_s"),
    ("imbalance: 3 boosters at the default size", "timings", "imbalance_s"),
    ("size against explanation cost", "timings", "size_s"),
    ("refit on every mature label (backtest, registered)", "timings", "refit_s"),
    ("baselines", "timings", "baselines_s"),
    ("MLflow logging and registration", "steps", "log_register"),
)


def train_once(data: Path, work: Path) -> dict[str, object]:
    """One training in a fresh process on ``data``; its measurements and its wall time."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    env.setdefault("OMP_WAIT_POLICY", "passive")
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(data)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"training failed:\n{proc.stderr[-4000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out: dict[str, object] = json.loads(line[len("RESULT ") :])
    out["wall_s"] = wall
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return out


def table(run: dict[str, object]) -> str:
    """The run's steps as a Markdown table."""
    lines = ["| step | seconds |", "|---|---:|"]
    for label, part, key in ROWS:
        value = run[part].get(key)  # type: ignore[attr-defined]
        lines.append(f"| {label} | {'' if value is None else f'{value:.1f}'} |")
    lines.append(f"| **wall, whole process** | **{run['wall_s']:.1f}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_train", description=__doc__)
    parser.add_argument("--data", type=Path, help="a data directory (default: synthesize one)")
    parser.add_argument("--persons", type=int, default=76_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="8,000 persons")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="riskml-bench-train-") as tmp:
        work = Path(tmp)
        data = args.data
        if data is None:
            data = work / "data"
            persons = 8_000 if args.quick else args.persons
            subprocess.run(
                [sys.executable, "-m", "riskml", "synth", "--out", str(data),
                 "--persons", str(persons), "--seed", str(args.seed)],
                check=True, capture_output=True,
            )  # fmt: skip
        run = train_once(data, work)
    print(f"riskml train on {run['claims']:,} claims ({data})")
    print(table(run))
    print(
        f"peak memory {run['peak_rss_gb']:.2f} GB; holdout AUC-PR {run['auc_pr']:.6f} "
        f"(windowed {run['windowed_auc_pr']:.6f}); imbalance {run['imbalance']}, size "
        f"{run['size']}; baselines AUC-PR "
        + ", ".join(f"{k} {v:.3f}" for k, v in run["baselines"].items())  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    main()
