"""Authorisation: every route × every caller (organisation kind and role inside it), for the HTTP API
(on SQLite and PostgreSQL) and for the screens (on PostgreSQL; the same table drives the browser's
visit of every screen with every role, tests/web/test_screens_by_role_browser.py). A route missing
from the tables below fails the test, so a new route must say who may use it.

A refused call answers 403 ``forbidden``; an allowed one may still be refused for its content (404,
409, 422, a card proof that does not verify …) but never as forbidden. An allowed screen shown with
the test world's objects answers 200 with its page or download (or its documented refusal), never a
5xx."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from fujo.accounts.service import create_user
from fujo.orgs.service import issue_credential
from tests.factories import CLINIC, JULY, PAYER, World

# (organisation key of the test world, role)
CALLERS = [
    ("admin", "manager"),
    ("office", "caseworker"),
    ("office", "manager"),
    ("clinic", "reception"),
    ("clinic", "clinician"),
    ("clinic", "manager"),
    ("insurer", "manager"),
]
FACILITY_ANY = {("clinic", "reception"), ("clinic", "clinician"), ("clinic", "manager")}
FACILITY_MANAGER = {("clinic", "manager")}
OFFICE_ANY = {("office", "caseworker"), ("office", "manager")}
OFFICE_MANAGER = {("office", "manager")}
ADMIN = {("admin", "manager")}
INSURER = {("insurer", "manager")}
ANYONE = set(CALLERS)

# --- the API ---------------------------------------------------------------------------------------

API = {  # (method, path template) → who may call it
    ("POST", "/api/v1/checks/card/challenge"): FACILITY_ANY,
    ("POST", "/api/v1/checks/card"): FACILITY_ANY,
    ("POST", "/api/v1/checks/numbers"): FACILITY_ANY,
    ("POST", "/api/v1/checks/numbers/batch"): FACILITY_ANY,
    ("GET", "/api/v1/facility/tickets"): FACILITY_ANY,
    ("GET", "/api/v1/facility/tickets/changes"): FACILITY_ANY,
    ("GET", "/api/v1/facility/settings"): FACILITY_ANY,
    ("PUT", "/api/v1/facility/settings"): FACILITY_MANAGER,
    ("PUT", "/api/v1/facility/references"): FACILITY_ANY,
    ("POST", "/api/v1/recipients"): OFFICE_ANY | ADMIN,
    ("GET", "/api/v1/recipients"): OFFICE_ANY | ADMIN,
    ("GET", "/api/v1/recipients/{payer_number}/{recipient_number}"): OFFICE_ANY | ADMIN,
    ("PATCH", "/api/v1/recipients/{payer_number}/{recipient_number}"): OFFICE_ANY | ADMIN,
    ("POST", "/api/v1/recipients/{payer_number}/{recipient_number}/card-link"): OFFICE_ANY | ADMIN,
    ("POST", "/api/v1/recipients/{payer_number}/{recipient_number}/card-unlink"): OFFICE_ANY | ADMIN,
    ("POST", "/api/v1/facilities"): ADMIN,
    ("GET", "/api/v1/facilities"): ANYONE,
    ("GET", "/api/v1/facilities/{code}"): ANYONE,
    ("PATCH", "/api/v1/facilities/{code}"): ADMIN,
    ("POST", "/api/v1/tickets"): OFFICE_ANY | ADMIN,
    ("GET", "/api/v1/tickets/late"): OFFICE_ANY | ADMIN,
    ("GET", "/api/v1/tickets/{ticket_key}"): OFFICE_ANY | ADMIN,
    ("PUT", "/api/v1/tickets/{ticket_key}"): OFFICE_ANY | ADMIN,
    ("POST", "/api/v1/tickets/{ticket_key}/cancel"): OFFICE_ANY | ADMIN,
    ("POST", "/api/v1/imports/{kind}"): OFFICE_ANY | ADMIN,  # kind=tickets; facilities: admin (below)
    ("GET", "/api/v1/jobs/{job_id}"): OFFICE_ANY | INSURER | ADMIN,  # who may import; another's job is 404 (tests/jobs)
    ("POST", "/api/v1/insurance-qualifications"): INSURER | ADMIN,
    ("GET", "/api/v1/insurance-qualifications/{qualification_id}"): INSURER | ADMIN,
    ("POST", "/api/v1/organisations"): ADMIN,
    ("GET", "/api/v1/organisations"): ADMIN,
    ("GET", "/api/v1/organisations/{org_id}"): ADMIN,
    ("POST", "/api/v1/organisations/{org_id}/credentials"): ADMIN,
    ("GET", "/api/v1/organisations/{org_id}/credentials"): ADMIN,
    ("DELETE", "/api/v1/organisations/{org_id}/credentials/{credential_id}"): ADMIN,
    ("GET", "/api/v1/cards"): ADMIN,
    ("POST", "/api/v1/cards"): ADMIN,
    ("POST", "/api/v1/cards/{serial}/revoke"): ADMIN,
    ("POST", "/api/v1/cards/{serial}/pin-reset"): OFFICE_ANY | ADMIN,
    ("GET", "/api/v1/audit/export"): ADMIN,  # and the operator's 監査担当 (tests/audit/test_export.py)
    # 薬剤情報等 (issue 11); a facility's 受付・管理者 get 403 medinfo_refused (reason role), not forbidden
    ("GET", "/api/v1/medinfo/{category}"): FACILITY_ANY,
    ("POST", "/api/v1/medinfo/medication/overlaps"): FACILITY_ANY,
    ("POST", "/api/v1/medinfo/disaster/medication"): FACILITY_ANY,
    ("POST", "/api/v1/medinfo/{category}/records"): OFFICE_ANY | ADMIN,
    ("POST", "/api/v1/medinfo/{category}/imports"): OFFICE_ANY | ADMIN,
    ("PUT", "/api/v1/recipients/{payer_number}/{recipient_number}/restriction"): OFFICE_ANY | ADMIN,
    ("POST", "/api/v1/disasters"): ADMIN,
    ("GET", "/api/v1/disasters"): ADMIN,
    ("POST", "/api/v1/disasters/{opening_id}/close"): ADMIN,
    ("POST", "/api/v1/claims/check"): FACILITY_ANY,  # claims pre-check (fujo/claims)
    ("POST", "/api/v1/claims/office-check"): OFFICE_ANY,
    ("POST", "/api/v1/facility/webhooks"): FACILITY_MANAGER,  # webhooks (fujo/webhooks)
    ("GET", "/api/v1/facility/webhooks"): FACILITY_ANY,
    ("DELETE", "/api/v1/facility/webhooks/{webhook_id}"): FACILITY_MANAGER,
    ("GET", "/api/v1/facility/webhooks/{webhook_id}/deliveries"): FACILITY_ANY,
    ("POST", "/api/v1/facility/webhooks/{webhook_id}/test"): FACILITY_MANAGER,
    ("GET", "/api/v1/onboarding"): ADMIN,  # the introduction checklist (fujo/onboarding)
    ("GET", "/api/v1/onboarding/{facility_code}"): FACILITY_ANY | ADMIN,
    ("POST", "/api/v1/onboarding/{facility_code}/steps/{step}"): FACILITY_MANAGER | ADMIN,
    ("GET", "/api/v1/health"): None,  # no token needed
    ("GET", "/api/v1/ready"): None,  # no token needed
}


def _api_calls(world, r, t, q):
    """(method, template, concrete path, query, json body) with bodies the API model accepts, so that a
    refusal is the role's and not the body's."""
    rp = f"{PAYER}/{r['recipient_number']}"
    ticket_body = {
        k: v
        for k, v in World.ticket_data(r, issue_number="8001").items()
        if k not in ("payer_number", "recipient_number")
    }
    new_r = World.recipient_data()
    numbers = {"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": "1990-01-15"}
    ins = {
        "insurer_number": world.orgs["insurer"]["code"],
        "insurer_name": "○○健康保険組合",
        "insured_card_classification": "01",
        "card_number": "424242",
        "name": "権限太郎",
        "name_kana": "ｹﾝｹﾞﾝ ﾀﾛｳ",
        "sex": "1",
        "birthdate": "1980-01-01",
        "qualification_date": "2020-04-01",
    }
    clinic = world.orgs["clinic"]
    return [
        ("POST", "/api/v1/checks/card/challenge", "/api/v1/checks/card/challenge", None, None),
        (
            "POST",
            "/api/v1/checks/card",
            "/api/v1/checks/card",
            None,
            {"challenge": "x", "certificate": "eA==", "signature": "eA==", "consent": "0000"},
        ),
        ("POST", "/api/v1/checks/numbers", "/api/v1/checks/numbers", None, numbers),
        ("POST", "/api/v1/checks/numbers/batch", "/api/v1/checks/numbers/batch", None, {"items": [numbers]}),
        ("GET", "/api/v1/facility/tickets", "/api/v1/facility/tickets", {"month": "2024-07"}, None),
        ("GET", "/api/v1/facility/tickets/changes", "/api/v1/facility/tickets/changes", {"cursor": 0}, None),
        ("GET", "/api/v1/facility/settings", "/api/v1/facility/settings", None, None),
        ("PUT", "/api/v1/facility/settings", "/api/v1/facility/settings", None, {"medical_assistance_enabled": True}),
        (
            "PUT",
            "/api/v1/facility/references",
            "/api/v1/facility/references",
            None,
            {"reference_number": "R1", **numbers},
        ),
        ("POST", "/api/v1/recipients", "/api/v1/recipients", None, new_r),
        ("GET", "/api/v1/recipients", "/api/v1/recipients", {"q": "生保"}, None),
        ("GET", "/api/v1/recipients/{payer_number}/{recipient_number}", f"/api/v1/recipients/{rp}", None, None),
        (
            "PATCH",
            "/api/v1/recipients/{payer_number}/{recipient_number}",
            f"/api/v1/recipients/{rp}",
            None,
            {"address": "東京都○○市9-9-9"},
        ),
        (
            "POST",
            "/api/v1/recipients/{payer_number}/{recipient_number}/card-link",
            f"/api/v1/recipients/{rp}/card-link",
            None,
            {"individual_number": World.individual_number()},
        ),
        (
            "POST",
            "/api/v1/recipients/{payer_number}/{recipient_number}/card-unlink",
            f"/api/v1/recipients/{rp}/card-unlink",
            None,
            {"reason": "確認"},
        ),
        ("POST", "/api/v1/facilities", "/api/v1/facilities", None, {"code": "1331234565", "name": "◇◇歯科医院"}),
        ("GET", "/api/v1/facilities", "/api/v1/facilities", {"q": "医療"}, None),
        ("GET", "/api/v1/facilities/{code}", f"/api/v1/facilities/{clinic['code']}", None, None),
        ("PATCH", "/api/v1/facilities/{code}", f"/api/v1/facilities/{clinic['code']}", None, {"phone": "03-1-1"}),
        (
            "POST",
            "/api/v1/tickets",
            "/api/v1/tickets",
            None,
            World.ticket_data(r, issue_number="8002", facility=world.orgs["other"]["code"]),
        ),
        ("GET", "/api/v1/tickets/late", "/api/v1/tickets/late", {"month": "2024-07"}, None),
        ("GET", "/api/v1/tickets/{ticket_key}", f"/api/v1/tickets/{t['ticket_key']}", None, None),
        ("PUT", "/api/v1/tickets/{ticket_key}", f"/api/v1/tickets/{t['ticket_key']}", None, ticket_body),
        (
            "POST",
            "/api/v1/tickets/{ticket_key}/cancel",
            f"/api/v1/tickets/{t['ticket_key']}/cancel",
            None,
            {"reason": "権限の確認"},
        ),
        ("POST", "/api/v1/imports/{kind}", "/api/v1/imports/tickets", None, None),
        ("GET", "/api/v1/jobs/{job_id}", "/api/v1/jobs/unknown", None, None),
        ("POST", "/api/v1/insurance-qualifications", "/api/v1/insurance-qualifications", None, ins),
        (
            "GET",
            "/api/v1/insurance-qualifications/{qualification_id}",
            f"/api/v1/insurance-qualifications/{q['id']}",
            None,
            None,
        ),
        (
            "POST",
            "/api/v1/organisations",
            "/api/v1/organisations",
            None,
            {"kind": "facility", "code": "2711234561", "name": "x"},
        ),
        ("GET", "/api/v1/organisations", "/api/v1/organisations", None, None),
        ("GET", "/api/v1/organisations/{org_id}", f"/api/v1/organisations/{clinic['id']}", None, None),
        (
            "POST",
            "/api/v1/organisations/{org_id}/credentials",
            f"/api/v1/organisations/{clinic['id']}/credentials",
            None,
            {"label": "x", "role": "nobody"},
        ),
        (
            "GET",
            "/api/v1/organisations/{org_id}/credentials",
            f"/api/v1/organisations/{clinic['id']}/credentials",
            None,
            None,
        ),
        (
            "DELETE",
            "/api/v1/organisations/{org_id}/credentials/{credential_id}",
            f"/api/v1/organisations/{clinic['id']}/credentials/999999",
            None,
            None,
        ),
        ("GET", "/api/v1/cards", "/api/v1/cards", None, None),
        ("POST", "/api/v1/cards", "/api/v1/cards", None, {"pin": "12"}),
        ("POST", "/api/v1/cards/{serial}/revoke", "/api/v1/cards/abc123/revoke", None, {"reason": "x"}),
        ("POST", "/api/v1/cards/{serial}/pin-reset", "/api/v1/cards/abc123/pin-reset", None, None),
        ("GET", "/api/v1/audit/export", "/api/v1/audit/export", {"from": "2024-07-01", "to": "2024-07-31"}, None),
        (
            "GET",
            "/api/v1/medinfo/{category}",
            "/api/v1/medinfo/medication",
            {"payer_number": PAYER, "recipient_number": r["recipient_number"]},
            None,
        ),
        (
            "POST",
            "/api/v1/medinfo/medication/overlaps",
            "/api/v1/medinfo/medication/overlaps",
            None,
            {"drug_codes": ["2171022F1020"], "payer_number": PAYER, "recipient_number": r["recipient_number"]},
        ),
        (
            "POST",
            "/api/v1/medinfo/disaster/medication",
            "/api/v1/medinfo/disaster/medication",
            None,
            {"name": "生保一郎", "birthdate": "1990-01-15", "sex": "1"},
        ),
        (
            "POST",
            "/api/v1/medinfo/{category}/records",
            "/api/v1/medinfo/medication/records",
            None,
            {"payer_number": PAYER},
        ),
        ("POST", "/api/v1/medinfo/{category}/imports", "/api/v1/medinfo/medication/imports", None, None),
        (
            "PUT",
            "/api/v1/recipients/{payer_number}/{recipient_number}/restriction",
            f"/api/v1/recipients/{rp}/restriction",
            None,
            {"restricted": False},
        ),
        (
            "POST",
            "/api/v1/disasters",
            "/api/v1/disasters",
            None,
            {"reason": "x", "starts_at": "2024-07-01", "ends_at": "2024-07-01", "prefectures": ["13"]},
        ),
        ("GET", "/api/v1/disasters", "/api/v1/disasters", None, None),
        ("POST", "/api/v1/disasters/{opening_id}/close", "/api/v1/disasters/999999/close", None, None),
        ("POST", "/api/v1/claims/check", "/api/v1/claims/check", None, None),
        ("POST", "/api/v1/claims/office-check", "/api/v1/claims/office-check", None, None),
        ("POST", "/api/v1/facility/webhooks", "/api/v1/facility/webhooks", None, {"url": "https://example.jp/hook"}),
        ("GET", "/api/v1/facility/webhooks", "/api/v1/facility/webhooks", None, None),
        ("DELETE", "/api/v1/facility/webhooks/{webhook_id}", "/api/v1/facility/webhooks/999999", None, None),
        (
            "GET",
            "/api/v1/facility/webhooks/{webhook_id}/deliveries",
            "/api/v1/facility/webhooks/999999/deliveries",
            None,
            None,
        ),
        ("POST", "/api/v1/facility/webhooks/{webhook_id}/test", "/api/v1/facility/webhooks/999999/test", None, None),
        ("GET", "/api/v1/onboarding", "/api/v1/onboarding", None, None),
        ("GET", "/api/v1/onboarding/{facility_code}", f"/api/v1/onboarding/{clinic['code']}", None, None),
        (
            "POST",
            "/api/v1/onboarding/{facility_code}/steps/{step}",
            f"/api/v1/onboarding/{clinic['code']}/steps/estimate",
            None,
            None,
        ),
        ("GET", "/api/v1/health", "/api/v1/health", None, None),
        ("GET", "/api/v1/ready", "/api/v1/ready", None, None),
    ]


def _call(client, method, path, query, body, headers):
    if path.startswith("/api/v1/imports/") or path.endswith("/imports"):
        return client.post(path, headers=headers, files={"file": ("t.csv", b"payer_number\r\n", "text/csv")})
    if path.startswith("/api/v1/claims/"):  # a claims CSV with one row (fujo/claims/csvformat.py)
        row = f"診療年月,公費負担者番号,受給者番号,氏名,生年月日,医療機関コード\r\n2024-07,{PAYER},1000017,生保一郎,1990-01-15,"
        return client.post(path, headers=headers, files={"file": ("c.csv", row.encode(), "text/csv")})
    return client.request(method, path, headers=headers, params=query, json=body)


def _forbidden(res) -> bool:
    if res.status_code != 403:
        return False
    try:
        return res.json()["error"]["code"] == "forbidden"
    except ValueError:
        return True


def test_every_api_route_for_every_role(client, world, db):
    spec = client.get("/openapi.json").json()
    offered = {(m.upper(), p) for p, ms in spec["paths"].items() if p.startswith("/api/v1/") for m in ms}
    assert offered == set(API), "classify every route: " + repr(offered ^ set(API))
    r = world.recipient()
    t = world.ticket(r)
    q = world.insurance()
    heads = {c: world.role_auth(*c) for c in CALLERS}
    calls = _api_calls(world, r, t, q)
    assert {(m, tpl) for m, tpl, *_ in calls} == set(API)
    wrong = []
    for method, tpl, path, query, body in calls:
        allowed = API[(method, tpl)]
        res = _call(client, method, path, query, body, {})
        if allowed is not None and res.status_code != 401:
            wrong.append((method, tpl, "anonymous", res.status_code))
        if allowed is None:
            continue
        # refused callers first, so an allowed call (which may change something) cannot hide a refusal
        for caller in sorted(CALLERS, key=lambda c: c in allowed):
            res = _call(client, method, path, query, body, heads[caller])
            if (caller in allowed) == _forbidden(res) or res.status_code == 401:
                wrong.append((method, tpl, caller, res.status_code, res.text[:120]))
    assert wrong == []


# --- the FHIR interface (docs/FHIR.md): its refusals are OperationOutcomes --------------------------

FHIR = {  # (method, path template) → who may call it
    ("GET", "/fhir/metadata"): None,  # the CapabilityStatement: no token needed
    ("POST", "/fhir/CoverageEligibilityRequest/$submit"): FACILITY_ANY,
    ("GET", "/fhir/Coverage"): FACILITY_ANY,
    ("GET", "/fhir/Coverage/{coverage_id}"): FACILITY_ANY,
    # 薬剤情報: a facility's 受付・管理者 get 403 medinfo_refused (reason role), not forbidden, as natively
    ("GET", "/fhir/Consent"): FACILITY_ANY,
    ("GET", "/fhir/MedicationDispense"): FACILITY_ANY,
}


def _fhir_forbidden(res) -> bool:
    if res.status_code != 403:
        return False
    issue = res.json()["issue"][0]
    return issue["code"] == "forbidden" and issue["details"]["coding"][0]["code"] == "forbidden"


def test_every_fhir_route_for_every_role(client, world):
    from tests.fhir.conftest import eligibility_request

    spec = client.get("/openapi.json").json()
    offered = {(m.upper(), p) for p, ms in spec["paths"].items() if p.startswith("/fhir/") for m in ms}
    assert offered == set(FHIR), "classify every route: " + repr(offered ^ set(FHIR))
    r = world.recipient()
    t = world.ticket(r)
    calls = {
        ("GET", "/fhir/metadata"): ("/fhir/metadata", None, None),
        ("POST", "/fhir/CoverageEligibilityRequest/$submit"): (
            "/fhir/CoverageEligibilityRequest/$submit",
            None,
            eligibility_request(PAYER, r["recipient_number"]),
        ),
        ("GET", "/fhir/Coverage"): ("/fhir/Coverage", {"month": "2024-07"}, None),
        ("GET", "/fhir/Coverage/{coverage_id}"): (f"/fhir/Coverage/{t['ticket_key']}", None, None),
        ("GET", "/fhir/Consent"): (
            "/fhir/Consent",
            {"payer-number": PAYER, "recipient-number": r["recipient_number"]},
            None,
        ),
        ("GET", "/fhir/MedicationDispense"): (
            "/fhir/MedicationDispense",
            {"payer-number": PAYER, "recipient-number": r["recipient_number"]},
            None,
        ),
    }
    assert set(calls) == set(FHIR)
    heads = {c: world.role_auth(*c) for c in CALLERS}
    wrong = []
    for (method, tpl), (path, query, body) in calls.items():
        allowed = FHIR[(method, tpl)]
        res = client.request(method, path, params=query, json=body)
        assert res.headers["content-type"].startswith("application/fhir+json"), (tpl, res.text[:120])
        if allowed is not None and res.status_code != 401:
            wrong.append((method, tpl, "anonymous", res.status_code))
        if allowed is None:
            continue
        for caller in sorted(CALLERS, key=lambda c: c in allowed):
            res = client.request(method, path, headers=heads[caller], params=query, json=body)
            if (caller in allowed) == _fhir_forbidden(res) or res.status_code == 401:
                wrong.append((method, tpl, caller, res.status_code, res.text[:120]))
    assert wrong == []


def test_imports_of_facilities_are_the_administrators_and_tokens_carry_their_role(client, world):
    data = {"file": ("f.csv", b"code,name\r\n1331234565,x\r\n", "text/csv")}
    for caller in CALLERS:
        res = client.post("/api/v1/imports/facilities", headers=world.role_auth(*caller), files=data)
        assert _forbidden(res) == (caller not in ADMIN), (caller, res.status_code)
    creds = client.get(
        f"/api/v1/organisations/{world.orgs['clinic']['id']}/credentials", headers=world.auth("admin")
    ).json()
    assert {c["role"] for c in creds} == {"reception", "clinician", "manager"}
    bad = client.post(
        f"/api/v1/organisations/{world.orgs['clinic']['id']}/credentials",
        headers=world.auth("admin"),
        json={"role": "caseworker"},
    )  # an office's role, not a facility's
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "role"
    default = issue_credential(world.db, world.orgs["office"]["id"], label="no role given")
    assert default["role"] == "caseworker"


# --- the screens -----------------------------------------------------------------------------------

DESK, DESK_MANAGER = FACILITY_ANY, FACILITY_MANAGER
WEB = {  # (method, path template) → who may use it
    **{
        (m, p): DESK
        for m, p in [
            ("GET", "/desk"),
            ("POST", "/desk/check/card"),
            ("POST", "/desk/check/card/challenge"),
            ("GET", "/desk/numbers"),
            ("POST", "/desk/check/numbers"),
            ("GET", "/desk/tickets"),
            ("GET", "/desk/tickets.csv"),
            ("GET", "/desk/settings"),
            ("GET", "/desk/reference"),
            ("GET", "/desk/medinfo"),
            ("GET", "/desk/medinfo/disaster"),
            ("POST", "/desk/medinfo/disaster"),
            ("GET", "/desk/medinfo/medication/overlaps"),
            ("GET", "/desk/medinfo/{category}"),
            ("GET", "/desk/medinfo/{category}/print"),
            ("POST", "/desk/reference"),
            ("GET", "/desk/events"),
            ("GET", "/desk/events/feed"),
            ("GET", "/desk/claims"),
            ("POST", "/desk/claims"),
            ("GET", "/desk/claims/reports/{rid}"),
            ("GET", "/desk/claims/reports/{rid}.csv"),
            ("GET", "/desk/claims/reports/{rid}.json"),
            ("GET", "/desk/onboarding"),
        ]
    },
    **{
        (m, p): DESK_MANAGER
        for m, p in [
            ("POST", "/desk/settings"),
            ("GET", "/desk/users"),
            ("POST", "/desk/users"),
            ("POST", "/desk/users/{user_id}/disable"),
            ("POST", "/desk/onboarding/{step}"),
        ]
    },
    **{
        (m, p): OFFICE_ANY
        for m, p in [
            ("GET", "/office"),
            ("GET", "/office/recipients/new"),
            ("POST", "/office/recipients"),
            ("GET", "/office/recipients/{payer}/{rn}"),
            ("POST", "/office/recipients/{payer}/{rn}/card-link"),
            ("POST", "/office/recipients/{payer}/{rn}/card-unlink"),
            ("GET", "/office/facilities/{code}"),
            ("GET", "/office/recipients/{payer}/{rn}/tickets/new"),
            ("POST", "/office/recipients/{payer}/{rn}/tickets"),
            ("GET", "/office/tickets/{key}"),
            ("POST", "/office/tickets/{key}/amend"),
            ("POST", "/office/tickets/{key}/cancel"),
            ("GET", "/office/import"),
            ("POST", "/office/import"),
            ("POST", "/office/import/jobs"),
            ("GET", "/office/import/jobs/{job_id}"),
            ("GET", "/office/import/jobs/{job_id}/report"),
            ("GET", "/office/late"),
            ("GET", "/office/tickets/{key}/print.pdf"),
            ("GET", "/office/print.pdf"),
            ("GET", "/office/recipients/{payer}/{rn}/edit"),
            ("POST", "/office/recipients/{payer}/{rn}/edit"),
            ("POST", "/office/recipients/{payer}/{rn}/disqualification"),
            ("GET", "/office/facilities"),
            ("POST", "/office/recipients/{payer}/{rn}/tickets/validate"),
            ("POST", "/office/tickets/{key}/validate"),
            ("GET", "/office/tickets"),
            ("POST", "/office/recipients/{payer}/{rn}/cards/{serial}/pin-reset"),
            ("POST", "/office/recipients/{payer}/{rn}/restriction"),
            ("GET", "/office/claims"),
            ("POST", "/office/claims"),
            ("GET", "/office/claims/reports/{rid}"),
            ("GET", "/office/claims/reports/{rid}.csv"),
            ("GET", "/office/claims/reports/{rid}.json"),
        ]
    },
    **{
        (m, p): OFFICE_MANAGER
        for m, p in [("GET", "/office/users"), ("POST", "/office/users"), ("POST", "/office/users/{user_id}/disable")]
    },
    **{
        (m, p): ADMIN
        for m, p in [
            ("GET", "/admin"),
            ("GET", "/admin/orgs"),
            ("POST", "/admin/orgs"),
            ("GET", "/admin/orgs/{org_id}"),
            ("POST", "/admin/orgs/{org_id}/credentials"),
            ("POST", "/admin/orgs/{org_id}/credentials/{cred_id}/revoke"),
            ("POST", "/admin/orgs/{org_id}/users"),
            ("POST", "/admin/orgs/{org_id}/users/{user_id}/disable"),
            ("GET", "/admin/cards"),
            ("GET", "/admin/disasters"),
            ("POST", "/admin/disasters"),
            ("POST", "/admin/disasters/{opening_id}/close"),
            ("POST", "/admin/cards/revoke"),
            ("POST", "/admin/cards/{serial}/pin-reset"),
            ("GET", "/admin/facilities"),
            ("POST", "/admin/facilities"),
            ("POST", "/admin/facilities/import"),
            ("GET", "/admin/onboarding"),
            ("GET", "/admin/onboarding/{code}"),
            ("POST", "/admin/onboarding/{code}/{step}"),
            ("GET", "/admin/subsidy"),
        ]
    },
    **{
        (m, p): INSURER
        for m, p in [("GET", "/insurer"), ("POST", "/insurer/qualifications"), ("GET", "/insurer/qualifications/{qid}")]
    },
}
NOT_ROLE_SCOPED = {
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/portal/login"),
    ("POST", "/portal/login"),
    ("POST", "/portal/login/challenge"),
    ("GET", "/portal"),
    ("POST", "/dates/read"),  # reads the date it is sent, for any page (fujo/web/dates.py)
}  # sign-in, or the recipient's own session, or nothing of anyone's


def _routes(routes) -> list:
    """The routes of an application, those of included routers too (FastAPI keeps an included router
    as one entry that holds the router's own routes, their paths already prefixed)."""
    out = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        out.extend(_routes(inner.routes) if inner is not None else [r])
    return out


def _web_routes(app) -> set[tuple[str, str]]:
    """Every screen route of the application (whatever module added it): all but the API, FHIR,
    the OpenAPI pages, the metrics and the static files."""
    from fastapi.routing import APIRoute

    from fujo.web.kit import is_web_path

    return {
        (m, r.path)
        for r in _routes(app.routes)
        if isinstance(r, APIRoute) and is_web_path(r.path) and not r.path.startswith(("/fhir", "/metrics"))
        for m in r.methods or ()
        if m != "HEAD"
    }


def _fill(tpl: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), tpl)


# What an allowed GET answers: 200 and a page (text/html), or 200 and one of these (a download, or
# the JSON a page's script reads). Never a 5xx, never the sign-in page.
NOT_PAGES = {
    ("GET", "/desk/tickets.csv"): "text/csv",
    ("GET", "/desk/medinfo/{category}/print"): "application/pdf",
    ("GET", "/desk/events/feed"): "application/json",
    ("GET", "/desk/claims/reports/{rid}.csv"): "text/csv",
    ("GET", "/desk/claims/reports/{rid}.json"): "application/json",
    ("GET", "/office/claims/reports/{rid}.csv"): "text/csv",
    ("GET", "/office/claims/reports/{rid}.json"): "application/json",
    ("GET", "/office/facilities"): "application/json",
    ("GET", "/office/facilities/{code}"): "application/json",
    ("GET", "/office/import/jobs/{job_id}"): "application/json",
    ("GET", "/office/tickets/{key}/print.pdf"): "application/pdf",
    ("GET", "/office/print.pdf"): "application/pdf",
}
# The 薬剤情報等 screens are every facility role's, but show the information to its 医師・歯科医師・薬剤師
# only: 受付 and 管理者 get the refusal page (403, reason role), which is not the forbidden page.
MEDINFO_VIEWS = {
    ("GET", "/desk/medinfo/{category}"),
    ("GET", "/desk/medinfo/medication/overlaps"),
    ("GET", "/desk/medinfo/{category}/print"),
}
MEDINFO_READERS = {("clinic", "clinician")}
# The query a screen needs to show something: the patient, the drugs about to be prescribed, a month
# with tickets (the test world's ticket is of 令和6年7月).
_PATIENT = "payer_number={payer}&recipient_number={rn}"
SCREEN_QUERY = {
    ("GET", "/desk/medinfo/{category}"): _PATIENT,
    ("GET", "/desk/medinfo/{category}/print"): _PATIENT,
    ("GET", "/desk/medinfo/medication/overlaps"): _PATIENT + "&drug_codes=2171022F1020",
    ("GET", "/office/print.pdf"): "month=2024-07",
}
HOME = {"admin": "/admin", "office": "/office", "clinic": "/desk", "insurer": "/insurer"}
PASSWORD = "role-pass-1234"


def expected_answer(caller: tuple[str, str], method: str, tpl: str) -> tuple[int, str]:
    """(status, content type) of an allowed GET screen for ``caller``."""
    if (method, tpl) in MEDINFO_VIEWS and caller not in MEDINFO_READERS:
        return 403, "text/html"
    return 200, NOT_PAGES.get((method, tpl), "text/html")


def screen_url(method: str, tpl: str, values: dict) -> str:
    query = SCREEN_QUERY.get((method, tpl))
    return _fill(tpl, values) + (f"?{_fill(query, values)}" if query else "")


# The words of a refusal of the caller (fujo.auth.principal, fujo.web.kit): shown on the error page,
# or in the page of a form that was sent (the 導入手順's checklist).
FORBIDDEN = re.compile(
    r"この画面は[^。<]+の利用者のみ使えます。|この操作は[^。<]+(?:のみ行えます|の権限が必要です（現在の権限: [^）<]+）)。"
)


def is_forbidden_page(status: int, html: str) -> bool:
    return status == 403 and FORBIDDEN.search(html) is not None


def screen_world(world) -> dict:
    """The objects the screens' paths name, from the test world: a recipient (with a card checked at
    the clinic with consent to every 薬剤情報等, so that its 医療職 sees them), a ticket of 令和6年7月 at
    the clinic, a health-insurance qualification; unknown ids where the screens only take a POST."""
    from tests.medinfo.helpers import card_check

    r = world.recipient()
    t = world.ticket(r)
    q = world.insurance()
    card_check(world, world.card(r))
    return {
        "payer": PAYER,
        "rn": r["recipient_number"],
        "key": t["ticket_key"],
        "code": world.orgs["clinic"]["code"],
        "job_id": "nojob",
        "org_id": world.orgs["clinic"]["id"],
        "cred_id": 999999,
        "user_id": 999999,
        "qid": q["id"],
        "serial": "abc123",
        "category": "medication",
        "opening_id": 999999,
        "rid": "noreport",
        "step": "estimate",
    }


def web_user(world, org: str, role: str) -> dict:
    """A web user of ``org`` with ``role`` (login ``org-role``, password :data:`PASSWORD`), with the
    objects that are its own alone: a claims report, an import job (another user's are 404). Its
    values for :func:`screen_url`, and ``login``."""
    import io

    from fujo.claims import reports
    from fujo.claims import service as claims
    from fujo.jobs import service as jobs
    from fujo.jobs.runner import JobRunner
    from fujo.orgs.service import principal_for

    login = f"{org}-{role}"
    o = world.orgs[org]
    user = create_user(world.db, o["id"], login=login, password=PASSWORD, display_name=login, role=role)
    p = principal_for(world.db, kind=o["kind"], code=o["code"], role=role, user_id=user["id"], actor=login)
    own: dict = {"login": login}
    if org in ("clinic", "office"):  # a claims pre-check of one CSV row, kept for its user (fujo/claims)
        row = f"診療年月,公費負担者番号,受給者番号,氏名,生年月日,医療機関コード\r\n2024-07,{PAYER},1000017,生保一郎,1990-01-15,{CLINIC}"
        check = claims.check_claims if org == "clinic" else claims.check_office_claims
        report = check(world.db, p, source=io.BytesIO(row.encode()), fmt="csv")
        own["rid"] = reports.store_report(world.db, p, "facility" if org == "clinic" else "office", report)
    if org == "office":  # a CSV import of one ticket, run to its end here (fujo/jobs)
        t = World.ticket_data(world.recipient(), on=JULY)
        cols = ["payer_number", "recipient_number", "ticket_type", "treatment_month", "valid_from", "valid_to"]
        cols += ["designated_facility_code", "treatment_type", "single_or_combined"]
        spool = world.tmp / f"import-{login}.csv"
        spool.write_text(",".join(cols) + "\n" + ",".join(t[c] for c in cols) + "\n", encoding="utf-8")
        job = jobs.submit(world.db, p, kind="tickets", spool_path=spool)
        assert JobRunner(world.db).execute(job["id"])
        assert jobs.get(world.db, p, job["id"])["state"] == jobs.DONE
        own["job_id"] = job["id"]
    return own


# Each screen with each role: who may use it, decided before any query, and that an allowed screen
# answers (200 and what it shows, or its documented refusal; a form sent empty is refused for its
# content, never with a 5xx). The screens' queries run on both databases in their own tests; this
# runs once, on PostgreSQL (the production database).
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_every_screen_for_every_role(app, world, db):
    assert _web_routes(app) == set(WEB) | NOT_ROLE_SCOPED, "classify every screen"
    assert set(NOT_PAGES) | MEDINFO_VIEWS | set(SCREEN_QUERY) <= set(WEB)
    shared = screen_world(world)
    wrong = []
    for org, role in CALLERS:
        values = shared | web_user(world, org, role)
        with TestClient(app) as c:
            tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            res = c.post(
                "/login",
                data={
                    "csrf_token": tok,
                    "org_code": world.orgs[org]["code"],
                    "login": values["login"],
                    "password": PASSWORD,
                },
                follow_redirects=False,
            )
            assert res.status_code == 303, (org, role)
            page = c.get(HOME[org])
            assert page.status_code == 200, (org, role, page.status_code)
            assert re.search(r'id="user-role">（[^）]+）', page.text)  # the header says the role
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            for (method, tpl), allowed in sorted(WEB.items(), key=lambda kv: kv[0][0] == "POST"):
                if method == "GET":
                    res = c.get(screen_url(method, tpl, values), follow_redirects=False)
                else:
                    res = c.post(_fill(tpl, values), data={"csrf_token": csrf}, follow_redirects=False)
                got = (res.status_code, res.headers.get("content-type", "").split(";")[0])
                forbidden = is_forbidden_page(res.status_code, res.text)
                if (org, role) not in allowed:
                    if not forbidden:
                        wrong.append((org, role, method, tpl, "not refused", got))
                elif method == "GET":
                    want = expected_answer((org, role), method, tpl)
                    if got != want or forbidden:
                        wrong.append((org, role, method, tpl, want, got, res.text[:120]))
                    elif got == (200, "text/html") and not re.search(r"<h1>(?!エラー<)[^<]+</h1>", res.text):
                        wrong.append((org, role, method, tpl, "no heading", res.text[:120]))
                    elif want[0] == 403 and 'data-reason="role"' not in res.text:
                        wrong.append((org, role, method, tpl, "not the 薬剤情報等 refusal by role"))
                elif (
                    forbidden
                    or res.status_code >= 500
                    or res.status_code not in (200, 303, 404, 409, 422)
                    or "/login" in res.headers.get("location", "")
                ):  # a form sent empty: refused for its content (or done: a redirect), never forbidden
                    wrong.append((org, role, method, tpl, got, res.text[:120]))
    assert wrong == []


def test_the_menu_shows_only_what_the_role_may_use(app, world, db):
    for role, sees in (("reception", False), ("manager", True)):
        create_user(
            db, world.orgs["clinic"]["id"], login=f"menu-{role}", password="role-pass-1234", display_name="x", role=role
        )
        with TestClient(app) as c:
            tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            c.post(
                "/login",
                data={
                    "csrf_token": tok,
                    "org_code": world.orgs["clinic"]["code"],
                    "login": f"menu-{role}",
                    "password": "role-pass-1234",
                },
            )
            page = c.get("/desk/settings").text
            assert ('href="/desk/users"' in page) == sees
            assert ('name="medical_assistance"' in page) == sees
