"""The field page's API on PostgreSQL: photos checked by their bytes, stored once by SHA-256 and shown only in
scope; a visit or persuasion resent with the same Idempotency-Key is recorded once; the page under a strict CSP."""

import hashlib
import struct
import uuid
import zlib

import pytest

from services.casework.tests.stories import unique_county
from services.casework.tests.test_api_actions import reported
from services.runtime.testing import auth

pytestmark = pytest.mark.integration


def png(seed: int = 0) -> bytes:
    """A real 2x2 PNG whose pixels depend on ``seed``."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes([seed % 256, 0, 0] * 2) for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload(client, case_id: str, data: bytes, headers: dict, content_type: str = "image/png"):
    return client.post(f"/v1/cases/{case_id}/photos", content=data, headers={**headers, "content-type": content_type})


def test_a_photo_is_stored_once_by_its_digest_and_served_back_in_scope_only(api):
    client, _ = api
    county = unique_county()
    case_id = reported(client, county)
    worker, data = auth("school_staff", county, user_id=f"ht-{county}"), png(1)
    first = upload(client, case_id, data, worker)
    assert first.status_code == 201, first.text
    ref = first.json()
    assert ref == {"kind": "photo", "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data),
                   "media_type": "image/png", "location": f"casework:photos/{case_id}/{ref['sha256']}", "stored": True}
    again = upload(client, case_id, data, worker, content_type="image/jpeg")  # the type is read from the bytes
    assert again.status_code == 200 and again.json()["stored"] is False and again.json()["media_type"] == "image/png"
    shown = client.get(f"/v1/cases/{case_id}/photos/{ref['sha256']}", headers=worker)
    assert shown.status_code == 200 and shown.content == data and shown.headers["content-type"] == "image/png"
    assert "sandbox" in shown.headers["content-security-policy"] and shown.headers["x-content-type-options"] == "nosniff"
    elsewhere = auth("county_officer", unique_county())
    assert client.get(f"/v1/cases/{case_id}/photos/{ref['sha256']}", headers=elsewhere).status_code == 403
    assert upload(client, case_id, png(2), elsewhere).status_code == 403
    missing = client.get(f"/v1/cases/{case_id}/photos/{'0' * 64}", headers=worker)
    assert missing.status_code == 404
    reads = client.get("/v1/audit/reads", params={"case_id": case_id}, headers=auth("auditor", county)).json()
    assert [r["view"] for r in reads] == ["case_photo"]  # the one view in scope, recorded


def test_what_is_not_an_image_or_too_large_is_refused_naming_the_body(api, casework_settings):
    client, _ = api
    county = unique_county()
    case_id = reported(client, county)
    worker = auth("school_staff", county)
    html = upload(client, case_id, b"<html><script>alert(1)</script></html>", worker)
    assert html.status_code == 422 and html.json()["detail"][0]["loc"] == ["body"]
    assert "JPEG" in html.json()["detail"][0]["msg"]
    assert upload(client, case_id, b"", worker).status_code == 422
    huge = upload(client, case_id, b"\x89PNG\r\n\x1a\n" + b"\x00" * 8_000_001, worker)
    assert huge.status_code == 413 and huge.json()["detail"][0]["loc"] == ["body"]


def test_a_visit_resent_with_its_key_is_recorded_once_and_its_event_holds_only_the_photos_facts(api):
    client, app = api
    county = unique_county()
    case_id = reported(client, county)
    worker = auth("school_staff", county, user_id=f"ht-{county}")
    data = png(3)
    ref = {k: v for k, v in upload(client, case_id, data, worker).json().items() if k != "stored"}
    key = str(uuid.uuid4())
    body = {"visited_at": "2025-09-11T09:00:00+08:00", "visitors": ["李老师"], "met": ["祖母"],
            "findings": "孩子在家帮忙", "evidence": [ref]}
    for _ in range(2):
        answer = client.post(f"/v1/cases/{case_id}/visits", json=body, headers={**worker, "Idempotency-Key": key})
        assert answer.status_code == 200, answer.text
    persuasion = {"method": "home_visit", "outcome": "undecided", "note": "家长仍在考虑"}
    for _ in range(2):
        assert client.post(f"/v1/cases/{case_id}/persuasions", json=persuasion,
                           headers={**worker, "Idempotency-Key": key + "-p"}).status_code == 200
    history = client.get(f"/v1/cases/{case_id}/history", headers=worker).json()
    visits = [e for e in history if e["event"].endswith("HomeVisitRecorded")]
    assert len(visits) == 1 and len([e for e in history if e["event"].endswith("PersuasionAttempted")]) == 1
    assert visits[0]["data"]["evidence"] == [{**ref, "description": None}]
    assert data.hex() not in str(visits[0]) and "iVBOR" not in str(visits[0])  # neither hex nor base64 bytes


def test_the_field_page_and_its_worker_are_served_under_a_strict_policy(api):
    client, _ = api
    page = client.get("/ui/field")
    assert page.status_code == 200 and "我的案件与待办" in page.text and "<script>" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "require-trusted-types-for 'script'" in csp and "unsafe" not in csp
    worker = client.get("/ui/field-sw.js")
    assert worker.status_code == 200 and worker.headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/static/field.js").status_code == 200
    assert client.get("/ui/static/..%2Fbootstrap.py").status_code == 404
    assert client.get("/ui/static/nothing.js").status_code == 404
