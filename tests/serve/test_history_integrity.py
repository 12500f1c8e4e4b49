"""What the service keeps: dry runs store nothing; history is append-only in meaning."""

from __future__ import annotations

from tests.serve.conftest import Service
from tests.serve.support import claim_json


def _counts(service: Service) -> dict[str, int]:
    return {t: service.store.count(t) for t in ("claims", "claim_items", "scores")}


def test_a_dry_run_scores_like_a_real_run_and_stores_nothing(service: Service) -> None:
    body = {"claims": [claim_json("DRY1", "P1", submitted_at="2024-07-01T09:00:00")]}
    before = _counts(service)
    queue_before = service.store.queue(limit=500)
    with service.client("scorer") as c:
        dry = c.post("/v1/claims/score", params={"dry_run": "true"}, json=body)
        assert dry.status_code == 200, dry.text
        assert _counts(service) == before
        assert service.store.scores_of(["DRY1"]).empty
        assert service.store.queue(limit=500) == queue_before
        audit = service.store.audit_log()
        assert audit.loc[audit["claim_id"] == "DRY1", "action"].tolist() == ["score_dry_run"]
        real = c.post("/v1/claims/score", json=body)
    assert real.status_code == 200, real.text
    assert real.json() == dry.json()  # the same history, the same score
    assert _counts(service)["claims"] == before["claims"] + 1
    assert len(service.store.scores_of(["DRY1"])) == 1
