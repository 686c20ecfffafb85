"""The field page in a real browser (Playwright driving the Debian Chromium) on a 390x844 phone: sign in, see my
cases and due actions, record a home visit with a photo while offline, and see it arrive exactly once when back
online; the page opens offline from its service worker, and a resend of a sent record changes nothing."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

import httpx
import pytest
import uvicorn

from services.casework.bootstrap import SERVICE, build_casework
from services.casework.entrypoints.api import create_app
from services.casework.settings import CaseworkSettings
from services.casework.tests.stories import unique_county
from services.casework.tests.test_field_api import png
from services.runtime.bootstrap import build_runtime
from services.runtime.infra import free_port
from services.runtime.testing import auth, token

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions"]
PHONE = {"width": 390, "height": 844}
WATCH = """document.addEventListener('securitypolicyviolation', e =>
  (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI));"""
TARGETS = "a, button, input, select, textarea"
MEASURE = """(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null).map(e => {
  const r = e.getBoundingClientRect(); return { what: e.outerHTML.slice(0, 80), w: r.width, h: r.height }; })"""


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs /usr/bin/chromium (make browser-deps)")
    settings = CaseworkSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    runtime = build_runtime(SERVICE, "api", settings)
    casework = build_casework(runtime, settings)
    app = create_app(runtime, casework, page_size_max=settings.case_page_size_max)
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
    casework.close()
    runtime.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def my_case(server):
    """A case whose education-line owner (包年级校领导) is the signed-in worker, through the township's map."""
    county = unique_county()
    township, user = f"{county}001", f"vp-{county}"
    officer = auth("township_officer", township)
    mapped = httpx.post(f"{server}/v1/responsibility-maps/{township}/entries", headers=officer,
                        json={"slot": "school_leader", "school_id": "school-1", "user_id": user})
    assert mapped.status_code == 200, mapped.text
    reported = httpx.post(f"{server}/v1/cases", headers=auth("village_cadre", f"{township}001"), json={
        "student_id": str(uuid.uuid4()), "township_code": f"{township}001", "school_id": "school-1",
        "note": "村里发现孩子未上学", "report_id": str(uuid.uuid4())})
    assert reported.status_code == 201, reported.text
    return {"case_id": reported.json()["case_id"], "user": user, "county": county,
            "token": token("school_staff", county, user_id=user, name="<b>王</b>老师")}


def visits(server: str, case: dict) -> list[dict]:
    history = httpx.get(f"{server}/v1/cases/{case['case_id']}/history",
                        headers=auth("county_officer", case["county"])).json()
    return [e for e in history if e["event"].endswith("HomeVisitRecorded")]


def test_a_visit_recorded_offline_with_a_photo_arrives_once_when_back_online(server, browser, my_case):
    context = browser.new_context(locale="zh-CN", viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    context.add_init_script(WATCH)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    response = page.goto(f"{server}/ui/field")
    assert "require-trusted-types-for 'script'" in response.headers["content-security-policy"]
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#token", my_case["token"])
    page.click("#login-form button")
    card = page.locator(f"#queue li[data-case='{my_case['case_id']}']")
    card.wait_for()
    assert "疑似辍学" in card.inner_text() and "待办：开始核查" in card.inner_text()
    assert page.inner_text("#who").startswith("<b>王</b>老师 ")  # a claim with HTML is shown as text
    assert page.locator("#who b").count() == 0
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)") is True
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    small = [t for t in page.evaluate(MEASURE, TARGETS) if t["h"] < 40 or t["w"] < 40]
    assert small == [], small[:5]

    context.set_offline(True)
    reloaded = page.reload()  # the shell comes from the service worker, the list from the last synchronised copy
    assert reloaded is not None and reloaded.from_service_worker
    page.wait_for_selector("body[data-rendered=yes]")
    assert page.inner_text("#net") == "离线" and "离线" in page.inner_text("#queue-note")
    card.locator("button.do-visit").click()
    page.wait_for_selector("#visit-form:not([hidden])")
    page.fill("#met", "祖母、学生")
    page.fill("#findings", "孩子在家帮忙干农活，祖母同意劝说")
    photo = png(7)
    page.set_input_files("#visit-photos", files=[{"name": "家访.png", "mimeType": "image/png", "buffer": photo}])
    small = [t for t in page.evaluate(MEASURE, TARGETS) if t["h"] < 40 or t["w"] < 40]
    assert small == [], small[:5]
    page.click("#visit-form button[type=submit]")
    item = page.locator("#outbox li[data-state]").first
    item.wait_for()
    assert "待发送" in item.inner_text() and "照片 1 张" in item.inner_text()
    time.sleep(6)  # longer than the page's retry interval: nothing leaves while offline
    assert item.get_attribute("data-state") == "pending" and visits(server, my_case) == []

    context.set_offline(False)
    page.wait_for_selector("#outbox li[data-state=sent]", timeout=20_000)
    assert "已发送" in page.inner_text("#outbox li[data-state=sent]")
    recorded = visits(server, my_case)
    assert len(recorded) == 1 and recorded[0]["actor_id"] == my_case["user"]
    evidence = recorded[0]["data"]["evidence"]
    assert [(e["sha256"], e["size_bytes"], e["media_type"]) for e in evidence] == [
        (hashlib.sha256(photo).hexdigest(), len(photo), "image/png")]
    shown = httpx.get(f"{server}/v1/cases/{my_case['case_id']}/photos/{evidence[0]['sha256']}",
                      headers=auth("school_staff", my_case["county"]))
    assert shown.content == photo

    # An answer lost on the way back: the phone sends the same record again, with the same key.
    page.evaluate("""async () => { for (const i of await Outbox.all()) { i.state = 'pending'; i.photos = [];
        await Outbox.put(i); } await flush(); }""")
    page.wait_for_selector("#outbox li[data-state=sent]")
    assert len(visits(server, my_case)) == 1
    assert page.evaluate("window.__violations || []") == []
    assert problems == []
    context.close()


def test_a_persuasion_attempt_is_sent_at_once_when_online(server, browser, my_case):
    context = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_init_script(f"localStorage.setItem('baoxue_field_token', '{my_case['token']}'); {WATCH}")
    page = context.new_page()
    page.goto(f"{server}/ui/field")
    page.locator(f"#queue li[data-case='{my_case['case_id']}'] button.do-persuasion").click()
    page.select_option("#method", "phone")
    page.select_option("#outcome", "refused")
    page.fill("#note", "家长拒绝，称孩子要外出打工")
    page.click("#persuasion-form button[type=submit]")
    page.wait_for_selector("#outbox li[data-state=sent]", timeout=20_000)
    history = httpx.get(f"{server}/v1/cases/{my_case['case_id']}/history",
                        headers=auth("county_officer", my_case["county"])).json()
    attempts = [e["data"] for e in history if e["event"].endswith("PersuasionAttempted")]
    assert [(a["method"], a["outcome"]) for a in attempts] == [("phone", "refused")]
    assert page.evaluate("window.__violations || []") == []
    context.close()
