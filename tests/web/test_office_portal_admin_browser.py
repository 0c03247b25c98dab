"""Welfare office, recipient portal and operator screens in a real browser."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from fujo.core.dates import today_jst
from tests.factories import CLINIC, PAYER, World
from tests.helpers import card_proof
from tests.web.conftest import sign_in

# Screens behave the same on either database (the services' tests run on both); the browser runs
# them once, on PostgreSQL — the production database.
pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def test_ticket_registration_shows_the_error_next_to_the_field_then_succeeds(world, users, live, page):
    r = world.recipient(name="登録太郎")
    sign_in(page, live, users["office"])
    page.get_by_label("受給者番号・氏名・カナ").fill("登録太郎")
    page.get_by_role("button", name="検索").click()
    page.get_by_role("link", name=r["recipient_number"]).click()
    page.get_by_role("link", name="医療券/調剤券を登録").click()
    page.get_by_label("指定医療機関コード").fill(CLINIC)
    # the 指定医療機関名 is the facility registry's, looked up as the code is typed (never typed)
    expect(page.locator("#f-designated_facility_name")).to_have_text("●●医療機関（医科）")
    page.get_by_label("診療別").select_option("03")  # 歯科 on a 医科 code: the registry refuses it
    today = today_jst()
    page.get_by_label("有効終了年月日").fill((today.replace(day=1) - dt.timedelta(days=1)).isoformat())  # last month
    page.get_by_role("button", name="登録").click()
    expect(page.locator("#f-designated_facility_code-error")).to_contain_text("歯科の医療機関コード（点数表番号3）")
    expect(page.locator("#f-valid_to-error")).to_contain_text("有効終了年月日が有効開始年月日より前です。")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.get_by_label("指定医療機関コード")).to_have_value(CLINIC)  # what was typed stays
    expect(page.locator("#f-designated_facility_name")).to_contain_text("●●医療機関")
    page.get_by_label("診療別").select_option("02")
    page.get_by_label("有効終了年月日").fill(World.ticket_data(r, on=today)["valid_to"])
    page.get_by_label("傷病名1").fill("高血圧症")
    page.get_by_role("button", name="登録").click()
    expect(page.get_by_text("医療券/調剤券を登録しました。")).to_be_visible()
    expect(page.locator("#history tbody tr")).to_have_count(1)
    # amend, then cancel: the history shows every revision with its reason
    page.get_by_label("傷病名1").fill("本態性高血圧症")
    page.get_by_label("変更の理由").fill("傷病名の訂正")
    page.get_by_role("button", name="変更を保存").click()
    expect(page.get_by_text("変更しました（変更前の内容は履歴に残ります）。")).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    page.get_by_label("取消の理由").fill("重複登録")
    page.get_by_role("button", name="取り消す").click()
    expect(page.locator("#ticket-status")).to_have_text("取消")
    rows = page.locator("#history tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("傷病名の訂正")
    expect(rows.nth(1)).to_contain_text("本態性高血圧症")
    expect(rows.nth(2)).to_contain_text("重複登録")


def _tickets_csv(rows: list[dict]) -> str:
    cols = [
        "payer_number",
        "recipient_number",
        "ticket_type",
        "treatment_month",
        "valid_from",
        "valid_to",
        "designated_facility_code",
        "designated_facility_name",
        "treatment_type",
        "single_or_combined",
    ]
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def test_csv_import_reports_errors_per_row_then_imports_with_progress(world, users, live, page, tmp_path):
    today = today_jst()
    a, b = world.recipient(), world.recipient()
    good = [World.ticket_data(a, on=today), World.ticket_data(b, on=today)]
    bad = [dict(good[0]), dict(good[1], designated_facility_code="1311234560", ticket_type="09")]
    sign_in(page, live, users["office"])
    page.get_by_role("link", name="CSV取込").click()
    page.get_by_label("種類").select_option("tickets")
    f = tmp_path / "bad.csv"
    f.write_text(_tickets_csv(bad), encoding="utf-8")
    page.get_by_label("CSVファイル").set_input_files(str(f))
    page.get_by_role("button", name="取り込む").click()
    expect(page.locator("#import-result")).to_have_text("2件の誤りがあるため、ファイル全体を取り込みませんでした。")
    errs = page.locator("#import-errors tbody tr")
    expect(errs).to_have_count(2)
    expect(errs.nth(0)).to_contain_text("3")
    expect(page.locator("#import-errors")).to_contain_text("医療機関コードの検証番号が正しくありません。")
    expect(page.locator("#import-errors")).to_contain_text("医療券/調剤券別")
    page.get_by_role("link", name="別のファイルを取り込む").click()
    f2 = tmp_path / "good.csv"
    f2.write_text(_tickets_csv(good), encoding="utf-8")
    page.get_by_label("CSVファイル").set_input_files(str(f2))
    page.get_by_role("button", name="取り込む").click()
    expect(page.locator("#import-result")).to_have_text("2件を登録しました（2行）。")
    from fujo.registry.service import get_recipient

    assert (
        len(get_recipient(world.db, world.principal("office"), payer=PAYER, rn=a["recipient_number"])["tickets"]) == 1
    )


def test_recipient_sees_own_qualification_tickets_and_access_log(world, users, live, page, reader):
    r = world.recipient(name="本人確認")
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r)
    from fujo.eligibility.service import check_by_card

    clinic = world.principal("clinic")
    proof = card_proof(world.db, clinic, card, {"PharmacistsInfo": True})
    check_by_card(
        world.db,
        world.ca,
        clinic,
        **{k: proof[k] for k in ("challenge", "certificate", "signature")},
        consent=proof["consent"],
    )
    # a wrong PIN is refused by the card reader on the desk, which counts it with the card
    page.goto(f"{live}/portal/login")
    page.get_by_label("カード（カードリーダーのカード）").select_option(card["path"].name)
    page.get_by_label("暗証番号").fill("9999")
    page.get_by_role("button", name="カードでサインイン").click()
    expect(page.locator("#reader-status")).to_have_text("暗証番号が違います。あと2回間違えるとカードがロックされます。")
    page.get_by_label("暗証番号").fill(card["pin"])
    page.get_by_role("button", name="カードでサインイン").click()
    expect(page.get_by_role("heading", name="わたしの医療扶助の情報")).to_be_visible()
    expect(page.get_by_text("本人確認").first).to_be_visible()
    expect(page.locator("#my-tickets tbody tr")).to_have_count(1)
    expect(page.locator("#my-tickets")).to_contain_text("●●医療機関")
    log = page.locator("#access-log tbody tr")
    # the check; before it the office's 初回ひも付け, the ticket and the recipient's registration
    expect(log).to_have_count(4)
    expect(log.first).to_contain_text("●●医療機関")
    expect(log.first).to_contain_text("マイナンバーカードで資格確認")
    expect(log.first).to_contain_text("薬剤情報")
    expect(log.nth(1)).to_contain_text("○○市福祉事務所")
    expect(log.nth(1)).to_contain_text("初回ひも付け")
    expect(log.nth(2)).to_contain_text("医療券/調剤券の発行")
    expect(log.nth(3)).to_contain_text("受給者の登録")


def test_admin_dashboard_chart_orgs_and_card_revocation(world, users, live, page):
    from fujo.eligibility.service import check_by_numbers

    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    for who in ("clinic", "other"):
        check_by_numbers(
            world.db,
            world.principal(who),
            insurer_number=PAYER,
            identification_number=r["recipient_number"],
            birthdate="1990-01-15",
        )
    card = world.card(r)
    sign_in(page, live, users["admin"])
    expect(page.locator("#total")).to_have_text("2件")
    expect(page.locator("svg.chart rect")).to_have_count(2)
    expect(page.locator("#by-outcome")).to_contain_text("有効（未登録・未委託）")
    page.get_by_role("link", name="カード失効").click()
    page.get_by_label("シリアル番号").fill(card["serial"])
    page.get_by_label("失効の理由").fill("紛失")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="失効する").click()
    expect(page.get_by_text(f"カード {card['serial']} を失効しました。")).to_be_visible()
    expect(page.locator("#cards")).to_contain_text("失効（紛失）")
    page.get_by_role("link", name="組織と認証情報").click()
    page.get_by_role("link", name="●●医療機関").click()
    page.get_by_role("button", name="APIトークンを発行").click()
    expect(page.locator("#token")).to_contain_text("fujo_")
