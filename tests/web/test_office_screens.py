"""The welfare office's working screens over HTTP (issue 9), on SQLite and PostgreSQL: recipient edit
with history, 保護停止・廃止 with the reason, the 初回ひも付け cross-check item by item, facility
suggestions by name or code, the registry's refusals as the clerk types (the saving checks, writing
nothing) and the month view of every ticket with its filters and counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from fujo.accounts.service import create_user
from fujo.cards.service import issue_card
from fujo.core.dates import today_jst
from fujo.core.errors import ValidationFailed
from fujo.core.numbers import with_check_digit
from fujo.registry import service as registry
from fujo.registry.facilities import register_facility
from fujo.web import office
from fujo.web.kit import env
from tests.factories import CLINIC, PAYER, PAYER2, PHARMACY, World
from tests.helpers import snapshot
from tests.web.conftest import csrf_of

NEW_ROUTES = [
    ("GET", "/office/recipients/{payer}/{rn}/edit"),
    ("POST", "/office/recipients/{payer}/{rn}/edit"),
    ("POST", "/office/recipients/{payer}/{rn}/disqualification"),
    ("GET", "/office/facilities?q=医療"),
    ("POST", "/office/recipients/{payer}/{rn}/tickets/validate"),
    ("POST", "/office/tickets/{key}/validate"),
    ("GET", "/office/tickets"),
]


def _login(client, creds) -> str:
    """Sign in; the CSRF token of the signed-in session."""
    code, login, pw = creds
    tok = csrf_of(client.get("/login").text)
    res = client.post(
        "/login", data={"csrf_token": tok, "org_code": code, "login": login, "password": pw}, follow_redirects=False
    )
    assert res.status_code == 303
    home = res.headers["location"]
    return csrf_of(client.get(home).text)


def _rn(r: dict) -> str:
    return f"/office/recipients/{r['payer_number']}/{r['recipient_number']}"


def _page(client, path: str) -> str:
    res = client.get(path)
    assert res.status_code == 200, (path, res.status_code)
    return res.text


def _edit_values(rec: dict, **kw) -> dict:
    fields = ("name", "name_kana", "sex", "birthdate", "address", "post_number", "qualification_date")
    return {**{f: rec.get(f) or "" for f in fields}, **kw}


# --- who may use the new screens ----------------------------------------------------------------


def test_every_new_route_for_office_roles_facility_users_and_anonymous(app, world, users, db):
    r = world.recipient()
    t = world.ticket(r, on=today_jst())
    create_user(
        db, world.orgs["office"]["id"], login="cw", password="role-pass-1234", display_name="担当", role="caseworker"
    )
    caseworker = (world.orgs["office"]["code"], "cw", "role-pass-1234")

    def call(c, method, tpl, csrf):
        path = tpl.format(payer=PAYER, rn=r["recipient_number"], key=t["ticket_key"])
        if method == "GET":
            return c.get(path, follow_redirects=False)
        return c.post(path, data={"csrf_token": csrf}, headers={"X-CSRF-Token": csrf}, follow_redirects=False)

    for who, allowed in ((caseworker, True), (users["office"], True), (users["clinic"], False), (None, False)):
        with TestClient(app) as c:
            csrf = _login(c, who) if who else csrf_of(c.get("/login").text)
            for method, tpl in NEW_ROUTES:
                res = call(c, method, tpl, csrf)
                if who is None:  # anonymous: to the sign-in (a POST is refused by its CSRF check first)
                    assert res.status_code in (303, 403), (method, tpl, res.status_code)
                    if res.status_code == 303:
                        assert res.headers["location"].startswith("/login")
                elif allowed:
                    assert res.status_code not in (401, 403) and "/login" not in res.headers.get("location", ""), (
                        who[1],
                        method,
                        tpl,
                        res.status_code,
                    )
                else:
                    assert res.status_code == 403, (who[1], method, tpl, res.status_code)


def test_posts_without_the_csrf_token_are_refused_and_write_nothing(client, users, world, db):
    r = world.recipient()
    _login(client, users["office"])
    before = snapshot(db)
    for path in ("/edit", "/disqualification", "/tickets/validate"):
        res = client.post(_rn(r) + path, data={"name": "偽装", "disqualification_kind": "2"})
        assert res.status_code == 403, path
    assert snapshot(db) == before


def test_the_menu_and_the_late_screen_lead_to_the_month_view(client, users, world):
    _login(client, users["office"])
    home = _page(client, "/office")
    assert 'href="/office/tickets"' in home and 'href="/office/late"' in home
    month = f"{today_jst():%Y%m}"
    late = _page(client, f"/office/late?month={month}")
    assert f'href="/office/tickets?month={month[:4]}-{month[4:]}&amp;late=1"' in late
    view = _page(client, f"/office/tickets?month={month}")
    assert f'href="/office/late?month={month}"' in view


# --- recipient edit with history ------------------------------------------------------------------


def test_a_recipient_is_edited_with_wareki_dates_and_the_change_shows_in_the_history(client, users, world, db):
    r = world.recipient(name="変更前太郎")
    _login(client, users["office"])
    form = _page(client, _rn(r) + "/edit")
    assert 'value="変更前太郎"' in form and 'name="expected_version" value="1"' in form
    assert 'name="payer_number"' not in form and 'name="disqualification_kind"' not in form
    tok = csrf_of(form)
    values = _edit_values(r, name="変更後太郎", birthdate="平成2年1月16日", address="東京都△△市4-5-6")
    res = client.post(_rn(r) + "/edit", data={"csrf_token": tok, "expected_version": "1", **values})
    assert res.status_code == 200 and "受給者情報を変更しました" in res.text
    rec = registry.get_recipient(db, world.principal("office"), payer=PAYER, rn=r["recipient_number"])
    assert rec["name"] == "変更後太郎" and rec["birthdate"] == "1990-01-16" and rec["version"] == 2
    history = re.search(r'<table id="recipient-history">.*?</table>', res.text, re.S).group(0)
    assert "1→2" in history
    assert "氏名</span>：変更前太郎 → 変更後太郎" in history
    assert "生年月日</span>：平成2年1月15日 → 平成2年1月16日" in history
    assert "住所</span>：東京都○○市1-2-3 → 東京都△△市4-5-6" in history
    assert "性別" not in history  # unchanged items are not listed


def test_an_unchanged_edit_writes_nothing(client, users, world, db):
    r = world.recipient()
    tok = _login(client, users["office"])
    before = snapshot(db)
    same = _edit_values(r, birthdate="H2.1.15", name_kana="セイホ イチロウ")  # the same values, written otherwise
    res = client.post(_rn(r) + "/edit", data={"csrf_token": tok, "expected_version": "1", **same})
    assert res.status_code == 200 and "変更された項目はありませんでした" in res.text
    empty = dict.fromkeys(("disqualification_kind", "disqualification_date", "disqualification_reason"), "")
    res = client.post(_rn(r) + "/disqualification", data={"csrf_token": tok, "expected_version": "1", **empty})
    assert res.status_code == 200 and "変更された項目はありませんでした" in res.text
    assert snapshot(db) == before


def test_a_refused_edit_names_each_field_and_writes_nothing(client, users, world, db):
    r = world.recipient()
    tok = _login(client, users["office"])
    before = snapshot(db)
    bad = _edit_values(r, name="", birthdate="令和99年1月1日", sex="9", post_number="12")
    res = client.post(_rn(r) + "/edit", data={"csrf_token": tok, "expected_version": "1", **bad})
    assert res.status_code == 422
    for field, words in (
        ("name", "氏名を入力してください"),
        ("birthdate", "生年月日"),
        ("sex", "性別は"),
        ("post_number", "郵便番号は7桁"),
    ):
        msg = re.search(rf'<p class="field-error" id="f-{field}-error"[^>]*>([^<]*)</p>', res.text).group(1)
        assert words in msg, (field, msg)
    assert 'value="令和99年1月1日"' in res.text  # what was typed stays
    assert snapshot(db) == before


def test_an_edit_on_a_stale_version_is_refused(client, users, world, db):
    r = world.recipient()
    tok = _login(client, users["office"])
    registry.update_recipient(
        db, world.principal("office"), payer=PAYER, rn=r["recipient_number"], changes={"address": "先に変更"}
    )
    before = snapshot(db)
    res = client.post(
        _rn(r) + "/edit", data={"csrf_token": tok, "expected_version": "1", **_edit_values(r, name="後から")}
    )
    assert res.status_code == 409 and "他の担当者が先に更新しました" in res.text
    assert snapshot(db) == before


# --- 保護停止・廃止 ------------------------------------------------------------------------------


def test_abolition_with_reason_shows_on_the_recipient_page_and_in_search(client, users, world, db):
    r = world.recipient(name="廃止三郎")
    tok = _login(client, users["office"])
    day = today_jst().replace(day=1)
    res = client.post(
        _rn(r) + "/disqualification",
        data={
            "csrf_token": tok,
            "expected_version": "1",
            "disqualification_kind": "2",
            "disqualification_date": f"R{day.year - 2018}.{day.month}.1",
            "disqualification_reason": "転居のため",
        },
    )
    assert res.status_code == 200 and "保護の停止・廃止を記録しました" in res.text
    status = re.search(r'id="recipient-status"[^>]*>([^<]*)<', res.text).group(1)
    assert status.startswith("保護廃止（") and "年" in status
    assert 'value="転居のため"' in res.text  # the reason, kept with the office
    rec = registry.get_recipient(db, world.principal("office"), payer=PAYER, rn=r["recipient_number"])
    assert (rec["disqualification_kind"], rec["disqualification_date"]) == ("2", day.isoformat())
    found = _page(client, "/office?q=廃止三郎")
    assert "保護廃止（" in found and "qstatus-abolished" in found
    # a 停止 from a later day: 保護中 until then, and the page says so
    later = today_jst() + dt.timedelta(days=40)
    res = client.post(
        _rn(r) + "/disqualification",
        data={
            "csrf_token": tok,
            "expected_version": "2",
            "disqualification_kind": "1",
            "disqualification_date": later.isoformat(),
            "disqualification_reason": "入院",
        },
    )
    status = re.search(r'id="recipient-status"[^>]*>([^<]*)<', res.text).group(1)
    assert status.startswith("保護中（") and status.endswith("から停止）")


def test_a_refused_disqualification_names_the_field_and_writes_nothing(client, users, world, db):
    r = world.recipient()
    tok = _login(client, users["office"])
    before = snapshot(db)
    res = client.post(
        _rn(r) + "/disqualification",
        data={"csrf_token": tok, "expected_version": "1", "disqualification_date": "2024-07-01"},
    )
    assert res.status_code == 422
    assert re.search(r'id="f-disqualification_kind-error"[^>]*>[^<]*停止・廃止の別を選んでください', res.text)
    res = client.post(
        _rn(r) + "/disqualification",
        data={"csrf_token": tok, "disqualification_kind": "2", "disqualification_date": "2019-01-01"},
    )
    assert res.status_code == 422
    assert re.search(r'id="f-disqualification_date-error"[^>]*>[^<]*開始日（取得日）より前です', res.text)
    assert 'value="2019-01-01"' in res.text
    res = client.post(_rn(r) + "/disqualification", data={"csrf_token": tok, "disqualification_reason": "理由だけ"})
    assert res.status_code == 422 and "停止・廃止日を入力してください" in res.text
    assert snapshot(db) == before


# --- 初回ひも付け ------------------------------------------------------------------------------


def test_card_link_shows_the_cross_check_item_by_item_and_refuses_a_mismatch(client, users, world, db):
    r = world.recipient(name="照合一郎")
    number = world.individual_number()
    issue_card(
        db,
        world.ca,
        pin="1234",
        individual_number=number,
        holder={"name": "別人花子", "birthdate": r["birthdate"], "sex": "2", "address": "東京都"},
    )
    tok = _login(client, users["office"])
    before = snapshot(db)
    res = client.post(_rn(r) + "/card-link", data={"csrf_token": tok, "individual_number": number})
    assert res.status_code == 422 and snapshot(db) == before
    rows = {
        f: re.search(rf'<tr class="(\w+)" id="link-check-{f}">(.*?)</tr>', res.text, re.S)
        for f in ("name", "birthdate", "sex")
    }
    assert rows["name"].group(1) == "mismatch" and "氏名がカードの基本4情報と一致しません" in rows["name"].group(2)
    assert rows["birthdate"].group(1) == "match" and "一致" in rows["birthdate"].group(2)
    assert rows["sex"].group(1) == "mismatch" and "性別がカードの基本4情報と一致しません" in rows["sex"].group(2)
    assert "別人花子" not in res.text  # the card's own values are never shown
    # a malformed number: its own error, no cross-check table
    res = client.post(_rn(r) + "/card-link", data={"csrf_token": tok, "individual_number": "123"})
    assert res.status_code == 422 and 'id="link-check"' not in res.text
    # the same person: linked, and the notice says what agreed
    card = world.card(r, link=False)
    res = client.post(_rn(r) + "/card-link", data={"csrf_token": tok, "individual_number": card["individual_number"]})
    assert res.status_code == 200 and "氏名・生年月日・性別）と一致したため" in res.text
    assert registry.get_recipient(db, world.principal("office"), payer=PAYER, rn=r["recipient_number"])["card_linked"]


# --- facility suggestions --------------------------------------------------------------------


def test_facility_suggestions_by_part_of_the_name_kana_or_code_with_wildcards_as_characters(client, users, world):
    admin = world.principal("admin")
    clinic2 = with_check_digit("131120001")
    pct = with_check_digit("134120002")
    under = with_check_digit("134120003")
    register_facility(world.db, admin, {"code": clinic2, "name": "サクラ内科クリニック"})
    register_facility(world.db, admin, {"code": pct, "name": "100%薬局"})
    register_facility(world.db, admin, {"code": under, "name": "北_薬局"})
    _login(client, users["office"])

    def names(q: str) -> list[str]:
        res = client.get("/office/facilities", params={"q": q})
        assert res.status_code == 200
        return [f["name"] for f in res.json()["results"]]

    assert names("内科") == ["サクラ内科クリニック"]
    assert names("さくら") == ["サクラ内科クリニック"]  # ひらがな finds カタカナ
    assert names("ｻｸﾗ") == ["サクラ内科クリニック"]  # half width finds full width
    assert "サクラ内科クリニック" in names("クリニック") and "▲▲クリニック" in names("くりにっく")
    assert names("%") == ["100%薬局"]  # a wildcard typed is a character
    assert names("_") == ["北_薬局"]
    assert names("") == []
    got = client.get("/office/facilities", params={"q": clinic2[:4]}).json()["results"]
    assert {"code": clinic2, "name": "サクラ内科クリニック", "kind": "医科"} in got
    assert {f["code"] for f in got} >= {CLINIC} | {clinic2}
    form = _page(client, _rn(world.recipient()) + "/tickets/new")
    assert 'data-suggest-for="f-designated_facility_code"' in form and 'role="listbox"' in form


# --- the registry's refusals as the clerk types ---------------------------------------------------


def test_live_validation_answers_what_saving_refuses_and_writes_nothing(client, users, world, db):
    r = world.recipient()
    tok = _login(client, users["office"])
    today = today_jst()
    data = World.ticket_data(r, on=today, treatment_type="03")  # 歯科 on a 医科 code
    data["valid_to"] = (today.replace(day=1) - dt.timedelta(days=1)).isoformat()
    form = {k: v for k, v in data.items() if k not in ("payer_number", "recipient_number")}
    before = snapshot(db)
    res = client.post(_rn(r) + "/tickets/validate", data={"csrf_token": tok, **form})
    assert res.status_code == 200
    got = res.json()
    assert got["ok"] is False
    with pytest.raises(ValidationFailed) as saving:
        registry.register_ticket(db, world.principal("office"), data)
    expected: dict = {}
    for p in saving.value.problems:
        expected.setdefault(p.field, []).append(p.message_ja)
    assert got["errors"] == expected and "valid_to" in expected
    # fields clean: the registry's rules (点数表) — the same messages as saving, by field
    data["valid_to"] = World.ticket_data(r, on=today)["valid_to"]
    form = {k: v for k, v in data.items() if k not in ("payer_number", "recipient_number")}
    got = client.post(_rn(r) + "/tickets/validate", data={"csrf_token": tok, **form}).json()
    with pytest.raises(ValidationFailed) as saving:
        registry.register_ticket(db, world.principal("office"), data)
    assert got["errors"] == {p.field: [p.message_ja] for p in saving.value.problems}
    assert "歯科の医療機関コード（点数表番号3）" in got["errors"]["designated_facility_code"][0]
    assert snapshot(db) == before
    # a good ticket: ok, with the registry's name; still nothing written
    data["treatment_type"] = "02"
    form = {k: v for k, v in data.items() if k not in ("payer_number", "recipient_number")}
    got = client.post(_rn(r) + "/tickets/validate", data={"csrf_token": tok, **form}).json()
    assert got == {
        "ok": True,
        "errors": {},
        "names": {"designated_facility_name": "●●医療機関", "prescription_issuer_name": ""},
        "readings": {k: env.filters["wreading"](form[k]) for k in ("valid_from", "valid_to")},
    }
    assert got["readings"]["valid_from"].startswith("令和") and got["readings"]["valid_from"].endswith(
        f"（{form['valid_from']}）"
    )
    assert snapshot(db) == before
    # once registered, the same form is a duplicate; the ticket's own amendment is not
    t = registry.register_ticket(db, world.principal("office"), data)
    got = client.post(_rn(r) + "/tickets/validate", data={"csrf_token": tok, **form}).json()
    assert "既に登録されています" in " ".join(got["errors"]["designated_facility_code"])
    got = client.post(
        f"/office/tickets/{t['ticket_key']}/validate",
        data={"csrf_token": tok, "expected_revision": "1", **form, "injury_name1": "訂正"},
    ).json()
    assert got["ok"] is True
    got = client.post(
        f"/office/tickets/{t['ticket_key']}/validate", data={"csrf_token": tok, "expected_revision": "7", **form}
    )
    assert got.status_code == 409 and "他の担当者が先に変更しました" in got.json()["message"]


def test_live_validation_is_scoped_to_the_office(client, users, world):
    other = world.recipient(office="office2", payer_number=PAYER2)
    tok = _login(client, users["office"])
    res = client.post(_rn(other) + "/tickets/validate", data={"csrf_token": tok, "ticket_type": "01"})
    assert res.status_code == 403 and res.json()["ok"] is False
    res = client.post(f"{_rn(other)[:-7]}1234567/tickets/validate", data={"csrf_token": tok})
    assert res.status_code in (403, 404, 200)
    t = world.ticket(other, office="office2", on=today_jst())
    res = client.post(f"/office/tickets/{t['ticket_key']}/validate", data={"csrf_token": tok})
    assert res.status_code == 403


# --- the month view -------------------------------------------------------------------------------


@pytest.fixture
def month_world(world):
    """Tickets of this month: active, amended, cancelled, a pharmacy's, one of an abolished
    recipient, one registered after the first check (late) and another office's."""
    from fujo.eligibility.service import check_by_numbers

    today = today_jst()
    p = world.principal("office")
    names = {}
    for key in ("active", "amended", "cancelled", "pharmacy", "abolished", "late"):
        names[key] = world.recipient(name=f"月別{key}")
    t = {k: world.ticket(names[k], on=today) for k in ("active", "amended", "cancelled", "abolished")}
    t["pharmacy"] = world.ticket(names["pharmacy"], on=today, facility=PHARMACY)
    data = World.ticket_data(names["amended"], on=today, injury_name1="訂正後")
    registry.amend_ticket(
        world.db, p, key=t["amended"]["ticket_key"], data={k: v for k, v in data.items()}, reason="訂正"
    )
    registry.cancel_ticket(world.db, p, key=t["cancelled"]["ticket_key"], reason="重複")
    registry.update_recipient(
        world.db,
        p,
        payer=PAYER,
        rn=names["abolished"]["recipient_number"],
        changes={
            "disqualification_date": (today.replace(day=1) + dt.timedelta(days=1)).isoformat(),
            "disqualification_kind": "2",
        },
    )
    check_by_numbers(
        world.db,
        world.principal("clinic"),
        insurer_number=PAYER,
        identification_number=names["late"]["recipient_number"],
        birthdate="1990-01-15",
    )
    t["late"] = world.ticket(names["late"], on=today)
    world.ticket(world.recipient(office="office2", payer_number=PAYER2, name="他事務所"), office="office2", on=today)
    return names, t


def _rows(html: str) -> list[str]:
    body = re.search(r'<table id="month-tickets".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return re.findall(r"<tr class=.*?</tr>", body, re.S)


def _count(html: str, key: str) -> int:
    return int(re.search(rf'data-count="{key}"[^>]*>[^<]*<strong>(\d+)</strong>', html).group(1))


def test_the_month_view_lists_every_ticket_of_the_office_with_counts_and_filters(client, users, month_world):
    names, tickets = month_world
    _login(client, users["office"])
    today = today_jst()
    month = f"{today:%Y-%m}"
    html = _page(client, f"/office/tickets?month={month}")
    rows = _rows(html)
    assert len(rows) == 6 and "他事務所" not in html
    assert f"令和{today.year - 2018}年{today.month}月" in html or "令和元年" in html
    counts = {k: _count(html, k) for k in ("active", "amended", "cancelled", "abolished", "suspended", "late")}
    assert counts == {"active": 5, "amended": 1, "cancelled": 1, "abolished": 1, "suspended": 0, "late": 1}
    for status, who in (("cancelled", "cancelled"), ("amended", "amended"), ("abolished", "abolished")):
        rows = _rows(_page(client, f"/office/tickets?month={month}&status={status}"))
        assert len(rows) == 1 and f"月別{who}" in rows[0], status
    rows = _rows(_page(client, f"/office/tickets?month={month}&late=1"))
    assert len(rows) == 1 and "月別late" in rows[0] and "事後登録" in rows[0]
    html = _page(client, f"/office/tickets?month={month}&facility={PHARMACY}")
    rows = _rows(html)
    assert len(rows) == 1 and "月別pharmacy" in rows[0] and _count(html, "active") == 1
    assert f'<option value="{PHARMACY}" selected>' in html
    assert "取消" in _rows(_page(client, f"/office/tickets?month={month}&status=cancelled"))[0]
    # the default month is this one
    assert len(_rows(_page(client, "/office/tickets"))) == 6


def test_the_month_view_pages_and_refuses_bad_filters_by_field(client, users, month_world, monkeypatch):
    monkeypatch.setattr(office, "MONTH_PAGE", 4)
    _login(client, users["office"])
    month = f"{today_jst():%Y-%m}"
    first = _page(client, f"/office/tickets?month={month}")
    assert len(_rows(first)) == 4 and "1〜4件目" in first and 'rel="next"' in first
    second = _page(client, f"/office/tickets?month={month}&page=2")
    assert len(_rows(second)) == 2 and 'rel="prev"' in second
    res = client.get("/office/tickets?month=2024-13")
    assert res.status_code == 422 and re.search(r'id="f-month-error"[^>]*>[^<]*存在しない年月', res.text)
    res = client.get(f"/office/tickets?month={month}&facility=1311234560")
    assert res.status_code == 422 and re.search(r'id="f-facility-error"[^>]*>[^<]*検証番号', res.text)
    res = client.get(f"/office/tickets?month={month}&status=bogus")
    assert res.status_code == 422 and re.search(r'id="f-status-error"[^>]*>[^<]*状態は', res.text)
