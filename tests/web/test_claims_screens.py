"""レセプト資格点検 screens over HTTP (issue 15), on SQLite and PostgreSQL: a facility uploads its UKE or
CSV file and reads the report grouped by problem (line, numbers, what to do) with CSV and JSON
downloads; a welfare office uploads the 審査支払機関 data and sees the claims without a ticket and the
tickets never billed. The check itself is tests/claims'."""

from __future__ import annotations

import csv
import io
import json
import re

from fastapi.testclient import TestClient

from fujo.auth.principal import FACILITY
from fujo.facility.service import set_medical_assistance
from fujo.orgs.service import principal_for
from tests.claims.test_claims import DATA, assert_csv_is_the_report, july_world, more_world
from tests.factories import CLINIC, OTHER
from tests.web.conftest import signed_in

JULY = (DATA / "facility_july.uke").read_bytes()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _group(html: str, code: str) -> str:
    m = re.search(rf'<section class="claims-group" id="group-{code}".*?</section>', html, re.S)
    assert m, code
    return m.group(0)


def _rows(section: str) -> list[str]:
    body = section[section.index("<tbody>") :]
    return [_text(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def _upload(c, csrf, path, data, name="RECEIPTC.UKE", **form):
    return c.post(path, data={"csrf_token": csrf, **form}, files={"file": (name, data, "application/octet-stream")})


def test_facility_reads_its_report_grouped_by_problem(app, db, world):
    july_world(world)
    c, csrf = signed_in(app, db, world.orgs["clinic"], "desk1", "reception")  # every role of the facility
    form = c.get("/desk/claims")
    assert form.status_code == 200 and 'href="/desk/claims" aria-current="page"' in form.text
    res = _upload(c, csrf, "/desk/claims", JULY)
    assert res.status_code == 200, res.text[:500]
    summary = _text(re.search(r'<p class="summary" id="claims-summary">(.*?)</p>', res.text, re.S).group(1))
    assert summary == "令和6年7月： レセプト 16 件（医療扶助 15件） 要修正 8 件・要確認 4 件・問題なし 3 件"
    assert _text(re.search(r'<p class="hint" id="claims-written-at">(.*?)</p>', res.text, re.S).group(1)) == (
        "レセプトの作成日時：指定なし（医療券の変更は「参考」として表示しています。"
        "作成日時を指定すると、作成後の変更を「要確認」として表示します）"
    )
    headings = [_text(h) for h in re.findall(r'<h2 id="group-[a-z_]+-title">(.*?)</h2>', res.text)]
    assert headings[0] == "【要修正】検証番号の誤り（1件）"  # errors first, in the service's order
    assert "【要修正】この医療機関への医療券がない（未委託）（3件）" in headings
    # errors, then warnings, then what is for reference only (G's amendment: when is not said)
    assert headings[-1] == "【参考】医療券に変更履歴がある（レセプトの作成前の変更、または作成日時の指定なし）（1件）"
    rank = {"【要修正】": 0, "【要確認】": 1, "【参考】": 2}
    order = [rank[h[: h.index("】") + 1]] for h in headings]
    assert order == sorted(order)
    rows = _rows(_group(res.text, "not_designated"))
    assert [r.split(" ")[0] for r in rows] == ["7", "17", "45"]  # by line
    assert rows[0].startswith(
        "7 2 令和6年7月 生保二郎 12130019 1000025 令和6年7月の医療券がこの医療機関に発行されていません（未委託）。"
    )
    assert "○○市福祉事務所（03-0000-0000）に医療券の発行を依頼してください。" in rows[0]
    assert OTHER not in _group(res.text, "not_designated")  # P's ticket elsewhere is never told
    (h,) = _rows(_group(res.text, "check_digit"))
    assert h.endswith("27行目 KO.受給者番号") and "1000080" in h  # the line and field where to fix it
    ok = re.search(r'<details id="claims-ok">(.*?)</details>', res.text, re.S).group(1)
    assert "問題のないレセプト（3件）" in _text(ok)  # G's 参考 does not make it a problem

    rid = re.search(r'href="/desk/claims/reports/([A-Za-z0-9_-]+)\.csv"', res.text).group(1)
    got = c.get(f"/desk/claims/reports/{rid}.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="claims-facility-202407.csv"' in got.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(got.text.lstrip("\ufeff"))))
    assert table[0][:4] == ["行", "レセプト番号", "医療機関コード", "診療年月"]
    assert any(r[0] == "7" and r[7] == "要修正" and r[8] == "not_designated" for r in table[1:])
    only = list(csv.reader(io.StringIO(c.get(f"/desk/claims/reports/{rid}.csv?problems=1").text.lstrip("\ufeff"))))
    assert not any(r[7] == "問題なし" for r in only[1:]) and any(r[7] == "問題なし" for r in table[1:])
    body = json.loads(c.get(f"/desk/claims/reports/{rid}.json").content)
    assert body["counts"] == {"claims": 16, "assistance": 15, "other": 1, "error": 8, "warning": 4, "ok": 3}
    assert c.get(f"/desk/claims/reports/{rid}").status_code == 200  # the page again

    other, _ = signed_in(app, db, world.orgs["clinic"], "desk2")  # another session of the same facility
    assert other.get(f"/desk/claims/reports/{rid}.json").status_code == 404
    assert other.get("/desk/claims/reports/nothing.csv").status_code == 404


def test_facility_csv_file_and_files_that_cannot_be_read(app, db, world):
    july_world(world)
    c, csrf = signed_in(app, db, world.orgs["clinic"], "boss")
    claims_csv = (
        "診療年月,公費負担者番号,受給者番号,氏名,生年月日\r\n令和6年7月,12130019,1000025,生保二郎,1985-03-03\r\n"
    )
    res = _upload(c, csrf, "/desk/claims", claims_csv.encode("cp932"), name="claims.csv", input="csv")
    assert res.status_code == 200 and "【要修正】この医療機関への医療券がない（未委託）（1件）" in res.text
    res = _upload(c, csrf, "/desk/claims", (DATA / "ko_before_re.uke").read_bytes())
    assert res.status_code == 422
    problems = _text(re.search(r'<table id="file-problems">(.*?)</table>', res.text, re.S).group(1))
    assert problems.startswith("点検できない理由 行・項目 内容 2行目 KO ")
    assert "ファイルを点検できません。何も記録していません。" in res.text
    res = c.post("/desk/claims", data={"csrf_token": csrf})
    assert res.status_code == 422
    assert re.search(r'id="f-file-error"[^>]*>点検するファイルを選択してください。<', res.text)
    res = _upload(c, csrf, "/desk/claims", JULY, input="xml")
    assert res.status_code == 422 and re.search(r'id="f-input-error"[^>]*>形式は', res.text)
    res = _upload(c, csrf, "/desk/claims", (DATA / "office.uke").read_bytes())  # two facilities' claims
    assert res.status_code == 422 and "<td>9行目 IR</td><td>GOレコードの後にレコードがあります。" in res.text
    assert c.post("/desk/claims", files={"file": ("x.uke", JULY)}).status_code == 403  # no CSRF token


def test_facility_with_medical_assistance_off_is_told_so(app, db, world):
    set_medical_assistance(db, principal_for(db, kind=FACILITY, code=CLINIC), False)
    c, csrf = signed_in(app, db, world.orgs["clinic"], "boss")
    res = _upload(c, csrf, "/desk/claims", JULY)
    assert res.status_code == 403 and "「医療扶助」を「利用しない」設定です" in res.text


def test_office_sees_claims_without_a_ticket_and_tickets_never_billed(app, db, world):
    r = july_world(world)
    world.ticket(r["B"], facility=OTHER)  # B's ticket designates ▲▲, but ●● billed
    c, csrf = signed_in(app, db, world.orgs["office"], "cw", "caseworker")
    assert 'href="/office/claims"' in c.get("/office").text
    res = _upload(c, csrf, "/office/claims", (DATA / "office.uke").read_bytes(), name="office.uke")
    assert res.status_code == 200, res.text[:500]
    assert re.search(r'id="count-unbilled">6<', res.text)
    (other,) = _rows(_group(res.text, "other_facility"))
    assert other.startswith("4 ") and CLINIC in other and "▲▲クリニック（1311299992）を指定しています" in other
    (cancelled,) = _rows(_group(res.text, "ticket_cancelled"))
    assert cancelled.startswith("12 ") and "取り消されています" in cancelled
    unbilled = _rows(re.search(r'<table id="unbilled">.*?</table>', res.text, re.S).group(0))
    assert len(unbilled) == 6
    assert any(u.startswith("令和6年7月 12130019 1000025 生保二郎 ▲▲クリニック（1311299992） 第1版") for u in unbilled)
    rid = re.search(r'href="/office/claims/reports/([A-Za-z0-9_-]+)\.csv"', res.text).group(1)
    got = c.get(f"/office/claims/reports/{rid}.csv")
    assert got.status_code == 200 and 'filename="claims-office-202407.csv"' in got.headers["content-disposition"]
    report = json.loads(c.get(f"/office/claims/reports/{rid}.json").content)
    assert report["counts"]["unbilled"] == 6
    rows = assert_csv_is_the_report(got.text, report)  # read as a spreadsheet would, row for row the JSON
    assert [r["受給者番号"] for r in rows if r["判定"] == "未請求"] == [
        u["recipient_number"] for u in report["unbilled"]
    ]
    b = next(r for r in rows if r["コード"] == "other_facility")
    assert (b["行"], b["医療機関コード"], b["受給者番号"], b["判定"]) == ("4", CLINIC, "1000025", "要修正")
    assert "▲▲クリニック（1311299992）を指定しています" in b["内容"]
    f = next(r for r in rows if r["コード"] == "ticket_cancelled")
    assert (f["行"], f["医療機関コード"], f["医療券の版"]) == ("12", OTHER, "2")
    only = list(
        csv.DictReader(io.StringIO(c.get(f"/office/claims/reports/{rid}.csv?problems=1").text.lstrip("\ufeff")))
    )
    assert {r["判定"] for r in only} == {"要修正", "要確認", "未請求"}  # the claims without findings are left out
    assert c.get(f"/desk/claims/reports/{rid}.json").status_code == 403  # a facility screen


def test_each_side_uses_its_own_screen(app, db, world):
    clinic, _ = signed_in(app, db, world.orgs["clinic"], "boss")
    assert clinic.get("/office/claims").status_code == 403
    office, _ = signed_in(app, db, world.orgs["office"], "cw")
    assert office.get("/desk/claims").status_code == 403
    with TestClient(app) as anonymous:
        assert anonymous.get("/desk/claims", follow_redirects=False).headers["location"].startswith("/login")


def test_facility_says_when_its_claims_were_written(app, db, world):
    """The form's レセプトの作成日 (和暦 or ISO) and 時刻: amendments after it are 要確認, older ones 参考;
    cancellations say which side of it they are; a wrong date is named at its field."""
    more_world(world)
    c, csrf = signed_in(app, db, world.orgs["clinic"], "boss")
    form = c.get("/desk/claims").text
    assert (
        'id="f-written_on"' in form
        and 'data-date="wareki"' in form
        and 'id="f-written_time" name="written_time" type="time"' in form
    )
    more = (DATA / "facility_more.uke").read_bytes()
    res = _upload(c, csrf, "/desk/claims", more, written_on="R6.8.5", written_time="12:30")
    assert res.status_code == 200, res.text[:500]
    assert _text(re.search(r'<p class="hint" id="claims-written-at">(.*?)</p>', res.text, re.S).group(1)) == (
        "レセプトの作成日時：令和6年8月5日 12:30（この後に取り消し・変更された医療券を「レセプトの作成後」として表示しています）"
    )
    (amended,) = _rows(_group(res.text, "ticket_amended"))
    assert amended.startswith(
        "12 6 令和6年7月 生保二十郎 12130019 1000207 医療券はレセプトの作成（令和6年8月5日 12:30）の後、"
    )
    assert "（第1版→第2版、変更された項目: 傷病名1）" in amended
    assert "【要確認】レセプトの作成後に医療券が変更された（1件）" in res.text
    (revised,) = _rows(_group(res.text, "ticket_revised"))
    assert revised.startswith("14 7 ") and "より前です" in revised
    cancelled = _rows(_group(res.text, "ticket_cancelled"))
    assert [r.split(" ")[0] for r in cancelled] == ["16", "18"]
    assert "の後、令和6年8月6日 15:00に取り消されています" in cancelled[0]
    assert "より前の令和6年8月1日 10:00に取り消されています" in cancelled[1]
    rid = re.search(r'href="/desk/claims/reports/([A-Za-z0-9_-]+)\.csv"', res.text).group(1)
    report = json.loads(c.get(f"/desk/claims/reports/{rid}.json").content)
    assert report["written_at"] == "2024-08-05T12:30:00+09:00"
    rows = assert_csv_is_the_report(c.get(f"/desk/claims/reports/{rid}.csv").text, report)
    assert [r["判定"] for r in rows if r["行"] == "14"] == ["参考"]

    res = _upload(c, csrf, "/desk/claims", more, written_on="令和6年8月32日", written_time="12:30")
    assert res.status_code == 422
    assert re.search(r'id="f-written_on-error"[^>]*>レセプトの作成日「令和6年8月32日」は存在しない日付です。', res.text)
    assert 'value="令和6年8月32日"' in res.text and 'value="12:30"' in res.text  # what was typed stays
    res = _upload(c, csrf, "/desk/claims", more, written_time="12:30")
    assert res.status_code == 422
    assert re.search(
        r'id="f-written_on-error"[^>]*>時刻を指定するときは、レセプトの作成日も入力してください。', res.text
    )


# the report store (its owner only, 30 minutes, a few a user, served by any process): tests/claims/test_report_store.py
