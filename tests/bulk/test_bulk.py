"""委託先資格情報一括取得: the month's tickets and the incremental form that picks up late tickets."""
from __future__ import annotations

import datetime as dt

from tests.factories import CLINIC, OTHER, PAYER, PHARMACY, World
from tests.helpers import snapshot


def month(client, world, who="clinic", m="2024-07"):
    return client.get("/api/v1/facility/tickets", headers=world.auth(who), params={"month": m})


def changes(client, world, cursor, who="clinic"):
    res = client.get("/api/v1/facility/tickets/changes", headers=world.auth(who), params={"cursor": cursor})
    assert res.status_code == 200, res.text
    return res.json()


def test_month_download_has_every_designated_ticket_with_qualification_data(client, world):
    a, b, c = world.recipient(name="甲野一郎"), world.recipient(name="乙野二郎"), world.recipient()
    world.ticket(a)
    world.ticket(b)
    world.ticket(b, facility=PHARMACY)
    world.ticket(c, facility=OTHER)
    world.ticket(a, on=dt.date(2024, 8, 1))
    body = month(client, world).json()
    assert body["MedicalTreatmentMonth"] == "202407" and body["Count"] == 2
    got = {x["InsuredIdentificationNumber"]: x for x in body["ResultList"]}
    assert set(got) == {a["recipient_number"], b["recipient_number"]}
    for r in (a, b):
        res = got[r["recipient_number"]]
        assert res["InsurerNumber"] == PAYER and res["InsuredCardClassification"] == "A1"
        assert res["Name"] == r["name"] and res["Birthdate"] == "19900115"
        tickets = res["PublicExpenseResultList"]["MedicalTicketInfo"]
        assert [(t["MedicalTreatmentMonth"], t["DesignatedMedicalInstitutionCode"]) for t in tickets] == [
            ("202407", CLINIC)]


def test_download_is_recorded_per_recipient_revealed(client, world, db):
    a = world.recipient()
    world.ticket(a)
    month(client, world)
    log = snapshot(db)["check_log"]
    assert len(log) == 1
    from fujo.audit.service import access_log
    assert access_log(db, None, [a["id"]])[0]["method"] == "bulk"


def test_late_registration_is_picked_up_by_changes_since_cursor(client, world):
    a = world.recipient()
    world.ticket(a)
    first = changes(client, world, 0)
    assert [c["Change"] for c in first["Changes"]] == ["upsert"]
    cursor = first["Cursor"]
    assert changes(client, world, cursor)["Changes"] == []
    late = world.recipient(name="遅延登録")
    world.ticket(late)  # the office registers after the visit
    got = changes(client, world, cursor)
    assert [(c["Change"], c["Result"]["Name"]) for c in got["Changes"]] == [("upsert", "遅延登録")]
    assert got["Cursor"] > cursor


def test_amendment_moving_a_ticket_away_is_a_removal_for_the_old_facility(client, world):
    a = world.recipient()
    t = world.ticket(a)
    cursor = changes(client, world, 0)["Cursor"]
    body = World.ticket_data(a, facility=OTHER, designated_facility_name="▲▲クリニック")
    del body["payer_number"], body["recipient_number"]
    assert client.put(f"/api/v1/tickets/{t['ticket_key']}", headers=world.auth("office"), json=body).status_code == 200
    old = changes(client, world, cursor)
    assert [(c["Change"], c["TicketKey"]) for c in old["Changes"]] == [("removed", t["ticket_key"])]
    assert "Result" not in old["Changes"][0]
    new = changes(client, world, 0, who="other")
    assert [c["Change"] for c in new["Changes"]] == ["upsert"]
    assert month(client, world).json()["Count"] == 0


def test_cancellation_is_a_removal(client, world):
    a = world.recipient()
    t = world.ticket(a)
    cursor = changes(client, world, 0)["Cursor"]
    client.post(f"/api/v1/tickets/{t['ticket_key']}/cancel", headers=world.auth("office"), json={"reason": "誤登録"})
    assert [c["Change"] for c in changes(client, world, cursor)["Changes"]] == ["removed"]


def test_changes_page_through_with_has_more(client, world):
    for _ in range(5):
        world.ticket(world.recipient())
    seen, cursor = [], 0
    while True:
        res = client.get("/api/v1/facility/tickets/changes", headers=world.auth("clinic"),
                         params={"cursor": cursor, "limit": 2}).json()
        seen += [c["TicketKey"] for c in res["Changes"]]
        cursor = res["Cursor"]
        if not res["HasMore"]:
            break
    assert len(seen) == len(set(seen)) == 5


def test_bad_month_and_cursor_are_refused(client, world):
    for m in ("2024-13", "202407x", "24-07", ""):
        res = month(client, world, m=m)
        assert res.status_code == 422, m
        assert res.json()["error"]["fields"][0]["field"] == "month"
    res = client.get("/api/v1/facility/tickets/changes", headers=world.auth("clinic"), params={"cursor": -1})
    assert res.status_code == 422


def test_only_facilities_download(client, world):
    assert month(client, world, who="office").status_code == 403


def test_following_one_month_sees_a_ticket_moved_to_another_month_as_removed(client, world):
    a = world.recipient()
    t = world.ticket(a, on=dt.date(2024, 8, 5))
    first = client.get("/api/v1/facility/tickets/changes", headers=world.auth("clinic"),
                       params={"cursor": 0, "month": "2024-08"}).json()
    assert [c["Change"] for c in first["Changes"]] == ["upsert"]
    body = World.ticket_data(a, on=dt.date(2024, 9, 5))
    del body["payer_number"], body["recipient_number"]
    assert client.put(f"/api/v1/tickets/{t['ticket_key']}", headers=world.auth("office"), json=body).status_code == 200
    nxt = client.get("/api/v1/facility/tickets/changes", headers=world.auth("clinic"),
                     params={"cursor": first["Cursor"], "month": "2024-08"}).json()
    assert [(c["Change"], c["TicketKey"]) for c in nxt["Changes"]] == [("removed", t["ticket_key"])]
