"""Back-pressure: beyond ``max_in_flight`` score requests a worker answers 503 at once, with
``Retry-After`` and a body naming the limit, counted in /metrics, and stores nothing for them;
the admitted requests finish normally and health routes are never refused."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from serve.app import create_app
from serve.settings import Settings

from riskml.data import ClaimsData
from riskml.scoring import ScoreResult
from riskml.security import hash_api_key, load_secret, new_api_key
from riskml.store import Store, open_store
from tests.serve.support import StandInScorer, claim_json, running_server, tiny_world

LIMIT = 3


class HeldScorer(StandInScorer):
    """The stand-in model, holding every request inside ``score`` until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__("held-1")
        self.release = threading.Event()
        self.entered = 0

    def score(self, data: ClaimsData, claims: pd.DataFrame) -> list[ScoreResult]:
        self.entered += 1
        assert self.release.wait(60)
        return super().score(data, claims)


@dataclass
class Held:
    url: str
    key: str
    store: Store
    scorer: HeldScorer


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Held]:
    monkeypatch.delenv("RISKML_SECRET", raising=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    store.ingest(tiny_world())
    key = new_api_key()
    store.add_api_key("s", "scorer", hash_api_key(key, load_secret(tmp_path / "secret")))
    settings = Settings(
        store_url=url,
        secret_file=str(tmp_path / "secret"),
        model_poll_seconds=0,
        max_in_flight=LIMIT,
        scoring_concurrency=1,  # one computes, the others admitted wait their turn
        retry_after_seconds=2,
    )
    scorer = HeldScorer()
    try:
        with running_server(create_app(settings, scorer=scorer)) as base:
            yield Held(base, key, store, scorer)
    finally:
        scorer.release.set()
        store.close()


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text, 0 if absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _post(url: str, key: str, claim_id: str) -> httpx.Response:
    body = {"claims": [claim_json(claim_id, "P2", provider_id="H2", benefit_type="pharmacy")]}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{url}/v1/claims/score", json=body, headers=headers, timeout=60)


def test_requests_beyond_the_limit_are_refused_at_once_and_store_nothing(held: Held) -> None:
    admitted_ids = [f"BP-A{i}" for i in range(LIMIT)]
    refused_ids = [f"BP-R{i}" for i in range(5)]
    pool = ThreadPoolExecutor(LIMIT + len(refused_ids))
    try:
        admitted = [pool.submit(_post, held.url, held.key, cid) for cid in admitted_ids]
        deadline = time.monotonic() + 20
        while True:  # all LIMIT requests admitted: one inside score(), the others at the gate
            text = httpx.get(f"{held.url}/metrics").text
            if _metric(text, "riskml_score_requests_in_flight") == LIMIT and held.scorer.entered:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.02)
        time.sleep(0.2)
        assert held.scorer.entered == 1  # the gate lets one compute at a time

        started = time.perf_counter()
        refused = list(pool.map(lambda cid: _post(held.url, held.key, cid), refused_ids))
        refusing_s = time.perf_counter() - started
        for r in refused:
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "2"
            body = r.json()
            assert body["limit"] == "max_in_flight" and body["max_in_flight"] == LIMIT
            assert body["retry_after_seconds"] == 2 and "retry" in body["detail"]
        assert refusing_s < 5, "refusals must not wait for the held requests"
        # health, readiness and metrics are never refused, even at the limit
        assert httpx.get(f"{held.url}/healthz").status_code == 200
        assert httpx.get(f"{held.url}/readyz").status_code == 200
        text = httpx.get(f"{held.url}/metrics").text
        assert _metric(
            text, "riskml_http_refused_total", route="/v1/claims/score", limit="max_in_flight"
        ) == len(refused_ids)
        assert _metric(
            text, "riskml_http_requests_total", route="/v1/claims/score", status="503"
        ) == len(refused_ids)

        held.scorer.release.set()
        answers = [f.result(60) for f in admitted]
    finally:
        held.scorer.release.set()
        pool.shutdown()
    assert [r.status_code for r in answers] == [200] * LIMIT
    assert held.scorer.entered == LIMIT

    # the admitted claims are stored, scored and audited; the refused ones left no trace at all
    assert set(held.store.scores_of(admitted_ids)["claim_id"]) == set(admitted_ids)
    assert held.store.scores_of(refused_ids).empty
    for cid in refused_ids:
        assert held.store.stored_claim(cid)[0].empty
    audit = held.store.audit_log()
    assert not audit["claim_id"].isin(refused_ids).any()
    assert audit["claim_id"].isin(admitted_ids).sum() == LIMIT

    text = httpx.get(f"{held.url}/metrics").text
    assert _metric(text, "riskml_score_requests_in_flight") == 0


def test_failed_requests_give_their_place_back(held: Held) -> None:
    """A request that ends in 401 or 422 leaves the in-flight count as it found it."""
    held.scorer.release.set()
    for i in range(2 * LIMIT):
        assert httpx.post(f"{held.url}/v1/claims/score", json={"claims": []}).status_code == 401
        bad = claim_json(f"BP-X{i}", amount_claimed=-1.0)
        r = httpx.post(
            f"{held.url}/v1/claims/score",
            json={"claims": [bad]},
            headers={"Authorization": f"Bearer {held.key}"},
        )
        assert r.status_code == 422, r.text
    assert _post(held.url, held.key, "BP-OK").status_code == 200
    text = httpx.get(f"{held.url}/metrics").text
    assert _metric(text, "riskml_score_requests_in_flight") == 0
    assert _metric(text, "riskml_http_refused_total", limit="max_in_flight") == 0
