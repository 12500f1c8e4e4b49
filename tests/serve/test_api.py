"""The HTTP API against a real uvicorn server and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from riskml.data import validate_frame
from riskml.security import pseudonymise
from tests.serve.conftest import Service
from tests.serve.support import claim_json


def test_health_and_readiness(service: Service) -> None:
    with service.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["model_version"] == "test-1"
        assert c.get("/openapi.json").json()["paths"]["/v1/claims/score"]


@pytest.mark.parametrize("key", [None, "rk_not-a-key", "Basic abc"])
def test_without_a_valid_key_every_v1_route_is_401(service: Service, key: str | None) -> None:
    with service.client(key=key) as c:
        assert c.post("/v1/claims/score", json={"claims": [claim_json("A401")]}).status_code == 401
        assert c.get("/v1/queue").status_code == 401
        assert c.get("/v1/model").status_code == 401
        r = c.post("/v1/claims/C1/decision", json={"outcome": "error", "note": "x"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"


def test_roles(service: Service) -> None:
    body = {"claims": [claim_json("ROLE1")]}
    decision = {"outcome": "unfounded", "note": "checked"}
    with service.client("scorer") as c:
        assert c.get("/v1/queue").status_code == 403
        assert c.post("/v1/claims/C2/decision", json=decision).status_code == 403
        assert c.post("/v1/claims/score", json=body).status_code == 200
        assert c.get("/v1/model").status_code == 200
    for role in ("investigator", "supervisor"):
        with service.client(role) as c:
            assert c.post("/v1/claims/score", json=body).status_code == 403
            assert c.get("/v1/queue").status_code == 200
    with service.client("admin") as c:
        assert c.post("/v1/claims/score", json=body).status_code == 200
        assert c.get("/v1/queue").status_code == 200
    audit = service.store.audit_log()
    denied = audit.loc[audit["outcome"] == "403"]
    assert {"scorer-1", "investigator-1", "supervisor-1"} <= set(denied["actor"])
    assert "denied /v1/queue" in set(denied.loc[denied["actor"] == "scorer-1", "action"])


def test_revoked_key_is_refused(service: Service) -> None:
    from riskml.security import hash_api_key, new_api_key

    key = new_api_key()
    service.store.add_api_key("leaver", "admin", hash_api_key(key, service.secret))
    with service.client(key=key) as c:
        assert c.get("/v1/model").status_code == 200
        service.store.revoke_api_key("leaver")
        assert c.get("/v1/model").status_code == 401


def test_model_info(service: Service) -> None:
    with service.client("investigator") as c:
        info = c.get("/v1/model").json()
    assert info["version"] == "test-1"
    assert info["features"] == ["prior_claims_of_person", "amount_claimed"]


def test_score_answers_in_request_order_persists_and_audits(service: Service) -> None:
    claims = [
        claim_json("S2", "P2", provider_id="H2", benefit_type="pharmacy", amount_claimed=9000.0),
        claim_json(
            "S1",
            "P1",
            submitted_at="2024-04-02T10:00:00+08:00",
            service_start="2024-04-02",  # a service after its submission is refused
            service_end="2024-04-02",
        ),
        claim_json("S3", "P3", provider_id=None, benefit_type="pension", items=None),
    ]
    with service.client("scorer") as c:
        r = c.post("/v1/claims/score", json={"claims": claims})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_version"] == "test-1"
    assert [x["claim_id"] for x in out["results"]] == ["S2", "S1", "S3"]
    first = out["results"][0]
    assert 0 <= first["risk_score"] <= 1 and first["risk_band"] in ("high", "medium", "low")
    assert {"feature", "value", "contribution", "text"} == set(first["reasons"][0])
    # P1 had C1 and C2 before S1; the stand-in counts them from the store's history
    s1 = out["results"][1]["reasons"][0]
    assert s1["feature"] == "prior_claims_of_person" and s1["value"] == 2.0
    stored = service.store.scores_of(["S1", "S2", "S3"]).set_index("claim_id")
    assert set(stored.index) == {"S1", "S2", "S3"}
    assert (stored["model_version"] == "test-1").all()
    assert stored.loc["S2", "risk_score"] == pytest.approx(first["risk_score"])
    assert stored.loc["S2", "reasons"] == first["reasons"]
    audit = service.store.audit_log()
    rows = audit.loc[audit["claim_id"].isin(["S1", "S2", "S3"])]
    assert len(rows) == 3 and set(rows["action"]) == {"score"}
    assert set(rows["actor"]) == {"scorer-1"} and set(rows["model_version"]) == {"test-1"}
    p1 = rows.set_index("claim_id").loc["S1", "subject"]
    assert p1 == pseudonymise("P1", service.secret) and "P1" not in p1
    # the claims are in the store now, items included; the aware timestamp became local time
    # (a later claim within the features' one-year reach sees them)
    hist = service.store.history_for(
        pd.DataFrame(
            {
                "claim_id": ["later"],
                "person_id": ["P1"],
                "provider_id": [None],
                "employer_id": [None],
                "submitted_at": [pd.Timestamp("2024-12-01")],
            }
        )
    )
    s1_row = hist.claims.set_index("claim_id").loc["S1"]
    assert s1_row["submitted_at"] == pd.Timestamp("2024-04-02 10:00")
    assert "S1" in set(hist.claim_items["claim_id"])


def test_a_retry_neither_duplicates_nor_sees_itself(service: Service) -> None:
    body = {"claims": [claim_json("R1", "P1", submitted_at="2024-06-01T09:00:00")]}
    with service.client("scorer") as c:
        first = c.post("/v1/claims/score", json=body).json()
        n_claims = service.store.count("claims")
        again = c.post("/v1/claims/score", json=body).json()
    assert again["results"] == first["results"]
    assert service.store.count("claims") == n_claims
    assert len(service.store.scores_of(["R1"])) == 1


def test_a_later_claim_sees_the_scored_one_in_its_history(service: Service) -> None:
    with service.client("scorer") as c:
        a = c.post(
            "/v1/claims/score",
            json={
                "claims": [
                    claim_json("H-a", "P3", provider_id="H2", submitted_at="2025-01-01T08:00:00")
                ]
            },
        ).json()
        b = c.post(
            "/v1/claims/score",
            json={
                "claims": [
                    claim_json("H-b", "P3", provider_id="H2", submitted_at="2025-01-02T08:00:00")
                ]
            },
        ).json()
    assert b["results"][0]["reasons"][0]["value"] == a["results"][0]["reasons"][0]["value"] + 1


@pytest.mark.parametrize(
    ("change", "loc_tail"),
    [
        ({"amount_claimed": -1}, ["amount_claimed"]),
        ({"amount_claimed": "lots"}, ["amount_claimed"]),
        ({"benefit_type": "holiday"}, ["benefit_type"]),
        ({"region_code": "11010"}, ["region_code"]),
        ({"submitted_at": "yesterday"}, ["submitted_at"]),
        ({"service_start": "1066-10-14"}, ["service_start"]),
        ({"claim_id": ""}, ["claim_id"]),
        ({"claim_id": "a\x00b"}, ["claim_id"]),
        ({"person_id": None}, ["person_id"]),
        ({"items": [{"line_no": 1}]}, ["items", 0, "item_code"]),
        ({"items": [{**claim_json("x")["items"][0], "quantity": 0}]}, ["items", 0, "quantity"]),
    ],
)
def test_invalid_claims_are_422_naming_the_field(service: Service, change, loc_tail) -> None:
    body = {"claims": [claim_json("OK1"), {**claim_json("BAD1"), **change}]}
    with service.client("scorer") as c:
        r = c.post("/v1/claims/score", json=body)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(
        loc[:3] == ["body", "claims", 1] and loc[-len(loc_tail) :] == loc_tail for loc in locs
    ), locs
    assert service.store.scores_of(["OK1", "BAD1"]).empty  # nothing of a refused request is kept


@pytest.mark.parametrize(
    ("change", "field", "loc_tail"),
    [
        ({"person_id": "P404"}, "person_id", ["person_id"]),
        ({"provider_id": "H404"}, "provider_id", ["provider_id"]),
        ({"employer_id": "E404"}, "employer_id", ["employer_id"]),
    ],
)
def test_unknown_references_are_422(service: Service, change, field, loc_tail) -> None:
    with service.client("scorer") as c:
        r = c.post(
            "/v1/claims/score", json={"claims": [claim_json("U0"), claim_json("U1", **change)]}
        )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "claims", 1, field]
    assert field in r.json()["detail"][0]["msg"]


def test_cross_field_and_duplicate_checks(service: Service) -> None:
    with service.client("scorer") as c:
        r = c.post(
            "/v1/claims/score",
            json={
                "claims": [claim_json("D1", service_start="2024-05-03", service_end="2024-05-01")]
            },
        )
        assert r.status_code == 422 and "service_end" in r.text
        r = c.post("/v1/claims/score", json={"claims": [claim_json("D2"), claim_json("D2")]})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
            "body",
            "claims",
            1,
            "claim_id",
        ]
        item = claim_json("x")["items"][0]
        r = c.post("/v1/claims/score", json={"claims": [claim_json("D3", items=[item, item])]})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "claims", 0, "items", 1, "line_no"]


def test_limits(service: Service) -> None:
    with service.client("scorer") as c:
        too_many = {"claims": [claim_json(f"L{i}") for i in range(21)]}
        r = c.post("/v1/claims/score", json=too_many)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "claims"]
        assert c.post("/v1/claims/score", json={"claims": []}).status_code == 422
        huge = {"claims": [claim_json("L0", diagnosis_code="x" * 100), {"pad": "y" * 120_000}]}
        assert c.post("/v1/claims/score", json=huge).status_code == 413

        def chunks():
            yield b'{"claims": ['
            for _ in range(200):
                yield b'"' + b"z" * 1000 + b'",'
            yield b"1]}"

        assert c.post("/v1/claims/score", content=chunks()).status_code == 413
        assert c.post("/v1/claims/score", content=b"{not json").status_code == 422


def test_queue_decision_audit_and_labels_export(service: Service, tmp_path) -> None:
    claims = [
        claim_json("Q1", "P2", provider_id="H2", amount_claimed=30_000.0, region_code="310115"),
        claim_json("Q2", "P1", amount_claimed=30_000.0, benefit_type="inpatient"),
        claim_json(
            "Q3",
            "P3",
            amount_claimed=10.0,
            submitted_at="2024-01-05T08:00:00",
            service_start="2024-01-05",  # a service after its submission is refused
            service_end="2024-01-05",
        ),
    ]
    with service.client("scorer") as c:
        scored = c.post("/v1/claims/score", json={"claims": claims}).json()["results"]
    bands = {r["claim_id"]: r["risk_band"] for r in scored}
    assert bands["Q1"] == "high" and bands["Q3"] == "low"
    with service.client("investigator") as c:
        queue = c.get("/v1/queue", params={"limit": 500}).json()["claims"]
        ids = [q["claim_id"] for q in queue]
        assert "Q1" in ids and "Q2" in ids and "Q3" not in ids
        keys = [(-q["risk_score"], -q["amount_claimed"]) for q in queue]
        assert keys == sorted(keys)
        assert queue[ids.index("Q1")]["reasons"][0]["feature"] == "prior_claims_of_person"
        only = c.get("/v1/queue", params={"region": "310115", "limit": 500}).json()["claims"]
        assert {q["region_code"] for q in only} == {"310115"} and "Q1" in [
            q["claim_id"] for q in only
        ]
        inpatient = c.get("/v1/queue", params={"benefit_type": "inpatient"}).json()["claims"]
        assert [q["claim_id"] for q in inpatient if q["claim_id"].startswith("Q")] == ["Q2"]
        assert c.get("/v1/queue", params={"limit": 0}).status_code == 422
        assert c.get("/v1/queue", params={"benefit_type": "spa"}).status_code == 422

        r = c.post(
            "/v1/claims/Q1/decision",
            json={"outcome": "fraud", "note": "pharmacy resale", "typology": "drug_reselling"},
        )
        assert r.status_code == 201, r.text
        d = r.json()
        assert d["decided_by"] == "investigator-1" and d["decided_role"] == "investigator"
        assert d["outcome"] == "fraud" and d["typology"] == "drug_reselling"
        assert (
            c.post("/v1/claims/NOPE/decision", json={"outcome": "fraud", "note": ""}).status_code
            == 404
        )
        assert (
            c.post("/v1/claims/Q2/decision", json={"outcome": "deny", "note": ""}).status_code
            == 422
        )
        after = [q["claim_id"] for q in c.get("/v1/queue", params={"limit": 500}).json()["claims"]]
        assert "Q1" not in after and "Q2" in after
    with service.client("supervisor") as c:
        r = c.post("/v1/claims/Q2/decision", json={"outcome": "error", "note": "coding error"})
        assert r.status_code == 201
    audit = service.store.audit_log()
    decided = audit.loc[audit["action"] == "decide"].set_index("claim_id")
    assert decided.loc["Q1", "actor"] == "investigator-1"
    assert decided.loc["Q1", "subject"] == pseudonymise("P2", service.secret)
    assert "read_queue" in set(audit["action"])
    labels = service.store.labels_frame()
    validate_frame(labels, "labels")
    got = labels.set_index("claim_id")
    assert bool(got.loc["Q1", "is_fraud"]) and got.loc["Q1", "typology"] == "drug_reselling"
    assert not bool(got.loc["Q2", "is_fraud"]) and got.loc["Q2", "outcome"] == "error"


def test_metrics(service: Service) -> None:
    with service.client() as c:
        text = c.get("/metrics").text
    assert "riskml_http_requests_total" in text
    assert 'route="/v1/claims/score"' in text
    assert "riskml_claims_scored_total" in text
    assert 'riskml_model_loaded{model_version="test-1"} 1.0' in text


def test_no_person_id_in_logs(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with service.client("scorer") as c:
        ok = c.post(
            "/v1/claims/score", json={"claims": [claim_json("LOG1", "P2", provider_id="H2")]}
        )
        bad = c.post(
            "/v1/claims/score", json={"claims": [claim_json("LOG2", "P2", amount_claimed=-5)]}
        )
    assert ok.status_code == 200 and bad.status_code == 422
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert pseudonymise("P2", service.secret) in text
    assert "P2" not in text


def test_concurrent_scoring_loses_no_score_and_no_audit_row(service: Service) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def post(i: int) -> int:
        body = {"claims": [claim_json(f"CC{i}-{j}", f"P{1 + (i + j) % 3}") for j in range(3)]}
        with service.client("scorer") as c:
            return c.post("/v1/claims/score", json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(16)))
    assert codes == [200] * 16
    ids = [f"CC{i}-{j}" for i in range(16) for j in range(3)]
    assert len(service.store.scores_of(ids)) == len(ids)
    audit = service.store.audit_log()
    assert audit["claim_id"].isin(ids).sum() == len(ids)
