"""The inspection tracker page (督导检查整改跟踪) in Chromium: an overdue finding shows as escalated, alerts list,
the 通报 PDF downloads; a school named with HTML and script renders as text under the CSP."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import httpx
import pytest

from contracts.events.registry import JurisdictionRegisteredV1
from services.reporting.bootstrap import api, inspections_for
from services.reporting.settings import ReportingSettings
from services.reporting.tests.conftest import served
from services.runtime.clock import FixedClock
from services.runtime.testing import auth, token

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
XSS = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"
WATCH = """document.addEventListener('securitypolicyviolation', e =>
  (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI));"""
OFFICER = auth("county_officer", "520102")


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs /usr/bin/chromium (make browser-deps)")
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    clock = FixedClock(datetime(2026, 3, 1, 2, tzinfo=timezone.utc))
    app, runtime = api(settings, clock=clock)
    with served(app) as base:
        yield base, clock, inspections_for(runtime, settings)
    runtime.close()


@pytest.fixture
def overdue(server, feed, reporting_db):
    base, clock, inspections = server
    clock.set(datetime(2026, 3, 1, 2, tzinfo=timezone.utc))
    with reporting_db.transaction() as conn:
        conn.execute("TRUNCATE inspection_findings, inspection_alerts, inspections_events")
    feed.deliver(JurisdictionRegisteredV1(code="520102001", name="<b>镇</b>" + XSS, level="township",
                                          parent_code="520102", effective_from=datetime(2025, 1, 1).date()),
                 subject="division:520102001")
    school = feed.school("520102001", "<i>校</i>" + XSS)
    iid = httpx.post(f"{base}/v1/inspections", headers=OFFICER, json={
        "key": "page", "code": "520102", "title": "春季督导" + XSS[:20], "planned_on": "2026-03-01"}).json()["inspection_id"]
    for fid, school_id in (("late", school), ("open", None)):
        r = httpx.post(f"{base}/v1/inspections/{iid}/findings", headers=OFFICER, json={
            "finding_id": fid, "unit_code": "520102001", "school_id": school_id, "description_code": "case_overdue",
            "severity": "grave", "evidence": [{"sha256": "ef" * 32, "code": "document"}]})
        assert r.status_code == 200, r.text
    httpx.post(f"{base}/v1/inspections/{iid}/findings/late/order", headers=OFFICER, json={"deadline": "2026-03-05"})
    clock.set(datetime(2026, 3, 6, 2, tzinfo=timezone.utc))
    assert inspections.tick()["escalated"] == 1
    return base


def test_the_tracker_shows_the_escalation_and_downloads_the_notice(overdue):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="zh-CN", accept_downloads=True)
        context.add_init_script(WATCH)
        context.add_init_script(f"localStorage.setItem('baoxue_token', '{token('county_officer', '520102')}')")
        page = context.new_page()
        page.goto(f"{overdue}/ui/inspections")
        page.wait_for_selector("body[data-rendered=yes]", timeout=15_000)
        assert "督导检查" in page.title() and "督导检查整改跟踪" in page.inner_text("h1")
        rows = page.inner_text("#rows")
        assert "逾期未整改（已上报上级）" in rows and "待下达整改" in rows and "劝返复学超期未办结" in rows
        assert "<i>校</i><img" in rows and "<b>镇</b>" in rows  # names as text
        assert page.locator("#rows img, #rows i, #rows b").count() == 0
        assert "逾期上报上级" in page.inner_text("#alerts") and "520102" in page.inner_text("#alerts")
        assert "逾期 1" in page.inner_text("#summary")
        with page.expect_download() as download:
            page.click("#pdf")
        assert download.value.suggested_filename.endswith(".pdf")
        with open(download.value.path(), "rb") as f:
            assert f.read(5) == b"%PDF-"
        page.select_option("#status", "overdue")
        page.click("#f button")
        page.wait_for_selector("body[data-rendered=yes]", timeout=15_000)
        assert page.locator("#rows tr").count() == 2  # header and the overdue finding
        assert page.evaluate("window.__pwned") is None and page.evaluate("window.__violations || []") == []
        other = browser.new_context(locale="zh-CN")
        other.add_init_script(f"localStorage.setItem('baoxue_token', '{token('county_officer', '520103')}')")
        outside = other.new_page()
        outside.goto(f"{overdue}/ui/inspections")
        outside.wait_for_selector("body[data-rendered=yes]", timeout=15_000)
        assert outside.locator("#rows tr").count() == 1 and "共 0 个问题" in outside.inner_text("#summary")
        phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
        phone.add_init_script(f"localStorage.setItem('baoxue_token', '{token('county_officer', '520102')}')")
        small = phone.new_page()
        small.goto(f"{overdue}/ui/inspections")
        small.wait_for_selector("body[data-rendered=yes]", timeout=15_000)
        assert small.evaluate("document.scrollingElement.scrollWidth") <= 390
        targets = small.evaluate("""() => [...document.querySelectorAll('a, button, input, select')]
          .filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect())
          .filter(r => r.width < 40 || r.height < 40).length""")
        assert targets == 0
        browser.close()
