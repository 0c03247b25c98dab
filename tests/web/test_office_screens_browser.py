"""The welfare office's working screens in a real browser (issue 9): the registry's refusals and the
facility suggestions appear as the clerk types, a recipient's edit shows in the history, a 廃止 with
its reason shows as the status, and the month view filters."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from fujo.core.dates import month_end, today_jst
from fujo.eligibility.service import check_by_numbers
from fujo.registry import service as registry
from tests.factories import CLINIC, PAYER, PHARMACY
from tests.web.conftest import sign_in

# Screens behave the same on either database (the HTTP tests run on both); the browser runs them
# once, on PostgreSQL — the production database.
pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def _open_recipient(page, name: str, rn: str) -> None:
    page.get_by_label("受給者番号・氏名・カナ").fill(name)
    page.get_by_role("button", name="検索").click()
    page.get_by_role("link", name=rn).click()


def test_the_ticket_form_suggests_facilities_and_shows_the_registrys_refusals_as_the_clerk_types(
    world, users, live, page
):
    r = world.recipient(name="入力中花子")
    sign_in(page, live, users["office"])
    _open_recipient(page, "入力中花子", r["recipient_number"])
    page.get_by_role("link", name="医療券/調剤券を登録").click()
    # part of a name → the registry's suggestions; ↓ and Enter take one: its code and name appear
    search = page.locator("#f-designated_facility_code-search")
    search.fill("医療")
    options = page.locator("#f-designated_facility_code-suggestions [role=option]")
    expect(options.first).to_contain_text("●●医療機関（医科）")
    expect(search).to_have_attribute("aria-expanded", "true")
    search.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    search.press("Enter")
    expect(page.locator("#f-designated_facility_code-suggestions")).to_be_hidden()
    expect(page.get_by_label("指定医療機関コード")).to_have_value(CLINIC)
    expect(page.locator("#f-designated_facility_name")).to_have_text("●●医療機関（医科）")
    # the first digits of a code find it too; ひらがな finds カタカナ
    search.fill(PHARMACY[:4])
    expect(page.locator("#f-designated_facility_code-suggestions")).to_contain_text("■■薬局（調剤）")
    search.press("Escape")
    expect(page.locator("#f-designated_facility_code-suggestions")).to_be_hidden()
    # a rule of the registry (歯科 on a 医科 code) appears beside the field without saving …
    page.get_by_label("診療別").select_option("03")
    expect(page.locator("#f-designated_facility_code-error")).to_contain_text("歯科の医療機関コード（点数表番号3）")
    # … and so does a field's own problem as it is typed, with the same words as saving
    last_month_end = today_jst().replace(day=1) - dt.timedelta(days=1)
    page.get_by_label("有効終了年月日").fill(last_month_end.isoformat())
    expect(page.locator("#f-valid_to-error")).to_contain_text("有効終了年月日が有効開始年月日より前です。")
    expect(page.locator("#f-valid_to-reading")).to_contain_text(f"（{last_month_end.isoformat()}）")  # its 和暦
    # corrected: the problems go away; nothing was written while checking
    page.get_by_label("診療別").select_option("02")
    page.get_by_label("有効終了年月日").fill(month_end(today_jst()).isoformat())
    expect(page.locator("#f-designated_facility_code-error")).to_have_text("")
    expect(page.locator("#f-valid_to-error")).to_have_text("")
    rec = registry.get_recipient(world.db, world.principal("office"), payer=PAYER, rn=r["recipient_number"])
    assert rec["tickets"] == []
    page.get_by_role("button", name="登録", exact=True).click()
    expect(page.get_by_text("医療券/調剤券を登録しました。")).to_be_visible()
    # the amendment form checks the same way (the ticket itself is no duplicate of itself)
    page.get_by_label("傷病名1").fill("訂正中")
    expect(page.locator("#f-designated_facility_code-error")).to_have_text("")
    page.get_by_label("診療別").select_option("03")
    expect(page.locator("#f-designated_facility_code-error")).to_contain_text("歯科の医療機関コード（点数表番号3）")


def test_a_recipient_edit_shows_in_the_history_and_abolition_with_reason_in_the_status(world, users, live, page):
    r = world.recipient(name="履歴次郎")
    sign_in(page, live, users["office"])
    _open_recipient(page, "履歴次郎", r["recipient_number"])
    expect(page.locator("#recipient-status")).to_have_text("保護中")
    page.get_by_role("link", name="受給者情報を変更").click()
    page.get_by_role("textbox", name="氏名 必須", exact=True).fill("履歴二郎")
    page.get_by_label("生年月日").fill("H2.1.16")
    page.get_by_role("button", name="変更を保存").click()
    expect(page.get_by_text("受給者情報を変更しました")).to_be_visible()
    row = page.locator("#recipient-history tbody tr").first
    expect(row).to_contain_text("1→2")
    expect(row).to_contain_text("氏名：履歴次郎 → 履歴二郎")
    expect(row).to_contain_text("生年月日：平成2年1月15日 → 平成2年1月16日")
    # 廃止 with its reason: refused field by field first, then recorded and shown as the status
    page.get_by_label("保護停止・廃止日").fill("R6.7.1")
    page.get_by_role("button", name="停止・廃止を記録").click()
    expect(page.locator("#f-disqualification_kind-error")).to_contain_text("停止・廃止の別を選んでください")
    page.get_by_label("停止・廃止の別").select_option("2")
    page.get_by_label("停止・廃止の理由").fill("就労による収入増のため")
    page.get_by_role("button", name="停止・廃止を記録").click()
    expect(page.get_by_text("保護の停止・廃止を記録しました")).to_be_visible()
    expect(page.locator("#recipient-status")).to_have_text("保護廃止（令和6年7月1日）")
    expect(page.get_by_label("停止・廃止の理由")).to_have_value("就労による収入増のため")
    expect(page.locator("#recipient-history tbody tr").first).to_contain_text("停止・廃止の別：- → 廃止")
    page.get_by_role("link", name="受給者検索").click()
    page.get_by_label("受給者番号・氏名・カナ").fill("履歴二郎")
    page.get_by_role("button", name="検索").click()
    expect(page.locator("#recipients tbody tr").first).to_contain_text("保護廃止（令和6年7月1日）")


def test_the_month_view_filters_by_state_facility_and_late(world, users, live, page):
    today = today_jst()
    a, b, c = world.recipient(name="月別甲"), world.recipient(name="月別乙"), world.recipient(name="月別丙")
    world.ticket(a, on=today)
    world.ticket(b, on=today, facility=PHARMACY)
    t = world.ticket(c, on=today)
    registry.cancel_ticket(world.db, world.principal("office"), key=t["ticket_key"], reason="重複")
    d = world.recipient(name="月別丁")  # checked at the clinic first, its ticket registered after: late
    check_by_numbers(
        world.db,
        world.principal("clinic"),
        insurer_number=PAYER,
        identification_number=d["recipient_number"],
        birthdate="1990-01-15",
    )
    world.ticket(d, on=today)
    sign_in(page, live, users["office"])
    page.get_by_role("link", name="月別の券").click()
    expect(page.locator("#month-tickets caption")).to_contain_text(f"年{today.month}月：4件")
    rows = page.locator("#month-tickets tbody tr")
    expect(rows).to_have_count(4)
    page.get_by_label("状態", exact=True).select_option("cancelled")
    page.get_by_role("button", name="表示").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("月別丙")
    expect(rows.first).to_contain_text("取消")
    page.get_by_label("状態", exact=True).select_option("")
    page.get_by_label("指定医療機関").select_option(PHARMACY)
    page.get_by_role("button", name="表示").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("月別乙")
    page.locator("#month-counts a", has_text="すべて").click()
    expect(page.locator("#month-counts [data-count=active] strong")).to_have_text("1")
    page.get_by_label("指定医療機関").select_option("")
    page.get_by_label("事後登録のみ（資格確認の後に登録）").check()
    page.get_by_role("button", name="表示").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("月別丁")
    page.get_by_role("link", name="事後登録の券（資格確認の後に登録されたもの）").click()
    expect(page).to_have_url(f"{live}/office/late?month={today:%Y%m}")
    late = page.locator("#late tbody tr")
    expect(late).to_have_count(1)
    expect(late.first).to_contain_text("月別丁")
    expect(late.first).to_contain_text(d["recipient_number"])
