"""The README's main command, as a newcomer runs it: demo set-up, then every printed command
pasted as it is: the curl lines, the restart of the service, the MLflow UI, and the workspace's
login with the key file it names. The keys never appear in the output."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd

from tests.browser.webclient import post_form, session
from tests.serve.support import free_port, wait_until_ok


def _after(lines: list[str], label: str) -> str:
    """The command printed on the line after ``label``."""
    i = next(i for i, line in enumerate(lines) if line.startswith(label))
    return lines[i + 1].strip()


@contextmanager
def _pasted(command: str, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a printed command line in bash, as pasted; stop its whole process group after."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _run(command: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_demo_sets_up_and_its_printed_lines_work_as_pasted(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RISKML_"))}
    env["OMP_WAIT_POLICY"] = "passive"
    port = free_port()
    work = tmp_path / "demo"
    setup = subprocess.run(
        [
            sys.executable,
            "-m",
            "riskml",
            "demo",
            "--workdir",
            str(work),
            "--persons",
            "1200",
            "--no-serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    out = setup.stdout
    lines = out.splitlines()
    assert "triage queue:" in out
    assert re.search(r"random audits: 6 of [\d,]+ scored claims", out), out[-2000:]

    # the keys: one 0600 file per role in a 0700 folder, never in the output
    keys = {
        role: work / "keys" / f"{role}.key" for role in ("scorer", "investigator", "supervisor")
    }
    assert stat.S_IMODE((work / "keys").stat().st_mode) == 0o700
    for path in keys.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        key = path.read_text().strip()
        assert key.startswith("rk_") and key not in out and key not in setup.stderr
    assert not re.search(r"\brk_[A-Za-z0-9_-]{40,}", out + setup.stderr)  # no key of any run

    # the last lines say which URL to open and which key file to paste from
    tail = "\n".join(lines[-3:])
    assert f"http://127.0.0.1:{port}/ui/login" in tail and str(keys["investigator"]) in tail

    # the service, started again with the printed command (from another folder)
    restart = _after(lines, "start the service again")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with _pasted(restart, env, elsewhere) as server:
        base = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{base}/readyz", server, 180, "the restarted service never became ready")
        scored = json.loads(_run(_after(lines, "score a claim:"), env, elsewhere))
        body = json.loads((work / "example-claim.json").read_text())
        assert "results" in scored, scored
        result = scored["results"][0]
        assert result["claim_id"] == body["claims"][0]["claim_id"]
        assert 0 <= result["risk_score"] <= 1 and result["reasons"]
        queue = json.loads(_run(_after(lines, "the triage queue as JSON:"), env, elsewhere))
        assert 0 < len(queue["claims"]) <= 5 and all(e["reasons"] for e in queue["claims"])

        # the workspace: log in with the investigator's key file; the random audits are there
        web = session(base, keys["investigator"].read_text().strip())
        page = web.get("/ui/queue")
        assert page.status_code == 200
        assert page.text.count('class="audit-row"') == 6
        assert page.text.count('class="queue-row"') > 0
        audited = re.findall(r'class="audit-row"><td><a href="/ui/claims/([^"]+)"', page.text)[0]
        decided = post_form(
            web,
            f"/ui/claims/{audited}",
            f"/ui/claims/{audited}/decision",
            {"kind": "decision", "outcome": "unfounded", "note": "Checked with the provider."},
        )
        assert decided.status_code == 303

    # the decision survives a restart and is exported as a random audit with its probability
    with _pasted(restart, env, elsewhere) as server:
        wait_until_ok(f"{base}/readyz", server, 180, "the restarted service never became ready")
        again = session(base, keys["investigator"].read_text().strip())
        assert "Checked with the provider." in again.get(f"/ui/claims/{audited}").text
    export = restart.replace(" serve --host", " labels export --out labels.parquet #")
    assert "wrote 1 labels" in _run(export, env, elsewhere)
    labels = pd.read_parquet(Path(shlex.split(restart)[1]) / "labels.parquet")
    assert labels["source"].tolist() == ["random_audit"]
    assert 0 < labels["selection_probability"].iloc[0] < 0.01

    # the MLflow UI command works as printed (on a free port) and shows the demo's runs
    mlflow_ui = _after(lines, "the MLflow UI")
    ui_port = free_port()
    mlflow_ui = mlflow_ui.replace("--port 5000", f"--port {ui_port}")
    assert Path(shlex.split(mlflow_ui)[3]).is_file()  # cd DIR && MLFLOW ui ...
    with _pasted(mlflow_ui, env, elsewhere) as ui:
        url = f"http://127.0.0.1:{ui_port}"
        wait_until_ok(url, ui, 180, "the MLflow UI never answered")
        search = httpx.post(
            f"{url}/ajax-api/2.0/mlflow/experiments/search", json={"max_results": 10}, timeout=30
        )
        assert search.status_code == 200
        names = {e["name"] for e in search.json().get("experiments", [])}
        assert len(names) >= 1
