"""Printable documents on PostgreSQL through the API: each kind rendered to PNG and read back as text, its sha256
recorded and equal to the served bytes, verified by code without personal data, withdrawn, and kept in scope."""

import base64
import hashlib
import io
import uuid
from dataclasses import replace
from datetime import timedelta

import pypdf
import pypdfium2
import pytest

from services.casework.adapters.publishing import to_contract
from services.casework.domain.documents import CaseDocument, document_id_for, printed_code
from services.casework.tests.stories import unique_county
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
FINDINGS = "孩子随父母在外地务工，祖母同意劝说其返校。"


def escalated_case(client, county: str) -> tuple[str, str]:
    """A case at 依法控辍 with a home visit, a return notice and a correction order; (case id, visit record id)."""
    village = f"{county}001001"
    case_id = client.post("/v1/cases", headers=auth("village_cadre", village), json={
        "student_id": str(uuid.uuid4()), "township_code": village, "note": "村里发现孩子未上学", "school_id": "school-1",
        "report_id": str(uuid.uuid4())}).json()["case_id"]
    officer = auth("township_officer", f"{county}001")
    assert client.post(f"/v1/cases/{case_id}/verification", headers=officer, json={
        "outcome": "dropout", "causes": ["working_away"], "cause_analysis": "外出打工"}).status_code == 200
    visit = client.post(f"/v1/cases/{case_id}/visits", headers={**officer, "Idempotency-Key": "v-1"}, json={
        "visited_at": "2025-09-10T10:00:00+08:00", "visitors": ["cadre-1", "ht-1"], "met": ["祖母"],
        "findings": FINDINGS, "evidence": []})
    assert visit.status_code == 200
    record_id = visit.json()["records"][-1]["record_id"]
    for step, number in (("return_notice", "南明教复〔2025〕1号"), ("correction_order", "南明教改〔2025〕1号")):
        taken = client.post(f"/v1/cases/{case_id}/legal-steps", headers=officer, json={
            "step": step, "document_no": number, "addressee": "监护人", "deadline": None})
        assert taken.status_code == 200, taken.text
    return case_id, record_id


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def rendered(pdf: bytes) -> list:
    """Every page rendered to PNG-ready images (pypdfium2, what CI looks at)."""
    document = pypdfium2.PdfDocument(pdf)
    return [document[i].render(scale=1).to_pil() for i in range(len(document))]


TITLES = {"return_notice": "劝返复学通知书", "correction_order": "责令限期改正通知书", "visit_record": "家访记录",
          "case_file": "一人一案档案"}


@pytest.mark.parametrize("kind", list(TITLES))
def test_each_kind_renders_to_png_and_reads_back_its_facts(api, kind, tmp_path):
    client, app = api
    county = unique_county()
    case_id, record_id = escalated_case(client, county)
    officer = auth("township_officer", f"{county}001")
    body = {"issuing_body": "南明区某某镇人民政府"} | ({"record_id": record_id} if kind == "visit_record" else {})
    issued = client.post(f"/v1/cases/{case_id}/documents/{kind}", headers=officer, json=body)
    assert issued.status_code == 201, issued.text
    doc = issued.json()
    fetched = client.get(doc["pdf_url"], headers=officer)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "application/pdf"
    pdf = fetched.content
    assert hashlib.sha256(pdf).hexdigest() == doc["sha256"] == fetched.headers["X-Document-Sha256"]
    stored = app.repository.get(document_id_for(doc["verification_code"]))
    assert stored.sha256 == doc["sha256"]  # the DocumentIssued event holds the served bytes' sha256

    pages = rendered(pdf)
    assert len(pages) >= 1
    assert all(img.convert("L").getextrema()[0] < 128 for img in pages), "every page has ink"
    img_path = tmp_path / f"{kind}.png"
    pages[0].save(img_path)
    assert img_path.stat().st_size > 1000

    text = pdf_text(pdf)
    deadline = doc["deadline"]
    assert TITLES[kind] in text and case_id in text and "南明区某某镇人民政府" in text
    assert printed_code(doc["verification_code"]) in text and doc["verification_code"] in text
    assert "签发日期：" in text and "2025年9月11日" in text
    if deadline:
        y, m, d = (int(p) for p in deadline.split("-"))
        assert f"期限：\n{y}年{m}月{d}日" in text or f"期限：{y}年{m}月{d}日" in text
    else:
        assert "期限" in text and "无" in text
    if kind in ("return_notice", "correction_order"):
        assert deadline is not None and "监护人：" in text and "南明教" in text
        assert "监护人" not in (doc["issuing_body"])
    if kind == "visit_record":
        assert FINDINGS[:10] in text and record_id in text


def test_the_same_record_gives_the_same_document_and_bytes(api):
    client, app = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    officer = auth("township_officer", f"{county}001")
    first = client.post(f"/v1/cases/{case_id}/documents/return_notice", headers=officer, json={})
    again = client.post(f"/v1/cases/{case_id}/documents/return_notice", headers=officer, json={})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    a = client.get(first.json()["pdf_url"], headers=officer).content
    b = client.get(first.json()["pdf_url"], headers=auth("auditor", "52")).content
    assert a == b
    assert len(list(app.events.get(document_id_for(first.json()["verification_code"])))) == 1


def test_the_verification_code_is_the_hash_of_the_recorded_event(api):
    client, app = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    doc = client.post(f"/v1/cases/{case_id}/documents/correction_order",
                      headers=auth("county_officer", county), json={}).json()
    source = [e for e in app.events.get(uuid.UUID(case_id)) if type(e).__name__ == "CorrectionOrderIssued"][-1]
    assert doc["source_version"] == source.originator_version and doc["source_event"] == "CorrectionOrderIssued"
    text = f"baoxue-document:v1|correction_order|{case_id}|{source.originator_version}|{source.meta['chain']}"
    assert doc["verification_code"] == base64.b32encode(hashlib.sha256(text.encode()).digest()[:10]).decode()


def test_verify_resolves_a_code_without_a_token_or_personal_data_and_shows_a_withdrawal(api):
    client, app = api
    county = unique_county()
    case_id, record_id = escalated_case(client, county)
    officer = auth("township_officer", f"{county}001")
    doc = client.post(f"/v1/cases/{case_id}/documents/visit_record", headers=officer,
                      json={"record_id": record_id}).json()
    printed = printed_code(doc["verification_code"]).lower()
    shown = client.get(f"/v1/documents/verify/{printed}")  # as typed from paper: groups, any case
    assert shown.status_code == 200
    body = shown.json()
    assert body["status"] == "valid" and body["case_id"] == case_id and body["kind"] == "visit_record"
    assert body["issued_on"] == "2025-09-11" and body["sha256"] == doc["sha256"]
    assert body["recorded_event"]["event"] == "HomeVisitRecorded"
    case = app.queries.case(uuid.UUID(case_id))
    for secret in (case.student_id, "祖母", FINDINGS, "cadre-1"):
        assert secret not in shown.text

    withdrawn = client.post(f"/v1/cases/{case_id}/documents/{doc['verification_code']}/withdrawal", headers=officer,
                            json={"reason": "error_in_content", "note": "走访时间写错"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = client.post(f"/v1/cases/{case_id}/documents/{doc['verification_code']}/withdrawal", headers=officer,
                        json={"reason": "error_in_content"})
    assert again.status_code == 200
    after = client.get(f"/v1/documents/verify/{doc['verification_code']}").json()
    assert after["status"] == "withdrawn" and after["withdrawn_on"] == "2025-09-11"
    reissued = client.post(f"/v1/cases/{case_id}/documents/visit_record", headers=officer, json={"record_id": record_id})
    assert reissued.status_code == 201 and reissued.json()["verification_code"] != doc["verification_code"]
    assert client.get(f"/v1/documents/verify/{reissued.json()['verification_code']}").json()["status"] == "valid"


def test_bad_requests_name_the_field_or_rule_and_write_nothing(api):
    client, app = api
    county = unique_county()
    officer = auth("township_officer", f"{county}001")
    village = f"{county}001001"
    fresh = client.post("/v1/cases", headers=auth("village_cadre", village), json={
        "student_id": str(uuid.uuid4()), "township_code": village, "note": "未上学", "report_id": str(uuid.uuid4())}
                        ).json()["case_id"]
    early = client.post(f"/v1/cases/{fresh}/documents/return_notice", headers=officer, json={})
    assert early.status_code == 409 and early.json()["detail"]["rule"] == "document.step_taken"
    no_record = client.post(f"/v1/cases/{fresh}/documents/visit_record", headers=officer, json={})
    assert no_record.status_code == 422 and no_record.json()["detail"]["rule"] == "document.record_id_required"
    missing = client.post(f"/v1/cases/{fresh}/documents/visit_record", headers=officer, json={"record_id": "nope"})
    assert missing.status_code == 404
    unknown = client.post(f"/v1/cases/{fresh}/documents/summons", headers=officer, json={})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"][-1] == "kind"
    extra = client.post(f"/v1/cases/{fresh}/documents/case_file", headers=officer, json={"guardian_name": "张三"})
    assert extra.status_code == 422 and extra.json()["detail"][0]["loc"][-1] == "guardian_name"
    assert client.get("/v1/documents/verify/not-a-code").status_code == 422
    assert client.get("/v1/documents/verify/AAAAAAAAAAAAAAAA").status_code == 404
    assert app.queries.case(uuid.UUID(fresh)).version == 1


def test_another_county_neither_issues_nor_reads_nor_withdraws_and_codes_stay_with_their_case(api):
    client, _ = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    other_id, _ = escalated_case(client, county)
    doc = client.post(f"/v1/cases/{case_id}/documents/case_file", headers=auth("auditor", county), json={}).json()
    for role in ("county_officer", "township_officer", "auditor"):
        stranger = auth(role, unique_county())
        issue = client.post(f"/v1/cases/{case_id}/documents/case_file", headers=stranger, json={})
        read = client.get(doc["pdf_url"], headers=stranger)
        withdraw = client.post(f"/v1/cases/{case_id}/documents/{doc['verification_code']}/withdrawal",
                               headers=stranger, json={"reason": "other"})
        assert {issue.status_code, read.status_code} <= {403, 404}, role
        assert withdraw.status_code in (403, 404), role
    mismatched = client.get(f"/v1/cases/{other_id}/documents/{doc['verification_code']}.pdf",
                            headers=auth("county_officer", county))
    assert mismatched.status_code == 404
    assert client.get(f"/v1/documents/verify/{doc['verification_code']}").json()["status"] == "valid"


def test_issue_and_withdrawal_are_published_as_contracts(api):
    client, app = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    officer = auth("county_officer", county)
    doc = client.post(f"/v1/cases/{case_id}/documents/correction_order", headers=officer, json={}).json()
    clerk = client.post(f"/v1/cases/{case_id}/documents/{doc['verification_code']}/withdrawal",
                        headers=auth("school_staff", county), json={"reason": "reissued"})
    assert clerk.status_code == 403 and clerk.json()["detail"]["rule"] == "document.withdraw_role"
    client.post(f"/v1/cases/{case_id}/documents/{doc['verification_code']}/withdrawal", headers=officer,
                json={"reason": "reissued"})
    issued, withdrawn = (to_contract(e) for e in app.events.get(document_id_for(doc["verification_code"])))
    assert type(issued).__name__ == "DocumentIssuedV1" and issued.sha256 == doc["sha256"]
    assert issued.case_id == case_id and issued.verification_code == doc["verification_code"]
    assert issued.township_code.startswith(county) and str(issued.deadline) == doc["deadline"]
    assert type(withdrawn).__name__ == "DocumentWithdrawnV1" and withdrawn.reason == "reissued"
    assert isinstance(app.repository.get(document_id_for(doc["verification_code"])), CaseDocument)


def test_values_print_as_written_markup_included_and_bytes_differ_only_with_the_record(api):
    client, app = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    body = "<b>某镇</b> &amp; 人民政府"
    doc = client.post(f"/v1/cases/{case_id}/documents/case_file", headers=auth("county_officer", county),
                      json={"issuing_body": body}).json()
    pdf = client.get(doc["pdf_url"], headers=auth("county_officer", county)).content
    assert body in pdf_text(pdf)
    stored = app.repository.get(document_id_for(doc["verification_code"]))
    facts = app.documents.facts(stored)
    assert app.documents.render(facts) == pdf
    later = app.documents.render(replace(facts, issued_at=facts.issued_at + timedelta(days=1)))
    assert later != pdf and b"D:20250912" in later and b"D:20250911" in pdf  # creation date from the record


def test_bytes_that_differ_from_the_recorded_sha256_are_never_served(api, monkeypatch):
    client, app = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    officer = auth("county_officer", county)
    doc = client.post(f"/v1/cases/{case_id}/documents/return_notice", headers=officer, json={}).json()
    monkeypatch.setattr(app.documents, "render", lambda facts: b"%PDF-1.4 something else")
    refused = client.get(doc["pdf_url"], headers=officer)
    assert refused.status_code == 409 and refused.json()["detail"]["rule"] == "document.bytes_match_record"


def test_two_issues_at_once_make_one_document(api, pg_app_factory):
    client, app = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    other = pg_app_factory()
    meta = {"actor_id": "o-1", "actor_role": "county_officer", "jurisdiction": county, "correlation_id": "c",
            "causation_id": None, "at": "2025-09-11T10:00:00+08:00"}
    render, raced = app.documents.render, []

    def render_while_another_issues(facts):
        if not raced:
            raced.append(other.documents.issue(uuid.UUID(case_id), "correction_order", record_id=None,
                                               issuing_body=None, meta=meta))
        return render(facts)

    app.documents.render = render_while_another_issues
    mine = app.documents.issue(uuid.UUID(case_id), "correction_order", record_id=None, issuing_body=None, meta=meta)
    assert raced[0].outcome == "issued" and mine.outcome == "existing"
    assert mine.document.code == raced[0].document.code
    assert len(list(app.events.get(document_id_for(mine.document.code)))) == 1


LETTERS = {"legal_documents": ("提请依法发放司法文书函", "司法文书编号", "南明司〔2025〕7号"),
           "court_referral": ("提请人民法院依法处理函", "移送文书编号", "南明司移〔2025〕2号")}


def test_the_later_legal_steps_have_their_letters_rendered_verified_and_published_as_version_2(api):
    """提请发放司法文书函 (with the 司法文书's number and deadline) and 提请人民法院依法处理函: each for its step's event,
    with code, sha256 and verify like the notices; published as DocumentIssuedV2 (V1 cannot carry the kinds)."""
    client, app = api
    county = unique_county()
    case_id, _ = escalated_case(client, county)
    justice = auth("justice_officer", county)
    early = client.post(f"/v1/cases/{case_id}/documents/legal_documents", headers=justice, json={})
    assert early.status_code == 409 and early.json()["detail"]["rule"] == "document.step_taken"
    for step, (_, _, number) in LETTERS.items():
        taken = client.post(f"/v1/cases/{case_id}/legal-steps", headers=justice, json={
            "step": step, "document_no": number, "addressee": "监护人",
            "deadline": "2025-10-20" if step == "legal_documents" else None})
        assert taken.status_code == 200, taken.text
    clerk = client.post(f"/v1/cases/{case_id}/documents/court_referral", headers=auth("school_staff", county), json={})
    assert clerk.status_code == 403
    for kind, (title, label, number) in LETTERS.items():
        issued = client.post(f"/v1/cases/{case_id}/documents/{kind}", headers=justice, json={})
        assert issued.status_code == 201, issued.text
        doc = issued.json()
        pdf = client.get(doc["pdf_url"], headers=justice).content
        assert hashlib.sha256(pdf).hexdigest() == doc["sha256"]
        assert all(img.convert("L").getextrema()[0] < 128 for img in rendered(pdf))
        text = pdf_text(pdf)
        assert title in text and case_id in text and printed_code(doc["verification_code"]) in text
        assert f"{label}：{number}" in text or f"{label}：\n{number}" in text, text[:800]
        assert "南明教复〔2025〕1号" in text and "南明教改〔2025〕1号" in text  # the earlier steps it rests on
        if kind == "legal_documents":
            assert doc["deadline"] == "2025-10-20" and "2025年10月20日" in text
        else:
            assert "南明司〔2025〕7号" in text and doc["deadline"] is None
        verified = client.get(f"/v1/documents/verify/{doc['verification_code']}").json()
        assert verified["status"] == "valid" and verified["kind"] == kind and verified["title"] == title
        [contract] = (to_contract(e) for e in app.events.get(document_id_for(doc["verification_code"])))
        assert type(contract).__name__ == "DocumentIssuedV2" and contract.kind == kind
        assert contract.sha256 == doc["sha256"]
    withdrawn = client.post(f"/v1/cases/{case_id}/documents/{doc['verification_code']}/withdrawal", headers=justice,
                            json={"reason": "error_in_content"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert type(to_contract(list(app.events.get(document_id_for(doc["verification_code"])))[-1])).__name__ == (
        "DocumentWithdrawnV2")
