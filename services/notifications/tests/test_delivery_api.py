"""Preferences and the SMS status callback over HTTP: fields checked and named, scope held, token required."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.notifications.bootstrap import api
from services.notifications.settings import NotificationsSettings
from services.runtime.scratchdb import fresh_database
from services.runtime.testing import auth

pytestmark = pytest.mark.integration

WANG = {"jurisdiction_code": "520102001", "channels": {"sms": "13912345678", "email": "wang@example.cn"},
        "muted_templates": ["owner_assigned"], "quiet_hours": "22:00-07:00"}


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    with fresh_database(database_url, "baoxue_da") as url:
        settings = NotificationsSettings(database_url=url, env="test", data_dir=tmp_path_factory.mktemp("var"),
                                         sms_callback_token="cb-token-for-tests-0123456789")
        app, _ = api(settings)
        with TestClient(app) as c:
            yield c


def test_a_recipient_sets_and_reads_their_own_preferences(client):
    me = auth("township_officer", "520102001", user_id="twp-wang")
    put = client.put("/v1/preferences/twp-wang", json=WANG, headers=me)
    assert put.status_code == 200, put.text
    assert put.json() == {"user_id": "twp-wang", **WANG}
    assert client.get("/v1/preferences/twp-wang", headers=me).json()["quiet_hours"] == "22:00-07:00"


def test_someone_else_of_the_same_level_may_not(client):
    other = auth("township_officer", "520102001", user_id="twp-li")
    assert client.put("/v1/preferences/twp-wang", json=WANG, headers=other).status_code == 403
    assert client.get("/v1/preferences/twp-wang", headers=other).status_code == 403


def test_a_county_officer_outside_the_recipients_jurisdiction_is_refused(client):
    client.put("/v1/preferences/twp-zhao", json=WANG, headers=auth("county_officer", "520102"))
    elsewhere = auth("county_officer", "520103")
    assert client.put("/v1/preferences/twp-zhao", json={**WANG, "jurisdiction_code": "520103001"},
                      headers=elsewhere).status_code == 403  # cannot take over a recipient of another county
    assert client.get("/v1/preferences/twp-zhao", headers=elsewhere).status_code == 404
    assert client.get("/v1/preferences/twp-zhao", headers=auth("county_officer", "520102")).status_code == 200


@pytest.mark.parametrize("change, field", [
    ({"channels": {"pigeon": None}}, "channels"),
    ({"channels": {"sms": "12345"}}, "channels.sms"),
    ({"muted_templates": ["no_such_kind"]}, "muted_templates"),
    ({"quiet_hours": "late"}, "quiet_hours"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(client, change, field):
    me = auth("township_officer", "520102001", user_id="twp-sun")
    answer = client.put("/v1/preferences/twp-sun", json={**WANG, **change}, headers=me)
    assert answer.status_code == 422 and field in answer.text
    assert client.get("/v1/preferences/twp-sun", headers=me).status_code == 404


def test_the_sms_callback_needs_its_token_and_a_list_of_reports(client):
    report = [{"sid": "2433:unknown", "report_status": "SUCCESS", "errmsg": "DELIVRD", "mobile": "13912345678"}]
    assert client.post("/v1/channels/sms/receipts", params={"token": "wrong"}, json=report).status_code == 403
    assert client.post("/v1/channels/sms/receipts", json=report).status_code == 422
    ok = client.post("/v1/channels/sms/receipts", params={"token": "cb-token-for-tests-0123456789"}, json=report)
    assert ok.status_code == 200 and ok.json() == {"result": 0, "errmsg": "OK", "recorded": 0}
    bad = client.post("/v1/channels/sms/receipts", params={"token": "cb-token-for-tests-0123456789"},
                      json=[{"report_status": "SUCCESS"}])
    assert bad.status_code == 422 and "sid" in bad.text


@pytest.mark.parametrize("extra, word", [
    ({"sms_secret_id": "AKIDreal", "sms_secret_key": "changeme", "sms_callback_token": "t" * 32}, "SMS_SECRET_KEY"),
    ({"sms_secret_id": "AKIDreal", "sms_secret_key": "k" * 32}, "SMS_CALLBACK_TOKEN"),
    ({"dingtalk_webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=x"}, "DINGTALK_SECRET"),
])
def test_production_refuses_placeholder_provider_secrets(extra, word):
    with pytest.raises(ValueError, match=word):
        NotificationsSettings(env="production", jwt_dev_tokens=True, jwt_secret="s" * 40, **extra)


def test_bad_quiet_hours_in_the_settings_are_refused_naming_the_variable():
    with pytest.raises(ValueError, match="BAOXUE_COUNTY_QUIET_HOURS"):
        NotificationsSettings(county_quiet_hours={"520102": "nine to five"})
