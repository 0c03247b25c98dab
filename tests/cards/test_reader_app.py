"""The card reader on the desk (`fujo reader`, fujo/cards/reader_app.py): it signs the server's
challenge with a card of its slot, keeps the PIN lock with the card (3 wrong PINs lock it, across
restarts), clears a lock only with the card authority's reset token for that card, and answers
pages of the configured origins only."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from starlette.testclient import TestClient
from typer.testing import CliRunner

from fujo.cards.ca import CardAuthority
from fujo.cards.reader_app import LOCKED_JA, STATE_SUFFIX, Slot, cli, create_reader_app, public_serial
from fujo.cards.service import cards_of_recipient, create_challenge, issue_pin_reset
from fujo.core.dates import today_jst
from fujo.core.errors import Forbidden, NotFound
from fujo.db import schema
from tests.factories import CLINIC

PAGE = "http://127.0.0.1:8000"


def _reader(world, origins=(PAGE,)) -> TestClient:
    """A reader over the world's card folder (the slot), as the browser on the desk calls it."""
    app = create_reader_app(Slot(world.tmp, world.ca.cert), origins)
    return TestClient(app, base_url="http://127.0.0.1:8766", headers={"Origin": PAGE})


@pytest.fixture
def holder(world):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    return r, world.card(r)


def _sign(reader, world, card, pin=None, consent=None, who="clinic"):
    p = world.principal(who)
    ch = create_challenge(world.db, p)["challenge"]
    body = {"card": card["path"].name, "pin": pin or card["pin"], "challenge": ch, "audience": p.code}
    if consent is not None:
        body["consent"] = consent
    return reader.post("/sign", json=body)


def _state(card) -> dict:
    return json.loads(card["path"].with_name(card["path"].name + STATE_SUFFIX).read_text())


def test_the_reader_signs_and_the_server_accepts_the_proof_without_pin_or_key(client, world, holder):
    r, card = holder
    reader = _reader(world)
    listed = reader.get("/cards").json()["cards"]
    assert listed == [
        {"card": card["path"].name, "holder": None, "serial": card["serial"], "locked": False, "remaining": 3}
    ]
    res = _sign(reader, world, card, consent={"PharmacistsInfo": True, "OperationInfo": True})
    assert res.status_code == 200, res.text
    proof = res.json()
    assert set(proof) == {"challenge", "certificate", "signature", "consent"}
    assert proof["consent"] == "1001"
    assert res.headers["access-control-allow-origin"] == PAGE
    assert card["pin"] not in json.dumps(proof)
    check = client.post("/api/v1/checks/card", headers=world.auth("clinic"), json=proof)
    assert check.status_code == 200, check.text
    a1 = check.json()["ResultList"][-1]
    assert a1["InsuredIdentificationNumber"] == r["recipient_number"]
    assert a1["PharmacistsInfoConsFlg"] == "1" and a1["OperationInfoConsFlg"] == "1"
    assert _state(card)["serial"] == card["serial"]


def test_wrong_pins_are_counted_with_the_card_and_a_right_pin_resets_the_count(world, holder):
    _, card = holder
    reader = _reader(world)
    first = _sign(reader, world, card, pin="0000")
    assert first.status_code == 403
    assert first.json()["error"] == {
        "code": "pin_wrong",
        "message": "暗証番号が違います。あと2回間違えるとカードがロックされます。",
        "remaining": 2,
    }
    assert _sign(reader, world, card, pin="0001").json()["error"]["remaining"] == 1
    assert _state(card)["failures"] == 2
    assert reader.get("/cards").json()["cards"][0]["remaining"] == 1
    assert _sign(reader, world, card).status_code == 200
    assert _state(card)["failures"] == 0
    assert reader.get("/cards").json()["cards"][0]["remaining"] == 3
    # a malformed PIN is not a try
    bad = _sign(reader, world, card, pin="12a4")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "pin_format"
    assert _state(card)["failures"] == 0


def test_three_wrong_pins_lock_the_card_even_for_the_right_pin_and_across_restarts(world, holder):
    _, card = holder
    reader = _reader(world)
    for pin in ("0000", "0001"):
        assert _sign(reader, world, card, pin=pin).status_code == 403
    third = _sign(reader, world, card, pin="0002")
    assert third.status_code == 423
    assert third.json()["error"] == {"code": "card_locked", "message": LOCKED_JA, "remaining": 0}
    right = _sign(reader, world, card)
    assert right.status_code == 423 and right.json()["error"]["message"] == LOCKED_JA
    # the lock is in the slot, beside the card: a new reader process over the same folder keeps it
    again = _reader(world)
    assert again.get("/cards").json()["cards"][0] | {"card": "-"} == {
        "card": "-",
        "holder": None,
        "serial": card["serial"],
        "locked": True,
        "remaining": 0,
    }
    assert _sign(again, world, card).status_code == 423
    assert _state(card)["failures"] == 3


def _lock(reader, world, card):
    for pin in ("0000", "0001", "0002"):
        _sign(reader, world, card, pin=pin)
    assert _sign(reader, world, card).status_code == 423


def test_a_reset_token_of_the_card_authority_clears_the_lock_once(client, world, holder, db):
    _, card = holder
    reader = _reader(world)
    _lock(reader, world, card)
    res = client.post(f"/api/v1/cards/{card['serial']}/pin-reset", headers=world.auth("admin"))
    assert res.status_code == 200, res.text
    token = res.json()["token"]
    assert res.json()["serial"] == card["serial"]
    ok = reader.post(f"/cards/{card['path'].name}/unlock", json={"token": token})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"card": card["path"].name, "serial": card["serial"], "locked": False, "remaining": 3}
    assert _sign(reader, world, card).status_code == 200
    # single use: the same token cannot clear a later lock
    _lock(reader, world, card)
    used = reader.post(f"/cards/{card['path'].name}/unlock", json={"token": token})
    assert used.status_code == 409 and used.json()["error"]["code"] == "token_used"
    # recorded as a card action in the check log (the holder's access log shows it)
    from sqlalchemy import select

    with db.read() as conn:
        rows = conn.execute(select(schema.check_log).where(schema.check_log.c.method == "pin_reset")).all()
    assert len(rows) == 1 and rows[0].person_id == card["person_id"] and card["serial"] in rows[0].detail


def test_forged_expired_and_other_card_tokens_are_refused(world, holder, tmp_path_factory):
    r, card = holder
    other = world.card(world.recipient(name="別人"))
    reader = _reader(world)
    _lock(reader, world, card)
    name = card["path"].name
    admin = world.principal("admin")
    forger = CardAuthority.load_or_create(tmp_path_factory.mktemp("other-ca"))
    now = dt.datetime.now(dt.UTC)
    cases = [
        (forger.pin_reset_token(card["serial"], now), 403, "token_forged"),
        (issue_pin_reset(world.db, world.ca, admin, serial=other["serial"])["token"], 403, "token_other_card"),
        (world.ca.pin_reset_token(card["serial"], now - dt.timedelta(days=8)), 403, "token_expired"),
        ("not-a-token", 422, "token_malformed"),
        ("", 422, "token"),
    ]
    # a valid token whose claims were edited (another serial) no longer verifies
    body, sig = issue_pin_reset(world.db, world.ca, admin, serial=other["serial"])["token"].split(".")
    import base64

    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["serial"] = card["serial"]
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    cases.append((f"{edited}.{sig}", 403, "token_forged"))
    for token, status, code in cases:
        res = reader.post(f"/cards/{name}/unlock", json={"token": token})
        assert (res.status_code, res.json()["error"]["code"]) == (status, code), token
    assert _sign(reader, world, card).status_code == 423  # still locked


def test_the_unlock_command_clears_the_lock_in_the_slot(world, holder, tmp_path):
    _, card = holder
    _lock(_reader(world), world, card)
    cert = tmp_path / "ca.cert.pem"
    cert.write_bytes(world.ca.cert.public_bytes(serialization.Encoding.PEM))
    token = issue_pin_reset(world.db, world.ca, world.principal("admin"), serial=card["serial"])["token"]
    runner = CliRunner()
    bad = runner.invoke(cli, ["unlock", str(card["path"]), "--token", token[:-4] + "AAAA", "--ca-cert", str(cert)])
    assert bad.exit_code == 2
    out = runner.invoke(cli, ["unlock", str(card["path"]), "--token", token, "--ca-cert", str(cert)])
    assert out.exit_code == 0, out.output
    assert "ロックを解除しました" in out.output
    assert _sign(_reader(world), world, card).status_code == 200
    listed = runner.invoke(cli, ["list", "--cards", str(world.tmp)])
    assert card["serial"] in listed.output and "残り3回" in listed.output


def test_only_the_configured_origins_and_the_loopback_host_may_use_the_reader(world, holder):
    _, card = holder
    reader = _reader(world)
    evil = {"Origin": "https://evil.example"}
    for res in (
        reader.get("/cards", headers=evil),
        reader.post("/sign", headers=evil, json={"card": card["path"].name, "pin": card["pin"]}),
        reader.options("/sign", headers=evil | {"Access-Control-Request-Method": "POST"}),
    ):
        assert res.status_code == 403 and res.json()["error"]["code"] == "origin_refused"
        assert "access-control-allow-origin" not in res.headers
    assert not (world.tmp / (card["path"].name + STATE_SUFFIX)).exists()  # nothing was tried
    pre = reader.options(
        "/sign",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == PAGE
    assert "Content-Type" in pre.headers["access-control-allow-headers"]
    assert pre.headers["access-control-allow-private-network"] == "true"
    # DNS rebinding: a page of another name resolving to 127.0.0.1 is not the loopback host
    rebound = reader.get("/cards", headers={"Host": "evil.example:8766", "Origin": "http://evil.example:8766"})
    assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "host_refused"
    # no Origin at all (a local program, not a page): allowed, without CORS headers
    plain = TestClient(reader.app, base_url="http://localhost:8766").get("/cards")
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_bad_input_gets_a_clear_4xx_and_counts_no_try(world, holder):
    _, card = holder
    reader = _reader(world)
    p = world.principal("clinic")
    ch = create_challenge(world.db, p)["challenge"]
    good = {"card": card["path"].name, "pin": card["pin"], "challenge": ch, "audience": p.code}
    cases = [
        (reader.post("/sign", content=b"{not json", headers={"Content-Type": "application/json"}), 400, "json"),
        (reader.post("/sign", content=b"[]", headers={"Content-Type": "application/json"}), 400, "json"),
        (reader.post("/sign", data={"card": "x"}), 415, "content_type"),
        (reader.post("/sign", json=good | {"pad": "x" * 20000}), 413, "too_large"),
        (reader.post("/sign", json={k: v for k, v in good.items() if k != "challenge"}), 422, "challenge"),
        (reader.post("/sign", json=good | {"audience": "a b"}), 422, "audience"),
        (reader.post("/sign", json=good | {"pin": 1234}), 422, "pin_format"),
        (reader.post("/sign", json=good | {"card": "../etc/passwd.p12"}), 422, "card"),
        (reader.post("/sign", json=good | {"card": "nobody.p12"}), 404, "no_card"),
        (reader.post("/sign", json=good | {"consent": {"Everything": True}}), 422, "consent"),
        (reader.post("/sign", json=good | {"consent": {"PharmacistsInfo": "yes"}}), 422, "consent"),
        (reader.post("/cards/nobody.p12/unlock", json={"token": "x.y"}), 422, "token_malformed"),
    ]
    for res, status, code in cases:
        assert res.status_code == status, (code, res.text)
        err = res.json()["error"]
        assert err["code"] == code and err["message"]
    assert not (world.tmp / (card["path"].name + STATE_SUFFIX)).exists()
    broken = world.tmp / "broken.p12"
    broken.write_bytes(b"\x30\x03\x02\x01\x03")
    res = reader.post("/sign", json=good | {"card": "broken.p12"})
    assert res.status_code == 403 and res.json()["error"]["code"] == "pin_wrong"  # cannot tell it from a wrong PIN
    no_ca = TestClient(create_reader_app(Slot(world.tmp, None)), base_url="http://127.0.0.1:8766")
    assert no_ca.post(f"/cards/{card['path'].name}/unlock", json={"token": "x.y"}).status_code == 503


def test_the_serial_is_read_without_the_pin_and_learnt_at_first_use_for_older_cards(world, holder):
    _, card = holder
    data = card["path"].read_bytes()
    assert public_serial(data) == card["serial"]
    assert public_serial(b"garbage") is None
    # a card file from before the friendly name carried the serial
    key, cert, cas = pkcs12.load_key_and_certificates(data, card["pin"].encode())
    old = pkcs12.serialize_key_and_certificates(
        b"fujo-card", key, cert, cas, serialization.BestAvailableEncryption(card["pin"].encode())
    )
    card["path"].write_bytes(old)
    assert public_serial(old) is None
    reader = _reader(world)
    assert reader.get("/cards").json()["cards"][0]["serial"] is None
    assert _sign(reader, world, card).status_code == 200
    assert reader.get("/cards").json()["cards"][0]["serial"] == card["serial"]


def test_who_may_issue_a_reset_token(world, holder):
    r, card = holder
    office = issue_pin_reset(world.db, world.ca, world.principal("office"), serial=card["serial"].upper())
    assert office["serial"] == card["serial"]
    with pytest.raises(Forbidden):  # not a recipient of this office
        issue_pin_reset(world.db, world.ca, world.principal("office2"), serial=card["serial"])
    with pytest.raises(Forbidden):
        issue_pin_reset(world.db, world.ca, world.principal("clinic"), serial=card["serial"])
    with pytest.raises(NotFound):
        issue_pin_reset(world.db, world.ca, world.principal("admin"), serial="abcdef")
    from fujo.audit.service import access_log

    log = access_log(world.db, card["person_id"], [])
    assert log[0]["method"] == "pin_reset" and "暗証番号ロック解除コード" in log[0]["method_ja"]


def test_the_office_finds_the_cards_of_its_linked_recipient(world, holder):
    r, card = holder
    office = world.principal("office")
    found = cards_of_recipient(world.db, office, payer=r["payer_number"], rn=r["recipient_number"])
    assert [c["serial"] for c in found] == [card["serial"]]
    with pytest.raises(Forbidden):
        cards_of_recipient(world.db, world.principal("office2"), payer=r["payer_number"], rn=r["recipient_number"])
    unlinked = world.recipient(name="未連携")
    assert cards_of_recipient(world.db, office, payer=unlinked["payer_number"], rn=unlinked["recipient_number"]) == []
