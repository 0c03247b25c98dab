"""初回ひも付け with a cross-check: the card holder is known by 個人番号 (only its keyed hash is stored)
and the 基本4情報 recorded at issue; the office's link is made only when name and birth date agree."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from fujo.accounts.service import create_user
from fujo.audit.service import access_log
from fujo.cards.service import issue_card
from fujo.db import schema as s
from tests.factories import PAYER, World
from tests.helpers import card_proof, snapshot

HOLDER = {"name": "生保一郎", "birthdate": "1990-01-15", "sex": "1", "address": "東京都○○市1-2-3"}


def _issue(world, number, **holder):
    return issue_card(world.db, world.ca, pin="1234", individual_number=number, holder={**HOLDER, **holder})


def _link(client, world, r, number, who="office"):
    return client.post(
        f"/api/v1/recipients/{r['payer_number']}/{r['recipient_number']}/card-link",
        headers=world.auth(who),
        json={"individual_number": number},
    )


def test_the_number_is_never_stored_only_its_keyed_hash(world, db):
    number = World.individual_number()
    card = _issue(world, number)
    dump = json.dumps(snapshot(db), default=str, ensure_ascii=False)
    assert number not in dump
    with db.read() as conn:
        row = conn.execute(select(s.persons).where(s.persons.c.id == card["person_id"])).first()
    assert row.individual_number_hash == world.ca.number_hash(number) and len(row.individual_number_hash) == 64
    assert (row.name, row.sex, str(row.birthdate)) == ("生保一郎", "1", "1990-01-15")
    # a second card for the same number is a re-issue to the same holder
    assert _issue(world, number)["person_id"] == card["person_id"]


@pytest.mark.parametrize(
    "holder_name, recipient_name",
    [
        ("髙橋一郎", "高橋一郎"),
        ("渡邊 花子", "渡辺花子"),
        ("さいとう一郎", "サイトウ一郎"),
        ("﨑山　次郎", "崎山次郎"),
    ],
)
def test_link_is_made_when_the_normalised_name_and_birth_date_agree(client, world, db, holder_name, recipient_name):
    r = world.recipient(name=recipient_name)
    number = World.individual_number()
    card = _issue(world, number, name=holder_name)
    res = _link(client, world, r, number)
    assert res.status_code == 200, res.text
    assert res.json()["card_linked"] is True
    # the holder now checks with the recipient's qualification
    world.ticket(r)
    proof = card_proof(db, world.principal("clinic"), {"path": _write(world, card), "pin": "1234"})
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert body["ResultList"][-1]["InsuredIdentificationNumber"] == r["recipient_number"]


def _write(world, card):
    p = world.tmp / f"{card['serial']}.p12"
    p.write_bytes(card["p12"])
    return p


@pytest.mark.parametrize(
    "holder, fields",
    [
        ({"name": "扶助花子"}, ["name"]),
        ({"birthdate": "1990-01-16"}, ["birthdate"]),
        ({"name": "扶助花子", "birthdate": "1985-04-02"}, ["name", "birthdate"]),
    ],
)
def test_a_mismatch_is_refused_naming_the_differing_items_and_nothing_is_written(client, world, db, holder, fields):
    r = world.recipient()
    number = World.individual_number()
    _issue(world, number, **holder)
    before = snapshot(db)
    res = _link(client, world, r, number)
    assert res.status_code == 422, res.text
    got = res.json()["error"]["fields"]
    assert [f["field"] for f in got] == fields and {f["code"] for f in got} == {"identity_mismatch"}
    assert "扶助花子" not in res.text and number not in res.text
    assert snapshot(db) == before


def test_unknown_or_malformed_numbers_are_refused_and_never_echoed(client, world, db):
    r = world.recipient()
    before = snapshot(db)
    unknown = World.individual_number()
    res = _link(client, world, r, unknown)
    assert res.status_code == 422 and res.json()["error"]["fields"][0]["code"] == "no_card"
    wrong = unknown[:-1] + str((int(unknown[-1]) + 1) % 10)
    res = _link(client, world, r, wrong)
    assert res.status_code == 422 and res.json()["error"]["fields"][0]["code"] == "check_digit"
    assert unknown not in res.text and wrong not in res.text
    assert snapshot(db) == before


def test_only_the_recipients_own_office_links_and_a_linked_recipient_is_not_relinked(client, world, db):
    r = world.recipient()
    number = World.individual_number()
    _issue(world, number)
    before = snapshot(db)
    for who in ("office2", "clinic"):
        assert _link(client, world, r, number, who).status_code == 403
    assert snapshot(db) == before
    assert _link(client, world, r, number).status_code == 200
    assert _link(client, world, r, number).status_code == 200  # the same holder again: nothing changes
    other = World.individual_number()
    _issue(world, other)
    res = _link(client, world, r, other)
    assert res.status_code == 409 and "解除" in res.json()["error"]["message_ja"]


def test_unlink_is_recorded_and_the_access_log_shows_link_and_unlink(client, world, db):
    r = world.recipient()
    card = world.card(r)
    url = f"/api/v1/recipients/{PAYER}/{r['recipient_number']}/card-unlink"
    before = snapshot(db)
    assert client.post(url, headers=world.auth("office"), json={"reason": " "}).status_code == 422
    assert snapshot(db) == before
    res = client.post(url, headers=world.auth("office"), json={"reason": "別人のカードにひも付けたため"})
    assert res.status_code == 200 and res.json()["card_linked"] is False
    assert client.post(url, headers=world.auth("office"), json={"reason": "x"}).status_code == 409
    log = access_log(db, card["person_id"], [])
    assert [e["method"] for e in log] == ["unlink", "link"]
    assert {e["organisation_name"] for e in log} == {"○○市福祉事務所"}
    assert log[0]["method_ja"] == "マイナンバーカードとのひも付けの解除"
    # unlinked: the card no longer brings the recipient's qualification
    world.ticket(r)
    proof = card_proof(db, world.principal("clinic"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert all(x["InsuredCardClassification"] != "A1" for x in body["ResultList"])


def test_the_office_screen_links_after_the_cross_check_and_shows_the_refusal(client, world, db):
    r = world.recipient()
    number = World.individual_number()
    _issue(world, number, name="扶助花子")
    create_user(
        db, world.orgs["office"]["id"], login="clerk", password="clerk-pass-123", display_name="担当", role="caseworker"
    )
    tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"csrf_token": tok, "org_code": "13001", "login": "clerk", "password": "clerk-pass-123"})
    page = client.get(f"/office/recipients/{PAYER}/{r['recipient_number']}")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    before = snapshot(db)
    res = client.post(
        f"/office/recipients/{PAYER}/{r['recipient_number']}/card-link",
        data={"csrf_token": tok, "individual_number": number},
    )
    assert res.status_code == 422
    assert "氏名がカードの基本4情報と一致しません。" in res.text and number not in res.text
    assert snapshot(db) == before
    good = World.individual_number()
    _issue(world, good)
    res = client.post(
        f"/office/recipients/{PAYER}/{r['recipient_number']}/card-link",
        data={"csrf_token": tok, "individual_number": good},
        follow_redirects=True,
    )
    assert res.status_code == 200 and "ひも付けました" in res.text and "ひも付け済み" in res.text
    res = client.post(
        f"/office/recipients/{PAYER}/{r['recipient_number']}/card-unlink",
        data={"csrf_token": tok, "reason": "誤り"},
        follow_redirects=True,
    )
    assert "解除しました" in res.text


def test_the_api_issues_cards_with_the_4_information_and_refuses_bad_input(client, world, db):
    before = snapshot(db)
    bad = client.post(
        "/api/v1/cards",
        headers=world.auth("admin"),
        json={"pin": "1234", "individual_number": "123456789019", "name": "", "sex": "4"},
    )
    assert bad.status_code == 422
    fields = {f["field"] for f in bad.json()["error"]["fields"]}
    assert {"individual_number", "name", "birthdate", "sex", "address"} <= fields
    assert "123456789019" not in bad.text
    assert snapshot(db) == before
    res = client.post(
        "/api/v1/cards",
        headers=world.auth("admin"),
        json={"pin": "1234", "individual_number": "123456789018", **HOLDER},
    )
    assert res.status_code == 201, res.text
    assert (
        client.post(
            "/api/v1/cards",
            headers=world.auth("office"),
            json={"pin": "1234", "individual_number": "123456789018", **HOLDER},
        ).status_code
        == 403
    )
