"""薬剤情報 as MedicationDispense and the consent as Consent (docs/FHIR.md), on SQLite and PostgreSQL:
the native medinfo API's rule decides (clinician role, a consent given at this facility's card reader
within 24 hours, the viewing restriction, the retention), refusals are OperationOutcomes with the native
reason, and every view or refusal is in the recipient's access log with channel fhir."""

from __future__ import annotations

import datetime as dt

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from fujo.audit.service import access_log
from fujo.core.dates import today_jst
from fujo.db import schema
from fujo.fhir import mapping
from fujo.medinfo.service import set_restriction
from tests.medinfo.helpers import AMLODIPINE_OD, OTHER, add, audit_rows, card_check, medication, numbers_check

FHIR_JSON = "application/fhir+json"
TODAY = today_jst()


def _patient(world):
    r = world.recipient()
    c = world.card(r)
    add(world, "medication", medication(r, TODAY))
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=3), AMLODIPINE_OD, OTHER, "▲▲クリニック"))
    return r, c


def by_numbers(r) -> dict:
    return {"payer-number": r["payer_number"], "recipient-number": r["recipient_number"]}


def search(client, world, resource, params, role="clinician", who="clinic"):
    res = client.get(f"/fhir/{resource}", params=params, headers=world.role_auth(who, role))
    assert res.headers["content-type"].startswith(FHIR_JSON), res.text
    return res


def bundle_of(res) -> Bundle:
    assert res.status_code == 200, res.text
    return Bundle.model_validate(res.json())


def refusal(res, status: int) -> OperationOutcome:
    assert res.status_code == status, res.text
    return OperationOutcome.model_validate(res.json())


def log_size(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.check_log)).scalar()


def test_a_clinician_reads_the_medication_as_the_native_view_with_the_duplicate_and_the_consent(
    client, world, monkeypatch
):
    r, c = _patient(world)
    check = card_check(world, c)
    res = search(client, world, "MedicationDispense", {"check-id": check["CheckId"]})
    b = bundle_of(res)
    native = client.get(
        "/api/v1/medinfo/medication",
        params={"check_id": check["CheckId"]},
        headers=world.role_auth("clinic", "clinician"),
    ).json()
    dispenses = [e for e in b.entry if e.search.mode == "match"]
    assert b.type == "searchset" and b.total == 2 == len(dispenses)
    assert [e.resource.id for e in dispenses] == [str(x["id"]) for x in native["records"]]  # newest first
    newest, older = (e.resource for e in dispenses)
    assert isinstance(newest, MedicationDispense) and newest.status == "completed"
    assert dispenses[0].fullUrl.endswith(f"/fhir/MedicationDispense/{newest.id}")
    coding = newest.medicationCodeableConcept.coding[0]
    assert (coding.system, coding.code) == (mapping.YJ_SYSTEM, native["records"][0]["drug_code"])
    assert str(newest.whenHandedOver) == TODAY.isoformat() and newest.daysSupply.value == 28
    assert newest.dosageInstruction[0].text == "1日1回朝食後 1回1錠" and newest.quantity.value == 28
    assert (
        newest.extension[0].url == mapping.EXT_GENERIC_NAME
        and newest.extension[0].valueString == "アムロジピンベシル酸塩"
    )
    assert older.performer[0].actor.identifier.value == OTHER and older.performer[0].actor.display == "▲▲クリニック"
    patient = next(x for x in newest.contained if x.id == "patient")
    assert patient.name[0].text == "生保一郎" and str(patient.birthDate) == "1990-01-15"
    # the same ingredient from two facilities in overlapping periods: each implicates the other
    issue = next(x for x in newest.contained if isinstance(x, DetectedIssue))
    assert newest.detectedIssue[0].reference == "#duplicate" and issue.code.coding[0].code == "DUPTHPY"
    assert [i.reference for i in issue.implicated] == [f"MedicationDispense/{older.id}"]
    # the consent it was served under, and the retention
    [consent] = [e.resource for e in b.entry if e.search.mode == "include"]
    assert isinstance(consent, Consent) and consent.status == "active"
    assert consent.provision.code[0].coding[0].code == "medication"
    [outcome] = [e.resource for e in b.entry if e.search.mode == "outcome"]
    assert outcome.issue[0].severity == "information" and native["retained_from"] in outcome.issue[0].details.text
    # recorded like the native view, but as channel fhir (the identifier is that entry)
    rows = audit_rows(world.db)
    assert [x.channel for x in rows] == ["fhir", "api"] and b.identifier.value == str(rows[0].id)
    assert b.identifier.system == mapping.NS_VIEW_ID
    log = access_log(world.db, None, [r["id"]])
    assert [x["channel_ja"] for x in log if x["method"] == "medinfo"] == ["API", "FHIR"]  # newest first
    # by the numbers of the check answer: the same records
    again = bundle_of(search(client, world, "MedicationDispense", by_numbers(r)))
    assert [e.resource.id for e in again.entry if e.search.mode == "match"] == [e.resource.id for e in dispenses]
    # 25 hours later the consent has expired: refused, saying when; the Consent is inactive
    later = world.db.now() + dt.timedelta(hours=25)
    monkeypatch.setattr(world.db, "now", lambda: later)
    oo = refusal(search(client, world, "MedicationDispense", {"check-id": check["CheckId"]}), 403)
    assert [x.code for x in oo.issue[0].details.coding] == ["medinfo_refused", "expired"]
    assert "24" in oo.issue[0].details.text
    [consent] = [e.resource for e in bundle_of(search(client, world, "Consent", by_numbers(r))).entry]
    assert consent.status == "inactive"


def test_refusals_are_403_with_the_native_reason_and_recorded(client, world, db):
    r, c = _patient(world)

    def reason(res) -> tuple[str, str]:
        oo = refusal(res, 403)
        codes = [x.code for x in oo.issue[0].details.coding]
        assert oo.issue[0].code == "forbidden" and oo.issue[0].details.text
        return codes[0], codes[1] if len(codes) > 1 else ""

    assert reason(search(client, world, "MedicationDispense", by_numbers(r))) == ("medinfo_refused", "no_consent")
    card_check(world, c)
    res = search(client, world, "MedicationDispense", by_numbers(r), role="reception")
    assert reason(res) == ("medinfo_refused", "role")
    numbers_check(world, r, key="other")
    res = search(client, world, "MedicationDispense", by_numbers(r), who="other")
    assert reason(res) == ("medinfo_refused", "other_facility")
    res = client.get("/fhir/MedicationDispense", params=by_numbers(r), headers=world.auth("office"))
    assert reason(res)[0] == "forbidden"
    set_restriction(
        world.db, world.principal("office"), payer=r["payer_number"], rn=r["recipient_number"], restricted=True
    )
    res = search(client, world, "MedicationDispense", by_numbers(r))
    assert reason(res) == ("medinfo_refused", "unavailable") and "restricted" not in res.text
    rows = audit_rows(world.db)
    assert [(x.reason, x.channel) for x in rows] == [
        ("no_consent", "fhir"),
        ("role", "fhir"),
        ("other_facility", "fhir"),
        ("restricted", "fhir"),
    ]


def test_the_consent_given_at_this_facilitys_reader_for_any_role_and_nothing_else(client, world, db):
    r, c = _patient(world)
    empty = bundle_of(search(client, world, "Consent", by_numbers(r), role="reception"))
    assert empty.total == 0 and not empty.entry
    check = card_check(world, c, consent={"PharmacistsInfo": True, "DiagnosisInfo": True})
    before = log_size(db)
    for params in ({"check-id": check["CheckId"]}, by_numbers(r)):
        b = bundle_of(search(client, world, "Consent", params, role="reception"))
        [consent] = [e.resource for e in b.entry]
        assert consent.status == "active" and consent.scope.coding[0].code == "patient-privacy"
        assert [x.coding[0].code for x in consent.provision.code] == ["medication", "diagnosis"]
        start, end = consent.provision.period.start, consent.provision.period.end
        assert end - start == dt.timedelta(hours=24) and consent.dateTime == start
        assert consent.organization[0].identifier.value == world.orgs["clinic"]["code"]
    assert consent.patient.identifier.value == r["recipient_number"]  # echoed: the client sent it
    assert log_size(db) == before  # what the facility's own card check was answered: nothing recorded
    # a card check elsewhere, or another facility's check id: nothing here
    other = card_check(world, c, key="other")
    assert bundle_of(search(client, world, "Consent", {"check-id": other["CheckId"]})).total == 0
    assert bundle_of(search(client, world, "Consent", by_numbers(r), who="other")).total == 1  # its own
    # a newer card check here without the bits withdraws it
    card_check(world, c, consent={})
    assert bundle_of(search(client, world, "Consent", by_numbers(r))).total == 0


def test_unreadable_search_parameters(client, world, db):
    r, _ = _patient(world)
    before = log_size(db)
    for resource in ("Consent", "MedicationDispense"):
        oo = refusal(search(client, world, resource, {"check-id": "abc"}), 400)
        assert oo.issue[0].expression == [f"{resource}?check-id"]
        oo = refusal(search(client, world, resource, {}), 422)
        assert oo.issue[0].diagnostics.startswith("check_id:")
        bad = {**by_numbers(r), "payer-number": r["payer_number"][:-1] + str((int(r["payer_number"][-1]) + 1) % 10)}
        oo = refusal(search(client, world, resource, bad), 422)
        assert oo.issue[0].expression == [f"{resource}?payer-number"]
        assert oo.issue[0].details.coding[0].code == "check_digit"
        refusal(search(client, world, resource, {"patient": "x"}), 400)
    assert log_size(db) == before
