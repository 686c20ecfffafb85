"""Who may call which notifications route: the service's role matrix (rendered into the README by `baoxue roles`).

Delivery records are read by those who supervise and by those who are told (who see only their own, which the
handler decides from the caller); the recipients directory (officials' names and addresses) is edited by the
county and above and read by them, township officers and auditors.
"""

from __future__ import annotations

from services.runtime.access import Allow, Public, RoleMatrix

READERS = ("head_teacher", "school_staff", "village_cadre", "township_officer", "county_officer",
           "prefecture_officer", "province_officer", "justice_officer", "auditor")
EDITORS = ("county_officer", "prefecture_officer", "province_officer")
VIEWERS = ("township_officer", *EDITORS, "auditor")
RECIPIENT = "the recipient's jurisdiction code must be in the caller's jurisdiction"

MATRIX = RoleMatrix({
    "GET /v1/notifications": Allow(*READERS, note="inside the caller's jurisdiction; head teachers, village cadres "
                                   "and justice officers see only what was sent to them"),
    "POST /v1/recipients/import": Allow(*EDITORS, note="every row: " + RECIPIENT),
    "PUT /v1/recipients/{role}/{code}/{user_id}": Allow(*EDITORS, note=RECIPIENT),
    "DELETE /v1/recipients/{role}/{code}/{user_id}": Allow(*EDITORS, note=RECIPIENT),
    "GET /v1/recipients": Allow(*VIEWERS, note="the county's directory, limited to the caller's jurisdiction"),
    "PUT /v1/preferences/{user_id}": Allow(*READERS, note="one's own, or (county and above) a recipient whose "
                                           "jurisdiction code is in the caller's jurisdiction"),
    "GET /v1/preferences/{user_id}": Allow(*READERS, note="as for PUT: one's own, or inside the caller's jurisdiction"),
    "POST /v1/channels/sms/receipts": Public("the SMS provider's status callback: no bearer token, checked against "
                                             "BAOXUE_SMS_CALLBACK_TOKEN in the URL; records receipts only"),
}, service="notifications")
