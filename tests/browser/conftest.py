"""A real workspace: the session's trained model serving a store of the synthetic data whose last
two months were scored in batch with reasons (the demo's backlog), keys per role, uvicorn on a
free port. Browser tests drive it with Playwright in Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest
from serve.app import create_app
from serve.settings import Settings

from riskml.data import ClaimsData
from riskml.security import hash_api_key, load_secret, new_api_key
from riskml.store import Store, open_store
from riskml.store import workspace as workspace_store
from tests.conftest import Trained, _mlflow_env
from tests.serve.support import running_server

MODEL_URI = "models:/riskml-claims@champion"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where the browser test leaves its screenshot of the claim view.
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "browser"
KEYS = {
    "investigator": "investigator",
    "investigator2": "investigator",
    "supervisor": "supervisor",
    "supervisor2": "supervisor",
    "scorer": "scorer",
    "admin": "admin",
}


@dataclass
class Workspace:
    url: str
    store: Store
    store_url: str
    secret: bytes
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, name: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[name]}"} if name else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="session")
def backlog_scores(
    _trained_once: Trained, synth_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    """The session model's batch scores (with reasons for flagged claims) of the last 2 months."""
    from riskml.batch import score_backlog

    claims = pd.read_parquet(synth_dir / "claims.parquet", columns=["submitted_at"])
    since = (claims["submitted_at"].max() - pd.DateOffset(months=2)).normalize()
    out = tmp_path_factory.mktemp("backlog") / "scores.parquet"
    with pytest.MonkeyPatch.context() as mp:
        _mlflow_env(mp, _trained_once.store)
        score_backlog(synth_dir, out, model_uri=MODEL_URI, since=since, show_progress=False)
    return pd.read_parquet(out)


@pytest.fixture(scope="module")
def workspace(
    trained: Trained,
    synth_data: ClaimsData,
    backlog_scores: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Workspace]:
    workdir = tmp_path_factory.mktemp("workspace")
    url = f"sqlite:///{workdir / 'store.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RISKML_SECRET", raising=False)
        mp.setenv("RISKML_CAPACITY", "100")
        mp.setenv("RISKML_WRITE_RATE_LIMIT", "40/minute")
        store = open_store(url)
        store.ingest(synth_data)
        store.record_batch_scores(backlog_scores)
        workspace_store.record_unflagged_scores(store, backlog_scores)  # the whole population
        secret = load_secret(workdir / "secret.key")
        keys = {}
        for name, role in KEYS.items():
            keys[name] = new_api_key()
            store.add_api_key(name, role, hash_api_key(keys[name], secret))
        settings = Settings(
            store_url=url,
            model_uri=MODEL_URI,
            secret_file=str(workdir / "secret.key"),
            model_poll_seconds=0,
        )
        with running_server(create_app(settings)) as base:
            deadline = time.monotonic() + 120  # the model loads in the background
            while httpx.get(f"{base}/readyz", timeout=60).status_code != 200:
                assert time.monotonic() < deadline, httpx.get(f"{base}/readyz").text
                time.sleep(0.2)
            yield Workspace(url=base, store=store, store_url=url, secret=secret, keys=keys)
        store.close()


def chromium_path() -> str:
    """Debian's Chromium; missing, the browser tests fail under CI (``make services`` installs
    it) and are skipped elsewhere."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    reason = "Debian's chromium is not installed (make services installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " and CI=true")
    pytest.skip(reason)
    raise AssertionError  # unreachable
