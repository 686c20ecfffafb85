"""SMS through Tencent Cloud SMS (tencentcloud-sdk-python-sms, API 2021-01-11 ``SendSms``): the endpoint and scheme
are settings, so tests point the real SDK at a local fake server speaking the same API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from services.notifications.adapters.channels import DeliveryRefused, OutboundMessage, ProviderUnavailable

# Error codes (Tencent Cloud API 3.0 common errors and SMS errors) worth another attempt later.
TRANSIENT_CODES = ("ServerNetworkError", "ClientNetworkError", "InternalError", "RequestLimitExceeded",
                   "LimitExceeded", "ResourceUnavailable", "RequestTimeout")


@dataclass(frozen=True)
class SmsConfig:
    """How the SDK reaches the provider: keys, application, approved signature and template(s)."""

    secret_id: str
    secret_key: str
    sdk_app_id: str
    sign_name: str
    template_id: str
    templates: dict[str, str]
    endpoint: str = "sms.tencentcloudapi.com"
    scheme: str = "https"
    region: str = "ap-guangzhou"
    timeout_s: int = 10


def _transient(code: str | None) -> bool:
    return bool(code) and any(str(code).startswith(c) for c in TRANSIENT_CODES)


class TencentSmsChannel:
    """One SMS per message; the idempotency key travels as ``SessionContext`` (echoed in receipts), and
    the provider's ``SerialNo`` is returned so the status callback can find the delivery."""

    name = "sms"

    def __init__(self, config: SmsConfig) -> None:
        self.config = config
        http = HttpProfile(protocol=config.scheme, endpoint=config.endpoint, reqTimeout=config.timeout_s)
        self.client = sms_client.SmsClient(credential.Credential(config.secret_id, config.secret_key),
                                           config.region, ClientProfile(httpProfile=http))

    def send(self, message: OutboundMessage) -> str | None:
        if not message.address:
            raise DeliveryRefused("sms: the recipient has no phone number")
        request = models.SendSmsRequest()
        request.from_json_string(json.dumps({
            "PhoneNumberSet": [_e164(message.address)],
            "SmsSdkAppId": self.config.sdk_app_id,
            "SignName": self.config.sign_name,
            "TemplateId": self.config.templates.get(message.template, self.config.template_id),
            "TemplateParamSet": [message.text],
            "SessionContext": message.idempotency_key,
        }))
        try:
            response: Any = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code()
            if _transient(code):
                raise ProviderUnavailable(f"sms {code}") from None
            raise DeliveryRefused(f"sms {code}") from None
        status = (response.SendStatusSet or [None])[0]
        if status is None:
            raise ProviderUnavailable("sms: no send status")
        if status.Code != "Ok":
            if _transient(status.Code):
                raise ProviderUnavailable(f"sms {status.Code}")
            raise DeliveryRefused(f"sms {status.Code}")
        return str(status.SerialNo)


def _e164(phone: str) -> str:
    """Mainland numbers as the API wants them (+86...)."""
    phone = phone.strip().replace(" ", "").replace("-", "")
    return phone if phone.startswith("+") else f"+86{phone}"


def parse_receipts(body: Any) -> list[tuple[str, bool, str]]:
    """Tencent's status callback (a JSON list of reports) -> (serial no, delivered, status code) per report."""
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise ValueError("sms receipts must be a JSON list of reports")
    out = []
    for report in body:
        if not isinstance(report, dict) or not isinstance(report.get("sid"), str):
            raise ValueError("every sms receipt needs a string sid")
        status = str(report.get("report_status", ""))
        out.append((report["sid"], status == "SUCCESS", str(report.get("errmsg", status))[:40]))
    return out
