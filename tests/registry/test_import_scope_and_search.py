"""Who may import what is decided before the file is read; search text is text, not a pattern."""

from __future__ import annotations

import pytest

from fujo.core.fields import INSURANCE_FIELDS, RECIPIENT_FIELDS, TICKET_FIELDS
from tests.helpers import import_job, snapshot

HEADERS = {
    "insurance": ",".join(f.name for f in INSURANCE_FIELDS),
    "recipients": ",".join(f.name for f in RECIPIENT_FIELDS),
    "tickets": ",".join(f.name for f in TICKET_FIELDS),
}


@pytest.mark.parametrize(
    ("kind", "who"),
    [
        ("insurance", "clinic"),
        ("insurance", "office"),
        ("recipients", "clinic"),
        ("recipients", "insurer"),
        ("tickets", "pharmacy"),
        ("facilities", "office"),
    ],
)
def test_a_header_only_file_from_the_wrong_organisation_is_refused(client, world, db, kind, who):
    before = snapshot(db)
    body = (HEADERS.get(kind, "code,name") + "\n").encode()
    res = import_job(
        client, f"/api/v1/imports/{kind}", headers=world.auth(who), files={"file": ("h.csv", body, "text/csv")}
    )
    assert res.status_code == 403, res.text
    assert res.json()["error"]["code"] == "forbidden"
    assert snapshot(db) == before


def test_the_right_organisation_may_send_a_header_only_file(client, world):
    body = (HEADERS["insurance"] + "\n").encode()
    res = import_job(
        client, "/api/v1/imports/insurance", headers=world.auth("insurer"), files={"file": ("h.csv", body)}
    )
    assert res.status_code == 200, res.text
    assert (res.json()["rows"], res.json()["written"], res.json()["ok"]) == (0, 0, True)


def test_an_unknown_kind_is_named_not_forbidden(client, world):
    res = import_job(
        client, "/api/v1/imports/patients", headers=world.auth("clinic"), files={"file": ("h.csv", b"a\n")}
    )
    assert res.status_code == 422
    assert res.json()["error"]["fields"][0]["field"] == "kind"


@pytest.mark.parametrize("q", ["%", "_", "検索%", "_郎"])
def test_percent_and_underscore_in_a_recipient_search_are_characters(client, world, q):
    world.recipient(name="検索太郎", name_kana="ｹﾝｻｸ ﾀﾛｳ")
    world.recipient(name="保護花子", name_kana="ﾎｺﾞ ﾊﾅｺ")
    found = client.get("/api/v1/recipients", headers=world.auth("office"), params={"q": q}).json()
    assert found == []


def test_a_recipient_search_still_finds_part_of_a_name(client, world):
    r = world.recipient(name="検索太郎", name_kana="ｹﾝｻｸ ﾀﾛｳ")
    found = client.get("/api/v1/recipients", headers=world.auth("office"), params={"q": "索太"}).json()
    assert [x["recipient_number"] for x in found] == [r["recipient_number"]]


def test_percent_in_a_facility_search_is_a_character(client, world):
    every = client.get("/api/v1/facilities", headers=world.auth("office")).json()
    assert every  # the test world's facilities are registered
    assert client.get("/api/v1/facilities", headers=world.auth("office"), params={"q": "%"}).json() == []
    assert client.get("/api/v1/facilities", headers=world.auth("office"), params={"q": "_"}).json() == []
