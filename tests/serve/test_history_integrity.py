"""What the service keeps: dry runs store nothing; history is append-only in meaning."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

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


def _stored_claim(service: Service, claim_id: str) -> dict[str, object]:
    claims, _ = service.store.stored_claim(claim_id)
    return claims.iloc[0].to_dict()


def test_the_same_content_again_is_idempotent_also_for_ingested_claims(service: Service) -> None:
    """C1 came in by ingest; sent again exactly as stored it is scored, and nothing changes."""
    c1 = claim_json(
        "C1",
        "P1",
        benefit_type="inpatient",
        submitted_at="2024-02-01T09:00:00",
        service_start="2024-01-20",
        service_end="2024-01-29",
        diagnosis_code="I21.9",
        amount_claimed=12000.0,
        items=[
            {"line_no": 1, "item_code": "B001", "item_category": "bed", "quantity": 9.0,
             "unit_price": 1000.0, "amount": 9000.0},
            {"line_no": 2, "item_code": "D123", "item_category": "drug", "quantity": 2.0,
             "unit_price": 1500.0, "amount": 3000.0},
        ],
    )  # fmt: skip
    before = _counts(service)
    with service.client("scorer") as c:
        for _ in range(2):
            r = c.post("/v1/claims/score", json={"claims": [c1]})
            assert r.status_code == 200, r.text
    assert _counts(service)["claims"] == before["claims"]
    assert service.store.claim_versions("C1") == []


def test_other_content_under_a_stored_claim_id_is_409_naming_the_fields(service: Service) -> None:
    original = claim_json("K1", "P1", submitted_at="2024-08-01T09:00:00")
    with service.client("scorer") as c:
        assert c.post("/v1/claims/score", json={"claims": [original]}).status_code == 200
        stored = _stored_claim(service, "K1")
        n_audit = len(service.store.audit_log())
        fresh = claim_json("K2", "P2", submitted_at="2024-08-02T09:00:00")
        changed = {**original, "person_id": "P2", "amount_claimed": 999.0}
        changed["items"] = [{**original["items"][0], "amount": 470.0}]
        r = c.post("/v1/claims/score", json={"claims": [fresh, changed]})
        assert r.status_code == 409, r.text
        conflict = r.json()["detail"]["conflicts"]
        assert conflict == [
            {
                "index": 1,
                "claim_id": "K1",
                "fields": ["person_id", "amount_claimed", "items[line_no=1].amount"],
            }
        ]
        extra_line = {
            **original,
            "items": [*original["items"], {**original["items"][0], "line_no": 2}],
        }
        r = c.post("/v1/claims/score", json={"claims": [extra_line]})
        assert r.status_code == 409 and r.json()["detail"]["conflicts"][0]["fields"] == [
            "items[line_no=2]"
        ]
    # nothing of the refused requests is stored: neither the changed claim nor its neighbour
    assert _stored_claim(service, "K1") == stored
    assert service.store.scores_of(["K2"]).empty
    assert len(service.store.audit_log()) == n_audit
    # a dry run does not store, so it does not conflict
    with service.client("scorer") as c:
        r = c.post("/v1/claims/score", params={"dry_run": "true"}, json={"claims": [changed]})
    assert r.status_code == 200, r.text


def test_only_an_administrator_corrects_and_the_earlier_version_is_kept(service: Service) -> None:
    first = claim_json("V1", "P1", submitted_at="2024-09-01T09:00:00")
    later = claim_json("V2", "P1", submitted_at="2024-09-05T09:00:00")
    with service.client("scorer") as c:
        assert c.post("/v1/claims/score", json={"claims": [first]}).status_code == 200
        r = c.post("/v1/claims/score", json={"claims": [later]})
        assert r.status_code == 200
    prior_before = r.json()["results"][0]["reasons"][0]["value"]
    stored_before = _stored_claim(service, "V1")
    corrected = {**first, "person_id": "P2"}
    body = {"claim": corrected, "reason": "keyed in under the wrong insured person"}
    for role in ("scorer", "investigator", "supervisor"):
        with service.client(role) as c:
            assert c.put("/v1/claims/V1", json=body).status_code == 403
    with service.client("admin") as c:
        assert (
            c.put(
                "/v1/claims/NOPE", json={**body, "claim": {**corrected, "claim_id": "NOPE"}}
            ).status_code
            == 404
        )
        assert c.put("/v1/claims/V2", json=body).status_code == 422  # the path names another claim
        assert c.put("/v1/claims/V1", json={**body, "reason": "  "}).status_code == 422
        r = c.put("/v1/claims/V1", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["version"] == 2 and out["changed_fields"] == ["person_id"]
        # V2 (P1, later) no longer has V1 in its history: scored again as a batch run would
        assert out["rescored"] >= 1
        again = c.put("/v1/claims/V1", json=body).json()  # the same correction again: no-op
        assert again["version"] == 2 and again["changed_fields"] == []
    assert _stored_claim(service, "V1")["person_id"] == "P2"
    versions = service.store.claim_versions("V1")
    assert len(versions) == 1 and versions[0]["version"] == 1
    assert versions[0]["claim"]["person_id"] == stored_before["person_id"] == "P1"
    assert versions[0]["items"][0]["amount"] == 480.0
    assert versions[0]["superseded_by"] == "admin-1"
    v2 = service.store.scores_of(["V2"]).iloc[0]
    assert v2["reasons"][0]["value"] == prior_before - 1
    audit = service.store.audit_log()
    corrections = audit.loc[(audit["action"] == "correct") & (audit["claim_id"] == "V1")]
    assert len(corrections) == 1 and "person_id" in corrections["outcome"].iloc[0]
    assert set(audit.loc[audit["action"] == "rescore", "claim_id"]) >= {"V1", "V2"}


def test_claim_versions_are_append_only(service: Service) -> None:
    t = service.store.tables["claim_versions"]
    for stmt in (sa.update(t).values(reason="rewritten"), sa.delete(t)):
        with (
            pytest.raises(sa.exc.DatabaseError, match="append-only"),
            service.store.engine.begin() as conn,
        ):
            conn.execute(stmt)


def test_two_first_sends_of_one_claim_id_cannot_both_be_stored(service: Service) -> None:
    """Concurrent first sends with different content: one is stored, the others are 409 (the
    store-level race, without the route's gate, is tests/store/test_versions.py's)."""
    import threading

    bodies = [
        {"claims": [claim_json("RACE1", person, submitted_at="2024-10-01T09:00:00")]}
        for person in ("P1", "P2", "P3", "P1", "P2", "P3")
    ]
    codes: list[int] = []
    start = threading.Barrier(len(bodies))

    def send(body: dict[str, object]) -> None:
        with service.client("scorer") as c:
            start.wait()
            codes.append(c.post("/v1/claims/score", json=body).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = _stored_claim(service, "RACE1")["person_id"]
    same_as_stored = sum(1 for b in bodies if b["claims"][0]["person_id"] == stored)  # type: ignore[index]
    assert sorted(codes) == sorted([200] * same_as_stored + [409] * (len(bodies) - same_as_stored))
    assert len(service.store.scores_of(["RACE1"])) == 1
