"""The service with the real model: loaded by URI in the lifespan, online score == batch score.

DESIGN principle 1: the online score of a claim equals its batch score given the same history.
The data directory is ingested into the store; claims of its last months are then posted to the
running service (which reads their history from the store) and scored in batch by the same
model version over the whole directory; scores agree to 1e-9 and reasons name the same features.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from serve.app import create_app
from serve.schemas import request_claims
from serve.settings import Settings

from riskml.data import ClaimsData
from riskml.security import hash_api_key, load_secret, new_api_key
from riskml.store import open_store
from tests.conftest import Trained
from tests.serve.conftest import Service
from tests.serve.support import running_server

MODEL_URI = "models:/riskml-claims@champion"


@pytest.fixture(scope="module")
def real_service(
    trained: Trained,
    synth_dir: Path,
    synth_data: ClaimsData,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    assert trained.decision.promoted, "the test model must be the champion"
    workdir = tmp_path_factory.mktemp("real")
    url = f"sqlite:///{workdir / 'store.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RISKML_SECRET", raising=False)
        store = open_store(url)
        store.ingest(synth_data)
        secret = load_secret(workdir / "secret.key")
        key = new_api_key()
        store.add_api_key("scorer-1", "scorer", hash_api_key(key, secret))
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
            yield Service(url=base, store=store, secret=secret, scorer=None, keys={"scorer": key})  # type: ignore[arg-type]
        store.close()


def test_online_score_equals_batch_score(real_service: Service, synth_data: ClaimsData) -> None:
    from riskml.scoring import load_scorer

    claims = synth_data.claims.sort_values(["submitted_at", "claim_id"])
    late = claims.iloc[-3000:]
    rng = np.random.default_rng(0)
    picked = late.iloc[np.sort(rng.choice(len(late), size=8, replace=False))]
    scorer = load_scorer(MODEL_URI)
    batch = scorer.score_frame(synth_data, picked, explain="all").set_index("claim_id")
    with real_service.client("scorer") as c:
        ready = c.get("/readyz").json()
        assert ready["ready"] and ready["model_version"] == scorer.model_version
        info = c.get("/v1/model").json()
        assert info["version"] == scorer.model_version and info["features"]
        online = []
        for body in request_claims(picked, synth_data.claim_items):  # one claim per request
            r = c.post("/v1/claims/score", json={"claims": [body]})
            assert r.status_code == 200, r.text
            online.extend(r.json()["results"])
        r = c.post(
            "/v1/claims/score", json={"claims": request_claims(picked, synth_data.claim_items)}
        )
        assert r.status_code == 200, r.text
        together = r.json()["results"]
    for one, both in zip(online, together, strict=True):
        assert one["claim_id"] == both["claim_id"]
        assert one["risk_score"] == pytest.approx(both["risk_score"], abs=1e-9)
    got = pd.DataFrame(online).set_index("claim_id")
    assert list(got.index) == list(picked["claim_id"])
    np.testing.assert_allclose(got["risk_score"], batch.loc[got.index, "risk_score"], atol=1e-9)
    assert (got["risk_band"] == batch.loc[got.index, "risk_band"]).all()
    for cid, reasons in got["reasons"].items():
        import json

        expected = json.loads(batch.loc[cid, "reasons"])
        assert [r["feature"] for r in reasons] == [r["feature"] for r in expected]
