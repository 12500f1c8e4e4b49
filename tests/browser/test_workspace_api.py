"""The workspace over plain HTTP, against the real model and store: sessions, roles, CSRF, the
audit log, decisions, the kill switch, cut-off approvals, random audits and the labels export."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pandas as pd
import pytest
from serve.schemas import request_claims

from riskml.data import ClaimsData
from riskml.store import casefile
from riskml.store import workspace as ws_store
from riskml.store.labels import export_labels
from tests.browser.conftest import Workspace
from tests.browser.webclient import csrf_token, post_form, session

PAGES = ["/ui/queue", "/ui/dashboard", "/ui/claims/whatever"]
POSTS = [
    "/ui/claims/whatever/decision",
    "/ui/claims/whatever/assign",
    "/ui/dashboard/kill-switch",
    "/ui/dashboard/proposals",
    "/ui/dashboard/proposals/1",
    "/ui/dashboard/random-audits",
]
NOTE = "Invoices match the ward register; the stay was medically justified."


def _queue_ids(client: httpx.Client, query: str = "") -> list[str]:
    html = client.get(f"/ui/queue{query}").text
    return re.findall(r'class="queue-row" data-claim="([^"]+)"', html)


def _decide(client: httpx.Client, claim_id: str, **fields: str) -> httpx.Response:
    page = f"/ui/claims/{claim_id}"
    return post_form(client, page, f"{page}/decision", {"kind": "decision", **fields})


def test_without_a_session_every_page_and_form_goes_to_the_login(workspace: Workspace) -> None:
    anon = session(workspace.url)
    for path in PAGES:
        r = anon.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/ui/login", path
    for path in POSTS:
        r = anon.post(path, data={"csrf_token": "x"})
        assert r.status_code == 303 and r.headers["location"] == "/ui/login", path
    assert anon.get("/ui/login").status_code == 200


def test_the_session_cookie_is_httponly_samesite_and_carries_no_key(workspace: Workspace) -> None:
    client = session(workspace.url)
    page = client.get("/ui/login")
    r = client.post(
        "/ui/login",
        data={"api_key": workspace.keys["investigator"], "csrf_token": csrf_token(page.text)},
    )
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "path=/ui" in cookie.lower()
    assert workspace.keys["investigator"] not in cookie


def test_login_refuses_bad_keys_and_roles_without_a_workspace(workspace: Workspace) -> None:
    client = session(workspace.url)
    page = client.get("/ui/login")
    bad = client.post("/ui/login", data={"api_key": "rk_nope", "csrf_token": csrf_token(page.text)})
    assert bad.status_code == 401
    page = client.get("/ui/login")
    scorer = client.post(
        "/ui/login",
        data={"api_key": workspace.keys["scorer"], "csrf_token": csrf_token(page.text)},
    )
    assert scorer.status_code == 403
    assert client.get("/ui/queue").status_code == 303  # still no session
    # no token (a cross-site form): refused before the key is even looked at
    fresh = httpx.Client(base_url=workspace.url)
    r = fresh.post("/ui/login", data={"api_key": workspace.keys["investigator"]})
    assert r.status_code == 403
    log = workspace.store.audit_log()
    refused = log.loc[log["action"] == "login", "outcome"].tolist()
    assert "refused: unknown or revoked key" in refused
    assert "refused: role has no workspace" in refused


def test_roles_are_enforced_on_every_page_and_form_and_refusals_audited(
    workspace: Workspace,
) -> None:
    inv = session(workspace.url, workspace.keys["investigator"])
    assert inv.get("/ui/queue").status_code == 200
    assert inv.get("/ui/dashboard").status_code == 403
    token = csrf_token(inv.get("/ui/queue").text)
    for path in [p for p in POSTS if "/dashboard" in p]:
        r = inv.post(path, data={"csrf_token": token, "engaged": "on", "reason": "x"})
        assert r.status_code == 403, path
    log = workspace.store.audit_log()
    denied = log.loc[(log["actor"] == "investigator") & log["action"].str.startswith("denied")]
    assert {"denied /ui/dashboard", "denied /ui/dashboard/kill-switch"} <= set(denied["action"])


def test_a_form_post_without_a_valid_token_is_refused(workspace: Workspace) -> None:
    inv = session(workspace.url, workspace.keys["investigator"])
    claim_id = _queue_ids(inv)[0]
    other = session(workspace.url, workspace.keys["investigator2"])
    foreign = csrf_token(other.get(f"/ui/claims/{claim_id}").text)  # another session's token
    for token in (None, "garbage##0", foreign):
        data = {"outcome": "unfounded", "note": NOTE, "kind": "decision"}
        if token is not None:
            data["csrf_token"] = token
        r = inv.post(f"/ui/claims/{claim_id}/decision", data=data)
        assert r.status_code == 403, token
    assert not (workspace.store.decisions()["claim_id"] == claim_id).any()


def test_queue_filters_assignment_and_status(workspace: Workspace) -> None:
    inv = session(workspace.url, workspace.keys["investigator"])
    rows, total = workspace_queue(workspace, limit=10_000)
    assert total > 0
    assert _queue_ids(inv) == [r["claim_id"] for r in rows[:100]]  # ranked as the store ranks
    first = rows[0]
    typed = next(r for r in rows if r["typology"])  # the top claim's reason may name none
    for query, keep in [
        (f"?region={first['region_code']}", lambda r: r["region_code"] == first["region_code"]),
        (
            f"?benefit_type={first['benefit_type']}",
            lambda r: r["benefit_type"] == first["benefit_type"],
        ),
        ("?band=medium", lambda r: r["band"] == "medium"),
        (f"?typology={typed['typology']}", lambda r: r["typology"] == typed["typology"]),
    ]:
        expected = [r["claim_id"] for r in rows if keep(r)][:100]
        assert expected and _queue_ids(inv, query) == expected, query
    # take a claim: it is mine, in review after "start review", no longer unassigned
    claim_id = first["claim_id"]
    page = f"/ui/claims/{claim_id}"
    assert post_form(inv, page, f"{page}/assign", {"action": "take"}).status_code == 303
    assert post_form(inv, page, f"{page}/assign", {"action": "in_review"}).status_code == 303
    assert claim_id in _queue_ids(inv, "?assignment=mine&status=in_review")
    assert claim_id not in _queue_ids(inv, "?assignment=unassigned")
    other = session(workspace.url, workspace.keys["investigator2"])
    assert claim_id not in _queue_ids(other, "?assignment=mine")
    log = workspace.store.audit_log()
    assert ((log["action"] == "assign") & (log["claim_id"] == claim_id)).sum() == 2


def workspace_queue(ws: Workspace, limit: int = 100, **filters: str) -> tuple[list, int]:
    return ws_store.queue(ws.store, "nobody", ws_store.QueueFilters(**filters), limit=limit)


def test_viewing_a_claim_is_audited_with_a_pseudonym_and_the_model_version(
    workspace: Workspace, synth_data: ClaimsData
) -> None:
    inv = session(workspace.url, workspace.keys["investigator"])
    claim_id = _queue_ids(inv)[1]
    page = inv.get(f"/ui/claims/{claim_id}")
    assert page.status_code == 200 and 'id="reason-list"' in page.text
    person = synth_data.claims.loc[synth_data.claims["claim_id"] == claim_id, "person_id"].iloc[0]
    assert person not in page.text  # the page shows the claimant's pseudonym only
    log = workspace.store.audit_log()
    view = log.loc[(log["action"] == "view_claim") & (log["claim_id"] == claim_id)].iloc[-1]
    assert view["actor"] == "investigator" and view["subject"].startswith("p_")
    assert person not in set(log["subject"].dropna())
    version = workspace.store.scores_of([claim_id])["model_version"].iloc[0]
    assert view["model_version"] == version


def test_a_decision_needs_an_outcome_a_real_note_and_a_typology_for_fraud(
    workspace: Workspace,
) -> None:
    inv = session(workspace.url, workspace.keys["investigator"])
    claim_id = _queue_ids(inv)[2]
    cases = [
        ({"outcome": "fraud", "note": NOTE}, "typology"),
        ({"outcome": "error", "note": ""}, "note"),
        ({"outcome": "error", "note": "ok ok ok"}, "note"),
        ({"outcome": "error", "note": "found\x07 a bell in the note"}, "note"),
        ({"outcome": "maybe", "note": NOTE}, "outcome"),
        ({"outcome": "unfounded", "note": NOTE, "improper_amount": "-5"}, "improper_amount"),
    ]
    for fields, field in cases:
        r = _decide(inv, claim_id, **fields)
        assert r.status_code == 422, (fields, r.status_code)
        assert f'id="{field}-error"' in r.text, fields
    assert not (workspace.store.decisions()["claim_id"] == claim_id).any()
    ok = _decide(
        inv, claim_id, outcome="error", note="重复计费两次，已与医院核实。", improper_amount="120.5"
    )
    assert ok.status_code == 303
    rows = workspace.store.decisions()
    assert rows.loc[rows["claim_id"] == claim_id, "note"].tolist() == [
        "重复计费两次，已与医院核实。"
    ]


def test_decision_json_route_shares_the_rules_one_decision_then_reviews(
    workspace: Workspace,
) -> None:
    inv = workspace.client("investigator")
    claim_id = workspace_queue(workspace)[0][3]["claim_id"]
    url = f"/v1/claims/{claim_id}/decision"
    for body, field in [
        ({"outcome": "fraud", "note": NOTE}, "typology"),
        ({"outcome": "abuse", "note": NOTE}, "typology"),
        ({"outcome": "error", "note": "   "}, "note"),
        ({"outcome": "error", "note": "x" * 20}, "note"),
        ({"outcome": "error", "note": "bidi \u202e override in the note text"}, "note"),
        ({"outcome": "error", "note": NOTE, "kind": "review"}, "review_of"),
    ]:
        r = inv.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field, r.text
    first = inv.post(url, json={"outcome": "fraud", "typology": "upcoding", "note": NOTE})
    assert first.status_code == 201, first.text
    first_id = first.json()["decision_id"]
    again = inv.post(url, json={"outcome": "unfounded", "note": NOTE})
    assert again.status_code == 409
    wrong_ref = inv.post(
        url, json={"outcome": "unfounded", "note": NOTE, "kind": "appeal", "review_of": 1}
    )
    assert wrong_ref.status_code == 409
    review = inv.post(
        url,
        json={"outcome": "error", "note": NOTE, "kind": "appeal", "review_of": first_id},
    )
    assert review.status_code == 201, review.text
    assert review.json()["review_of"] == first_id and review.json()["kind"] == "appeal"
    kept = workspace.store.decisions()
    assert kept.loc[kept["claim_id"] == claim_id, "outcome"].tolist() == ["fraud", "error"]
    assert (
        inv.post("/v1/claims/nope/decision", json={"outcome": "error", "note": NOTE}).status_code
        == 404
    )


def test_writes_are_rate_limited_per_key(workspace: Workspace) -> None:
    """RISKML_WRITE_RATE_LIMIT is 40/minute here; another key is not affected."""
    limited = workspace.client("investigator2")
    codes = [
        limited.post(
            "/v1/claims/nope/decision", json={"outcome": "error", "note": NOTE}
        ).status_code
        for _ in range(41)
    ]
    assert codes[:40] == [404] * 40 and codes[40] == 429
    other = workspace.client("admin")
    assert (
        other.post("/v1/claims/nope/decision", json={"outcome": "error", "note": NOTE}).status_code
        == 404
    )


def test_kill_switch_keeps_new_scores_out_of_the_queue_and_the_service_up(
    workspace: Workspace, synth_data: ClaimsData
) -> None:
    sup = session(workspace.url, workspace.keys["supervisor"])
    inv = session(workspace.url, workspace.keys["investigator"])
    rows, _ = workspace_queue(workspace, limit=50)
    claim_id = rows[-1]["claim_id"]
    r = post_form(
        sup, "/ui/dashboard", "/ui/dashboard/kill-switch", {"engaged": "on", "reason": ""}
    )
    assert r.status_code == 422  # a reason is required
    r = post_form(
        sup, "/ui/dashboard", "/ui/dashboard/kill-switch",
        {"engaged": "on", "reason": "calibration drift under review"},
    )  # fmt: skip
    assert r.status_code == 303
    assert 'id="kill-banner"' in inv.get("/ui/queue").text
    # the service still scores: the claim sent again gets a new score, which stays out
    claims = synth_data.claims.loc[synth_data.claims["claim_id"] == claim_id]
    body = {"claims": request_claims(claims, synth_data.claim_items)}
    scored = workspace.client("scorer").post("/v1/claims/score", json=body)
    assert scored.status_code == 200, scored.text
    assert claim_id not in {r["claim_id"] for r in workspace_queue(workspace, limit=10_000)[0]}
    as_json = workspace.client("investigator").get("/v1/queue", params={"limit": 500}).json()
    assert as_json["claims"] and claim_id not in {q["claim_id"] for q in as_json["claims"]}
    r = post_form(
        sup, "/ui/dashboard", "/ui/dashboard/kill-switch",
        {"engaged": "off", "reason": "drift explained, model kept"},
    )  # fmt: skip
    assert r.status_code == 303
    assert 'id="kill-banner"' not in inv.get("/ui/queue").text
    log = workspace.store.audit_log()
    assert log.loc[log["action"] == "kill_switch", "outcome"].tolist()[-2:] == [
        "engaged",
        "released",
    ]


def test_band_cutoffs_change_only_after_another_person_approves(workspace: Workspace) -> None:
    sup, sup2 = (session(workspace.url, workspace.keys[k]) for k in ("supervisor", "supervisor2"))
    before = workspace_queue(workspace, limit=10_000)[1]
    scores = sorted(r["risk_score"] for r in workspace_queue(workspace, limit=10_000)[0])
    cut = scores[len(scores) // 2]
    r = post_form(
        sup, "/ui/dashboard", "/ui/dashboard/proposals",
        {"high": f"{cut:.6f}", "medium": f"{cut:.6f}", "reason": "capacity halved this quarter"},
    )  # fmt: skip
    assert r.status_code == 303
    pid = workspace.store.audit_log()  # the proposal is audited
    assert pid["action"].iloc[-1] == "propose_cutoffs"
    proposal = ws_store.proposals(workspace.store)[0]["proposal_id"]
    own = post_form(
        sup, "/ui/dashboard", f"/ui/dashboard/proposals/{proposal}", {"decision": "approve"}
    )
    assert own.status_code == 403
    assert workspace_queue(workspace, limit=10_000)[1] == before  # nothing changed yet
    ok = post_form(
        sup2, "/ui/dashboard", f"/ui/dashboard/proposals/{proposal}", {"decision": "approve"}
    )
    assert ok.status_code == 303
    after = workspace_queue(workspace, limit=10_000)[1]
    assert 0 < after < before
    log = workspace.store.audit_log()
    assert log.loc[log["action"] == "approve_cutoffs", "actor"].tolist() == ["supervisor2"]
    # put the model's own cut-offs back for the other tests (also proposed and approved)
    info = workspace.client("admin").get("/v1/model").json()["band_thresholds"]
    r = post_form(
        sup2, "/ui/dashboard", "/ui/dashboard/proposals",
        {"high": repr(info["high"]), "medium": repr(info["medium"]), "reason": "back to training"},
    )  # fmt: skip
    back = ws_store.proposals(workspace.store)[0]["proposal_id"]
    post_form(sup, "/ui/dashboard", f"/ui/dashboard/proposals/{back}", {"decision": "approve"})
    assert workspace_queue(workspace, limit=10_000)[1] == before


def test_random_audits_hide_the_score_and_export_their_selection_probability(
    workspace: Workspace, backlog_scores: pd.DataFrame, tmp_path: Path
) -> None:
    sup = session(workspace.url, workspace.keys["supervisor"])
    inv = session(workspace.url, workspace.keys["investigator"])
    population = len(ws_store.scored_population(workspace.store))
    assert population == backlog_scores["claim_id"].nunique()  # flagged or not
    decided = workspace.store.decisions()["claim_id"].nunique()
    r = post_form(sup, "/ui/dashboard", "/ui/dashboard/random-audits", {})
    assert r.status_code == 303
    drawn = pd.DataFrame([ws_store.random_audit_of(workspace.store, c) for c in _audit_ids(inv)])
    assert len(drawn) == 3  # 3% of the capacity of 100
    assert drawn["selection_probability"].tolist() == pytest.approx(
        [3 / (population - decided)] * 3
    )
    claim_id = drawn["claim_id"].iloc[0]
    page = inv.get(f"/ui/claims/{claim_id}").text
    assert 'id="random-audit-note"' in page
    assert 'id="risk-score"' not in page and 'id="reason-list"' not in page
    assert claim_id not in _queue_ids(inv, "?status=new")  # not among the scored referrals
    assert _decide(inv, claim_id, outcome="unfounded", note=NOTE).status_code == 303
    done = export_labels(tmp_path / "labels.parquet", workspace.store_url)
    labels = pd.read_parquet(tmp_path / "labels.parquet")
    row = labels.set_index("claim_id").loc[claim_id]
    assert row["source"] == "random_audit"
    assert row["selection_probability"] == pytest.approx(3 / (population - decided))
    assert done.random_audits == 1
    assert labels.loc[labels["source"] == "investigation", "selection_probability"].isna().all()


def _audit_ids(client: httpx.Client) -> list[str]:
    html = client.get("/ui/queue").text
    section = html.split('id="random-audits"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'href="/ui/claims/([^"]+)"', section)


def test_labels_export_takes_each_claims_final_decision_and_counts_reviews(
    workspace: Workspace, tmp_path: Path
) -> None:
    done = export_labels(tmp_path / "labels.parquet", workspace.store_url)
    labels = pd.read_parquet(tmp_path / "labels.parquet").set_index("claim_id")
    decisions = workspace.store.decisions()
    assert done.labels == decisions["claim_id"].nunique() == len(labels)
    final = decisions.sort_values("decision_id").groupby("claim_id").last()
    assert (labels["outcome"] == final.loc[labels.index, "outcome"]).all()
    assert labels["is_fraud"].equals(labels["outcome"].isin(["fraud", "abuse"]))
    assert done.reviewed == int((decisions.groupby("claim_id").size() > 1).sum()) >= 1


def test_dashboard_shows_volume_hit_rates_backlog_and_the_fairness_table(
    workspace: Workspace,
) -> None:
    sup = session(workspace.url, workspace.keys["supervisor"])
    html = sup.get("/ui/dashboard").text
    figures = casefile.dashboard(workspace.store, 100, ws_store.now())
    assert f'id="open">{figures["open"]:,}<' in html
    assert 'id="fairness-table"' in html and html.count("<tr>", html.index("fairness-table")) > 3
    assert "hukou_type" in html or "户籍" in html
    assert (
        figures["by_band"] and sum(r["decided"] for r in figures["by_band"]) == figures["decided"]
    )


def test_dashboard_shows_promotions_and_gate_overrides_from_the_audit_log(
    workspace: Workspace,
) -> None:
    """What ``riskml promote --store`` writes (test_promote.py) is shown to supervisors."""
    from riskml.store import AuditEntry

    why = "Backlog of maternity claims needs the new features; fairness reviewed by hand."
    workspace.store.audit(
        [
            AuditEntry(
                "ops",
                "operator",
                "promote",
                "riskml-claims champion -> 3 (was 2); gate: passed",
                model_version="3",
            ),
            AuditEntry(
                "Zhang Min",
                "supervisor",
                "promote_override",
                "riskml-claims champion -> 4 (was 3); gate: refused",
                model_version="4",
                detail=f"justification: {why}",
            ),
        ]
    )
    html = session(workspace.url, workspace.keys["supervisor"]).get("/ui/dashboard").text
    table = html[html.index('id="promotions-table"') :]
    table = table[: table.index("</table>")]
    assert why in table and "Zhang Min" in table and "gate: passed" in table
    assert table.index("Zhang Min") < table.index("gate: passed")  # latest first
    assert table.count('class="promotion override"') == 1


def test_no_route_denies_suspends_or_recovers_a_payment(tmp_path: Path) -> None:
    from serve.app import create_app
    from serve.settings import Settings
    from starlette.routing import Mount

    app = create_app(Settings(secret_file=str(tmp_path / "secret.key")))
    paths = list(app.openapi()["paths"])
    mounted = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/ui")
    paths += ["/ui" + getattr(r, "path", "") for r in mounted.routes]
    assert "/ui/queue" in paths and "/v1/claims/{claim_id}/decision" in paths
    words = ("deny", "suspend", "recover", "block", "stop_payment")
    assert not [p for p in paths if any(w in p.lower() for w in words)]


def test_a_retrain_runs_on_the_exported_labels(
    workspace: Workspace, synth_dir: Path, small_config, tmp_path: Path
) -> None:
    """The workspace's labels (final decisions, random audits with their probability) replace
    the data directory's labels of those claims, the directory still loads, and a model trains."""
    import shutil

    from riskml.data import load_data_dir
    from riskml.train import train_model

    data_dir = tmp_path / "data"
    shutil.copytree(synth_dir, data_dir)
    export_labels(tmp_path / "exported.parquet", workspace.store_url)
    exported = pd.read_parquet(tmp_path / "exported.parquet")
    assert len(exported) and (exported["source"] == "random_audit").any()
    old = pd.read_parquet(data_dir / "labels.parquet")
    merged = pd.concat(
        [old.loc[~old["claim_id"].isin(exported["claim_id"])], exported], ignore_index=True
    )
    merged.to_parquet(data_dir / "labels.parquet", index=False)
    data = load_data_dir(data_dir)
    assert data.labels is not None
    ours = exported.loc[exported["source"] == "random_audit", "claim_id"]
    audits = data.labels.set_index("claim_id").loc[ours]
    assert (audits["source"] == "random_audit").all()
    assert audits["selection_probability"].between(0, 1, inclusive="neither").all()
    config = small_config.with_overrides(
        {"lightgbm": {"sizes": [{"num_leaves": 7, "max_trees": 20}], "default_size": 0}}
    )
    result = train_model(data, config)
    assert result.metrics["auc_pr"] is not None
