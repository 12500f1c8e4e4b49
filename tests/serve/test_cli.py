"""The service verbs: ingest, keys create, labels export (default SQLite store in cwd)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.cli import app
from riskml.data import load_data_dir, validate_frame
from riskml.security import hash_api_key, load_secret, pseudonymise
from riskml.store import open_store
from tests.serve.support import tiny_world


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("RISKML_STORE_URL", "RISKML_SECRET", "RISKML_SECRET_FILE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_ingest_keys_and_labels_export(workdir: Path) -> None:
    runner = CliRunner()
    tiny_world().write(workdir / "data")
    r = runner.invoke(app, ["ingest", "--data", "data"])
    assert r.exit_code == 0, r.output
    assert "claims" in r.output
    again = runner.invoke(app, ["ingest", "--data", "data"])
    assert again.exit_code == 0
    store = open_store()
    assert Path(store.engine.url.database or "") == workdir / "riskml-store.db"
    assert store.count("claims") == 5

    r = runner.invoke(app, ["keys", "create", "--role", "investigator", "--name", "ann"])
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1]
    assert key.startswith("rk_") and len(key) > 40
    assert store.principal_for(hash_api_key(key, load_secret())) == ("ann", "investigator")
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT key_hash FROM api_keys").scalars().all()
    assert key not in stored  # only the hash is kept
    dup = runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "ann"])
    assert dup.exit_code == 2 and "already exists" in dup.output
    bad = runner.invoke(app, ["keys", "create", "--role", "boss"])
    assert bad.exit_code == 2 and "unknown role" in bad.output

    secret = load_secret()
    store.record_decision(
        "C3", "fraud", "works while claiming", "unemployment_while_employed", "ann",
        "investigator", lambda p: pseudonymise(p, secret),
    )  # fmt: skip
    store.record_decision(
        "C5", "unfounded", "fine", None, "ann", "investigator", lambda p: pseudonymise(p, secret)
    )
    store.close()
    r = runner.invoke(app, ["labels", "export", "--out", "out/labels.parquet"])
    assert r.exit_code == 0, r.output
    labels = validate_frame(pd.read_parquet(workdir / "out/labels.parquet"), "labels")
    assert sorted(labels["claim_id"]) == ["C3", "C5"]
    assert set(labels["source"]) == {"investigation"}
    got = labels.set_index("claim_id")
    assert bool(got.loc["C3", "is_fraud"]) and not bool(got.loc["C5", "is_fraud"])
    # the export is a labels table a data directory can carry for the next training run
    (workdir / "out/labels.parquet").replace(workdir / "data/labels.parquet")
    assert load_data_dir(workdir / "data").labels is not None


def test_ingest_refuses_a_bad_directory_with_one_line(workdir: Path) -> None:
    r = CliRunner().invoke(app, ["ingest", "--data", "nowhere"])
    assert r.exit_code == 2
    assert "does not exist" in r.output


def test_serve_verb_starts_live_and_not_ready_without_a_model(workdir: Path) -> None:
    import os
    import subprocess
    import sys

    import httpx

    from tests.serve.support import free_port, wait_until_ok

    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/healthz", proc, 60, "riskml serve did not come up")
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["model_version"] is None and ready.json()["store"] == "ok"
        score = httpx.post(f"http://127.0.0.1:{port}/v1/claims/score", json={"claims": []})
        assert score.status_code == 401
    finally:
        proc.terminate()
        proc.wait(30)
    assert (workdir / "riskml-store.db").is_file()
