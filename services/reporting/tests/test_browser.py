"""The web pages in a real browser (Playwright driving the Debian Chromium): charts render, drill-down works,
the ledger filters, a case replays to a past date, monthly reports list; all in Chinese, all scoped. Names and
token claims carrying HTML render as text under a strict CSP, and every page is usable on a 390x844 phone."""

from __future__ import annotations

import io
import os
import re
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from openpyxl import load_workbook

from contracts.events import CaseOpenedV1, SchoolRegisteredV1, StudentEnrolledV1, SuspectedDropoutDetectedV1
from contracts.events.registry import JurisdictionRegisteredV1
from bench.reporting import synthetic
from services.reporting.bootstrap import api
from services.reporting.entrypoints.api.pages import PAGES, VENDOR
from services.reporting.settings import ReportingSettings
from services.reporting.tests.conftest import served
from services.runtime.clock import FixedClock
from services.runtime.testing import auth, token

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions"]


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    if not os.path.exists(CHROMIUM) or not VENDOR["echarts.min.js"].exists():
        pytest.skip("needs /usr/bin/chromium and the web assets (make browser-deps)")
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2026, 3, 1, tzinfo=timezone.utc)))
    with served(app) as base:
        yield base
    runtime.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(server, browser, feed):
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
    assert "家访次数" in page.inner_text("#summary") and "依法控辍" in page.inner_text("#summary")
    full = page.locator("#steps tr").count()
    page.fill("#asof", "2025-09-02")
    page.click("#f button")
    page.wait_for_url("**as_of=2025-09-02**")
    page.wait_for_selector("body[data-rendered=yes], #err:not(:empty)")
    assert page.locator("#steps tr").count() < full


def test_the_scorecard_ranks_a_level_and_drills_down_to_the_cases(page, server):
    page.goto(f"{server}/ui/scorecards?code=52&period=2025-autumn")
    rendered(page)
    assert "考核评分" in page.title() and "综合得分" in page.inner_text("#score")
    assert "辍学率" in page.inner_text("#figures") and "数据截至" in page.inner_text("#pos")
    assert page.locator("#ranking tr").count() == 2  # header and the one prefecture
    page.click("#figures button[data-figure=return_rate]")
    page.wait_for_selector("body[data-drilled=return_rate]")
    assert "劝返复学率" in page.inner_text("#drill-title") and "事件位置" in page.inner_text("#drill-pos")
    rows = page.locator("#drill tr").count()
    assert rows > 1 and page.locator("#drill a").count() == rows - 1
    page.click("#ranking a")
    rendered(page)
    assert "code=5201" in page.url and page.locator("#ranking tr").count() == 3  # its two counties
    page.locator("#figures button[data-figure=unowned_cases]").click()
    page.wait_for_selector("body[data-drilled=unowned_cases]")
    assert "双线责任人未落实个案" in page.inner_text("#drill-title")


def test_a_caller_without_a_token_is_sent_to_sign_in(server, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/ui/dashboard")
    page.wait_for_url("**/ui/login**")
    assert "身份令牌" in page.inner_text("main")
    context.close()


# --- hostile names and claims: rendered as text, under a Content-Security-Policy that forbids inline script ---

XSS = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"
EVIL_TOWNSHIP, EVIL_SCHOOL, EVIL_CHILD = "<b>镇</b>" + XSS, "<i>校</i>" + XSS, "<u>童</u>" + XSS
COUNTY, TOWNSHIP, CASE = "520109", "520109001", "case-xss"
WATCH = """document.addEventListener('securitypolicyviolation', e =>
  (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture
def hostile(feed, server):
    """A province (synthetic) plus one township, school and child whose names are HTML with script."""
    feed.history(synthetic.history(seed=5, prefectures=1, counties=2, townships=2, schools=2, students=8))
    at, since = datetime(2025, 9, 30, 9, 0, tzinfo=timezone.utc), date(2025, 1, 1)
    divisions = ((COUNTY, "测试县", "county", "520100"), (TOWNSHIP, EVIL_TOWNSHIP, "township", COUNTY))
    for code, name, level, parent in divisions:
        feed.deliver(JurisdictionRegisteredV1(code=code, name=name, level=level, parent_code=parent,
                                              effective_from=since), subject=f"division:{code}", at=at)
    school, student = str(uuid.uuid4()), str(uuid.uuid4())
    feed.deliver(SchoolRegisteredV1(school_id=school, code="SXSS", name=EVIL_SCHOOL, level="junior",
                                    county_code=COUNTY, township_code=TOWNSHIP), subject=school, at=at)
    feed.deliver(StudentEnrolledV1(student_id=student, school_id=school, county_code=COUNTY, township_code=TOWNSHIP,
                                   grade=7, class_name=XSS[:50], name_masked=EVIL_CHILD,
                                   id_number_masked="520109********1234"), subject=student, at=at)
    feed.deliver(SuspectedDropoutDetectedV1(
        detection_id="d-xss", student_id=student, school_id=school, township_code=TOWNSHIP,
        absent_days=[date(2025, 9, 29), date(2025, 9, 30)], rule="consecutive", rule_version=1, threshold_days=2),
        subject=student, at=at)
    feed.deliver(CaseOpenedV1(case_id=CASE, student_id=student, school_id=school, township_code=TOWNSHIP,
                              source="attendance", trigger_id="d-xss", opened_at=at), subject=CASE, at=at)
    sealed = httpx.post(f"{server}/v1/reports/seal", params={"month": "2025-09"},
                        headers=auth("province_officer", "52"))
    assert sealed.status_code == 200, sealed.text
    return {"school": school}


def hostile_pages(school: str) -> list[str]:
    return ["/ui/dashboard?code=52", f"/ui/dashboard?code={COUNTY}", f"/ui/dashboard?code={TOWNSHIP}",
            f"/ui/dashboard?code={TOWNSHIP}&school={school}", "/ui/ledger?kind=cases", "/ui/ledger?kind=children",
            "/ui/ledger?kind=suspected", f"/ui/case?id={CASE}", f"/ui/scorecards?code={TOWNSHIP}&period=2025-autumn",
            "/ui/reports?month=2025-09"]


def test_html_in_names_and_token_claims_renders_as_text_under_a_strict_csp(server, browser, hostile):
    context = browser.new_context(locale="zh-CN")
    evil = token("province_officer", "52", user_id=XSS, name=XSS)
    context.add_init_script(f"localStorage.setItem('baoxue_token', '{evil}'); {WATCH}")
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    shown = ""
    for path in hostile_pages(hostile["school"]):
        response = page.goto(server + path)
        policy = response.headers.get("content-security-policy", "")
        for directive in ("script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
                          "require-trusted-types-for 'script'"):
            assert directive in policy, (path, policy)
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0] and "unsafe-eval" not in policy
        assert response.headers.get("x-content-type-options") == "nosniff" and response.headers.get("referrer-policy")
        rendered(page)
        assert page.evaluate("window.__pwned") is None, path
        assert page.inner_text("#who").startswith(XSS + " " + XSS), path  # the claims, shown as typed
        assert page.locator("img, main script, header script, b b, i, u").count() == 0, path
        assert page.evaluate("window.__violations || []") == [], path
        shown += page.inner_text("main")
    for name in (EVIL_TOWNSHIP, EVIL_SCHOOL, EVIL_CHILD):
        assert name in shown, name
    assert page.evaluate("typeof echarts") == "undefined"  # the last page (reports) loads no chart library
    page.goto(f"{server}/ui/dashboard?code={TOWNSHIP}")
    rendered(page)
    chart = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-children')).getOption().xAxis[0].data")
    assert chart == [EVIL_SCHOOL]
    box = page.locator("#chart-children canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the tooltip shows the name
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None and page.locator("img").count() == 0
    assert [line for line in console if "Content Security Policy" in line or "pageerror" in line] == [], console
    # Trusted Types: even a script of this site cannot write an HTML string into the page.
    wrote = page.evaluate("""() => { try { document.getElementById('err').innerHTML = '<i>x</i>'; return 'written'; }
                                     catch (e) { return e.name; } }""")
    assert wrote == "TypeError" and page.locator("#err i").count() == 0
    context.close()


def test_the_ledger_exports_download_under_the_csp(page, server):
    page.add_init_script(WATCH)
    page.goto(f"{server}/ui/ledger?kind=children")
    rendered(page)
    with page.expect_download() as csv_file:
        page.click("#csv")
    assert "适龄儿童少年台账" in Path(csv_file.value.path()).read_text("utf-8-sig").splitlines()[0]
    with page.expect_download() as xlsx_file:
        page.click("#xlsx")
    sheet = load_workbook(io.BytesIO(Path(xlsx_file.value.path()).read_bytes())).active
    assert [c.value for c in sheet[2]][:3] == ["编号", "姓名", "身份证号"]
    assert xlsx_file.value.suggested_filename == "children.xlsx"
    assert page.evaluate("window.__violations || []") == []


def test_the_pages_send_the_security_headers_and_carry_no_inline_script(server):
    for name in PAGES:
        r = httpx.get(f"{server}/ui/{name}")
        assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"], name
        html = r.text
        assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) == [], name  # every script is a file
        assert re.findall(r"\son[a-z]+\s*=|javascript:|\sstyle\s*=", html, re.I) == [], name
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html, name
    for script in (Path(__file__).parents[1] / "web" / "static").glob("*.js"):  # the DOM, never HTML strings
        sinks = re.findall(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script.read_text())
        assert sinks == [], script
    for asset in ("app.js", "style.css", "echarts.min.js"):
        assert "content-security-policy" in httpx.get(f"{server}/ui/static/{asset}").headers, asset
    api = httpx.get(f"{server}/healthz")
    assert api.headers["x-content-type-options"] == "nosniff" and api.headers["referrer-policy"] == "no-referrer"


def test_sign_in_only_returns_to_a_page_of_this_site(server, browser):
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(WATCH)
    page = context.new_page()
    for target in ("javascript:window.__pwned=1", "https://example.org/ui/x", "//example.org/ui/x"):
        page.goto(f"{server}/ui/login?next={quote(target, safe='')}")
        page.fill("#token", token("province_officer", "52"))
        page.click("#f button")
        page.wait_for_url(f"{server}/ui/dashboard")
        rendered(page)
        assert page.evaluate("window.__pwned") is None and page.evaluate("window.__violations || []") == []
    page.goto(f"{server}/ui/login?next=%2Fui%2Fledger%3Fkind%3Dchildren")
    page.fill("#token", token("province_officer", "52"))
    page.click("#f button")
    page.wait_for_url("**/ui/ledger?kind=children")
    context.close()


# --- phone-sized pages ---

PHONE = {"width": 390, "height": 844}
TARGETS = "a, button, input, select, textarea"
MEASURE = """(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null).map(e => {
  const r = e.getBoundingClientRect(); return { what: e.outerHTML.slice(0, 80), w: r.width, h: r.height }; })"""
FONTS = """() => [...document.querySelectorAll('p, td, th, label, span, a, b, button, input, select, li, h3')]
  .filter(e => e.offsetParent !== null && e.textContent.trim()).map(e => parseFloat(getComputedStyle(e).fontSize))"""


def test_every_page_is_usable_on_a_phone(server, browser, hostile, tmp_path):
    shots = Path(os.environ.get("BAOXUE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="zh-CN", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.add_init_script(f"localStorage.setItem('baoxue_token', '{token('province_officer', '52')}'); {WATCH}")
    page = context.new_page()
    for path in ["/ui/login", *hostile_pages(hostile["school"])]:
        page.goto(server + path)
        if "login" not in path:
            rendered(page)
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("&", "-").replace("=", "")[:60]
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        page.screenshot(path=str(shots / f"{name}-screen.png"))  # what the phone shows first
        assert page.evaluate("document.querySelector('meta[name=viewport]').content") == \
            "width=device-width, initial-scale=1", path
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"], path
        small = [t for t in page.evaluate(MEASURE, TARGETS) if t["h"] < 40 or t["w"] < 40]
        assert small == [], (path, small[:5])
        assert min(page.evaluate(FONTS)) >= 12, path
        for table in page.locator(".scroll").all():  # a wide table scrolls inside its own box
            assert table.bounding_box()["width"] <= PHONE["width"], path
        for chart in page.locator(".chart").all():  # every chart drawn, inside the screen
            box = chart.locator("canvas").first.bounding_box()
            assert box and 100 < box["width"] <= PHONE["width"] and box["height"] > 100, path
        assert page.evaluate("window.__violations || []") == [], path
    context.close()
