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
            ("202407", CLINIC)
        ]


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
        res = client.get(
            "/api/v1/facility/tickets/changes", headers=world.auth("clinic"), params={"cursor": cursor, "limit": 2}
        ).json()
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
    first = client.get(
        "/api/v1/facility/tickets/changes", headers=world.auth("clinic"), params={"cursor": 0, "month": "2024-08"}
    ).json()
    assert [c["Change"] for c in first["Changes"]] == ["upsert"]
    body = World.ticket_data(a, on=dt.date(2024, 9, 5))
    del body["payer_number"], body["recipient_number"]
    assert client.put(f"/api/v1/tickets/{t['ticket_key']}", headers=world.auth("office"), json=body).status_code == 200
    nxt = client.get(
        "/api/v1/facility/tickets/changes",
        headers=world.auth("clinic"),
        params={"cursor": first["Cursor"], "month": "2024-08"},
    ).json()
    assert [(c["Change"], c["TicketKey"]) for c in nxt["Changes"]] == [("removed", t["ticket_key"])]


# --- the qualification status of the month (issue 8) ------------------------------------------------


def _end(world, r, day: str, kind: str = "2"):
    """The office records 停止・廃止 after the ticket was registered (the usual order of events)."""
    from fujo.registry.service import update_recipient

    update_recipient(
        world.db,
        world.principal("office"),
        payer=r["payer_number"],
        rn=r["recipient_number"],
        changes={"disqualification_date": day, "disqualification_kind": kind, "disqualification_reason": "転居"},
    )


def test_every_row_carries_the_status_of_the_month_and_the_unbillable_are_withheld(client, world):
    valid, partly, gone, stopped = (world.recipient(name=n) for n in ("有効一郎", "月中廃止", "月初廃止", "停止四郎"))
    for r in (valid, partly, gone, stopped):
        world.ticket(r)
    _end(world, partly, "2024-07-20")
    _end(world, gone, "2024-07-01")
    _end(world, stopped, "2024-06-15", kind="1")
    body = month(client, world).json()
    got = {x["Name"]: x for x in body["ResultList"]}
    assert (got["有効一郎"]["QualificationStatus"], got["有効一郎"]["QualificationValidity"]) == ("valid", "1")
    assert "QualificationStatusDate" not in got["有効一郎"]
    # 廃止 on 7/20: billable up to 7/19, so numbers and the ticket are handed over with the status and date
    p = got["月中廃止"]
    assert (p["QualificationStatus"], p["QualificationStatusText"], p["QualificationStatusDate"]) == (
        "abolished",
        "廃止",
        "20240720",
    )
    assert p["QualificationValidity"] == "1" and p["InsuredIdentificationNumber"] == partly["recipient_number"]
    # nothing billable this month: withheld exactly as in a check of a lost qualification
    for name, status, date in (("月初廃止", "abolished", "20240701"), ("停止四郎", "suspended", "20240615")):
        x = got[name]
        assert (x["QualificationStatus"], x["QualificationStatusDate"], x["QualificationValidity"]) == (
            status,
            date,
            "2",
        )
        for hidden in ("InsurerNumber", "InsuredIdentificationNumber", "PublicExpenseResultList", "Address"):
            assert hidden not in x, (name, hidden)
        assert x["DisqualificationDate"] == date and x["InsurerName"] == "○○市福祉事務所"
    assert got["停止四郎"]["QualificationStatusText"] == "停止"


def test_registered_at_is_each_tickets_own_registration(client, world, db):
    from sqlalchemy import update

    from fujo.db import schema as s

    early, late = world.recipient(name="早期登録"), world.recipient(name="事後登録")
    first = world.ticket(early)
    world.ticket(late)
    with db.write() as conn:  # the first ticket was registered a week earlier
        conn.execute(
            update(s.tickets)
            .where(s.tickets.c.ticket_key == first["ticket_key"])
            .values(registered_at=dt.datetime(2024, 7, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))
        )
    got = {x["Name"]: x for x in month(client, world).json()["ResultList"]}
    for res in got.values():
        assert "RegisteredAt" not in res  # not per person: per ticket
    [a] = got["早期登録"]["PublicExpenseResultList"]["MedicalTicketInfo"]
    [b] = got["事後登録"]["PublicExpenseResultList"]["MedicalTicketInfo"]
    assert a["RegisteredAt"].startswith("2024-07-01T09:00") and not b["RegisteredAt"].startswith("2024-07-01")


def test_changes_since_carry_the_status_too(client, world):
    r = world.recipient()
    world.ticket(r)
    _end(world, r, "2024-07-01")
    ch = changes(client, world, 0)
    [c] = ch["Changes"]
    assert c["Change"] == "upsert" and c["Result"]["QualificationStatus"] == "abolished"
    assert "PublicExpenseResultList" not in c["Result"] and "InsurerNumber" not in c["Result"]


def test_an_unbillable_row_carries_the_notice_of_a_lost_qualification(client, world):
    r = world.recipient()
    world.ticket(r)
    _end(world, r, "2024-07-01")
    [res] = month(client, world).json()["ResultList"]
    assert res["ProcessingResultCode"] == "FJ0201"
    assert "○○市福祉事務所（電話 03-0000-0000）" in res["ProcessingResultMessage"]
