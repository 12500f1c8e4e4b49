"""Model changes without downtime: the alias moves, the service swaps, in-flight requests finish
on the version they started with, and a failed load leaves the old model answering."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from serve.app import create_app
from serve.settings import Settings

from riskml.data import ClaimsData
from riskml.scoring import ScoreResult
from riskml.security import hash_api_key, load_secret, new_api_key
from riskml.store import open_store
from tests.serve.support import StandInScorer, claim_json, running_server, tiny_world


class SlowScorer(StandInScorer):
    """The stand-in model, holding each request until ``release`` is set."""

    def __init__(self, version: str, entered: threading.Event, release: threading.Event) -> None:
        super().__init__(version)
        self.entered = entered
        self.release = release

    def score(self, data: ClaimsData, claims: pd.DataFrame) -> list[ScoreResult]:
        self.entered.set()
        assert self.release.wait(30)
        return super().score(data, claims)


class Registry:
    """Where the alias points, and what loading each version gives (or raises)."""

    def __init__(self) -> None:
        self.alias = "1"
        self.entered = threading.Event()
        self.release = threading.Event()
        self.loaded: list[str] = []
        self.broken: set[str] = set()

    def resolve(self, uri: str) -> str:
        return self.alias

    def load(self, uri: str) -> StandInScorer:
        version = self.alias
        self.loaded.append(version)
        if version in self.broken:
            raise RuntimeError(f"bundle of version {version} is corrupt")
        if version == "1":
            return SlowScorer(version, self.entered, self.release)
        return StandInScorer(version)


@pytest.fixture
def swapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, Registry]]:
    monkeypatch.delenv("RISKML_SECRET", raising=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    store.ingest(tiny_world())
    key = new_api_key()
    store.add_api_key("s", "scorer", hash_api_key(key, load_secret(tmp_path / "secret")))
    store.close()
    registry = Registry()
    settings = Settings(
        store_url=url,
        model_uri="models:/riskml-claims@champion",
        model_poll_seconds=0.05,
        secret_file=str(tmp_path / "secret"),
    )
    app = create_app(settings, loader=registry.load, resolver=registry.resolve)
    with running_server(app) as base:
        yield base, key, registry


def _version(client: httpx.Client) -> str:
    return str(client.get("/v1/model").json().get("version"))


def _wait_for(client: httpx.Client, version: str) -> None:
    deadline = time.monotonic() + 10
    while _version(client) != version:
        assert time.monotonic() < deadline, f"version {version} never answered"
        time.sleep(0.02)


def test_alias_move_swaps_atomically_and_in_flight_requests_finish_on_the_old_model(
    swapping: tuple[str, str, Registry],
) -> None:
    base, key, registry = swapping
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        _wait_for(c, "1")  # loaded in the background: live first, ready when loaded
        answers: dict[str, str] = {}

        def slow_request() -> None:
            r = c.post("/v1/claims/score", json={"claims": [claim_json("SW1")]})
            answers["in_flight"] = r.json()["model_version"]

        worker = threading.Thread(target=slow_request)
        worker.start()
        assert registry.entered.wait(10)  # the request is inside version 1's score()
        registry.alias = "2"  # promotion: the alias moves while a request is scoring
        _wait_for(c, "2")
        registry.release.set()
        worker.join(30)
        assert answers["in_flight"] == "1"
        after = c.post("/v1/claims/score", json={"claims": [claim_json("SW2")]}).json()
        assert after["model_version"] == "2"
        assert registry.loaded == ["1", "2"]  # loaded once each: polling asks the alias only

        registry.broken.add("3")
        registry.alias = "3"
        deadline = time.monotonic() + 1
        while registry.loaded.count("3") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "3" in registry.loaded
        assert _version(c) == "2"  # a broken new version never takes the service down
        assert c.get("/readyz").json()["ready"]


def test_without_a_loadable_model_the_service_is_live_not_ready_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskml.errors import RiskmlError

    monkeypatch.delenv("RISKML_SECRET", raising=False)
    attempts: list[str] = []

    def no_champion(uri: str) -> StandInScorer:
        attempts.append(uri)
        raise RiskmlError(f"model URI {uri!r} not found (run `riskml train --promote` first)")

    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = Settings(
        store_url=url, model_poll_seconds=0.05, secret_file=str(tmp_path / "secret")
    )
    key = new_api_key()
    with running_server(create_app(settings, loader=no_champion)) as base:
        store = open_store(url)
        store.add_api_key("s", "scorer", hash_api_key(key, load_secret(tmp_path / "secret")))
        store.close()
        assert httpx.get(f"{base}/healthz").status_code == 200
        deadline = time.monotonic() + 10
        while len(attempts) < 3:  # a failed load is retried at the poll interval
            assert time.monotonic() < deadline
            time.sleep(0.02)
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert "riskml train --promote" in ready.json()["model_error"]
        r = httpx.post(
            f"{base}/v1/claims/score",
            json={"claims": [claim_json("N1")]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 503
    assert attempts[0] == "models:/riskml-claims@champion"


@pytest.mark.parametrize("load_first", [True, False])
def test_a_worker_that_loads_first_takes_no_connection_before_its_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load_first: bool
) -> None:
    """Several workers share one socket: a worker still loading must not take the connection of
    a client that another worker told "ready" (it would answer 503 "no model is loaded").
    One process alone starts at once instead, live while it loads."""
    monkeypatch.delenv("RISKML_SECRET", raising=False)
    release = threading.Event()

    def slow(uri: str) -> StandInScorer:
        assert release.wait(30)
        return StandInScorer("7")

    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",
        model_uri="models:/riskml-claims/7",
        secret_file=str(tmp_path / "secret"),
    )
    app = create_app(settings, loader=slow, load_first=load_first)
    if load_first:
        threading.Timer(0.3, release.set).start()  # the server starts only once this is set
    with running_server(app) as base:
        ready = httpx.get(f"{base}/readyz")
        if load_first:
            assert ready.status_code == 200, ready.text
        else:
            assert ready.status_code == 503 and httpx.get(f"{base}/healthz").status_code == 200
            release.set()
