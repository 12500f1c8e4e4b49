"""An investigator's path in a real browser (Playwright driving Debian's headless Chromium):
log in, filter the queue, open a claim, read its reasons, record a decision, reload and find it,
switch to Chinese, log out and be refused. Leaves a screenshot of the claim view in
``build/browser/claim-view.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, Workspace, chromium_path

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_investigator_decides_a_claim_in_the_browser(workspace: Workspace, browser) -> None:
    expect = playwright_api.expect
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    base = workspace.url

    # log in with the investigator's key
    page.goto(f"{base}/ui/queue")
    expect(page).to_have_url(f"{base}/ui/login")
    page.fill("#api_key", workspace.keys["investigator"])
    page.click("#login")
    expect(page).to_have_url(f"{base}/ui/queue")
    expect(page.locator("#who")).to_contain_text("investigator")

    # filter the queue by the region of its first claim
    rows = page.locator("tr.queue-row")
    assert rows.count() > 0
    region = rows.first.get_attribute("data-region")
    page.fill("input[name=region]", region or "")
    page.click("#apply-filters")
    expect(page).to_have_url(re.compile(rf"region={region}"))
    regions = {rows.nth(i).get_attribute("data-region") for i in range(rows.count())}
    assert regions == {region}

    # open a claim that nobody has decided yet and read its reasons
    decided = set(workspace.store.decisions()["claim_id"])
    claim_id = next(
        cid
        for i in range(rows.count())
        if (cid := rows.nth(i).get_attribute("data-claim")) not in decided
    )
    page.click(f"tr.queue-row[data-claim='{claim_id}'] a")
    expect(page.locator("#claim-id")).to_have_text(claim_id)
    reasons = page.locator("#reason-list li.reason")
    assert reasons.count() >= 1
    first_reason = reasons.first.inner_text()
    assert len(first_reason) > 5
    expect(page.locator("#shap-chart rect.bar")).to_have_count(reasons.count())
    expect(page.locator("#band-meaning")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "claim-view.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # a decision without a note is refused by the browser; a fraud without typology by the server
    page.select_option("#outcome", "fraud")
    page.fill("#note", "Stay billed while the patient was registered elsewhere that week.")
    page.click("#record-decision")
    expect(page.locator("#typology-error")).to_be_visible()
    page.select_option("#outcome", "fraud")
    page.select_option("#typology", "phantom_hospitalization")
    page.fill("#improper_amount", "1234.50")
    page.click("#record-decision")
    expect(page.locator("[role=status]")).to_contain_text("decision recorded")

    # reload: the decision is there (kept in the store), and the form now offers a review
    page.reload()
    row = page.locator("#decision-list tr.decision")
    expect(row).to_have_count(1)
    expect(row.locator(".outcome")).to_have_text("fraud")
    expect(row.locator(".note")).to_contain_text("registered elsewhere")
    expect(page.locator("#kind")).to_be_visible()
    expect(page.locator("#audit-trail")).to_contain_text("decide")
    kept = workspace.store.decisions()
    assert kept.loc[kept["claim_id"] == claim_id, "outcome"].tolist() == ["fraud"]

    # the same page in Chinese: the reasons too
    page.click("a[lang=zh-Hans]")
    expect(page.locator("h2").first).to_be_visible()
    assert page.locator("#reason-list li.reason").first.inner_text() != first_reason
    expect(page.locator("#record-decision")).to_have_text("记录")

    # log out, and be refused
    page.click("#logout")
    expect(page).to_have_url(f"{base}/ui/login")
    page.goto(f"{base}/ui/claims/{claim_id}")
    expect(page).to_have_url(f"{base}/ui/login")
    context.close()


def test_supervisor_uses_the_dashboard_in_the_browser(workspace: Workspace, browser) -> None:
    expect = playwright_api.expect
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{workspace.url}/ui/login")
    expect(page.locator("h1")).to_have_text("登录稽核工作台")  # the browser's language
    page.fill("#api_key", workspace.keys["supervisor"])
    page.click("#login")
    page.goto(f"{workspace.url}/ui/dashboard")
    expect(page.locator("#fairness-table tr")).not_to_have_count(1)
    expect(page.locator("#kill-state")).to_contain_text("已解除")
    page.fill("#kill-reason", "核查模型漂移")
    page.click("#kill-toggle")
    expect(page.locator("#kill-state")).to_contain_text("启用")
    page.goto(f"{workspace.url}/ui/queue")
    expect(page.locator("#kill-banner")).to_be_visible()
    page.goto(f"{workspace.url}/ui/dashboard")
    page.fill("#kill-reason", "已查明原因")
    page.click("#kill-toggle")
    expect(page.locator("#kill-state")).to_contain_text("已解除")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    log = workspace.store.audit_log()
    changes = log.loc[log["action"] == "kill_switch"]
    assert changes["actor"].tolist()[-2:] == ["supervisor", "supervisor"]
    assert changes["outcome"].tolist()[-2:] == ["engaged", "released"]
    context.close()
