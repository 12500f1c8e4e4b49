"""Property-based fuzzing of the score route: no input makes the service answer 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskml.contract import TABLES
from tests.serve.conftest import Service, start_service
from tests.serve.support import claim_json, shared_postgres

#: 409: a generated claim_id already stored, by an earlier example, with other content.
ALLOWED = {200, 409, 413, 422}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["P1", "P2", "H1", "E1", "110105", "2024-02-30", "2024-05-01T25:00:00", ""])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
claim_fields = [*TABLES["claims"].column_names, "items"]
item_fields = list(TABLES["claim_items"].column_names)


@st.composite
def mutated_claim(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """A valid claim with some fields replaced by arbitrary JSON, removed, or its items mutated."""
    claim = claim_json(
        f"F{index}-{draw(st.integers(0, 10**6))}", draw(st.sampled_from(["P1", "P2", "P3"]))
    )
    for field in draw(st.lists(st.sampled_from(claim_fields), max_size=3, unique=True)):
        if draw(st.booleans()):
            claim.pop(field, None)
        else:
            claim[field] = draw(json_values)
    items = claim.get("items")
    if isinstance(items, list) and items and isinstance(items[0], dict) and draw(st.booleans()):
        item = dict(claim["items"][0])
        item[draw(st.sampled_from(item_fields))] = draw(json_values)
        claim["items"] = [item, *claim["items"]]
    return claim


bodies = (
    st.builds(
        lambda cs: {"claims": cs}, st.lists(st.integers(0, 99).flatmap(mutated_claim), max_size=4)
    )
    | json_values
    | st.dictionaries(st.sampled_from(["claims", "extra"]), json_values, max_size=2)
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The service on each store: PostgreSQL refuses some strings (NUL) that SQLite takes."""
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'store.db'}"
    else:
        url = shared_postgres().new_database()
    yield from start_service(url, workdir)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_no_input_makes_the_score_route_fail(fuzz_service: Service, body: Any) -> None:
    content = json.dumps(body, allow_nan=True).encode()
    with httpx.Client(
        base_url=fuzz_service.url,
        headers={"Authorization": f"Bearer {fuzz_service.keys['scorer']}"},
        timeout=30,
    ) as c:
        r = c.post(
            "/v1/claims/score", content=content, headers={"content-type": "application/json"}
        )
    assert r.status_code in ALLOWED, (r.status_code, r.text[:500])
    if r.status_code == 409:
        assert all(c["fields"] for c in r.json()["detail"]["conflicts"])
    if r.status_code == 200:
        out = r.json()
        assert [x["claim_id"] for x in out["results"]] == [c["claim_id"] for c in body["claims"]]
        assert all(0 <= x["risk_score"] <= 1 for x in out["results"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.text(min_size=1, max_size=30).filter(lambda s: "/" not in s and s not in {".", ".."}),
    body=json_values,
)
def test_no_input_makes_the_decision_route_fail(
    fuzz_service: Service, path: str, body: Any
) -> None:
    with httpx.Client(
        base_url=fuzz_service.url,
        headers={"Authorization": f"Bearer {fuzz_service.keys['investigator']}"},
        timeout=30,
    ) as c:
        r = c.post(
            f"/v1/claims/{quote(path, safe='')}/decision",
            content=json.dumps(body, allow_nan=True).encode(),
            headers={"content-type": "application/json"},
        )
    assert r.status_code in {201, 404, 422}, (r.status_code, r.text[:500])
