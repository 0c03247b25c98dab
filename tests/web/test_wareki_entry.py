"""和暦 in every date entry of the welfare office's screens (issue 9): the forms generated from the
field tables take R6.7.10, 令和6年7月10日 or 2024-07-10 in one text input, show the 和暦 reading
beside it, store an ISO date, and refuse 令和1年4月30日 next to the field it was typed into. The
HTTP API and the CSV import read dates with the same parser. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from fujo.registry import service as registry
from tests.factories import CLINIC, PAYER
from tests.helpers import snapshot
from tests.web.conftest import csrf_of
from tests.web.test_org_users import _login


def _field_error(html: str, name: str) -> str:
    m = re.search(rf'<p class="field-error" id="f-{name}-error"[^>]*>([^<]*)</p>', html)
    assert m, f"no error paragraph for {name}"
    return m.group(1)


def _reading(html: str, name: str) -> str:
    m = re.search(rf'<output class="reading" id="f-{name}-reading"[^>]*>([^<]*)</output>', html)
    assert m, f"no reading for {name}"
    return m.group(1)


def _ticket_form(recipient: dict, **kw) -> dict:
    d = {
        "ticket_type": "01",
        "treatment_month": "2024-07",
        "valid_from": "R6.7.10",
        "valid_to": "令和6年7月31日",
        "designated_facility_code": CLINIC,
        "treatment_type": "02",
        "single_or_combined": "01",
        "injury_name1": "高血圧症",
    }
    d.update(kw)
    return d


def test_date_inputs_are_text_inputs_that_say_which_forms_they_take(client, users, world):
    _login(client, users["office"])
    page = client.get("/office/recipients/new").text
    for name in ("birthdate", "qualification_date", "disqualification_date"):
        assert re.search(rf'id="f-{name}" name="{name}" type="text"', page)  # not type=date: it refuses 和暦
        assert f'id="f-{name}-reading"' in page
    assert "例 R6.7.10・令和6年7月10日・2024-07-10" in page
    assert 'type="date"' not in page
    r = world.recipient()
    form = client.get(f"/office/recipients/{PAYER}/{r['recipient_number']}/tickets/new").text
    assert re.search(r'id="f-valid_from" name="valid_from" type="text"', form)
    assert _reading(form, "valid_from").startswith("令和")  # the default (this month's 1st) is read too


def test_a_recipient_is_registered_with_wareki_dates_and_stored_as_iso(client, users, world, db):
    _login(client, users["office"])
    tok = csrf_of(client.get("/office/recipients/new").text)
    data = world.recipient_data(birthdate="平成2年1月15日", qualification_date="R6.7.10", disqualification_date="")
    res = client.post("/office/recipients", data={"csrf_token": tok, **data}, follow_redirects=False)
    assert res.status_code == 303, res.text
    rec = registry.get_recipient(db, world.principal("office"), payer=PAYER, rn=data["recipient_number"])
    assert (str(rec["birthdate"]), str(rec["qualification_date"])) == ("1990-01-15", "2024-07-10")
    page = client.get(res.headers["location"]).text
    assert "平成2年1月15日" in page and "令和6年7月10日" in page
    # the API gives the registry's ISO dates back, whatever form they were typed in
    got = client.get(f"/api/v1/recipients/{PAYER}/{data['recipient_number']}", headers=world.auth("office"))
    assert got.status_code == 200 and got.json()["birthdate"] == "1990-01-15"


def test_a_ticket_is_registered_with_r6_7_10_and_reiwa_6_7_31(client, users, world, db):
    r = world.recipient()
    _login(client, users["office"])
    url = f"/office/recipients/{PAYER}/{r['recipient_number']}/tickets"
    tok = csrf_of(client.get(url + "/new").text)
    res = client.post(url, data={"csrf_token": tok, **_ticket_form(r)}, follow_redirects=False)
    assert res.status_code == 303, res.text
    key = res.headers["location"].split("/")[-1].split("?")[0]
    t = registry.get_ticket(db, world.principal("office"), key)
    assert (str(t["valid_from"]), str(t["valid_to"])) == ("2024-07-10", "2024-07-31")  # ISO
    page = client.get(res.headers["location"]).text
    assert "令和6年7月10日" in page and "令和6年7月31日" in page


def test_reiwa_1_april_30_is_refused_next_to_its_field_and_nothing_is_written(client, users, world, db):
    r = world.recipient()
    _login(client, users["office"])
    url = f"/office/recipients/{PAYER}/{r['recipient_number']}/tickets"
    tok = csrf_of(client.get(url + "/new").text)
    before = snapshot(db)
    bad = _ticket_form(r, treatment_month="2019-04", valid_from="令和1年4月30日", valid_to="H31.4.30")
    res = client.post(url, data={"csrf_token": tok, **bad}, follow_redirects=False)
    assert res.status_code == 422
    assert snapshot(db) == before
    err = _field_error(res.text, "valid_from")
    assert "有効開始年月日「令和1年4月30日」は元号の期間外です" in err
    assert "令和は令和元年5月1日（2019年5月1日）から" in err and "平成で入力" in err
    assert '<a href="#f-valid_from">有効開始年月日</a>' in res.text  # named in the summary, linked to the field
    assert _field_error(res.text, "valid_to") == ""  # H31.4.30 is the last 平成 day: accepted
    assert _reading(res.text, "valid_to") == "平成31年4月30日（2019-04-30）"  # the reading after submit
    assert _reading(res.text, "valid_from") == ""
    assert 'value="令和1年4月30日"' in res.text  # what was typed is kept for correction


def test_heisei_31_may_1_is_refused_not_mapped_to_reiwa(client, users, world, db):
    _login(client, users["office"])
    tok = csrf_of(client.get("/office/recipients/new").text)
    before = snapshot(db)
    data = world.recipient_data(birthdate="平成31年5月1日", qualification_date="R6.7.10")
    res = client.post("/office/recipients", data={"csrf_token": tok, **data})
    assert res.status_code == 422 and snapshot(db) == before
    err = _field_error(res.text, "birthdate")
    assert "生年月日「平成31年5月1日」は元号の期間外です" in err and "平成31年4月30日" in err
    assert _reading(res.text, "qualification_date") == "令和6年7月10日（2024-07-10）"


def test_garbage_in_a_date_field_says_which_forms_are_taken(client, users, world):
    _login(client, users["office"])
    tok = csrf_of(client.get("/office/recipients/new").text)
    data = world.recipient_data(birthdate="R6.7", qualification_date="令和6年2月30日")
    res = client.post("/office/recipients", data={"csrf_token": tok, **data})
    assert res.status_code == 422
    assert "生年月日はYYYY-MM-DD、YYYYMMDDまたは和暦（例 R6.7.10、令和6年7月10日）" in _field_error(
        res.text, "birthdate"
    )
    assert "保護開始・再開日「令和6年2月30日」は存在しない日付です" in _field_error(res.text, "qualification_date")


def test_full_width_wareki_typed_with_the_ime_on_is_accepted(client, users, world, db):
    _login(client, users["office"])
    tok = csrf_of(client.get("/office/recipients/new").text)
    data = world.recipient_data(birthdate="昭和６０年４月２日", qualification_date="Ｒ６．７．１０")
    res = client.post("/office/recipients", data={"csrf_token": tok, **data}, follow_redirects=False)
    assert res.status_code == 303, res.text
    rec = registry.get_recipient(db, world.principal("office"), payer=PAYER, rn=data["recipient_number"])
    assert str(rec["birthdate"]) == "1985-04-02"


def test_the_api_and_the_csv_import_read_wareki_with_the_same_parser(client, users, world, db):
    r = world.recipient()
    body = {**world.ticket_data(r), "valid_from": "R6.7.10", "valid_to": "令和6年7月31日"}
    got = client.post("/api/v1/tickets", json=body, headers=world.auth("office"))
    assert got.status_code == 201, got.text
    assert (got.json()["valid_from"], got.json()["valid_to"]) == ("2024-07-10", "2024-07-31")
    bad = client.post("/api/v1/tickets", json={**body, "valid_from": "令和1年4月30日"}, headers=world.auth("office"))
    assert bad.status_code == 422
    assert any(p["field"] == "valid_from" and p["code"] == "outside_era" for p in bad.json()["error"]["fields"])

    _login(client, users["office"])
    tok = csrf_of(client.get("/office/import").text)
    row = world.recipient_data(birthdate="H2.1.15", qualification_date="令和6年7月10日")
    cols = list(row)
    csv = ",".join(cols) + "\r\n" + ",".join(row[c] for c in cols) + "\r\n"
    res = client.post(
        "/office/import",
        data={"csrf_token": tok, "kind": "recipients"},
        files={"file": ("r.csv", csv.encode(), "text/csv")},
    )
    assert res.status_code == 200, res.text
    rec = registry.get_recipient(db, world.principal("office"), payer=PAYER, rn=row["recipient_number"])
    assert (str(rec["birthdate"]), str(rec["qualification_date"])) == ("1990-01-15", "2024-07-10")


# --- every date entry of every screen: the same input, era selector and reading (issue 9) --------

_DATE_ENTRIES = {  # screen → (who, the date entries on it: element id, kind)
    "/desk/numbers": ("clinic", (("birthdate", "wareki"), ("confirmation_date", "wareki"))),
    "/desk": ("clinic", (("confirmation_date", "wareki"),)),
    "/desk/reference": ("clinic", (("birthdate", "wareki"),)),
    "/desk/tickets?month=R6.7": ("clinic", (("month", "month"),)),
    "/desk/medinfo/disaster": ("clinic", (("birthdate", "wareki"),)),
    "/admin": ("admin", (("day", "wareki"),)),
    "/admin/disasters": ("admin", (("starts_at", "datetime"), ("ends_at", "datetime"))),
    "/admin/subsidy": ("admin", (("completed", "wareki"), ("applied", "wareki"))),
    "/office": ("office", (("print-month", "month"),)),
    "/office/tickets?month=令和6年7月": ("office", (("month", "month"),)),
    "/office/late?month=R6.7": ("office", (("month", "month"),)),
    "/office/recipients/new": (
        "office",
        (("birthdate", "wareki"), ("qualification_date", "wareki"), ("disqualification_date", "wareki")),
    ),
    "/office/recipients/{payer}/{rn}/edit": ("office", (("birthdate", "wareki"), ("qualification_date", "wareki"))),
    "/office/recipients/{payer}/{rn}/tickets/new": (
        "office",
        (("treatment_month", "month"), ("valid_from", "wareki"), ("valid_to", "wareki")),
    ),
}
# What a date entry's name looks like: a field so named must be one of them (never a bare input).
_DATE_NAME = re.compile(r"(date|month|_at|day|birth|completed|applied)$")


def _era_selected(html: str, fid: str) -> str:
    m = re.search(rf'<select id="f-{fid}-era"[^>]*>(.*?)</select>', html, re.S)
    assert m, f"no era selector for {fid}"
    sel = re.search(r'<option value="(\w+)" selected>', m.group(1))
    assert sel, f"no era chosen for {fid}"
    return sel.group(1)


@pytest.mark.parametrize("path", list(_DATE_ENTRIES))
def test_every_date_entry_is_a_text_input_with_an_era_selector_and_a_reading(client, users, world, path):
    who, entries = _DATE_ENTRIES[path]
    r = world.recipient()
    _login(client, users[who])
    res = client.get(path.format(payer=PAYER, rn=r["recipient_number"]))
    assert res.status_code == 200, res.text
    html = res.text
    for kind in ("date", "month", "datetime-local", "week", "time"):
        assert f'type="{kind}"' not in html  # the browser's own pickers refuse 和暦
    for fid, kind in entries:
        assert re.search(rf'id="f-{fid}" name="\w+" type="text"[^>]*data-date="{kind}"', html, re.S), fid
        assert f'id="f-{fid}-reading"' in html
        assert _era_selected(html, fid) in ("R", "AD")
    # every input on the screen named like a date is a date entry
    for tag in re.findall(r"<input\b[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name and _DATE_NAME.search(name.group(1)) and 'type="hidden"' not in tag:
            assert "data-date=" in tag, tag


def test_a_month_entry_shows_its_wareki_and_a_month_typed_in_wareki_is_read(client, users, world):
    _login(client, users["office"])
    html = client.get("/office/tickets?month=R6.7").text
    assert _reading(html, "month") == "令和6年7月（2024-07）"
    assert "令和6年7月" in re.search(r"<caption>(.*?)</caption>", html, re.S).group(1)
    bad = client.get("/office/tickets?month=H31.5")
    assert bad.status_code == 422
    assert "元号の期間外" in _field_error(bad.text, "month")
    late = client.get("/office/late?month=令和6年7月")
    assert late.status_code == 200 and 'href="/office/tickets?month=2024-07&amp;late=1"' in late.text
    _login(client, users["clinic"])
    desk = client.get("/desk/tickets?month=R6.7")
    assert desk.status_code == 200 and 'href="/desk/tickets.csv?month=2024-07"' in desk.text


def test_a_template_has_no_date_input_other_than_the_date_entry():
    """New screens too: the browser's date pickers refuse 和暦, and a date typed into a plain input
    has no era selector and no reading. Only _forms.html's date_input writes a date-named input."""
    from pathlib import Path

    import fujo.web

    root = Path(fujo.web.__file__).parent / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        text = path.read_text()
        for kind in ("date", "month", "datetime-local", "week"):
            if f'type="{kind}"' in text or re.search(rf"\binput\([^)]*'{kind}'", text):
                offenders.append(f"{path.name}: type {kind}")
        for call in re.findall(r"\binput\('(\w+)'", text):
            if _DATE_NAME.search(call):
                offenders.append(f"{path.name}: input('{call}')")
        if path.name != "_forms.html":
            for tag in re.findall(r"<input\b[^>]*>", text):
                name = re.search(r'name="([^"{]+)"', tag)
                if name and _DATE_NAME.search(name.group(1)) and 'type="hidden"' not in tag:
                    offenders.append(f"{path.name}: {tag}")
    assert offenders == []


def test_the_date_reader_reads_completes_and_converts_as_the_services_do(client):
    def read(**form):
        res = client.post("/dates/read", data=form)
        assert res.status_code == 200
        return res.json()

    got = read(value="6.7.10", era="R", label="資格確認日")
    assert (got["entry"], got["reading"], got["error"]) == ("R6.7.10", "令和6年7月10日（2024-07-10）", "")
    assert got["forms"] == {"R": "R6.7.10", "AD": "2024-07-10"}
    assert read(value="R6.7.10", era="AD", convert="true")["entry"] == "2024-07-10"
    assert read(value="1990-01-15", era="H", convert="true")["entry"] == "H2.1.15"
    assert read(value="平成2年1月15日", era="R")["entry"] == "平成2年1月15日"  # typed with its era: kept
    # a date that is not in the chosen era: the core's refusal, and the typed entry stays
    moved = read(value="2024-07-10", era="H", convert="true", label="生年月日")
    assert moved["reading"] == "" and "元号の期間外" in moved["error"] and "令和で入力" in moved["error"]
    bad = read(value="令和1年4月30日", label="有効開始年月日")
    assert bad["error"].startswith("有効開始年月日「令和1年4月30日」は元号の期間外です")
    assert read(value="6.7.10", era="AD")["error"].startswith("日付はYYYY-MM-DD")
    assert read(value="")["error"] == ""
    assert client.post("/dates/read", data={"value": "x" * 41}).status_code == 422  # bounded
    # a month and a date with its time of day, read the same way
    assert read(value="6.7", era="R", kind="month")["reading"] == "令和6年7月（2024-07）"
    assert read(value="R6.7", era="AD", convert="true", kind="month")["entry"] == "2024-07"
    got = read(value="6.1.1 16:10", era="R", kind="datetime")
    assert (got["entry"], got["reading"]) == ("R6.1.1 16:10", "令和6年1月1日 16:10（2024-01-01T16:10）")
    assert read(value="R6.1.1 25:00", kind="datetime")["error"].endswith("の時刻が正しくありません。")
    before_meiji = read(value="1868-01-10 10:00", kind="datetime")  # a date, no 和暦: no reading, no failure
    assert (before_meiji["reading"], before_meiji["error"]) == ("", "")
    assert client.post("/dates/read", data={"value": "R6.7", "kind": "week"}).status_code == 422


def test_the_admin_dashboard_takes_its_day_in_wareki_and_names_a_bad_one(client, users, world):
    _login(client, users["admin"])
    html = client.get("/admin", params={"day": "R6.7.10"}).text
    assert "令和6年7月10日の資格確認" in html
    assert _reading(html, "day") == "令和6年7月10日（2024-07-10）" and _era_selected(html, "day") == "R"
    res = client.get("/admin", params={"day": "令和1年4月30日"})
    assert res.status_code == 422
    assert "日付「令和1年4月30日」は元号の期間外です" in _field_error(res.text, "day")
    assert 'value="令和1年4月30日"' in res.text


def test_the_era_selector_shows_how_the_entry_is_written(client, users, world):
    _login(client, users["office"])
    tok = csrf_of(client.get("/office/recipients/new").text)
    data = world.recipient_data(birthdate="H2.1.15", qualification_date="2024-07-10", disqualification_date="x")
    html = client.post("/office/recipients", data={"csrf_token": tok, **data}).text
    assert _era_selected(html, "birthdate") == "H"
    assert _era_selected(html, "qualification_date") == "AD"
    assert _era_selected(html, "disqualification_date") == "R"  # not a date yet: 令和 for what is typed next
