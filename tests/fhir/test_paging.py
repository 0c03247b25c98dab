"""Paging of the month search (GET /fhir/Coverage, docs/FHIR.md) on SQLite and PostgreSQL: walking the
``next`` links gives exactly the native download of the month — the same tickets in the same order,
none twice, none missing — from one snapshot, whatever is registered while the pages are walked."""

from __future__ import annotations

import gzip
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from fujo.core.numbers import with_check_digit
from fujo.db import schema
from fujo.fhir import mapping
from fujo.registry.service import amend_ticket, cancel_ticket, update_recipient
from tests.factories import OTHER, World

FHIR_JSON = "application/fhir+json"
EARLY = with_check_digit("000001")  # a 受給者番号 before every other: its ticket sorts first


def page(client, world, url_or_params, who="clinic") -> Bundle:
    if isinstance(url_or_params, str):
        res = client.get(url_or_params, headers=world.auth(who))
    else:
        res = client.get("/fhir/Coverage", params=url_or_params, headers=world.auth(who))
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith(FHIR_JSON)
    return Bundle.model_validate(res.json())


def link(bundle: Bundle, relation: str) -> str | None:
    return next((x.url for x in bundle.link or [] if x.relation == relation), None)


def walk(client, world, count: int, who="clinic") -> list[Bundle]:
    pages = [page(client, world, {"month": "2024-07", "_count": count}, who)]
    while link(pages[-1], "next"):
        pages.append(page(client, world, link(pages[-1], "next"), who))
    return pages


def ticket_of(cov) -> dict:
    parts = next(e for e in cov.extension if e.url == mapping.EXT_TICKET).extension
    return {p.url: p.valueString or p.valueCode for p in parts}


def as_rows(pages: list[Bundle]) -> list[tuple[str, str, str]]:
    """(ticket key, 受給者番号, 交付番号) of every Coverage of the walk, in order."""
    return [
        (e.resource.id, e.resource.identifier[0].value, ticket_of(e.resource)["IssueNumber"])
        for p in pages
        for e in p.entry or []
    ]


def native_rows(client, world) -> tuple[int, list[tuple[str, str]]]:
    doc = client.get("/api/v1/facility/tickets", params={"month": "2024-07"}, headers=world.auth("clinic")).json()
    rows = [
        (res["InsuredIdentificationNumber"], info["IssueNumber"])
        for res in doc["ResultList"]
        for info in res["PublicExpenseResultList"]["MedicalTicketInfo"]
    ]
    return doc["Cursor"], rows


def bulk_entries(db) -> list[tuple]:
    cl = schema.check_log
    with db.read() as conn:
        return conn.execute(
            select(cl.c.recipient_id, cl.c.channel, cl.c.detail).where(cl.c.method == "bulk").order_by(cl.c.id)
        ).all()


def log_size(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.check_log)).scalar()


def _month(world, n: int) -> list[dict]:
    """``n`` tickets of July designated to the clinic (each with its recipient's id), and two that are
    not the clinic's to see."""
    rs = [world.recipient() for _ in range(n)]
    tickets = [{**world.ticket(r), "recipient_id": r["id"]} for r in rs]
    world.ticket(world.recipient(), facility=OTHER)  # another facility's: never in the clinic's pages
    gone = world.ticket(world.recipient())
    cancel_ticket(world.db, world.principal("office"), key=gone["ticket_key"], reason="誤登録")
    return tickets


def test_walking_every_page_gives_the_native_download_in_its_order(client, world, db):
    tickets = _month(world, 7)
    pages = walk(client, world, 3)
    assert [len(p.entry) for p in pages] == [3, 3, 1]
    assert all(p.type == "searchset" for p in pages)
    assert [p.total for p in pages] == [7, None, None]  # counted once, on the first page
    assert link(pages[0], "self").endswith("/fhir/Coverage?month=2024-07&_count=3")
    assert link(pages[1], "self") == link(pages[0], "next") and link(pages[-1], "next") is None
    walked = as_rows(pages)
    assert len({key for key, _, _ in walked}) == len(walked) == 7  # none twice
    assert {key for key, _, _ in walked} == {t["ticket_key"] for t in tickets}  # none missing
    cursor, native = native_rows(client, world)
    assert [(rn, issue) for _, rn, issue in walked] == native  # the same tickets, in the same order
    # every page is of one snapshot, the download's Cursor (nothing changed meanwhile)
    assert {p.identifier.value for p in pages} == {str(cursor)}
    assert {p.identifier.system for p in pages} == {mapping.NS_TICKET_CURSOR}
    # each page recorded the recipients on it (channel fhir), then the native download its own
    fhir = [x for x in bulk_entries(db) if x.channel == "fhir"]
    assert sorted(x.recipient_id for x in fhir) == sorted(t["recipient_id"] for t in tickets)
    assert {x.detail for x in fhir} == {"month=202407"}
    # the default page holds the whole of this small month
    whole = page(client, world, {"month": "2024-07"})
    assert whole.total == 7 and len(whole.entry) == 7 and link(whole, "next") is None


def test_a_walk_is_one_snapshot_whatever_is_registered_meanwhile(client, world, db):
    tickets = _month(world, 6)
    first = page(client, world, {"month": "2024-07", "_count": 2})
    seen = [e.resource.id for e in first.entry]
    order = [t["ticket_key"] for t in tickets]  # registered in the order of their 受給者番号
    assert seen == order[:2]
    office = world.principal("office")
    # while the client walks: a recipient numbered before everyone gets a ticket, one ticket of a
    # later page is amended, one is cancelled and one moves to another facility
    early = world.recipient(recipient_number=EARLY)
    world.ticket(early)
    amended, cancelled, moved = order[2], order[3], order[4]
    by_key = {t["ticket_key"]: t for t in tickets}
    amend_ticket(world.db, office, key=amended, data=World.ticket_data(by_key[amended], injury_name1="気管支喘息"))
    cancel_ticket(world.db, office, key=cancelled, reason="誤登録")
    amend_ticket(world.db, office, key=moved, data=World.ticket_data(by_key[moved], facility=OTHER))
    rest = [first]
    while link(rest[-1], "next"):
        rest.append(page(client, world, link(rest[-1], "next")))
    keys = [e.resource.id for p in rest for e in p.entry or []]
    # nothing shifted or came twice; the late ticket is not in this walk; what this facility may no
    # longer see (cancelled, moved away) is not served on a later page
    assert keys == [k for k in order if k not in (cancelled, moved)]
    assert {p.identifier.value for p in rest} == {first.identifier.value}
    served = {e.resource.id: e.resource for p in rest for e in p.entry or []}
    assert ticket_of(served[amended])["InjuryName1"] == "高血圧症"  # as at the snapshot
    assert first.total == 6  # as counted at the first page
    # the next walk is a new snapshot: the late ticket and the amendment are in it
    again = walk(client, world, 100)
    assert len(again) == 1 and again[0].entry[0].resource.identifier[0].value == EARLY
    assert int(again[0].identifier.value) > int(first.identifier.value)
    now = {e.resource.id: e.resource for e in again[0].entry}
    assert ticket_of(now[amended])["InjuryName1"] == "気管支喘息" and cancelled not in now and moved not in now


def test_unreadable_count_and_cursor_are_400_naming_the_parameter_and_record_nothing(client, world, db):
    _month(world, 3)
    first = page(client, world, {"month": "2024-07", "_count": 1})
    token = link(first, "next").split("_cursor=")[1]
    snapshot, after = token.split("-")
    before = log_size(db)
    cases = [
        ({"_count": "0"}, "_count"),
        ({"_count": "1001"}, "_count"),
        ({"_count": "ten"}, "_count"),
        ({"_cursor": "abc"}, "_cursor"),
        ({"_cursor": f"{int(snapshot) + 1000}-{after}"}, "_cursor"),  # a snapshot not taken yet
        ({"_cursor": f"{snapshot}-999999999"}, "_cursor"),  # a position not in this month
        ({"_cursor": f"{snapshot}-{after}", "month": "2024-08"}, "_cursor"),  # another month's walk
    ]
    for params, name in cases:
        res = client.get("/fhir/Coverage", params={"month": "2024-07", **params}, headers=world.auth("clinic"))
        assert res.status_code == 400, (params, res.text)
        oo = OperationOutcome.model_validate(res.json())
        assert oo.issue[0].diagnostics.startswith(f"{name}:") and oo.issue[0].expression == [f"Coverage?{name}"]
    # a continuation of the clinic's walk is nothing to another facility
    res = client.get(link(first, "next"), headers=world.auth("other"))
    assert res.status_code == 400 and "_cursor" in res.text
    res = client.get("/fhir/Coverage?month=2024-07&_count=1&_count=2", headers=world.auth("clinic"))
    assert res.status_code == 400 and "_count" in res.text
    assert log_size(db) == before


def test_the_search_json_is_exactly_what_the_r4_models_write(client, world):
    """The month search writes its JSON directly (for speed, fujo/fhir/mapping.py): every element must be
    what the R4B models accept and write back unchanged — a 照会番号, an address, a masked result."""
    r = world.recipient()
    world.card(r)
    world.ticket(r)
    world.reference(r, "K0001")
    suspended = world.recipient(name="停止花子", sex="2", address=None, post_number=None)
    world.ticket(suspended)
    update_recipient(
        world.db,
        world.principal("office"),
        payer=suspended["payer_number"],
        rn=suspended["recipient_number"],
        changes={"disqualification_date": "2024-07-15", "disqualification_kind": "1", "disqualification_reason": "x"},
    )
    res = client.get("/fhir/Coverage", params={"month": "2024-07"}, headers=world.auth("clinic"))
    assert res.status_code == 200, res.text
    written = res.json()
    assert json.loads(Bundle.model_validate(written).model_dump_json()) == written
    covs = [e["resource"] for e in written["entry"]]
    for cov in covs:
        assert json.loads(Coverage.model_validate(cov).model_dump_json()) == cov
    [patient] = [c["contained"][0] for c in covs if "identifier" in c["contained"][0]]
    assert patient["identifier"][0]["value"] == "K0001"
    assert {c["status"] for c in covs} == {"active", "cancelled"}  # 停止 mid-month: masked, not billable


def _ticket(**over) -> dict:
    info = {
        "TicketType": "01",
        "MedicalTreatmentMonth": "202407",
        "MedicalTicketValidDate": "20240701",
        "MedicalTicketExpirationDate": "20240731",
        "IssueNumber": "70000001",
        "DesignatedMedicalInstitutionCode": "1311234569",
        "DesignatedMedicalInstitutionName": '●●医療機関 "本院"\\分院',
        "InjuryName1": "高血圧症\n\t😀",
        "InjuryName2": None,
        "InjuryName3": "",
        "MedicalTreatmentType": "02",
        "SingleOrCombinedUse": "01",
        "DesignatedMedicalInstitutionFlag": "0",
        "RegisteredAt": "2024-07-01T09:00:00.123456+09:00",
    }
    return {**info, **over}


_RESULTS = [
    {  # 医療扶助, with the facility's 照会番号 and two tickets (a Coverage holds the first)
        "InsuredCardClassification": "A1",
        "QualificationValidity": "1",
        "InsurerName": "第1福祉事務所",
        "InsurerNumber": "12130019",
        "InsuredIdentificationNumber": "1000009",
        "Name": "試験 太郎",
        "NameKana": "ｼｹﾝ ﾀﾛｳ",
        "Sex1": "1",
        "Birthdate": "19600101",
        "Address": "東京都\u0001○○市",
        "PostNumber": "100-0001",
        "ReferenceNumber": "K-0001",
        "QualificationDate": "20200401",
        "PublicExpenseResultList": {"MedicalTicketInfo": [_ticket(), _ticket(IssueNumber="70000002")]},
        "QualificationStatus": "valid",
    },
    {  # the same ticket elements again (met before on the page), another person, no address
        "InsuredCardClassification": "A1",
        "QualificationValidity": "1",
        "InsurerName": "第1福祉事務所",
        "InsurerNumber": "12130019",
        "InsuredIdentificationNumber": "1000017",
        "NameKana": "ﾊﾅｺ",
        "Sex1": "2",
        "PublicExpenseResultList": {
            "MedicalTicketInfo": [_ticket(IssueNumber="70000003", DesignatedMedicalInstitutionFlag="1")]
        },
    },
    {  # 廃止 on 7/20, the July ticket still billable: the qualification's period beside the ticket's
        "InsuredCardClassification": "A1",
        "QualificationValidity": "1",
        "InsurerName": "第1福祉事務所",
        "InsurerNumber": "12130019",
        "InsuredIdentificationNumber": "1000025",
        "QualificationDate": "20200401",
        "DisqualificationDate": "20240720",
        "DisqualificationKind": "2",
        "PublicExpenseResultList": {"MedicalTicketInfo": [_ticket(IssueNumber="70000004")]},
        "QualificationStatus": "abolished",
        "QualificationStatusDate": "20240720",
    },
    {  # 停止 mid-month: masked (no numbers, no tickets), with the notice and whom to call
        "InsuredCardClassification": "A1",
        "QualificationValidity": "2",
        "InsurerName": "第2福祉事務所",
        "Sex1": "3",
        "Birthdate": "19800229",
        "QualificationDate": "20200401",
        "DisqualificationDate": "20240715",
        "DisqualificationKind": "1",
        "QualificationStatus": "suspended",
        "QualificationStatusDate": "20240715",
        "ProcessingResultCode": "FJ0201",
        "ProcessingResultMessage": "福祉事務所にお問い合わせください。",
        "PublicExpenseResultList": {"MedicalTicketInfo": []},
    },
    {  # a health insurance (not 医療扶助): 記号・番号・枝番 as JP Core extensions, 保険種別 from the number,
        # the card's details as the insurance-card extension
        "InsuredCardClassification": "01",
        "QualificationValidity": "1",
        "InsurerNumber": "06130012",
        "InsuredCardSymbol": "記号1",
        "InsuredIdentificationNumber": "12345",
        "InsuredBranchNumber": "01",
        "Sex1": "9",
        "PersonalFamilyClassification": "2",
        "InsuredName": '被保険者 "本人"',
        "InsuredCardValidDate": "20190401",
        "InsuredPartialContributionRatio": "030",
        "LimitApplicationCertificateRelatedConsFlg": "1",
        "LimitApplicationCertificateRelatedConsTime": "20240710093000",
        "ElderlyRecipientCertificateInfo": {"ElderlyRecipientContributionRatio": "020"},  # not mapped
    },
    {"QualificationValidity": "", "InsurerNumber": "39999999"},  # almost nothing shown
    {},
]


@pytest.mark.parametrize("total", [None, 0, 6])
@pytest.mark.parametrize("identifier", [None, {"system": mapping.NS_TICKET_CURSOR, "value": "42"}])
def test_the_page_text_is_byte_for_byte_the_dumped_bundle(total, identifier):
    """The month page is written as JSON text from fragments (fujo/fhir/mapping.py): for every shape of
    result it is exactly what the json module writes of the mapping's dicts."""
    tickets = [(f'key-{i}"/', res) for i, res in enumerate(_RESULTS)]
    links = [("self", "http://h/fhir/Coverage?month=2024-07&_count=2"), ("next", "http://h/fhir/Coverage?x=1")]
    for page_tickets in (tickets, tickets[:1], []):
        args = (page_tickets, "1311234569", "http://h/fhir")
        want = json.dumps(
            mapping.coverage_bundle(*args, total=total, links=links, identifier=identifier),
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        chunks = list(mapping.coverage_bundle_text(*args, total=total, links=links, identifier=identifier))
        assert b"".join(chunks) == want
    for key, res in tickets:
        assert mapping.ticket_coverage_text(res, key, "1311234569") == json.dumps(
            mapping.ticket_coverage_json(res, key, "1311234569"), ensure_ascii=False, separators=(",", ":")
        )


@pytest.mark.parametrize(
    "url", ["/fhir/Coverage?month=2024-07&_count=2", "/api/v1/facility/tickets?month=2024-07"], ids=["fhir", "native"]
)
def test_the_month_is_gzipped_when_the_client_accepts_it_and_reads_the_same(client, world, url):
    """The FHIR page and the native download (for a fair comparison, docs/PERFORMANCE.md) are gzipped
    as they are written when the client asks (FHIR clients do); the text is the same either way."""
    _month(world, 3)
    auth = world.auth("clinic")
    plain = client.get(url, headers={**auth, "Accept-Encoding": "identity"})
    refused = client.get(url, headers={**auth, "Accept-Encoding": "gzip;q=0, br"})
    with client.stream("GET", url, headers={**auth, "Accept-Encoding": "br;q=0.9, gzip"}) as zipped:
        raw = b"".join(zipped.iter_raw())
    assert plain.status_code == refused.status_code == zipped.status_code == 200
    assert "content-encoding" not in plain.headers and "content-encoding" not in refused.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert plain.headers["vary"] == zipped.headers["vary"] == "Accept-Encoding"
    assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw) == plain.content == refused.content
