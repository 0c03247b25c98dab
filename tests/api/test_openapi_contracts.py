"""Typed contracts: every /api/v1 route publishes the schema of its answer (and of its refusals) in
/openapi.json, and real answers validate against what is published — so the read models
(fujo/*/models.py, used only for the schema) cannot drift from the dicts the services build.

Validation is stricter than the published document: here an answer may carry no key its schema
does not declare (the document itself stays open to additions), and formats (date, date-time) are
checked."""

from __future__ import annotations

import copy

import jsonschema_rs
import pytest

from fujo.cards.reader import LIMIT_CONSENT, SPECIFIC_DISEASES_CONSENT
from fujo.core import codes
from fujo.core.dates import today_jst
from fujo.core.eligibility import CONSENT_KINDS
from fujo.core.fields import INSURANCE_FIELDS, RECIPIENT_FIELDS, TICKET_FIELDS
from fujo.core.numbers import with_check_digit
from fujo.eligibility.models import MedicalTicketInfo, ResultOfQualificationConfirmation
from fujo.facility.service import set_medical_assistance
from fujo.insurance.models import InsuranceQualificationOut
from fujo.registry.models import RecipientOut, TicketOut
from tests.factories import CLINIC, INSURER_NO, JULY, OTHER, PAYER
from tests.helpers import card_proof, wait_for_job

API = "/api/v1"
ERROR_SCHEMAS = {"#/components/schemas/ErrorOut", "#/components/schemas/ImportErrorOut"}


def _operations(spec: dict):
    for path, ops in spec["paths"].items():
        if path.startswith(API + "/"):
            for method, op in ops.items():
                yield path, method, op


def test_every_api_route_publishes_the_schema_of_its_answer_and_of_its_refusals(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    operations = list(_operations(spec))
    assert len(operations) > 30
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        success = [s for s in op["responses"] if s.startswith("2")]
        assert len(success) == 1, where
        answer = op["responses"][success[0]]
        if success[0] == "204":
            assert "content" not in answer, where
        elif "text/csv" in answer.get("content", {}):  # a file (the audit export): no JSON model
            assert path == f"{API}/audit/export", where
        else:
            schema = answer["content"]["application/json"]["schema"]
            assert schema, f"{where}: empty answer schema"
            ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
            assert ref, f"{where}: the answer is not a published model"
            assert schemas[ref.rsplit("/", 1)[1]]["properties"], where
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        if path not in (f"{API}/health", f"{API}/ready"):
            assert "401" in errors, where
        for status, r in errors.items():
            ref = r["content"]["application/json"]["schema"]["$ref"]
            assert ref in ERROR_SCHEMAS, f"{where} {status}: {ref} is not the API's error shape"


def test_read_models_carry_every_field_of_the_field_tables():
    # the wire vocabulary of a ticket and the registry resources are the tables' names, exactly
    wire = {f.wire for f in TICKET_FIELDS} | {"DesignatedMedicalInstitutionFlag", "RegisteredAt"}
    assert set(MedicalTicketInfo.model_fields) == wire
    assert {f.name for f in TICKET_FIELDS} <= set(TicketOut.model_fields)
    assert {f.name for f in RECIPIENT_FIELDS} <= set(RecipientOut.model_fields)
    assert {f.name for f in INSURANCE_FIELDS} <= set(InsuranceQualificationOut.model_fields)
    consent = {f"{k}{x}" for k in CONSENT_KINDS for x in ("ConsFlg", "ConsTime", "AvailableTime")}
    assert consent <= set(ResultOfQualificationConfirmation.model_fields)


def _closed(node):
    """The schema with ``additionalProperties: false`` on every object that lists its properties."""
    if isinstance(node, dict):
        if "properties" in node:
            node.setdefault("additionalProperties", False)
        for v in node.values():
            _closed(v)
    elif isinstance(node, list):
        for v in node:
            _closed(v)
    return node


class Contract:
    """Validates answers against the schema /openapi.json publishes for their route and status."""

    def __init__(self, client):
        self.client = client
        self.spec = client.get("/openapi.json").json()
        self.components = _closed(copy.deepcopy(self.spec["components"]))

    def call(self, method: str, path: str, route: str | None = None, expect: int | None = None, **kw):
        res = self.client.request(method, API + path, **kw)
        if expect is not None:
            assert res.status_code == expect, res.text
        route = API + (route or path)
        doc = self.spec["paths"][route][method.lower()]["responses"]
        assert str(res.status_code) in doc, f"{method} {route}: status {res.status_code} is not documented"
        if res.status_code != 204:
            schema = doc[str(res.status_code)]["content"]["application/json"]["schema"]
            validator = jsonschema_rs.validator_for(
                {**_closed(copy.deepcopy(schema)), "components": self.components}, validate_formats=True
            )
            problems = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(res.json())]
            assert problems == [], f"{method} {route} {res.status_code}"
        return res


@pytest.fixture
def contract(client):
    return Contract(client)


def _numbers(r: dict, **kw) -> dict:
    body = {
        "insurer_number": r["payer_number"],
        "identification_number": r["recipient_number"],
        "birthdate": r["birthdate"],
        "confirmation_date": JULY.isoformat(),
    }
    return body | kw


def test_check_answers_validate_against_the_published_schema(contract, world, db):
    clinic, other = world.auth("clinic"), world.auth("other")
    ichiro = world.recipient()
    world.ticket(ichiro, prescription_issuer_code=None, self_pay_amount=1200, remarks1="備考")
    card = world.card(ichiro)
    world.insurance(
        card,
        limit_classification="01",
        limit_bracket="A03",
        limit_valid_from="2024-04-01",
        specific_disease_category="1",
        specific_disease_valid_from="2024-04-01",
        specific_disease_self_pay=10000,
        contribution_ratio="030",
        personal_family="1",
    )
    lost = world.recipient(disqualification_date="2024-07-01", disqualification_kind="2")
    nobody = with_check_digit("999999")  # a 受給者番号 of the office's payer number nobody holds
    numbers = "/checks/numbers"

    def check(who, body, validity):
        res = contract.call("POST", numbers, headers=who, json=body, expect=200)
        assert res.json()["QualificationValidity"] == validity
        return res.json()

    check(clinic, _numbers(ichiro), codes.VALID)  # tickets
    masked = check(other, _numbers(ichiro), codes.VALID_UNREGISTERED)  # 未委託: Contact, Reason, notice
    assert masked["Contact"] and masked["Reason"] == "unregistered" and masked["ProcessingResultCode"]
    check(clinic, _numbers(lost), codes.INVALID)
    assert check(clinic, _numbers(ichiro, identification_number=nobody), codes.NO_QUALIFICATION)["Contact"]
    insured = {"insurer_number": INSURER_NO, "identification_number": "5678", "birthdate": "1990-01-15"}
    ins = check(clinic, insured | {"limit_application_consent": True, "confirmation_date": "2024-07-10"}, "1")
    assert "LimitApplicationCertificateRelatedInfo" in ins["ResultList"][0]
    world.insurance(branch_number="02", card_symbol="12-34")  # the same numbers without 枝番: 複数該当
    check(clinic, insured, codes.MULTIPLE)

    # by card: insurance first with every block given with consent, then A1 with its tickets
    consent = {"PharmacistsInfo": True, LIMIT_CONSENT: True, SPECIFIC_DISEASES_CONSENT: True}
    proof = card_proof(db, world.principal("clinic"), card, consent)
    res = contract.call("POST", "/checks/card", headers=clinic, json=proof | {"confirmation_date": "2024-07-10"})
    assert [x["InsuredCardClassification"] for x in res.json()["ResultList"]] == ["01", "A1"]
    assert "SpecificDiseasesCertificateList" in res.json()["ResultList"][0]
    # 「医療扶助」 利用しない: insurance only, with the notice
    set_medical_assistance(db, world.principal("pharmacy"), False)
    proof = card_proof(db, world.principal("pharmacy"), card)
    res = contract.call("POST", "/checks/card", headers=world.auth("pharmacy"), json=proof)
    assert res.json()["MedicalAssistanceNotice"]
    contract.call("POST", "/checks/card/challenge", headers=clinic, expect=200)
    # refusals: the error shape
    contract.call("POST", "/checks/card", headers=clinic, json=proof, expect=403)  # other facility's challenge
    contract.call("POST", numbers, headers=world.auth("pharmacy"), json=_numbers(ichiro), expect=403)
    contract.call("POST", numbers, headers=clinic, json=_numbers(ichiro, birthdate="1990-02-30"), expect=422)
    contract.call("POST", numbers, headers={"Authorization": "Bearer nope"}, json=_numbers(ichiro), expect=401)

    batch = [
        _numbers(ichiro, arbitrary_identifier="P1"),
        _numbers(lost),
        _numbers(ichiro, identification_number="1010009", arbitrary_identifier="P3"),
        "not an object",
    ]
    res = contract.call("POST", "/checks/numbers/batch", headers=clinic, json={"items": batch}, expect=200)
    assert res.json()["NumberOfError"] == 2
    contract.call("POST", "/checks/numbers/batch", headers=clinic, json={"items": [{}] * 1001}, expect=422)


def test_bulk_and_registry_answers_validate_against_the_published_schema(contract, world, db):
    office, clinic, admin = world.auth("office"), world.auth("clinic"), world.auth("admin")
    r = contract.call("POST", "/recipients", headers=office, json=world.recipient_data(), expect=201).json()
    rn = f"/recipients/{PAYER}/{r['recipient_number']}"
    route = "/recipients/{payer_number}/{recipient_number}"
    ticket = contract.call("POST", "/tickets", headers=office, json=world.ticket_data(r), expect=201).json()
    stopped = world.recipient(name="停止")
    world.ticket(stopped)
    # 停止 recorded after the ticket: the month download withholds the person (status suspended)
    suspend = {"disqualification_date": "2024-07-01", "disqualification_kind": "1", "expected_version": 1}
    contract.call("PATCH", f"/recipients/{PAYER}/{stopped['recipient_number']}", route, headers=office, json=suspend)
    contract.call("GET", rn, route, headers=office, expect=200)
    contract.call("PATCH", rn, route, headers=office, json={"address": "東京都○○市2-3-4"}, expect=200)
    detail = contract.call("GET", rn, route, headers=office, expect=200).json()
    assert detail["history"] and detail["tickets"]
    contract.call("GET", "/recipients", headers=office, params={"q": "ｾｲﾎ"}, expect=200)
    contract.call("GET", rn, route, headers=world.auth("office2"), expect=403)
    contract.call("GET", f"/recipients/{PAYER}/1010009", route, headers=office, expect=404)
    contract.call("PATCH", rn, route, headers=office, json={"address": "x", "expected_version": 1}, expect=409)

    # 委託先資格情報一括取得 and the change feed
    month = contract.call("GET", "/facility/tickets", headers=clinic, params={"month": "2024-07"}, expect=200).json()
    statuses = {x["QualificationStatus"] for x in month["ResultList"]}
    assert statuses == {"valid", "suspended"}
    key = ticket["ticket_key"]
    t = f"/tickets/{key}"
    amended = world.ticket_data(r, injury_name1="気管支炎")
    for k in ("payer_number", "recipient_number", "issue_number"):
        amended.pop(k)
    contract.call("PUT", t, "/tickets/{ticket_key}", headers=office, json=amended | {"reason": "訂正"}, expect=200)
    moved = amended | {"designated_facility_code": OTHER, "reason": "転院", "expected_revision": 2}
    contract.call("PUT", t, "/tickets/{ticket_key}", headers=office, json=moved, expect=200)
    feed = contract.call("GET", "/facility/tickets/changes", headers=clinic, params={"cursor": 0}, expect=200).json()
    assert {c["Change"] for c in feed["Changes"]} == {"upsert", "removed"}
    contract.call("GET", "/facility/tickets", headers=clinic, params={"month": "2024-13"}, expect=422)
    contract.call("GET", "/facility/tickets", headers=office, params={"month": "2024-07"}, expect=403)

    history = contract.call("GET", t, "/tickets/{ticket_key}", headers=office, expect=200).json()["history"]
    assert len(history) == 3
    contract.call("POST", f"{t}/cancel", "/tickets/{ticket_key}/cancel", headers=office, json={"reason": "受診なし"})
    contract.call("GET", "/tickets/nope", "/tickets/{ticket_key}", headers=office, expect=404)
    late = world.recipient(name="事後登録")
    today = today_jst()
    seen = _numbers(late, confirmation_date=today.isoformat())
    contract.call("POST", "/checks/numbers", headers=clinic, json=seen, expect=200)  # 未登録 at the visit
    world.ticket(late, on=today, facility=CLINIC)  # registered afterwards
    res = contract.call("GET", "/tickets/late", headers=office, params={"month": today.strftime("%Y-%m")}, expect=200)
    assert [x["name"] for x in res.json()] == ["事後登録"]

    # the card link, the facility's 照会番号 and settings
    card = world.card(r, link=False)
    link = {"individual_number": card["individual_number"]}
    contract.call("POST", f"{rn}/card-link", f"{route}/card-link", headers=office, json=link, expect=200)
    ref = {"reference_number": "0000001", "insurer_number": PAYER, "identification_number": r["recipient_number"]}
    contract.call("PUT", "/facility/references", headers=clinic, json=ref | {"birthdate": r["birthdate"]}, expect=200)
    contract.call("PUT", "/facility/references", headers=clinic, json=ref | {"birthdate": "2000-01-01"}, expect=404)
    unlink = {"reason": "誤り"}
    contract.call("POST", f"{rn}/card-unlink", f"{route}/card-unlink", headers=office, json=unlink, expect=200)
    contract.call("GET", "/facility/settings", headers=clinic, expect=200)
    contract.call("PUT", "/facility/settings", headers=clinic, json={"medical_assistance_enabled": True}, expect=200)

    # imports: 202 with the job, polled to the report, or to import_failed with the per-row report
    csv = f"code,name\n{with_check_digit('131111111')},◇◇医院\n".encode()
    bad = b"code,name\n1311111117,x\n"
    for body, state in ((csv, "done"), (bad, "failed")):
        job = contract.call(
            "POST", "/imports/facilities", "/imports/{kind}", headers=admin, files={"file": ("f.csv", body)}, expect=202
        ).json()
        wait_for_job(contract.client, f"/api/v1/jobs/{job['id']}", admin)
        res = contract.call("GET", f"/jobs/{job['id']}", "/jobs/{job_id}", headers=admin, expect=200)
        assert res.json()["state"] == state, res.text
    assert res.json()["error"]["report"]["errors"]
    contract.call("GET", "/jobs/unknown", "/jobs/{job_id}", headers=admin, expect=404)
    contract.call(
        "POST", "/imports/facilities", "/imports/{kind}", headers=admin, files={"file": ("f.csv", b"x\n")}, expect=422
    )


def test_administrator_and_insurer_answers_validate_against_the_published_schema(contract, world):
    admin, insurer = world.auth("admin"), world.auth("insurer")
    org = {"kind": "welfare_office", "code": "13009", "name": "◇◇町福祉事務所", "payer_numbers": ["12130035"]}
    created = contract.call("POST", "/organisations", headers=admin, json=org, expect=201).json()
    contract.call("POST", "/organisations", headers=admin, json=org, expect=409)
    oid = created["id"]
    contract.call("GET", "/organisations", headers=admin, params={"kind": "facility"}, expect=200)
    contract.call("GET", f"/organisations/{oid}", "/organisations/{org_id}", headers=admin, expect=200)
    creds = "/organisations/{org_id}/credentials"
    cred = contract.call("POST", f"/organisations/{oid}/credentials", creds, headers=admin, json={}, expect=201)
    contract.call("GET", f"/organisations/{oid}/credentials", creds, headers=admin, expect=200)
    contract.call(
        "DELETE",
        f"/organisations/{oid}/credentials/{cred.json()['id']}",
        creds + "/{credential_id}",
        headers=admin,
        expect=204,
    )
    contract.call("GET", "/organisations", headers=world.auth("clinic"), expect=403)

    facility = {"code": "1331234565", "name": "◇◇歯科医院", "address": "東京都○○市2-3-4"}
    contract.call("POST", "/facilities", headers=admin, json=facility, expect=201)
    contract.call("GET", "/facilities", headers=world.auth("office"), params={"q": "歯科"}, expect=200)
    contract.call("GET", "/facilities/1331234565", "/facilities/{code}", headers=admin, expect=200)
    contract.call("PATCH", "/facilities/1331234565", "/facilities/{code}", headers=admin, json={"phone": "03-1"})

    holder = {"pin": "1234", "individual_number": world.individual_number(), "name": "保護次郎"}
    holder |= {"birthdate": "1978-11-03", "sex": "1", "address": "東京都○○市"}
    serial = contract.call("POST", "/cards", headers=admin, json=holder, expect=201).json()["serial"]
    contract.call("GET", "/cards", headers=admin, expect=200)
    contract.call("POST", f"/cards/{serial}/pin-reset", "/cards/{serial}/pin-reset", headers=admin, expect=200)
    contract.call("POST", f"/cards/{serial}/revoke", "/cards/{serial}/revoke", headers=admin, json={}, expect=200)

    q = world.insurance(
        elderly_valid_from="2024-04-01", elderly_contribution_ratio="020", birthdate="1952-05-01", name="高齢花子"
    )
    route = "/insurance-qualifications/{qualification_id}"
    contract.call("GET", f"/insurance-qualifications/{q['id']}", route, headers=insurer, expect=200)
    body = {k: v for k, v in q.items() if k not in ("id", "card_linked", "updated_at") and v is not None}
    contract.call("POST", "/insurance-qualifications", headers=insurer, json=body | {"card_number": "7777"})
    contract.call("GET", "/health", expect=200)
    contract.call("GET", "/ready", expect=200)


def test_the_numbers_check_body_carries_exactly_the_checks_keywords():
    """The route passes the body on as ``**NumbersQuery``: a field added to one and not the other
    would be dropped silently or refused by the service."""
    from fujo.eligibility.views import NUMBERS_QUERY_KEYS, NumbersCheckIn

    assert set(NumbersCheckIn.model_fields) == NUMBERS_QUERY_KEYS
