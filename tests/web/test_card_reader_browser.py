"""The web desk's card check and the portal's sign-in with the card reader on the desk (`fujo reader`),
in Chromium: the page gets a challenge from the server, the reader signs it with the PIN typed on the
page, and the server receives only challenge, certificate, signature and consent bits. Every request
body the browser sends to the server is recorded and searched for the PIN and the card's key material."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from playwright.sync_api import expect

from fujo.cards.reader_app import LOCKED_JA
from fujo.core.dates import today_jst
from tests.factories import CLINIC
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)

NOT_RUNNING = "カードリーダーに接続できません（fujo reader を起動してください）"
CARD_LABEL = "カード（カードリーダーのカード）"
UNTIL = re.compile(r"同意の有効期限: 令和(元|\d{1,2})年\d{1,2}月\d{1,2}日 \d{2}:\d{2} まで（24時間）")
PIN = "4826"


def _record(page, origin: str) -> list[tuple[str, bytes]]:
    """(url, body) of every request the page sends to ``origin``."""
    seen: list[tuple[str, bytes]] = []
    page.on("request", lambda r: seen.append((r.url, r.post_data_buffer or b"")) if r.url.startswith(origin) else None)
    return seen


def _secrets(card: dict) -> list[bytes]:
    """What must never reach the server: the card file and its private key, raw and base64."""
    data = card["path"].read_bytes()
    key, _, _ = pkcs12.load_key_and_certificates(data, card["pin"].encode())
    assert key is not None
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    out = []
    for blob in (data, der):
        out += [blob[16:80], base64.b64encode(blob)[20:100], base64.urlsafe_b64encode(blob)[20:100]]
    out.append(pem.splitlines()[2])  # a line of the PEM key
    return out


def _assert_clean(seen: list[tuple[str, bytes]], card: dict) -> None:
    assert seen, "the page talked to the server"
    for url, body in seen:
        assert card["pin"] not in url
        assert b"PKCS12" not in body.upper() and b"multipart/form-data" not in body
        for s in _secrets(card):
            assert s not in body, url
        text = body.decode("utf-8", "replace")
        fields = parse_qsl(text, keep_blank_values=True)
        names = {k for k, _ in fields}
        assert not names & {"pin", "card_file", "card"}, (url, names)
        assert card["pin"] not in (v for _, v in fields), url  # no field carries the PIN
        assert not re.search(rf"(^|[^0-9A-Za-z+/]){card['pin']}($|[^0-9A-Za-z+/=])", text), url


def _proofs(seen) -> list[dict]:
    return [dict(parse_qsl(b.decode())) for u, b in seen if u.endswith(("/desk/check/card", "/portal/login")) and b]


def test_desk_card_check_sends_the_server_no_pin_and_no_key(world, users, live, page, reader):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r, pin=PIN)
    to_server, to_reader = _record(page, live), _record(page, reader)
    sign_in(page, live, users["clinic"])
    select = page.get_by_label(CARD_LABEL)
    select.select_option(card["path"].name)
    expect(select.locator("option:checked")).to_contain_text(card["serial"])
    page.get_by_label("暗証番号").fill(card["pin"])
    expect(page.get_by_label("暗証番号")).not_to_have_attribute("name", re.compile(".*"))
    for label in (
        "薬剤情報",
        "診療情報",
        "特定健診情報",
        "手術情報",
        "限度額適用認定証の情報",
        "特定疾病療養受療証の情報",
    ):
        page.get_by_label(f"{label}に同意する").check()
    expect(page.locator("#consent-until")).to_have_text(UNTIL)
    page.get_by_role("button", name="資格確認").click()
    expect(page.locator(".headline").first).to_have_text("○：この資格は有効です。")
    expect(page.locator(".consent").first).to_contain_text("薬剤情報 あり")
    expect(page.locator(".consent").first).to_contain_text("手術情報 あり")
    expect(page.locator(".consent-until").first).to_have_text(UNTIL)  # the server's AvailableTime
    _assert_clean(to_server, card)
    [proof] = _proofs(to_server)
    assert set(proof) == {"csrf_token", "challenge", "certificate", "signature", "consent", "confirmation_date"}
    assert proof["consent"] == "111111"
    # the PIN did go to the reader, and only there
    signs = [b for u, b in to_reader if u.endswith("/sign")]
    assert len(signs) == 1 and f'"pin":"{card["pin"]}"'.encode() in signs[0]


def test_portal_sign_in_sends_the_server_no_pin_and_a_wrong_pin_is_counted_by_the_reader(world, live, page, reader):
    r = world.recipient(name="本人確認")
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r, pin=PIN)
    to_server = _record(page, live)
    page.goto(f"{live}/portal/login")
    page.get_by_label(CARD_LABEL).select_option(card["path"].name)
    page.get_by_label("暗証番号").fill("0000")
    page.get_by_role("button", name="カードでサインイン").click()
    expect(page.locator("#reader-status")).to_have_text("暗証番号が違います。あと2回間違えるとカードがロックされます。")
    expect(page.get_by_label(CARD_LABEL).locator("option:checked")).to_contain_text("暗証番号あと2回")
    page.get_by_label("暗証番号").fill(card["pin"])
    page.get_by_role("button", name="カードでサインイン").click()
    expect(page.get_by_role("heading", name="わたしの医療扶助の情報")).to_be_visible()
    expect(page.get_by_text("本人確認").first).to_be_visible()
    _assert_clean(to_server, card)
    [proof] = _proofs(to_server)
    assert set(proof) == {"csrf_token", "challenge", "certificate", "signature", "consent"}


def test_three_wrong_pins_lock_the_card_at_the_reader(world, users, live, page, reader):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r, pin=PIN)
    sign_in(page, live, users["clinic"])
    page.get_by_label(CARD_LABEL).select_option(card["path"].name)
    for pin in ("0000", "0001", "0002", card["pin"]):  # the right PIN too, once locked
        page.get_by_label("暗証番号").fill(pin)
        page.get_by_role("button", name="資格確認").click()
        expect(page.get_by_role("button", name="資格確認")).to_be_enabled()
    expect(page.locator("#reader-status")).to_have_text(LOCKED_JA)
    expect(page.get_by_label(CARD_LABEL).locator("option:checked")).to_contain_text("ロック中")
    expect(page.locator(".headline")).to_have_count(0)


def test_the_page_says_when_the_reader_is_not_running(world, users, live, page):
    sign_in(page, live, users["clinic"])  # no `reader` fixture: nothing listens at the reader's address
    expect(page.locator("#reader-status")).to_have_text(NOT_RUNNING)
    page.goto(f"{live}/portal/login")
    expect(page.locator("#reader-status")).to_have_text(NOT_RUNNING)


# --- over plain HTTP --------------------------------------------------------------------------


def _login(client, creds):
    code, login, pw = creds
    tok = csrf_of(client.get("/login").text)
    client.post("/login", data={"csrf_token": tok, "org_code": code, "login": login, "password": pw})


def test_the_web_routes_take_no_card_file_or_pin_and_the_csp_allows_the_reader(client, world, users, settings, db):
    from tests.helpers import snapshot

    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r)
    _login(client, users["clinic"])
    page = client.get("/desk")
    assert f"connect-src 'self' {settings.reader_url}" in page.headers["content-security-policy"]
    assert 'type="file"' not in page.text and 'name="pin"' not in page.text
    before = snapshot(db)
    res = client.post(
        "/desk/check/card",
        data={"csrf_token": csrf_of(page.text), "pin": card["pin"]},
        files={"card_file": ("c.p12", card["path"].read_bytes(), "application/x-pkcs12")},
    )
    assert res.status_code == 422 and "カードリーダーでカードを読み取ってください" in res.text
    assert snapshot(db) == before  # nothing was checked nor logged
    ch = client.post("/desk/check/card/challenge", headers={"X-CSRF-Token": csrf_of(page.text)})
    assert ch.status_code == 200 and ch.json()["audience"] == CLINIC and ch.json()["challenge"]
    assert ch.headers["cache-control"] == "no-store"
    with type(client)(client.app) as anon:
        login = anon.get("/portal/login")
        assert 'type="file"' not in login.text and 'name="pin"' not in login.text
        tok = csrf_of(login.text)
        assert anon.post("/portal/login/challenge").status_code == 403  # CSRF as every POST
        pch = anon.post("/portal/login/challenge", headers={"X-CSRF-Token": tok})
        assert pch.status_code == 200 and pch.json()["audience"] == "portal"
        res = anon.post(
            "/portal/login",
            data={"csrf_token": tok, "pin": card["pin"]},
            files={"card_file": ("c.p12", card["path"].read_bytes(), "application/x-pkcs12")},
        )
        assert res.status_code == 422 and "fujo_session" not in res.headers.get("set-cookie", "")


def test_the_administrator_issues_a_reset_code_on_the_cards_page(client, world, users, tmp_path):
    from fujo.cards.reader_app import ReaderError, Slot

    r = world.recipient()
    card = world.card(r, pin=PIN)
    slot = Slot(world.tmp, world.ca.cert)
    p = world.principal("clinic")
    from fujo.cards.service import create_challenge

    for pin in ("0000", "0001", "0002"):
        with pytest.raises(ReaderError):
            slot.sign(
                card=card["path"].name,
                pin=pin,
                challenge=create_challenge(world.db, p)["challenge"],
                audience=p.code,
                consent={},
            )
    assert slot.cards()[0]["locked"]
    _login(client, users["admin"])
    page = client.get("/admin/cards")
    assert f'action="/admin/cards/{card["serial"]}/pin-reset"' in page.text
    res = client.post(f"/admin/cards/{card['serial']}/pin-reset", data={"csrf_token": csrf_of(page.text)})
    assert res.status_code == 200 and "暗証番号ロック解除コードを発行しました" in res.text
    token = re.search(r'<textarea id="pin-reset-token"[^>]*>([^<]+)</textarea>', res.text).group(1)
    assert slot.unlock(card=card["path"].name, token=token)["locked"] is False
    assert not slot.cards()[0]["locked"]
    # the holder's welfare office sees it in the access log as a card action
    from fujo.audit.service import access_log

    assert access_log(world.db, card["person_id"], [])[0]["method"] == "pin_reset"
