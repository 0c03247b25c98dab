"""The FHIR R4 interface (docs/FHIR.md) against the native API, on SQLite and PostgreSQL: the same
decision, the same 未委託 masking, the same refusals (as OperationOutcome), the same audit trail."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from fujo.audit.service import access_log
from fujo.core.numbers import with_check_digit
from fujo.db import schema
from fujo.fhir import mapping
from fujo.registry.service import cancel_ticket, update_recipient
from tests.factories import INSURER_NO, OTHER, PAYER
from tests.fhir.conftest import SUBMIT, eligibility_request

FHIR_JSON = "application/fhir+json"


def submit(client, world, who, body):
    return client.post(SUBMIT, headers={**world.auth(who), "Content-Type": FHIR_JSON}, json=body)


def native(client, world, who, r, **kw):
    body = {
        "insurer_number": r["payer_number"],
        "identification_number": r["recipient_number"],
        "birthdate": r["birthdate"],
        "confirmation_date": "2024-07-10",
        **kw,
    }
    return client.post("/api/v1/checks/numbers", headers=world.auth(who), json=body).json()


def response_of(res) -> CoverageEligibilityResponse:
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith(FHIR_JSON)
    return CoverageEligibilityResponse.model_validate(res.json())


def outcome_of(res, status: int) -> OperationOutcome:
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith(FHIR_JSON)
    return OperationOutcome.model_validate(res.json())


def ext(resource, url):
    return next((e for e in resource.extension or [] if e.url == url), None)


def contained(resource, rid):
    return next(x for x in resource.contained if x.id == rid)


def log_size(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.check_log)).scalar()


def test_metadata_is_an_r4_capability_statement_saying_what_is_served(client):
    res = client.get("/fhir/metadata")  # no token: a client reads it before it authenticates
    assert res.status_code == 200 and res.headers["content-type"].startswith(FHIR_JSON)
    cs = CapabilityStatement.model_validate(res.json())
    assert cs.fhirVersion == "4.0.1" and cs.kind == "instance"
    served = {r.type: r for r in cs.rest[0].resource}
    assert {i.code for i in served["Coverage"].interaction} == {"read", "search-type"}
    assert [o.name for o in served["CoverageEligibilityRequest"].operation] == ["submit"]
    for medinfo in ("Consent", "MedicationDispense"):
        assert [i.code for i in served[medinfo].interaction] == ["search-type"]
        assert {p.name for p in served[medinfo].searchParam} == {"check-id", "payer-number", "recipient-number"}


NOT_YET_SERVED = ("MedicationStatement", "診療情報", "特定健診情報", "手術情報")


def test_metadata_and_the_docs_say_what_is_not_yet_served(client):
    """Issue 14: Consent and 薬剤情報 are served; what is not yet (MedicationStatement, 診療・健診・手術情報)
    the capability statement says, and docs/FHIR.md lists."""
    cs = CapabilityStatement.model_validate(client.get("/fhir/metadata").json())
    [rest] = cs.rest
    served = {r.type: r for r in rest.resource}
    assert "MedicationStatement" not in served
    said = rest.documentation.split("Not yet served:", 1)[1]
    assert all(what in said for what in NOT_YET_SERVED), said
    assert "MedicationStatement is not yet served" in served["MedicationDispense"].documentation
    assert "診療情報・特定健診情報・手術情報 are not yet served" in served["Consent"].documentation
    assert "422" in served["CoverageEligibilityRequest"].documentation  # numbers that match nobody
    doc = (Path(__file__).parents[2] / "docs" / "FHIR.md").read_text()
    not_done = doc.split("\n## Not (yet) done\n", 1)[1].split("\n## ", 1)[0]
    assert all(what in not_done for what in NOT_YET_SERVED), not_done


def test_designated_facility_gets_the_ticket_as_the_native_check_does(client, world):
    r = world.recipient()
    t = world.ticket(r)
    resp = response_of(submit(client, world, "clinic", eligibility_request(PAYER, r["recipient_number"])))
    check = native(client, world, "clinic", r)
    assert check["QualificationValidity"] == "1"
    assert resp.outcome == "complete" and resp.disposition == "○：この資格は有効です。"
    assert ext(resp, mapping.EXT_VALIDITY).valueCoding.code == "1"
    [ins] = resp.insurance
    assert ins.inforce is True
    assert (str(ins.benefitPeriod.start), str(ins.benefitPeriod.end)) == ("2024-07-01", "2024-07-31")
    cov = contained(resp, ins.coverage.reference[1:])
    assert cov.type.coding[0].system == mapping.INSURANCE_TYPE_SYSTEM and cov.type.coding[0].code == "8"
    assert [(i.system, i.value) for i in cov.identifier] == [(mapping.RECIPIENT_SYSTEM, r["recipient_number"])]
    payor = contained(resp, cov.payor[0].reference[1:])
    assert [(i.system, i.value) for i in payor.identifier] == [(mapping.PAYER_SYSTEM, PAYER)]
    pat = contained(resp, "patient")
    assert str(pat.birthDate) == "1990-01-15" and pat.gender == "male" and pat.name[0].text == "生保一郎"
    # the ticket: every element of the native MedicalTicketInfo, under its own name
    [item] = ins.item
    assert item.category.coding[0].code == "01" and item.provider.identifier.value == t["designated_facility_code"]
    parts = {e.url: e for e in ext(item, mapping.EXT_TICKET).extension}
    [info] = check["ResultList"][0]["PublicExpenseResultList"]["MedicalTicketInfo"]
    assert set(parts) == set(info)
    assert parts["IssueNumber"].valueString == t["issue_number"]
    assert parts["InjuryName1"].valueString == "高血圧症"
    assert str(parts["MedicalTicketValidDate"].valueDate) == "2024-07-01"
    assert resp.request.identifier.value == "req-1"  # the client's own id, echoed


def test_mitaku_withholds_every_number_and_ticket_field_anywhere_in_the_answer(client, world):
    r = world.recipient()
    t = world.ticket(r)  # designates the clinic
    res = submit(client, world, "other", eligibility_request(PAYER, r["recipient_number"], ident="x"))
    resp = response_of(res)
    assert native(client, world, "other", r)["QualificationValidity"] == "6"
    text = res.text
    for withheld in (PAYER, r["recipient_number"], t["issue_number"], "高血圧症", r["address"], r["post_number"]):
        assert withheld not in text, withheld
    assert ext(resp, mapping.EXT_VALIDITY).valueCoding.code == "6"
    assert ext(resp, mapping.EXT_REASON).valueCode == "unregistered"  # never "designated elsewhere"
    [ins] = resp.insurance
    assert ins.inforce is True and not ins.item and ins.benefitPeriod is None
    assert resp.disposition.startswith("○：この資格は有効です。（医療券/調剤券情報が未登録です。）")
    office = contained(resp, resp.insurer.reference[1:])
    assert office.name == "○○市福祉事務所" and office.telecom[0].value == "03-0000-0000" and not office.identifier
    pat = contained(resp, "patient")
    assert pat.name[0].text == "生保一郎" and not pat.address


@pytest.mark.parametrize(("case", "validity", "inforce"), [("lost", "2", False), ("next_month", "6", True)])
def test_same_decision_as_the_native_check(client, world, case, validity, inforce):
    r = (
        world.recipient(disqualification_date="2024-07-01", disqualification_kind="2")
        if case == "lost"
        else world.recipient()
    )
    if case == "next_month":
        world.ticket(r, on=dt.date(2024, 8, 10))  # none yet for July: 有効（未登録）
    resp = response_of(submit(client, world, "clinic", eligibility_request(PAYER, r["recipient_number"])))
    same = native(client, world, "clinic", r)
    assert same["QualificationValidity"] == validity
    assert ext(resp, mapping.EXT_VALIDITY).valueCoding.code == validity
    assert [i.inforce for i in resp.insurance] == [inforce]
    if case == "lost":
        assert r["recipient_number"] not in resp.model_dump_json()
        assert str(resp.insurance[0].benefitPeriod.end) == "2024-06-30"  # the last covered day


def _last_checks(db, n: int) -> list[dict]:
    """The newest ``n`` check_log entries, oldest first, as what they record (not when, nor their chain)."""
    cl = schema.check_log
    cols = [cl.c.id, cl.c.method, cl.c.outcome, cl.c.reason, cl.c.person_id, cl.c.recipient_id, cl.c.consent]
    cols += [cl.c.detail, cl.c.role, cl.c.category, cl.c.channel, cl.c.organisation_id, cl.c.credential_id]
    with db.read() as conn:
        rows = conn.execute(select(*cols).order_by(cl.c.id.desc()).limit(n)).all()
    return [dict(x._mapping) for x in reversed(rows)]


@pytest.mark.parametrize("case", ["unknown", "wrong_birthdate", "unknown_insured"])
def test_numbers_that_match_nobody_are_422_yet_recorded_as_the_native_check(client, world, db, case):
    """Issue 14: a well-formed request that matches nothing is a 422 OperationOutcome (not-found) — the
    native check's validity 4 (該当資格なし), decided and recorded by the same service, exactly as a
    native check is (only the channel differs); nothing about anyone is in the answer."""
    r = world.recipient()
    world.ticket(r)
    rn = with_check_digit("999999") if case == "unknown" else r["recipient_number"]
    bd = "1990-01-16" if case == "wrong_birthdate" else r["birthdate"]
    body = eligibility_request(PAYER, rn, birthdate=bd)
    native_body = {**r, "recipient_number": rn, "birthdate": bd}
    if case == "unknown_insured":  # a health insurance nobody holds: no office to name either
        body = eligibility_request(INSURER_NO, "no-such-card", system=mapping.INSURER_SYSTEM)
        native_body = {**r, "payer_number": INSURER_NO, "recipient_number": "no-such-card"}
    before = log_size(db)
    res = submit(client, world, "clinic", body)
    oo = outcome_of(res, 422)
    same = native(client, world, "clinic", native_body)
    assert same["QualificationValidity"] == "4" and same["ResultList"] == []
    [issue] = oo.issue
    assert issue.severity == "error" and issue.code == "not-found"
    codes = {(c.system, c.code) for c in issue.details.coding}
    assert {(mapping.CS_PROBLEM, "no_match"), (mapping.CS_VALIDITY, "4")} <= codes
    assert "No recipient or insured person matches" in issue.diagnostics
    assert issue.details.text.startswith("×：該当する資格がありません。")
    if "ProcessingResultMessage" in same:  # whom to call, as the native answer says it
        assert issue.details.text.endswith(same["ProcessingResultMessage"])
        assert (mapping.CS_PROCESSING_RESULT, same["ProcessingResultCode"]) in codes
    for personal in (r["name"], r["name_kana"], r["address"], r["birthdate"], "1990-01-15", rn):
        assert personal not in res.text, personal
    # recorded exactly as the native check of the same numbers (the FHIR one first), only the channel differs
    fhir_entry, native_entry = _last_checks(db, 2)
    assert log_size(db) == before + 2
    assert ext(oo, mapping.EXT_CHECK_ID).valueIdentifier.value == str(fhir_entry["id"])
    assert native_entry["id"] == same["CheckId"]
    assert (fhir_entry.pop("channel"), native_entry.pop("channel")) == ("fhir", "api")
    fhir_entry.pop("id"), native_entry.pop("id")
    assert fhir_entry == native_entry and fhir_entry["outcome"] == "4" and fhir_entry["method"] == "numbers"


def test_health_insurance_by_insurer_number(client, world):
    world.insurance()
    body = eligibility_request(INSURER_NO, "5678", system=mapping.INSURER_SYSTEM)
    resp = response_of(submit(client, world, "clinic", body))
    [ins] = resp.insurance
    assert ins.inforce is True
    cov = contained(resp, ins.coverage.reference[1:])
    assert cov.type.coding[0].code == "1"  # 医保 (健康保険組合)
    assert ext(cov, mapping.INSURED_NUMBER).valueString == "5678"
    assert contained(resp, cov.payor[0].reference[1:]).identifier[0].system == mapping.INSURER_SYSTEM


BAD_NUMBERS = [
    ("length", PAYER[:-1], None, "payer_number", "length"),
    ("law code", with_check_digit("5413001"), None, "payer_number", "law_code"),
    ("check digit", PAYER[:-1] + str((int(PAYER[-1]) + 1) % 10), None, "payer_number", "check_digit"),
    ("recipient check digit", PAYER, "1000000", "recipient_number", "check_digit"),
    ("recipient length", PAYER, "123", "recipient_number", "length"),
    ("no birth date", PAYER, None, "birthdate", "required"),
    ("partial birth date", PAYER, None, "birthdate", "date"),
]


@pytest.mark.parametrize(("case", "payer", "rn", "field", "code"), BAD_NUMBERS, ids=[x[0] for x in BAD_NUMBERS])
def test_bad_numbers_and_dates_are_refused_naming_the_field_and_nothing_is_recorded(
    client, world, db, case, payer, rn, field, code
):
    r = world.recipient()
    body = eligibility_request(payer, rn or r["recipient_number"], birthdate=None if "birth" in case else "1990-01-15")
    if case == "partial birth date":
        body["contained"][0]["birthDate"] = "1990"  # a valid FHIR date, not a day
    before = log_size(db)
    oo = outcome_of(submit(client, world, "clinic", body), 422)
    issues = {(i.diagnostics.split(":")[0], i.details.coding[0].code) for i in oo.issue}
    if code == "date":
        assert {f for f, _ in issues} == {"birthdate"}
    else:
        assert (field, code) in issues
    assert all(i.expression and i.details.text for i in oo.issue)
    assert log_size(db) == before  # a refused check changes nothing


@pytest.mark.parametrize(
    ("where", "value"),
    [("servicedDate", "2024-13-45"), ("birthDate", "1990-02-31x"), ("created", "yesterday"), ("unknownElement", 1)],
)
def test_what_is_not_r4_is_refused_with_400_naming_the_element(client, world, db, where, value):
    r = world.recipient()
    body = eligibility_request(PAYER, r["recipient_number"])
    (body["contained"][0] if where == "birthDate" else body)[where] = value
    before = log_size(db)
    oo = outcome_of(submit(client, world, "clinic", body), 400)
    assert any(where in (i.expression or [""])[0] for i in oo.issue), oo
    assert log_size(db) == before


def test_malformed_bodies_and_other_refusals(client, world):
    res = client.post(SUBMIT, headers={**world.auth("clinic"), "Content-Type": FHIR_JSON}, content=b"{not json")
    outcome_of(res, 400)
    outcome_of(submit(client, world, "clinic", {"resourceType": "Patient"}), 400)
    no_cov = eligibility_request(PAYER, "1000009")
    no_cov["insurance"] = []
    oo = outcome_of(submit(client, world, "clinic", no_cov), 422)
    assert oo.issue[0].expression == ["CoverageEligibilityRequest.insurance"]
    res = client.post(SUBMIT, json=eligibility_request(PAYER, "1000009"))
    assert outcome_of(res, 401).issue[0].code == "login" and res.headers["www-authenticate"] == "Bearer"
    oo = outcome_of(submit(client, world, "office", eligibility_request(PAYER, "1000009")), 403)
    assert oo.issue[0].code == "forbidden"
    outcome_of(client.get("/fhir/Patient", headers=world.auth("clinic")), 404)
    outcome_of(client.delete("/fhir/Coverage/x", headers=world.auth("clinic")), 405)
    res = client.post(SUBMIT, headers={**world.auth("clinic"), "Content-Type": "text/plain"}, content=b"x")
    outcome_of(res, 415)


def test_checks_are_in_the_recipients_access_log_as_fhir(client, world, db):
    r = world.recipient()
    t = world.ticket(r)
    response_of(submit(client, world, "clinic", eligibility_request(PAYER, r["recipient_number"])))
    assert client.get(f"/fhir/Coverage/{t['ticket_key']}", headers=world.auth("clinic")).status_code == 200
    assert client.get("/fhir/Coverage", params={"month": "2024-07"}, headers=world.auth("clinic")).status_code == 200
    native(client, world, "clinic", r)
    log = access_log(db, None, [r["id"]])
    fhir = [(x["method"], x["channel"]) for x in log if x["channel"] == "fhir"]
    assert sorted(fhir) == [("bulk", "fhir"), ("bulk", "fhir"), ("numbers", "fhir")]
    assert [x["channel"] for x in log if x["method"] == "numbers"] == ["api", "fhir"]  # newest first


def test_batch_bundle_answers_each_entry_in_its_place(client, world, db):
    r = world.recipient()
    world.ticket(r)
    good = eligibility_request(PAYER, r["recipient_number"], ident="a")
    bad_digit = eligibility_request(PAYER, "1000000", ident="b")
    not_r4 = copy.deepcopy(good)
    not_r4["servicedDate"] = "July"
    nobody = eligibility_request(PAYER, with_check_digit("999999"), ident="d")
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": good, "request": {"method": "POST", "url": "CoverageEligibilityRequest/$submit"}},
            {"resource": bad_digit},
            {"resource": not_r4},
            {"resource": nobody},
        ],
    }
    before = log_size(db)
    res = submit(client, world, "clinic", bundle)
    assert res.status_code == 200 and res.headers["content-type"].startswith(FHIR_JSON)
    out = Bundle.model_validate(res.json())
    assert out.type == "batch-response"
    assert [e.response.status.split()[0] for e in out.entry] == ["200", "422", "400", "422"]
    first = out.entry[0].resource
    assert isinstance(first, CoverageEligibilityResponse) and first.insurance[0].inforce
    assert first.request.identifier.value == "a"
    assert out.entry[1].response.outcome.issue[0].diagnostics.startswith("recipient_number:")
    # matched nobody: a 422 in its place, the OperationOutcome of a single $submit, and yet a check
    assert out.entry[3].resource is None
    [issue] = out.entry[3].response.outcome.issue
    assert issue.code == "not-found" and issue.details.coding[0].code == "no_match"
    assert log_size(db) == before + 2  # the good entry and the one that matched nobody were checks
    oo = outcome_of(submit(client, world, "clinic", {**bundle, "type": "transaction"}), 400)
    assert oo.issue[0].details.coding[0].code == "bundle_type"


def test_coverage_search_and_read_are_the_month_download(client, world):
    r = world.recipient()
    t = world.ticket(r)
    other = world.recipient()
    world.ticket(other, facility=OTHER)
    gone = world.ticket(world.recipient())
    cancel_ticket(world.db, world.principal("office"), key=gone["ticket_key"], reason="取消")
    res = client.get("/fhir/Coverage", params={"month": "2024-07"}, headers=world.auth("clinic"))
    assert res.status_code == 200 and res.headers["content-type"].startswith(FHIR_JSON)
    bundle = Bundle.model_validate(res.json())
    assert bundle.type == "searchset" and bundle.total == 1
    native_month = client.get("/api/v1/facility/tickets", params={"month": "2024-07"}, headers=world.auth("clinic"))
    assert native_month.json()["Count"] == 1
    [entry] = bundle.entry
    cov = entry.resource
    assert isinstance(cov, Coverage) and cov.id == t["ticket_key"] and entry.fullUrl.endswith(t["ticket_key"])
    assert cov.status == "active" and cov.identifier[0].value == r["recipient_number"]
    assert (str(cov.period.start), str(cov.period.end)) == ("2024-07-01", "2024-07-31")
    parts = {e.url: e for e in ext(cov, mapping.EXT_TICKET).extension}
    assert parts["IssueNumber"].valueString == t["issue_number"] and "RegisteredAt" in parts
    read = client.get(f"/fhir/Coverage/{t['ticket_key']}", headers=world.auth("clinic"))
    assert Coverage.model_validate(read.json()).model_dump() == cov.model_dump()
    # another facility's ticket, a cancelled one, an unknown key: the same 404
    for key in (t["ticket_key"], gone["ticket_key"], "no-such-ticket"):
        who = "other" if key == t["ticket_key"] else "clinic"
        res = client.get(f"/fhir/Coverage/{key}", headers=world.auth(who))
        assert outcome_of(res, 404).issue[0].code == "not-found"
        assert r["recipient_number"] not in res.text


def test_coverage_of_a_suspended_recipient_is_withheld_as_in_the_download(client, world):
    r = world.recipient()
    t = world.ticket(r)
    update_recipient(  # the office records 停止 on 6/15 after the ticket was registered
        world.db,
        world.principal("office"),
        payer=r["payer_number"],
        rn=r["recipient_number"],
        changes={"disqualification_date": "2024-06-15", "disqualification_kind": "1", "disqualification_reason": "x"},
    )
    res = client.get(f"/fhir/Coverage/{t['ticket_key']}", headers=world.auth("clinic"))
    assert res.status_code == 200, res.text
    cov = Coverage.model_validate(res.json())
    assert cov.status == "cancelled" and not cov.identifier and ext(cov, mapping.EXT_TICKET) is None
    assert r["recipient_number"] not in res.text and t["issue_number"] not in res.text


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [({}, 422, "month"), ({"month": "2024-13"}, 422, "month"), ({"month": "2024-07", "name": "x"}, 400, None)],
)
def test_coverage_search_refusals(client, world, params, status, field):
    oo = outcome_of(client.get("/fhir/Coverage", params=params, headers=world.auth("clinic")), status)
    if field:
        assert oo.issue[0].diagnostics.startswith(f"{field}:")


def test_a_facility_with_medical_assistance_switched_off_is_refused_everywhere(client, world, db):
    from fujo.facility.service import set_medical_assistance

    r = world.recipient()
    t = world.ticket(r)
    set_medical_assistance(db, world.principal("clinic"), False)
    before = log_size(db)
    for res in (
        submit(client, world, "clinic", eligibility_request(PAYER, r["recipient_number"])),
        client.get("/fhir/Coverage", params={"month": "2024-07"}, headers=world.auth("clinic")),
        client.get(f"/fhir/Coverage/{t['ticket_key']}", headers=world.auth("clinic")),
    ):
        oo = outcome_of(res, 403)
        assert oo.issue[0].details.coding[0].code == "medical_assistance_disabled"
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": eligibility_request(PAYER, "1000009")}]}
    out = Bundle.model_validate(submit(client, world, "clinic", bundle).json())
    assert out.entry[0].response.status.startswith("403")
    assert log_size(db) == before
