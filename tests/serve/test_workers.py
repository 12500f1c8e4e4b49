"""Several worker processes: ``riskml serve --workers 2`` with the real model, on SQLite and on
PostgreSQL. Each worker loads the champion, polls the alias and swaps on its own: when the alias
moves under load, every worker ends up answering with the new version, no request fails during
the swap, and every scored claim is stored and audited exactly once whichever process wrote it.
``/metrics`` sums the workers' counts (prometheus_client multiprocess mode) and shows the loaded
version of each worker.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from serve.schemas import request_claims

from riskml.data import ClaimsData
from riskml.security import hash_api_key, load_secret, new_api_key
from riskml.store import Store, open_store
from tests.conftest import Trained
from tests.serve.support import free_port, shared_postgres, wait_until_ok

MODEL = "riskml-claims"
WORKERS = 2


@dataclass
class Workers:
    url: str
    key: str
    store: Store
    mlflow_uri: str
    proc: subprocess.Popen[str]
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _loaded(text: str) -> dict[str, set[str]]:
    """``riskml_model_loaded`` of the scrape: pid -> versions loaded (value 1)."""
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.startswith("riskml_model_loaded{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        out.setdefault(labels["pid"], set())
        if float(line.rsplit(" ", 1)[1]) == 1.0:
            out[labels["pid"]].add(labels["model_version"])
    return out


def _wait_all_workers_on(url: str, version: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        loaded = _loaded(httpx.get(f"{url}/metrics", timeout=10).text)
        if len(loaded) == WORKERS and all(v == {version} for v in loaded.values()):
            return
        assert time.monotonic() < deadline, f"workers never all on {version}: {loaded}"
        time.sleep(0.2)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def workers(
    request: pytest.FixtureRequest,
    trained: Trained,
    synth_data: ClaimsData,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Workers]:
    assert trained.decision.promoted, "the test model must be the champion"
    workdir = tmp_path_factory.mktemp("workers")
    # a copy of the session's MLflow database: this module moves the alias, other modules must
    # keep seeing theirs (the artifacts are only read, from where the session wrote them)
    shutil.copy(trained.store / "mlflow.db", workdir / "mlflow.db")
    mlflow_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    if request.param == "sqlite":
        store_url = f"sqlite:///{workdir / 'store.db'}"
    else:
        store_url = shared_postgres().new_database()
    store = open_store(store_url)
    store.ingest(synth_data)
    secret_file = workdir / "secret.key"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RISKML_SECRET", raising=False)
        key = new_api_key()
        store.add_api_key("scorer-1", "scorer", hash_api_key(key, load_secret(secret_file)))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RISKML_", "PROMETHEUS_"))},
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "RISKML_STORE_URL": store_url,
        "RISKML_SECRET_FILE": str(secret_file),
        "RISKML_MODEL_POLL_SECONDS": "0.3",
        "RISKML_SHADOW_URI": "",
    }
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--workers", str(WORKERS), "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    claims = synth_data.claims.sort_values(["submitted_at", "claim_id"]).iloc[-200:]
    bodies = request_claims(claims, synth_data.claim_items)
    try:
        wait_until_ok(f"{url}/readyz", proc, 180, "riskml serve --workers 2 never became ready")
        yield Workers(url, key, store, mlflow_uri, proc, bodies)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        store.close()


def _move_champion(mlflow_uri: str) -> tuple[str, str]:
    """Register the champion's model again as a new version and move the alias to it."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    old = client.get_model_version_by_alias(MODEL, "champion")
    new = client.create_model_version(MODEL, source=old.source, run_id=old.run_id)
    for k, v in old.tags.items():
        client.set_model_version_tag(MODEL, new.version, k, v)
    client.set_registered_model_alias(MODEL, "champion", new.version)
    return str(old.version), str(new.version)


def test_every_worker_swaps_to_the_moved_alias_and_no_request_fails(workers: Workers) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=workers.mlflow_uri, registry_uri=workers.mlflow_uri)
    before = str(client.get_model_version_by_alias(MODEL, "champion").version)
    _wait_all_workers_on(workers.url, before)

    answers: list[tuple[int, str | None, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    tag = f"W{os.getpid()}{time.monotonic_ns() % 10**6}-"

    def load(offset: int) -> None:
        headers = {"Authorization": f"Bearer {workers.key}"}
        i = offset
        while not stop.is_set():
            body = {**workers.bodies[i % len(workers.bodies)], "claim_id": f"{tag}{i}"}
            with httpx.Client(base_url=workers.url, headers=headers, timeout=60) as c:
                r = c.post("/v1/claims/score", json={"claims": [body]})
            version = r.json().get("model_version") if r.status_code == 200 else None
            with lock:
                answers.append((r.status_code, version, body["claim_id"]))
            i += 4

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        while len(answers) < 8:  # the load runs on the old version first
            time.sleep(0.05)
        old, new = _move_champion(workers.mlflow_uri)
        assert old == before
        _wait_all_workers_on(workers.url, new)
        seen: dict[int, str] = {}
        deadline = time.monotonic() + 60
        while len(seen) < WORKERS:  # each worker, asked directly, answers with the new version
            ready = httpx.get(f"{workers.url}/readyz", timeout=30).json()
            seen[ready["worker_pid"]] = ready["model_version"]
            assert time.monotonic() < deadline, f"only workers {seen} answered"
        assert set(seen.values()) == {new}
        mark = len(answers)
        while len(answers) < mark + 8:  # and the load goes on, on the new version
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(60)

    codes = [code for code, _, _ in answers]
    assert codes == [200] * len(answers), f"failed during the swap: {set(codes)}"
    versions = [v for _, v, _ in answers]
    assert versions[0] == old and versions[-1] == new
    assert set(versions) == {old, new}
    # written by two processes at once: every claim stored, scored and audited exactly once
    ids = [cid for _, _, cid in answers]
    scores = workers.store.scores_of(ids)
    assert sorted(scores["claim_id"]) == sorted(ids)
    audit = workers.store.audit_log()
    assert audit.loc[audit["claim_id"].isin(ids), "claim_id"].value_counts().eq(1).all()
    assert audit["claim_id"].isin(ids).sum() == len(ids)
    # /metrics speaks for the service, not for the worker that answered the scrape
    text = httpx.get(f"{workers.url}/metrics").text
    scored = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("riskml_claims_scored_total{")
    )
    assert scored == len(ids)
