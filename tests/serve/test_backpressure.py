"""Back-pressure: beyond ``max_in_flight`` score requests a worker answers 503 at once, with
``Retry-After`` and a body naming the limit, counted in /metrics, and stores nothing for them;
the admitted requests finish normally and health routes are never refused, and a flood of
concurrent clients against a real uvicorn server is shed without a hang and leaves the service
healthy."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from serve.app import create_app, in_flight_limit
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
    with _server(
        tmp_path,
        HeldScorer(),
        max_in_flight=LIMIT,
        scoring_concurrency=1,  # one computes, the others admitted wait their turn
        retry_after_seconds=2,
    ) as served:
        yield served


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text, 0 if absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _assert_refusals_counted(text: str, refused: int) -> None:
    """/metrics counts ``refused`` refusals at the in-flight limit, and as many 503 answers."""
    assert (
        _metric(text, "riskml_http_refused_total", route="/v1/claims/score", limit="max_in_flight")
        == refused
    )
    assert (
        _metric(text, "riskml_http_requests_total", route="/v1/claims/score", status="503")
        == refused
    )


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
        _assert_refusals_counted(httpx.get(f"{held.url}/metrics").text, len(refused_ids))

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


class SlowScorer(StandInScorer):
    """The stand-in model, taking ``seconds`` per request, its risk a function of the amount
    alone (no history), so that every accepted answer of a flood can be checked exactly."""

    def __init__(self, seconds: float) -> None:
        super().__init__("slow-1")
        self.seconds = seconds

    @staticmethod
    def prior_claims(data: ClaimsData, claims: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(claims), dtype=int)

    def score(self, data: ClaimsData, claims: pd.DataFrame) -> list[ScoreResult]:
        time.sleep(self.seconds)
        return super().score(data, claims)


@contextlib.contextmanager
def _server(tmp_path: Path, scorer: StandInScorer, **limits: Any) -> Iterator[Held]:
    """A real uvicorn server of the app over a tiny store, with ``scorer`` and these limits."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    store.ingest(tiny_world())
    key = new_api_key()
    store.add_api_key("s", "scorer", hash_api_key(key, load_secret(tmp_path / "secret")))
    settings = Settings(
        store_url=url, secret_file=str(tmp_path / "secret"), model_poll_seconds=0, **limits
    )
    try:
        with running_server(create_app(settings, scorer=scorer)) as base:
            yield Held(base, key, store, scorer)  # type: ignore[arg-type]
    finally:
        if isinstance(scorer, HeldScorer):
            scorer.release.set()
        store.close()


def _amount(i: int) -> float:
    return 100.0 + i


def _post_amount(url: str, key: str, i: int) -> tuple[httpx.Response, float]:
    amount = _amount(i)
    item = {
        "line_no": 1,
        "item_code": "E010",
        "item_category": "exam",
        "quantity": 1,
        "unit_price": amount,
        "amount": amount,
    }
    claim = claim_json(f"FL-{i:04d}", "P2", amount_claimed=amount, items=[item])
    started = time.perf_counter()
    r = httpx.post(
        f"{url}/v1/claims/score",
        json={"claims": [claim]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,  # a request that hangs fails the test
    )
    return r, time.perf_counter() - started


FLOOD_LIMIT = 4
FLOOD_CLIENTS = 32
FLOOD_EACH = 4


def test_a_flood_above_the_limit_is_shed_and_the_service_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """32 clients at once against a limit of 4 on a real uvicorn server, a scorer of 40 ms:
    some requests are refused 503 + Retry-After, none hangs, every accepted answer is the right
    one (and stored), health, readiness and metrics answer all through the flood, the counts in
    /metrics add up, and after the flood the service scores again at once."""
    monkeypatch.delenv("RISKML_SECRET", raising=False)
    with _server(
        tmp_path,
        SlowScorer(0.04),
        max_in_flight=FLOOD_LIMIT,
        scoring_concurrency=1,
        retry_after_seconds=2,
    ) as held:
        flooding = threading.Event()
        flooding.set()
        probes: list[tuple[str, int, float]] = []

        def probe() -> None:
            while flooding.is_set():
                for path in ("/healthz", "/readyz", "/metrics"):
                    started = time.perf_counter()
                    r = httpx.get(f"{held.url}{path}", timeout=30)
                    probes.append((path, r.status_code, time.perf_counter() - started))
                time.sleep(0.05)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        n = FLOOD_CLIENTS * FLOOD_EACH
        with ThreadPoolExecutor(FLOOD_CLIENTS) as pool:
            futures = [pool.submit(_post_amount, held.url, held.key, i) for i in range(n)]
            answers = [f.result(timeout=90) for f in futures]
        flooding.clear()
        prober.join(60)

        ok = [i for i, (r, _) in enumerate(answers) if r.status_code == 200]
        shed = [i for i, (r, _) in enumerate(answers) if r.status_code == 503]
        assert sorted(ok + shed) == list(range(n)), [r.status_code for r, _ in answers]
        assert shed, "a flood of 32 clients against a limit of 4 must be shed in part"
        assert len(ok) >= FLOOD_LIMIT
        for i in shed:
            r, seconds = answers[i]
            assert r.headers["retry-after"] == "2"
            body = r.json()
            assert body["limit"] == "max_in_flight" and body["max_in_flight"] == FLOOD_LIMIT
            assert isinstance(body["detail"], str)
            assert seconds < 10, "a refusal is answered at once, not after the queue"
        for i in ok:  # every accepted answer is the one for its own claim
            body = answers[i][0].json()
            assert body["model_version"] == "slow-1"
            [result] = body["results"]
            assert result["claim_id"] == f"FL-{i:04d}"
            assert result["risk_score"] == pytest.approx(1.0 - np.exp(-_amount(i) / 5000.0))
        stored = held.store.scores_of([f"FL-{i:04d}" for i in range(n)])
        assert sorted(stored["claim_id"]) == [f"FL-{i:04d}" for i in ok]
        by_id = stored.set_index("claim_id")["risk_score"]
        for i in ok:
            assert by_id[f"FL-{i:04d}"] == answers[i][0].json()["results"][0]["risk_score"]

        assert probes and {path for path, _, _ in probes} == {"/healthz", "/readyz", "/metrics"}
        assert all(code == 200 for _, code, _ in probes), probes
        assert max(s for _, _, s in probes) < 10, "health routes never wait behind scoring"

        text = httpx.get(f"{held.url}/metrics").text
        _assert_refusals_counted(text, len(shed))
        assert _metric(
            text, "riskml_http_requests_total", route="/v1/claims/score", status="200"
        ) == len(ok)
        assert _metric(text, "riskml_score_requests_in_flight") == 0

        # after the flood: ready, and a lone request is scored at once (no queue left behind)
        assert httpx.get(f"{held.url}/readyz").json()["ready"] is True
        for i in range(n, n + 2 * FLOOD_LIMIT):
            r, _ = _post_amount(held.url, held.key, i)
            assert r.status_code == 200, r.text


def test_the_default_limit_is_half_the_threadpool() -> None:
    assert in_flight_limit(0, 40) == 20
    assert in_flight_limit(0, 1) == 1
    assert in_flight_limit(7, 40) == 7


def test_a_limit_above_the_threadpool_keeps_threads_for_the_health_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the limit above anyio's 40 threads, the threadpool is enlarged: 44 score requests
    held inside the model (each on a thread) still leave /healthz, /readyz and /metrics
    answering at once; without the enlargement they would wait for a held request to end."""
    monkeypatch.delenv("RISKML_SECRET", raising=False)
    many = 44
    scorer = HeldScorer()
    with (
        _server(tmp_path, scorer, max_in_flight=many, scoring_concurrency=many) as held,
        ThreadPoolExecutor(many) as pool,
    ):
        futures = [pool.submit(_post, held.url, held.key, f"TP-{i}") for i in range(many)]
        deadline = time.monotonic() + 30
        while scorer.entered < many:  # every request computing, each holding a thread
            assert time.monotonic() < deadline, scorer.entered
            time.sleep(0.05)
        for path in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(f"{held.url}{path}", timeout=5).status_code == 200
        scorer.release.set()
        assert [f.result(60).status_code for f in futures] == [200] * many
