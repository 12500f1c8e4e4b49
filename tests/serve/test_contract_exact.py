"""The OpenAPI document describes the service exactly, and schemathesis finds nothing wrong."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import Service, start_service
from tests.serve.support import claim_json

HERE = Path(__file__).parent

#: Statuses each operation answers (besides 200/201), which the OpenAPI document must list.
EXPECTED_STATUSES: dict[tuple[str, str], set[str]] = {
    ("get", "/readyz"): {"503"},
    ("get", "/v1/model"): {"401", "403", "503"},
    ("get", "/v1/queue"): {"401", "403", "422"},
    ("post", "/v1/claims/score"): {"401", "403", "409", "413", "422", "500", "503"},
    ("put", "/v1/claims/{claim_id}"): {"401", "403", "404", "413", "422", "500", "503"},
    ("post", "/v1/claims/{claim_id}/decision"): {"401", "403", "404", "413", "422"},
}


def _openapi(service: Service) -> dict[str, Any]:
    with service.client() as c:
        doc: dict[str, Any] = c.get("/openapi.json").json()
    return doc


def test_every_status_a_route_answers_is_documented(service: Service) -> None:
    paths = _openapi(service)["paths"]
    for (method, path), statuses in EXPECTED_STATUSES.items():
        documented = set(paths[path][method]["responses"])
        assert statuses <= documented, (method, path, statuses - documented)


def test_timestamps_are_declared_naive_local_time(service: Service) -> None:
    doc = _openapi(service)
    text = str(doc)
    assert "'format': 'date-time'" not in text  # that would promise an offset
    schemas = doc["components"]["schemas"]
    declared = [
        schemas["QueueEntry"]["properties"]["submitted_at"],
        schemas["QueueEntry"]["properties"]["scored_at"],
        schemas["DecisionOut"]["properties"]["decided_at"],
        schemas["ClaimIn"]["properties"]["submitted_at"]["anyOf"][0]
        if "anyOf" in schemas["ClaimIn"]["properties"]["submitted_at"]
        else schemas["ClaimIn"]["properties"]["submitted_at"],
    ]
    for prop in declared:
        assert prop["format"] == "date-time-local" and "Asia/Shanghai" in prop["description"]


def test_a_body_that_is_not_utf8_is_answered_like_malformed_json(service: Service) -> None:
    headers = {"Content-Type": "application/json"}
    with service.client("scorer") as c:
        not_utf8 = c.post("/v1/claims/score", content=b'{"claims": ["\xff\xfe"]}', headers=headers)
        malformed = c.post("/v1/claims/score", content=b'{"claims": [', headers=headers)
    for r in (not_utf8, malformed):
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["type"] == "json_invalid"
        assert r.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize(
    ("change", "loc_tail"),
    [
        ({"amount_claimed": True}, ["amount_claimed"]),
        ({"amount_claimed": "480"}, ["amount_claimed"]),
        ({"submitted_at": 1714550400}, ["submitted_at"]),
        ({"submitted_at": "1714550400"}, ["submitted_at"]),
        ({"submitted_at": True}, ["submitted_at"]),
        ({"service_start": 19844}, ["service_start"]),
        ({"claim_id": " X1"}, ["claim_id"]),
        ({"claim_id": "X1 "}, ["claim_id"]),
        ({"claim_id": "X\u202e1"}, ["claim_id"]),
        ({"claim_id": "X\u2066" + "1"}, ["claim_id"]),
        ({"claim_id": "   "}, ["claim_id"]),
        ({"items": [{**claim_json("x")["items"][0], "line_no": 1.0}]}, ["items", 0, "line_no"]),
        ({"items": [{**claim_json("x")["items"][0], "line_no": True}]}, ["items", 0, "line_no"]),
        ({"items": [{**claim_json("x")["items"][0], "quantity": False}]}, ["items", 0, "quantity"]),
    ],
)
def test_json_types_are_strict(service: Service, change: dict[str, Any], loc_tail: list) -> None:
    body = {"claims": [{**claim_json("X1"), **change}]}
    with service.client("scorer") as c:
        r = c.post("/v1/claims/score", params={"dry_run": "true"}, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "claims", 0, *loc_tail]


def test_what_strictness_still_accepts(service: Service) -> None:
    """Whole numbers for amounts, an offset on a timestamp, a space inside an id."""
    body = {
        "claims": [
            claim_json("X 2", amount_claimed=480, submitted_at="2024-05-01T09:00:00+08:00"),
        ]
    }
    with service.client("scorer") as c:
        r = c.post("/v1/claims/score", params={"dry_run": "true"}, json=body)
    assert r.status_code == 200, r.text


def test_swagger_ui_and_redoc_come_from_the_service_itself(service: Service) -> None:
    with service.client() as c:
        for page in ("/docs", "/redoc"):
            html = c.get(page)
            assert html.status_code == 200
            assert "http://" not in html.text and "https://" not in html.text  # no CDN
            assets = [
                part.split('"')[0]
                for part in html.text.replace("'", '"').split('src="')[1:]
                + html.text.replace("'", '"').split('href="')[1:]
            ]
            assert assets
            for asset in assets:
                got = c.get(asset)
                assert got.status_code == 200 and len(got.content) > 100, asset


@pytest.fixture(scope="module")
def sqlite_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    yield from start_service(f"sqlite:///{workdir / 'store.db'}", workdir)


@pytest.mark.slow
def test_schemathesis_finds_no_failure(sqlite_service: Service, tmp_path: Path) -> None:
    """Every check of schemathesis, every phase, bounded examples, an administrator's key (the
    role that reaches every route), against the live server: zero failures."""
    cli = Path(sys.executable).parent / "schemathesis"
    proc = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "--no-color",
            "run",
            f"{sqlite_service.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {sqlite_service.keys['admin']}",
            "--max-examples",
            "15",
            "--workers",
            "1",
            "--seed",
            "17",
            "--request-timeout",
            "60",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,  # its cache (.schemathesis/) stays out of the work tree
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = proc.stdout[-6000:]
    assert proc.returncode == 0, summary
    assert " passed" in summary and "failure" not in summary.split("SUMMARY")[-1], summary
