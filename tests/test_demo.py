"""The README's main command, as a newcomer runs it: demo set-up, then a claim scored with curl."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx

from tests.serve.support import free_port, wait_until_ok


def test_demo_sets_up_and_the_printed_curl_scores_a_claim(tmp_path: Path) -> None:
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
    assert "triage queue:" in out
    curl = next(line.strip() for line in out.splitlines() if "/v1/claims/score" in line)
    key = re.search(r"Bearer (\S+?)'", curl)
    assert key is not None
    body_file = shlex.split(curl)[-1].removeprefix("@")
    body = json.loads(Path(body_file).read_text())
    queue_key = re.search(r"/v1/queue.*Bearer (\S+?)'", out)
    assert queue_key is not None

    # the stores live in the demo folder: a plain `riskml serve` there finds everything
    serve_env = {
        **env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "RISKML_STORE_URL": f"sqlite:///{work / 'riskml-store.db'}",
        "RISKML_SECRET_FILE": str(work / "riskml-secret.key"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=serve_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{base}/readyz", server, 180, "the demo's service never became ready")
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        r = httpx.post(f"{base}/v1/claims/score", json=body, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        result = r.json()["results"][0]
        assert result["claim_id"] == body["claims"][0]["claim_id"]
        assert 0 <= result["risk_score"] <= 1 and result["reasons"]
        q = httpx.get(
            f"{base}/v1/queue?limit=5",
            headers={"Authorization": f"Bearer {queue_key.group(1)}"},
            timeout=30,
        )
        assert q.status_code == 200, q.text
        queue = q.json()["claims"]
        assert 0 < len(queue) <= 5 and all(entry["reasons"] for entry in queue)
    finally:
        server.terminate()
        server.wait(timeout=30)
