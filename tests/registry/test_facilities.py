"""The facility registry: the administrator registers facilities (one by one or from a CSV file), the
点数表 and 都道府県 come from the code, every signed-in organisation may look one up."""

from __future__ import annotations

import pytest

from fujo.core.numbers import with_check_digit
from tests.helpers import import_job, snapshot

DENTAL = with_check_digit("133123456")
STATION = with_check_digit("136123456")
OSAKA = with_check_digit("271123456")


def test_admin_registers_a_facility_with_score_table_and_prefecture_from_the_code(client, world):
    res = client.post(
        "/api/v1/facilities",
        headers=world.auth("admin"),
        json={"code": DENTAL, "name": "◇◇歯科医院", "address": "東京都○○市2-3-4", "phone": "03-0000-8888"},
    )
    assert res.status_code == 201, res.text
    assert {k: res.json()[k] for k in ("code", "name", "score_table", "kind", "prefecture")} == {
        "code": DENTAL,
        "name": "◇◇歯科医院",
        "score_table": "3",
        "kind": "歯科",
        "prefecture": "13",
    }
    got = client.get(f"/api/v1/facilities/{DENTAL}", headers=world.auth("office")).json()
    assert got["name"] == "◇◇歯科医院"
    assert client.get(f"/api/v1/facilities/{DENTAL}", headers=world.auth("clinic")).status_code == 200
    found = client.get("/api/v1/facilities", headers=world.auth("office"), params={"q": "歯科"}).json()
    assert [f["code"] for f in found] == [DENTAL]
    res = client.patch(f"/api/v1/facilities/{DENTAL}", headers=world.auth("admin"), json={"phone": "03-1111-2222"})
    assert res.status_code == 200 and res.json()["phone"] == "03-1111-2222"


def test_a_facility_organisation_is_a_registered_facility(client, world):
    got = client.get(f"/api/v1/facilities/{world.orgs['clinic']['code']}", headers=world.auth("office")).json()
    assert (got["name"], got["kind"]) == ("●●医療機関", "医科")


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"code": "1331234560", "name": "x"}, "code", "check_digit"),
        ({"code": with_check_digit("132123456"), "name": "x"}, "code", "score_table"),
        ({"code": DENTAL, "name": ""}, "name", "required"),
        ({"code": DENTAL, "name": "x" * 81}, "name", "string_too_long"),  # the API model says it first
        ({"code": DENTAL, "name": "x", "prefecture": "27"}, "prefecture", "prefecture_mismatch"),
        ({"code": DENTAL, "name": "x", "phone": "電話"}, "phone", "phone"),
    ],
)
def test_bad_facilities_are_refused_by_field_and_nothing_is_written(client, world, db, body, field, code):
    before = snapshot(db)
    res = client.post("/api/v1/facilities", headers=world.auth("admin"), json=body)
    assert res.status_code == 422, res.text
    assert (field, code) in [(f["field"], f["code"]) for f in res.json()["error"]["fields"]]
    assert snapshot(db) == before


def test_only_the_administrator_registers_facilities_and_twice_is_a_conflict(client, world, db):
    body = {"code": DENTAL, "name": "◇◇歯科医院"}
    before = snapshot(db)
    for who in ("office", "clinic", "insurer"):
        assert client.post("/api/v1/facilities", headers=world.auth(who), json=body).status_code == 403
        assert (
            client.patch(
                f"/api/v1/facilities/{CLINIC_CODE(world)}", headers=world.auth(who), json={"name": "x"}
            ).status_code
            == 403
        )
    assert snapshot(db) == before
    assert client.post("/api/v1/facilities", headers=world.auth("admin"), json=body).status_code == 201
    assert client.post("/api/v1/facilities", headers=world.auth("admin"), json=body).status_code == 409
    assert client.get("/api/v1/facilities/1311111114", headers=world.auth("office")).status_code == 404


def CLINIC_CODE(world):
    return world.orgs["clinic"]["code"]


def _csv(lines):
    return ("code,name,prefecture,address,phone\r\n" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def test_facilities_in_bulk_from_a_csv_file_all_or_nothing(client, world, db):
    before = snapshot(db)
    bad = _csv(
        [
            f"{DENTAL},◇◇歯科医院,13,東京都,03-0000-0001",
            f"{STATION},☆☆訪問看護,27,,",
            f"{DENTAL},重複,,,",
            "1311111110,誤り,,,",
        ]
    )
    res = import_job(
        client, "/api/v1/imports/facilities", headers=world.auth("admin"), files={"file": ("f.csv", bad, "text/csv")}
    )
    assert res.status_code == 422
    assert sorted((e["row"], e["field"]) for e in res.json()["error"]["report"]["errors"]) == [
        (3, "prefecture"),
        (4, "code"),
        (5, "code"),
    ]
    assert snapshot(db) == before
    exists = _csv([f"{OSAKA},□□病院,27,,", f"{world.orgs['clinic']['code']},●●医療機関,,,"])
    res = import_job(
        client, "/api/v1/imports/facilities", headers=world.auth("admin"), files={"file": ("f.csv", exists)}
    )
    assert res.status_code == 422 and [e["row"] for e in res.json()["error"]["report"]["errors"]] == [3]
    assert snapshot(db) == before
    res = import_job(
        client,
        "/api/v1/imports/facilities",
        headers=world.auth("office"),
        files={"file": ("f.csv", _csv([f"{OSAKA},□□病院,,,"]))},
    )
    assert res.status_code == 403
    good = _csv(
        [
            f"{DENTAL},◇◇歯科医院,13,東京都,03-0000-0001",
            f"{STATION},☆☆訪問看護ステーション,,,",
            f"{OSAKA},□□病院,27,大阪府,",
        ]
    )
    res = import_job(client, "/api/v1/imports/facilities", headers=world.auth("admin"), files={"file": ("f.csv", good)})
    assert res.status_code == 200, res.text
    assert res.json()["written"] == 3
    assert client.get(f"/api/v1/facilities/{STATION}", headers=world.auth("office")).json()["kind"] == "訪問看護"
    # a ticket may now designate the station (点数表 6) for 訪問看護
    t = world.ticket(world.recipient(), facility=STATION, treatment_type="05")
    assert t["designated_facility_name"] == "☆☆訪問看護ステーション"


def test_fujo_import_facilities_from_the_cli(tmp_path, db, monkeypatch):
    from typer.testing import CliRunner

    from fujo.cli.main import app
    from fujo.db.migrate import upgrade

    upgrade(db)
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    f = tmp_path / "f.csv"
    f.write_bytes(_csv([f"{DENTAL},◇◇歯科医院,,,"]))
    res = CliRunner().invoke(app, ["import", "facilities", str(f)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "1件" in res.stdout
