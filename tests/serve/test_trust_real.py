"""Trusting the model in service, with the session's real model (issue 16).

- The drift gauges of ``/metrics`` are :func:`riskml.monitor.compare` of the claims the service
  scored against the model's training reference: the same numbers ``riskml monitor`` computes
  from the batch features of the same claims.
- A real challenger in shadow (the same booster under another version) scores the same claims on
  the same history: its shadow scores equal the champion's to 1e-9.
- What the shadow costs the response: single-claim requests with and without the shadow (printed;
  ``pytest -s`` shows it).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from serve.app import create_app
from serve.schemas import request_claims
from serve.settings import Settings

from riskml.config import MonitorConfig
from riskml.data import ClaimsData
from riskml.monitor import compare
from riskml.scoring import Scorer, load_scorer
from riskml.security import hash_api_key, load_secret, new_api_key
from riskml.store import Store, open_store
from tests.conftest import Trained
from tests.serve.support import running_server

MODEL_URI = "models:/riskml-claims@champion"
SHADOW_VERSION = "shadow-copy"


@dataclasses.dataclass
class RealService:
    url: str
    app: FastAPI
    store: Store
    key: str
    shadow: Scorer

    def post(self, bodies: list[dict[str, Any]]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/claims/score",
            json={"claims": bodies},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=60,
        )


@pytest.fixture(scope="module")
def real(
    trained: Trained, synth_data: ClaimsData, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealService]:
    workdir = tmp_path_factory.mktemp("trust")
    url = f"sqlite:///{workdir / 'store.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RISKML_SECRET", raising=False)
        store = open_store(url)
        store.ingest(synth_data)
        secret = load_secret(workdir / "secret.key")
        key = new_api_key()
        store.add_api_key("scorer-1", "scorer", hash_api_key(key, secret))
        champion = load_scorer(MODEL_URI)
        shadow = Scorer(dataclasses.replace(champion.bundle, model_version=SHADOW_VERSION))
        settings = Settings(
            store_url=url,
            model_uri=MODEL_URI,
            secret_file=str(workdir / "secret.key"),
            model_poll_seconds=0,
        )
        app = create_app(settings, shadow=shadow)
        with running_server(app) as base:
            deadline = time.monotonic() + 120
            while httpx.get(f"{base}/readyz", timeout=60).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            yield RealService(base, app, store, key, shadow)
        store.close()


def _late(synth_data: ClaimsData, n: int, seed: int) -> Any:
    claims = synth_data.claims.sort_values(["submitted_at", "claim_id"]).iloc[-3000:]
    rng = np.random.default_rng(seed)
    return claims.iloc[np.sort(rng.choice(len(claims), size=n, replace=False))]


def _gauges(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "model_version"))
            out.setdefault(s.name, {})[labels] = s.value
    return out


def test_drift_gauges_are_what_riskml_monitor_computes(
    real: RealService, synth_data: ClaimsData
) -> None:
    picked = _late(synth_data, 60, seed=1)
    r = real.post(request_claims(picked, synth_data.claim_items))
    assert r.status_code == 200, r.text
    g = _gauges(httpx.get(f"{real.url}/metrics", timeout=30).text)
    assert g["riskml_drift_window_claims"][()] == 60
    # riskml monitor's way: batch features of the same claims, scored, compared with reference
    scorer = load_scorer(MODEL_URI)
    bundle = scorer.bundle
    feats = scorer.features(synth_data, picked)
    x = feats[bundle.feature_names].to_numpy(dtype=np.float64)
    scores = bundle.predict_risk(x)
    columns = {name: x[:, j] for j, name in enumerate(bundle.feature_names)}
    amount = picked.set_index(picked["claim_id"].astype(str))["amount_claimed"]
    columns["amount_claimed"] = amount.reindex(feats.index).to_numpy(dtype=np.float64)
    config = MonitorConfig()
    expected = compare(
        scorer.drift_reference(),  # type: ignore[arg-type]
        columns,
        scores,
        bundle.band(scores),
        psi_warn=config.psi_warn,
        psi_alert=config.psi_alert,
        band_share_tolerance=config.band_share_tolerance,
        min_claims=config.min_claims,
    )
    psi = {dict(k)["feature"]: v for k, v in g["riskml_drift_feature_psi"].items()}
    assert set(psi) == set(expected["features"]) and "amount_claimed" in psi
    for name, row in expected["features"].items():
        assert psi[name] == pytest.approx(row["psi"], rel=1e-9, abs=1e-12), name
    assert g["riskml_drift_score_psi"][()] == pytest.approx(expected["score"]["psi"], rel=1e-9)
    shares = {dict(k)["band"]: v for k, v in g["riskml_drift_band_share"].items()}
    targets = {dict(k)["band"]: v for k, v in g["riskml_drift_band_target"].items()}
    for band, row in expected["bands"].items():
        assert shares[band] == pytest.approx(row["share"], abs=1e-12)
        assert targets[band] == pytest.approx(row["target"], abs=1e-12)
    alerts = {dict(k)["kind"]: v for k, v in g["riskml_drift_alerts"].items()}
    assert alerts["too_few_claims"] == 1  # 60 claims < min_claims: the gauges say it is noisy


def test_a_real_challenger_in_shadow_scores_the_same_history(
    real: RealService, synth_data: ClaimsData
) -> None:
    picked = _late(synth_data, 10, seed=2)
    r = real.post(request_claims(picked, synth_data.claim_items))
    assert r.status_code == 200, r.text
    champion = {x["claim_id"]: x for x in r.json()["results"]}
    assert real.app.state.shadow.drain(60)
    shadow = real.store.shadow_scores().set_index("claim_id").loc[list(champion)]
    assert (shadow["model_version"] == SHADOW_VERSION).all()
    for cid, row in shadow.iterrows():  # the same booster on the same world: the same score
        assert row["risk_score"] == pytest.approx(champion[cid]["risk_score"], abs=1e-9)
        assert row["risk_band"] == champion[cid]["risk_band"]
        assert row["champion_score"] == pytest.approx(champion[cid]["risk_score"], abs=1e-12)
    (pair,) = real.store.shadow_comparison()
    assert pair["band_agreement"] == 1.0 and pair["mean_abs_difference"] < 1e-9


def _shadow_count(url: str) -> float:
    g = _gauges(httpx.get(f"{url}/metrics", timeout=30).text)
    return g.get("riskml_shadow_seconds_count", {}).get((), 0.0)


def test_the_shadow_scores_off_the_response_path(
    real: RealService, synth_data: ClaimsData, capsys: pytest.CaptureFixture[str]
) -> None:
    """Blocks of sequential single-claim requests, back to back, the shadow on and off in turn:
    every request is answered while the shadow is on, the shadow scores exactly the requests of
    the blocks it was on for (and none of the others), and the latencies of both are printed
    (``pytest -s``; the client never waits for the shadow, as a real one would not). What the
    shadow would add if it were done in the handler is ``riskml_shadow_seconds``. The suite runs
    20 requests each way; the README's figures are from a run of 60 each way."""
    blocks, per_block = 4, 10
    picked = _late(synth_data, blocks * per_block, seed=3)
    bodies = request_claims(picked, synth_data.claim_items)
    slot = real.app.state.shadow_models
    times: dict[bool, list[float]] = {True: [], False: []}
    assert real.app.state.shadow.drain(60)
    counted = _shadow_count(real.url)
    for block in range(blocks):
        on = block % 2 == 0
        if on:
            slot.swap(real.shadow)
        else:
            slot.clear()
        for body in bodies[block * per_block : (block + 1) * per_block]:
            started = time.perf_counter()
            assert real.post([body]).status_code == 200
            times[on].append(time.perf_counter() - started)
        assert real.app.state.shadow.drain(60)
        now = _shadow_count(real.url)
        assert now - counted == (per_block if on else 0), (block, on, now - counted)
        counted = now
    slot.swap(real.shadow)
    g = _gauges(httpx.get(f"{real.url}/metrics", timeout=30).text)
    shadow_mean = g["riskml_shadow_seconds_sum"][()] / g["riskml_shadow_seconds_count"][()]

    def q(v: list[float], p: float) -> float:
        return 1000 * float(np.quantile(v, p))

    with capsys.disabled():
        on, off = times[True], times[False]
        print(
            f"\nshadow latency (back to back): "
            f"p50 {q(on, 0.5):.1f} ms / p90 {q(on, 0.9):.1f} ms with the shadow, "
            f"p50 {q(off, 0.5):.1f} ms / p90 {q(off, 0.9):.1f} ms without; the shadow's own "
            f"work {1000 * shadow_mean:.1f} ms per request (mean, off the response path); "
            f"mean {1000 * statistics.mean(on):.1f} vs {1000 * statistics.mean(off):.1f} ms"
        )
