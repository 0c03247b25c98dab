"""The facility registry on the screens: the administrator registers facilities (form and CSV), the
ticket form looks the name up as the clerk types the code."""

from __future__ import annotations

from fujo.core.dates import today_jst
from fujo.core.numbers import with_check_digit
from tests.factories import PAYER
from tests.helpers import snapshot
from tests.web.conftest import csrf_of
from tests.web.test_org_users import _login

DENTAL = with_check_digit("133123456")


def test_admin_registers_facilities_by_form_and_by_csv(client, users, world, db):
    _login(client, users["admin"])
    page = client.get("/admin/facilities")
    assert page.status_code == 200 and world.orgs["clinic"]["code"] in page.text
    tok = csrf_of(page.text)
    before = snapshot(db)
    bad = client.post("/admin/facilities", data={"csrf_token": tok, "code": "1331234560", "name": ""})
    assert bad.status_code == 422 and "検証番号" in bad.text and "医療機関名を入力してください" in bad.text
    assert snapshot(db) == before
    ok = client.post("/admin/facilities", data={"csrf_token": tok, "code": DENTAL, "name": "◇◇歯科医院"})
    assert ok.status_code == 200 and "◇◇歯科医院" in ok.text and "歯科" in ok.text
    station = with_check_digit("136123456")
    csv = f"code,name,prefecture,address,phone\r\n{station},☆☆訪問看護ステーション,13,,\r\n{DENTAL},重複,,,\r\n"
    before = snapshot(db)
    res = client.post(
        "/admin/facilities/import", data={"csrf_token": tok}, files={"file": ("f.csv", csv.encode(), "text/csv")}
    )
    assert res.status_code == 422 and "既に登録されています" in res.text and snapshot(db) == before
    csv = f"code,name,prefecture,address,phone\r\n{station},☆☆訪問看護ステーション,13,,\r\n"
    res = client.post("/admin/facilities/import", data={"csrf_token": tok}, files={"file": ("f.csv", csv.encode())})
    assert res.status_code == 200 and "1件の医療機関を登録しました" in res.text


def test_the_ticket_form_looks_the_facility_name_up(client, users, world):
    r = world.recipient()
    _login(client, users["office"])
    form = client.get(f"/office/recipients/{PAYER}/{r['recipient_number']}/tickets/new").text
    assert 'data-lookup-for="f-designated_facility_code"' in form
    got = client.get(f"/office/facilities/{world.orgs['clinic']['code']}").json()
    assert got == {"found": True, "code": world.orgs["clinic"]["code"], "name": "●●医療機関", "kind": "医科"}
    missing = client.get(f"/office/facilities/{DENTAL}")
    assert missing.status_code == 404 and missing.json()["found"] is False and "登録簿" in missing.json()["message"]
    assert client.get("/office/facilities/123").status_code == 422


def test_the_bulk_screen_and_csv_show_the_status_and_withhold_the_unbillable(client, users, world):
    import csv
    import io

    from fujo.registry.service import update_recipient

    today = today_jst()
    ok, gone = world.recipient(name="有効一郎"), world.recipient(name="廃止二郎")
    world.ticket(ok, on=today)
    world.ticket(gone, on=today)
    first = today.replace(day=1)
    update_recipient(
        world.db,
        world.principal("office"),
        payer=PAYER,
        rn=gone["recipient_number"],
        changes={"disqualification_date": first.isoformat(), "disqualification_kind": "2"},
    )
    _login(client, users["clinic"])
    page = client.get("/desk/tickets").text
    assert "資格の状態（当月）" in page and "請求できません" in page
    assert gone["recipient_number"] not in page and ok["recipient_number"] in page
    rows = list(csv.DictReader(io.StringIO(client.get("/desk/tickets.csv").content.decode("utf-8-sig"))))
    got = {r["氏名"]: r for r in rows}
    assert got["有効一郎"]["資格の状態（当月）"] == "有効"
    assert got["廃止二郎"]["資格の状態（当月）"].startswith("廃止（") and got["廃止二郎"]["受給者番号"] == "-"
    assert got["有効一郎"]["登録日時"]
