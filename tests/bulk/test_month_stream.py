"""The month download is streamed: read row by row from a server-side cursor, each batch recorded before it is sent,
and exactly the snapshot at its ``Cursor`` — whatever is registered, amended or cancelled while it
is being sent arrives through the change feed from that cursor, not half in the download."""

from __future__ import annotations

import json

import pytest

from fujo.audit.service import access_log
from fujo.bulk import service as bulk
from fujo.bulk.views import month_json
from fujo.registry.service import amend_ticket, cancel_ticket
from tests.factories import World


def _month(world: World):
    return bulk.open_month(world.db, world.principal("clinic"), "2024-07")


def _numbers(doc: dict) -> list[str]:
    return [x["InsuredIdentificationNumber"] for x in doc["ResultList"]]


def test_changes_made_while_the_month_is_sent_are_not_in_it_but_in_the_feed(world):
    a, b, c = (world.recipient(name=n) for n in ("甲野一郎", "乙野二郎", "丙野三郎"))
    ta, tb = world.ticket(a), world.ticket(b)
    stream = _month(world)  # recorded and the cursor taken; nothing read for sending yet
    office = world.principal("office")
    amend_ticket(world.db, office, key=ta["ticket_key"], data=World.ticket_data(a, injury_name1="気管支喘息"))
    cancel_ticket(world.db, office, key=tb["ticket_key"], reason="誤登録")
    world.ticket(c)  # registered late
    doc = json.loads(b"".join(month_json(stream)))
    assert doc["Count"] == 2 and sorted(_numbers(doc)) == sorted([a["recipient_number"], b["recipient_number"]])
    first = next(x for x in doc["ResultList"] if x["InsuredIdentificationNumber"] == a["recipient_number"])
    assert first["PublicExpenseResultList"]["MedicalTicketInfo"][0]["InjuryName1"] == "高血圧症"  # as at Cursor
    feed = bulk.changes_since(world.db, world.principal("clinic"), doc["Cursor"])
    got = {(c["Change"], c["TicketKey"]) for c in feed["Changes"]}
    assert ("upsert", ta["ticket_key"]) in got and ("removed", tb["ticket_key"]) in got
    assert any(
        c["Change"] == "upsert" and c["TicketKey"] not in (ta["ticket_key"], tb["ticket_key"]) for c in feed["Changes"]
    )


def test_every_recipient_sent_is_recorded_before_the_first_byte(world):
    rs = [world.recipient() for _ in range(3)]
    for r in rs:
        world.ticket(r)
    stream = _month(world)
    logged = access_log(world.db, None, [r["id"] for r in rs])
    # before anything was read for sending (registry entries of the set-up may be there too)
    assert sum(x["method"] == "bulk" for x in logged) == 3
    assert len(json.loads(b"".join(month_json(stream)))["ResultList"]) == 3


def test_each_batch_is_recorded_before_it_is_handed_out(world, monkeypatch):
    """A month is recorded RECORD_EVERY recipients at a time: the first batch before open_month
    returns (so the first byte does not wait for the whole month's entries), each next one before
    its first result is handed out — never a result out before its entry is committed."""
    rs = [world.recipient() for _ in range(5)]
    for r in rs:
        world.ticket(r)
    monkeypatch.setattr(bulk, "RECORD_EVERY", 2)

    def recorded() -> int:
        return sum(x["method"] == "bulk" for x in access_log(world.db, None, [r["id"] for r in rs]))

    stream = _month(world)
    assert recorded() == 2
    out = [next(stream.results), next(stream.results)]
    assert recorded() == 2
    out.append(next(stream.results))  # the second batch's first result: its batch is committed first
    assert recorded() == 4
    out += list(stream.results)
    assert recorded() == 5 and len(out) == 5
    sent = {x["InsuredIdentificationNumber"] for x in out}
    assert sent == {r["recipient_number"] for r in rs}  # and exactly those recorded are sent


def test_a_batch_that_cannot_be_recorded_is_never_handed_out(world, monkeypatch):
    from sqlalchemy.exc import OperationalError

    rs = [world.recipient() for _ in range(5)]
    for r in rs:
        world.ticket(r)
    monkeypatch.setattr(bulk, "RECORD_EVERY", 2)
    real, calls = bulk.record_many, []

    def failing_after_the_first(*a, **k):
        calls.append(1)
        if len(calls) > 1:
            raise OperationalError("INSERT", {}, Exception("the disk is full"))
        return real(*a, **k)

    monkeypatch.setattr(bulk, "record_many", failing_after_the_first)
    stream = _month(world)
    got = []
    with pytest.raises(OperationalError):
        for res in stream.results:
            got.append(res)
    assert len(got) == 2  # the first batch only: the second was not recorded, so not sent
    logged = access_log(world.db, None, [r["id"] for r in rs])
    assert sum(x["method"] == "bulk" for x in logged) == 2


def test_the_answer_is_written_while_the_rows_are_read(world, monkeypatch):
    rs = [world.recipient() for _ in range(120)]
    for r in rs:
        world.ticket(r)
    monkeypatch.setattr("fujo.bulk.views.CHUNK", 2000)  # a few results a chunk
    monkeypatch.setattr(bulk, "RECORD_EVERY", 10)  # and a few recorded a batch (500 by default)
    made = []
    real = bulk._results
    monkeypatch.setattr(bulk, "_results", lambda rows, p: made.extend(out := real(rows, p)) or out)
    chunks = month_json(_month(world))
    first = next(chunks)
    assert first.startswith(b'{"MedicalInstitutionCode"') and 0 < len(made) < len(rs)
    rest = b"".join(chunks)
    doc = json.loads(first + rest)
    assert doc["Count"] == len(rs) == len(made)


def test_the_api_answer_is_one_json_document_with_count(client, world):
    r = world.recipient()
    world.ticket(r)
    res = client.get("/api/v1/facility/tickets", headers=world.auth("clinic"), params={"month": "2024-07"})
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    doc = res.json()
    assert (doc["Count"], doc["MedicalTreatmentMonth"], _numbers(doc)) == (1, "202407", [r["recipient_number"]])


def test_a_refused_download_is_refused_before_any_byte(client, world):
    res = client.get("/api/v1/facility/tickets", headers=world.auth("clinic"), params={"month": "2024-13"})
    assert res.status_code == 422 and res.json()["error"]["fields"][0]["field"] == "month"
    res = client.get("/api/v1/facility/tickets", headers=world.auth("office"), params={"month": "2024-07"})
    assert res.status_code == 403
