"""The web pages in a real browser (Playwright driving the Debian Chromium): charts render, drill-down works,
the ledger filters, a case replays to a past date, monthly reports list; all in Chinese, all scoped."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import httpx
import pytest
import uvicorn

from services.reporting import synthetic
from services.reporting.bootstrap import api
from services.reporting.pages import VENDOR
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.infra import free_port
from services.runtime.testing import token

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions"]


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    import os

    if not os.path.exists(CHROMIUM) or not VENDOR["echarts.min.js"].exists():
        pytest.skip("needs /usr/bin/chromium and the web assets (make browser-deps)")
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2026, 3, 1, tzinfo=timezone.utc)))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    runtime.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server, feed):
    feed.history(synthetic.history(seed=5, prefectures=1, counties=2, townships=2, schools=2, students=8))
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(f"localStorage.setItem('baoxue_token', '{token('province_officer', '52')}')")
    page = context.new_page()
    yield page
    context.close()


def rendered(page) -> None:
    page.wait_for_selector("body[data-rendered=yes]", timeout=15_000)


def test_the_dashboard_draws_its_charts_and_drills_down(page, server):
    page.goto(f"{server}/ui/dashboard?code=52")
    rendered(page)
    assert "统计看板" in page.title() and "省" in page.inner_text("h1")
    for chart in ("#chart-children", "#chart-stage", "#chart-cause"):
        box = page.locator(f"{chart} canvas").first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, chart
    assert page.evaluate("echarts.getInstanceByDom(document.getElementById('chart-children'))"
                         ".getOption().series[0].data.length") == 1
    assert "数据截至" in page.inner_text("#pos")
    page.click("#children a")
    rendered(page)
    assert "code=5201" in page.url and "市（州）" in page.inner_text("h1")


def test_the_ledger_filters_and_opens_a_case_timeline_as_of_a_date(page, server):
    page.goto(f"{server}/ui/ledger?kind=cases&status=returned")
    rendered(page)
    assert "共" in page.inner_text("#pos")
    assert page.locator("#rows tr").count() > 1 and "已复学" in page.inner_text("#rows")
    assert "劝返责任人" in page.inner_text("#rows tr >> nth=0")
    assert "政府线 乡镇干部：gov-" in page.inner_text("#rows") and "township=" not in page.inner_text("#rows")
    page.locator("#rows a").first.click()
    rendered(page)
    assert "个案时间线" in page.inner_text("h1") and "立案" in page.inner_text("#steps")
    assert "教育线 班主任：ht-" in page.inner_text("#summary") and "head_teacher=" not in page.inner_text("#summary")
    full = page.locator("#steps tr").count()
    page.fill("#asof", "2025-09-02")
    page.click("#f button")
    page.wait_for_url("**as_of=2025-09-02**")
    page.wait_for_selector("body[data-rendered=yes], #err:not(:empty)")
    assert page.locator("#steps tr").count() < full


def test_a_caller_without_a_token_is_sent_to_sign_in(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/ui/dashboard")
    page.wait_for_url("**/ui/login**")
    assert "身份令牌" in page.inner_text("main")
    context.close()
