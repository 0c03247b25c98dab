"""Date entry in a real browser (issue 9): the era selector beside every date input reads an entry
typed without its era (2.1.15 under 平成 → H2.1.15), converts a typed date between eras and 西暦, and
the 和暦 reading appears as the clerk types — all from the server's one date reader."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fujo.core.dates import today_jst
from fujo.core.era import era_forms, wareki_date
from tests.factories import CLINIC, PAYER
from tests.web.conftest import sign_in

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def test_a_birth_date_typed_under_heisei_is_completed_and_the_check_finds_the_patient(world, users, live, page):
    r = world.recipient()  # born 1990-01-15 (平成2年1月15日)
    world.ticket(r, on=today_jst(), facility=CLINIC)
    sign_in(page, live, users["clinic"])
    page.goto(f"{live}/desk/numbers")
    page.get_by_label("公費負担者番号").fill(PAYER)
    page.get_by_label("受給者番号").fill(r["recipient_number"])
    era = page.locator("#f-birthdate-era")
    expect(era).to_be_visible()
    expect(era).to_have_value("R")  # an empty entry is read in 令和 until the clerk picks another
    era.select_option("H")
    birth = page.get_by_label("生年月日")
    birth.press_sequentially("2.1.15")
    expect(page.locator("#f-birthdate-reading")).to_have_text("平成2年1月15日（1990-01-15）")
    birth.press("Tab")
    expect(birth).to_have_value("H2.1.15")
    # the check date converts between the calendars; today in 令和, then back to ISO
    today = today_jst()
    confirm = page.get_by_label("資格確認日")
    confirm.fill(today.isoformat())
    page.locator("#f-confirmation_date-era").select_option("R")
    expect(confirm).to_have_value(era_forms(today)["R"])
    expect(page.locator("#f-confirmation_date-reading")).to_have_text(f"{wareki_date(today)}（{today.isoformat()}）")
    page.locator("#f-confirmation_date-era").select_option("AD")
    expect(confirm).to_have_value(today.isoformat())
    page.get_by_role("button", name="資格確認").click()
    expect(page.locator(".headline").first).to_have_text("○：この資格は有効です。")


def test_enter_right_after_typing_sends_the_completed_date(world, users, live, page):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    sign_in(page, live, users["clinic"])
    page.goto(f"{live}/desk/numbers")
    page.get_by_label("公費負担者番号").fill(PAYER)
    page.get_by_label("受給者番号").fill(r["recipient_number"])
    page.locator("#f-birthdate-era").select_option("H")
    birth = page.get_by_label("生年月日")
    birth.press_sequentially("2.1.15")
    expect(page.locator("#f-birthdate-reading")).to_have_text("平成2年1月15日（1990-01-15）")
    birth.press("Enter")  # the field is never left: the form completes the entry on sending
    expect(page.locator(".headline").first).to_have_text("○：この資格は有効です。")


def test_a_date_outside_the_chosen_era_is_named_and_left_as_typed(world, users, live, page):
    sign_in(page, live, users["admin"])
    page.goto(f"{live}/admin")
    day = page.get_by_label("日付")
    day.fill("2024-07-10")
    page.locator("#f-day-era").select_option("H")
    expect(page.locator("#f-day-error")).to_contain_text("元号の期間外")
    expect(day).to_have_value("2024-07-10")
    page.locator("#f-day-era").select_option("R")
    expect(day).to_have_value("R6.7.10")
    expect(page.locator("#f-day-error")).to_have_text("")
    page.get_by_role("button", name="表示").click()
    expect(page.locator("p.summary")).to_contain_text("令和6年7月10日の資格確認")


def test_the_reading_appearing_does_not_move_the_button_under_the_pointer(world, users, live, page):
    """The reading arrives from the server a moment after typing: if its line appeared then, the
    button the clerk is about to click would move away (seen as a lost click)."""
    sign_in(page, live, users["clinic"])
    page.goto(f"{live}/desk/numbers")
    button = page.get_by_role("button", name="資格確認")
    before = button.bounding_box()
    expect(page.locator("#f-birthdate-reading")).to_have_text("")
    page.get_by_label("生年月日").fill("H2.1.15")
    expect(page.locator("#f-birthdate-reading")).to_have_text("平成2年1月15日（1990-01-15）")
    assert button.bounding_box() == before


def test_a_month_typed_without_its_era_is_completed_converted_and_shows_the_month(world, users, live, page):
    r = world.recipient()
    world.ticket(r, on=today_jst().replace(year=2024, month=7, day=10), facility=CLINIC)
    sign_in(page, live, users["office"])
    page.goto(f"{live}/office/tickets")
    month = page.get_by_label("診療年月")
    month.fill("")
    page.locator("#f-month-era").select_option("R")
    month.press_sequentially("6.7")
    expect(page.locator("#f-month-reading")).to_have_text("令和6年7月（2024-07）")
    month.press("Tab")
    expect(month).to_have_value("R6.7")
    page.locator("#f-month-era").select_option("AD")
    expect(month).to_have_value("2024-07")
    page.locator("#f-month-era").select_option("H")  # 2024 has no 平成 month: named, left as typed
    expect(page.locator("#f-month-error")).to_contain_text("元号の期間外")
    expect(month).to_have_value("2024-07")
    page.locator("#f-month-era").select_option("R")
    expect(month).to_have_value("R6.7")
    page.get_by_role("button", name="表示").click()
    expect(page.locator("#month-tickets caption")).to_contain_text("令和6年7月：1件")


def test_a_disaster_period_takes_a_wareki_date_and_time(world, users, live, page):
    sign_in(page, live, users["admin"])
    page.goto(f"{live}/admin/disasters")
    page.get_by_label("理由").fill("令和6年能登半島地震（災害救助法適用）")
    page.get_by_label("都道府県番号").fill("17")
    starts = page.locator("#f-starts_at")
    starts.fill("R6.1.1 16:10")
    expect(page.locator("#f-starts_at-reading")).to_have_text("令和6年1月1日 16:10（2024-01-01T16:10）")
    ends = page.locator("#f-ends_at")
    ends.fill("2024-01-31")
    page.locator("#f-ends_at-era").select_option("R")
    expect(ends).to_have_value("R6.1.31")
    page.get_by_role("button", name="開始する").click()
    expect(page.locator("#disasters tbody tr").first).to_contain_text("令和6年1月1日 16:10〜令和6年2月1日 00:00")
