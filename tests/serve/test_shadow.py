"""The challenger in shadow (issue 16): scored beside the champion on the same live claims and
history, stored in ``shadow_scores``, never in an answer, the queue or a band; a failing or
absent challenger never hurts the champion's request; its slot follows the alias like the
champion's. A real uvicorn service on a real store (SQLite and PostgreSQL); only the models are
stand-ins (the real model's shadow is in test_trust_real.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI
from serve.app import create_app
from serve.settings import Settings

from riskml.data import ClaimsData
from riskml.scoring import ScoreResult
from riskml.security import hash_api_key, load_secret, new_api_key
from riskml.store import Store, open_store
from tests.serve.support import (
    StandInScorer,
    claim_json,
    running_server,
    shared_postgres,
    tiny_world,
)


class HalfScorer(StandInScorer):
    """A challenger that halves the stand-in's risk and bands it anew (and sees the history)."""

    def score(self, data: ClaimsData, claims: pd.DataFrame) -> list[ScoreResult]:
        out = []
        for r in super().score(data, claims):
            risk = r.risk_score / 2
            band = "high" if risk >= 0.8 else "medium" if risk >= 0.5 else "low"
            out.append(ScoreResult(r.claim_id, risk, band, []))
        return out


class BrokenScorer(StandInScorer):
    def score(self, data: ClaimsData, claims: pd.DataFrame) -> list[ScoreResult]:
        raise RuntimeError("challenger bundle is corrupt")


@dataclass
class Shadowed:
    url: str
    app: FastAPI
    store: Store
    key: str

    def post(self, claims: list[dict[str, Any]], **params: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/claims/score",
            json={"claims": claims},
            params=params,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def drained(self) -> None:
        assert self.app.state.shadow.drain(30)

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=30).text


def _service(store_url: str, workdir: Path, **app_args: Any) -> Iterator[Shadowed]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RISKML_SECRET", raising=False)
        store = open_store(store_url)
        store.ingest(tiny_world())
        secret_file = workdir / "secret.key"
        key = new_api_key()
        store.add_api_key("scorer-1", "scorer", hash_api_key(key, load_secret(secret_file)))
        settings = Settings(
            store_url=store_url,
            secret_file=str(secret_file),
            model_poll_seconds=0.05,
            shadow_uri="models:/riskml-claims@challenger",
        )
        app = create_app(settings, **app_args)
        with running_server(app) as url:
            yield Shadowed(url, app, store, key)
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return shared_postgres().new_database()


@pytest.fixture
def shadowed(store_url: str, tmp_path: Path) -> Iterator[Shadowed]:
    yield from _service(
        store_url, tmp_path, scorer=StandInScorer("test-1"), shadow=HalfScorer("test-2")
    )


def test_the_challenger_scores_in_shadow_and_reaches_nobody(shadowed: Shadowed) -> None:
    claims = [
        claim_json("S1", "P1", amount_claimed=30_000.0),
        claim_json("S2", "P2", provider_id="H2", region_code="310115", amount_claimed=4_000.0),
    ]
    r = shadowed.post(claims)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "test-1"
    assert "shadow" not in r.text and "test-2" not in r.text  # not in the answer
    champion = {x["claim_id"]: x for x in body["results"]}
    shadowed.drained()
    shadow = shadowed.store.shadow_scores().set_index("claim_id")
    assert sorted(shadow.index) == ["S1", "S2"]
    assert (shadow["model_version"] == "test-2").all()
    assert (shadow["champion_version"] == "test-1").all()
    for cid, row in shadow.iterrows():
        assert row["champion_score"] == pytest.approx(champion[cid]["risk_score"], abs=1e-12)
        assert row["champion_band"] == champion[cid]["risk_band"]
        assert row["risk_score"] == pytest.approx(champion[cid]["risk_score"] / 2, abs=1e-12)
    # the champion's scores alone are the service's: the queue, the bands, the audit log
    stored = shadowed.store.scores_of(["S1", "S2"])
    assert set(stored["model_version"]) == {"test-1"}
    audit = shadowed.store.audit_log()
    assert "test-2" not in set(audit["model_version"].dropna())
    text = shadowed.metrics()
    assert 'riskml_shadow_model_loaded{model_version="test-2"} 1.0' in text
    scored = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('riskml_shadow_scored_total{model_version="test-2"')
    )
    assert scored == 2
    assert "riskml_shadow_seconds_count 1.0" in text
    (pair,) = shadowed.store.shadow_comparison()
    assert pair["champion_version"] == "test-1" and pair["challenger_version"] == "test-2"
    assert pair["claims"] == 2
    assert pair["mean_abs_difference"] == pytest.approx(
        sum(c["risk_score"] for c in champion.values()) / 4, abs=1e-12
    )
    assert pair["champion_flagged"] >= pair["both_flagged"]


def test_a_dry_run_is_not_scored_in_shadow(shadowed: Shadowed) -> None:
    r = shadowed.post([claim_json("D1", "P1")], dry_run="true")
    assert r.status_code == 200, r.text
    shadowed.drained()
    assert shadowed.store.shadow_scores().empty


def test_a_failing_challenger_never_fails_the_champion(store_url: str, tmp_path: Path) -> None:
    for svc in _service(
        store_url, tmp_path, scorer=StandInScorer("test-1"), shadow=BrokenScorer("bad-9")
    ):
        r = svc.post(
            [claim_json("F1", "P1"), claim_json("F2", "P3", submitted_at="2024-05-02T09:00:00")]
        )
        assert r.status_code == 200, r.text
        assert [x["claim_id"] for x in r.json()["results"]] == ["F1", "F2"]
        svc.drained()
        assert svc.store.shadow_scores().empty
        assert set(svc.store.scores_of(["F1", "F2"])["model_version"]) == {"test-1"}
        assert 'riskml_shadow_failures_total{model_version="bad-9"} 2.0' in svc.metrics()


class Registry:
    """Where the challenger alias points (None: no alias), and the stand-in each version loads."""

    def __init__(self) -> None:
        self.alias: str | None = None

    def resolve(self, uri: str) -> str:
        if self.alias is None:
            raise LookupError("alias challenger not found")
        return self.alias

    def load(self, uri: str) -> StandInScorer:
        if self.alias is None:
            raise LookupError("alias challenger not found")
        return HalfScorer(self.alias)


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_the_shadow_follows_the_challenger_alias(store_url: str, tmp_path: Path) -> None:
    registry = Registry()
    for svc in _service(
        store_url,
        tmp_path,
        scorer=StandInScorer("test-1"),
        shadow_loader=registry.load,
        shadow_resolver=registry.resolve,
    ):
        slot: Any = svc.app.state.shadow_models
        assert svc.post([claim_json("A1", "P1")]).status_code == 200  # no challenger: no shadow
        svc.drained()
        assert svc.store.shadow_scores().empty
        registry.alias = "7"
        _wait(lambda slot=slot: slot.current is not None, "the challenger was never loaded")
        assert (
            svc.post([claim_json("A2", "P1", submitted_at="2024-05-03T09:00:00")]).status_code
            == 200
        )
        registry.alias = "8"
        _wait(
            lambda slot=slot: slot.current.model_version == "8", "the challenger was never swapped"
        )
        assert (
            svc.post([claim_json("A3", "P1", submitted_at="2024-05-04T09:00:00")]).status_code
            == 200
        )
        svc.drained()
        got = svc.store.shadow_scores().set_index("claim_id")["model_version"].to_dict()
        assert got == {"A2": "7", "A3": "8"}
        registry.alias = None  # the alias is deleted: shadowing stops, the champion goes on
        _wait(lambda slot=slot: slot.current is None, "the shadow outlived its alias")
        r = svc.post([claim_json("A4", "P1", submitted_at="2024-05-05T09:00:00")])
        assert r.status_code == 200
        svc.drained()
        assert "A4" not in set(svc.store.shadow_scores()["claim_id"])
        text = svc.metrics()
        assert 'riskml_shadow_model_loaded{model_version="8"} 0.0' in text
