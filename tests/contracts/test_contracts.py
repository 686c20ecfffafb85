"""Contracts are the only shared language: committed schemas are frozen, messages round-trip."""

import json
import shutil
from datetime import date, datetime, timezone

import pytest

from contracts import Envelope, contract_for_type, registry, topics
from contracts.events import CaseOpenedV1, SuspectedDropoutDetectedV1
from contracts.schemas_io import SCHEMA_DIR, check_schemas, export_schemas
from services.runtime.kafka import decode, encode


def test_committed_schemas_match_the_models():
    assert check_schemas(SCHEMA_DIR) == []


def test_an_incompatible_change_to_a_published_version_is_caught(tmp_path):
    shutil.copytree(SCHEMA_DIR, tmp_path / "schemas")
    path = tmp_path / "schemas" / "cn.baoxue.casework.CaseOpened.v1.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["student_id"]["type"] = "integer"  # what an edit of the model would do
    path.write_text(json.dumps(schema))
    problems = check_schemas(tmp_path / "schemas")
    assert any("CaseOpened.v1" in p and "incompatibly" in p for p in problems)
    with pytest.raises(SystemExit):
        export_schemas(tmp_path / "schemas")


def test_a_new_required_field_is_incompatible(tmp_path):
    shutil.copytree(SCHEMA_DIR, tmp_path / "schemas")
    path = tmp_path / "schemas" / "cn.baoxue.casework.CaseOpened.v1.schema.json"
    schema = json.loads(path.read_text())
    schema["required"].remove("trigger_id")  # the committed record lacks a field the model now requires
    path.write_text(json.dumps(schema))
    assert any("CaseOpened.v1" in p for p in check_schemas(tmp_path / "schemas"))


def test_a_removed_version_is_caught(tmp_path):
    shutil.copytree(SCHEMA_DIR, tmp_path / "schemas")
    (tmp_path / "schemas" / "cn.baoxue.casework.CaseOpenedV0.schema.json").write_text("{}")
    assert any("has no model" in p for p in check_schemas(tmp_path / "schemas"))


def test_every_contract_is_versioned_and_published_on_its_service_topic():
    for ce_type, model in registry().items():
        assert ce_type.startswith("cn.baoxue.") and ce_type.endswith(f".v{model.version}")
        assert model.topic in topics.ALL
        assert model.__name__.endswith(f"V{model.version}")
        assert contract_for_type(ce_type) is model


def test_a_message_round_trips_as_a_binary_mode_cloudevent():
    payload = SuspectedDropoutDetectedV1(
        detection_id="d1",
        student_id="s1",
        school_id="sch1",
        township_code="520102001",
        absent_days=[date(2026, 11, 19), date(2026, 11, 20)],
        rule="consecutive_unexcused_absence",
        rule_version=1,
        threshold_days=2,
    )
    envelope = Envelope(
        id="e1",
        source="/baoxue/attendance",
        type=payload.ce_type(),
        subject="agg-1",
        time=datetime(2026, 11, 20, 10, tzinfo=timezone.utc),
        aggregateversion=3,
        sequence=42,
        partitionprev=40,
        actorid="u1",
        actorrole="school_staff",
        jurisdiction="520102001",
        correlationid="c1",
    )
    message = encode(envelope, payload)
    assert message.headers["ce_type"] == b"cn.baoxue.attendance.SuspectedDropoutDetected.v1"
    assert message.headers["content-type"] == b"application/json"
    assert message.key == "agg-1"
    decoded_envelope, data = decode(list(message.headers.items()), b"agg-1", message.value)
    assert decoded_envelope == envelope
    assert SuspectedDropoutDetectedV1.model_validate(data) == payload


def test_contracts_reject_unknown_fields_and_bad_codes():
    with pytest.raises(ValueError):
        CaseOpenedV1(
            case_id="c", student_id="s", school_id=None, township_code="52x", source="attendance",
            trigger_id="t", opened_at=datetime.now(timezone.utc),
        )


ACTION_CONTRACTS = ("HomeVisitRecorded", "PersuasionAttempted", "HelpProvided", "CasePlanSet", "ReturnNoticeIssued",
                    "CorrectionOrderIssued", "LegalDocumentsIssued", "CourtReferralMade", "CaseOwnersReassigned")
PERSONAL_FIELDS = ("name", "id_number", "phone", "address", "addressee", "note", "findings", "detail", "measures",
                   "visitors", "met", "guardian")


def test_every_case_action_is_a_registered_contract_without_personal_fields():
    for event_name in ACTION_CONTRACTS:
        model = contract_for_type(f"cn.baoxue.casework.{event_name}.v1")
        assert model is not None and model.topic == topics.CASEWORK, event_name
        personal = [f for f in model.model_fields if any(p == f or f.endswith(f"_{p}") for p in PERSONAL_FIELDS)]
        assert personal == [], (event_name, personal)


def test_a_legal_step_round_trips_and_refuses_a_missing_deadline():
    from contracts.events.casework import CorrectionOrderIssuedV1, CourtReferralMadeV1

    fields = dict(case_id="c1", student_id="s1", township_code="520102001", document_no="责改〔2025〕3号",
                  issued_by="u1", issued_at=datetime(2025, 9, 23, tzinfo=timezone.utc), overridden=False,
                  automatic=False, evidence_count=0)
    order = CorrectionOrderIssuedV1(**fields, deadline_at=datetime(2025, 10, 8, tzinfo=timezone.utc))
    assert CorrectionOrderIssuedV1.model_validate_json(order.model_dump_json()) == order
    with pytest.raises(ValueError):
        CorrectionOrderIssuedV1(**fields)  # every step before the court has a deadline
    assert CourtReferralMadeV1(**fields).deadline_at is None
