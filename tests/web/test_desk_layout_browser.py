"""Front desk at the reception's screen size (1366×768): every check result fits without scrolling
(通常パターン, 未委託のパターン, 併用 with insurance and 医療扶助 side by side), the bulk table uses the
width and sets 停止・廃止 apart, the 資格確認日 can be chosen, and a hidden 医療扶助 says how to switch it on.

The README's screenshots are taken here, as of the seed's 令和6年7月 (2024-07-10), so that they do not
change with the day the tests run (refreshed only with FUJO_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_page
from tests.factories import CLINIC, JULY, PAYER
from tests.web.conftest import SCREENSHOTS, sign_in

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)

ON = JULY.isoformat()  # 2024-07-10: 令和6年7月10日
BIRTH = "1990-01-15"


@pytest.fixture
def desk(browser):
    """A page the size of a common reception PC's screen."""
    with browser_page(browser, 1366, 768) as p:
        yield p


# A browser window on a 1366×768 screen: the taskbar (40 px) and the browser's own bars (about 71 px)
# leave a page of 1366×657.
WINDOW = {"width": 1366, "height": 657}


def _assert_fits(page):
    """At 1366×768 the result block is wholly on screen and the document does not scroll; in the
    browser window of such a screen (1366×657) the result and what it says to do are still wholly
    visible (only the 次の患者 buttons may need a scroll)."""
    vp = page.viewport_size
    _assert_visible(page, vp, ("#results", ".advice", ".reason", "#hidden-assistance", ".actions"))
    assert page.evaluate("document.documentElement.scrollHeight <= innerHeight"), page.evaluate(
        "[document.documentElement.scrollHeight, innerHeight]"
    )
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.set_viewport_size(WINDOW)
    try:
        _assert_visible(page, WINDOW, ("#results", ".advice", ".reason", "#hidden-assistance"))
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    finally:
        page.set_viewport_size(vp)


def _assert_visible(page, vp, selectors):
    assert page.evaluate("scrollY") == 0
    for sel in selectors:
        for el in page.locator(sel).all():
            b = el.bounding_box()
            assert b is not None and b["x"] >= 0 and b["y"] >= 0, (sel, b)
            assert b["x"] + b["width"] <= vp["width"] and b["y"] + b["height"] <= vp["height"], (sel, b, vp)
    assert page.locator("#results").count() == 1


def _shot(page, name: str):
    """A README screenshot: what follows the real clock (the consent's 24 hours from now) is masked,
    so that the picture is the same whenever it is refreshed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), mask=[page.locator(".consent-until")], mask_color="#e8e8e8")


def _registered_on_the_seeds_day(db):
    """Tickets registered on 令和6年7月1日 09:00 (not when the test ran): the bulk table's 登録日時."""
    import datetime as dt

    from sqlalchemy import update

    from fujo.core.dates import JST
    from fujo.db import schema

    with db.engine.begin() as c:
        c.execute(update(schema.tickets).values(registered_at=dt.datetime(2024, 7, 1, 9, 0, tzinfo=JST)))


def _numbers_check(page, live, rn, on=ON):
    page.goto(f"{live}/desk/numbers")
    page.get_by_label("公費負担者番号").fill(PAYER)
    page.get_by_label("受給者番号").fill(rn)
    page.get_by_label("生年月日").fill(BIRTH)
    page.get_by_label("資格確認日").fill(on)
    page.get_by_role("button", name="資格確認").click()


def _card_check(page, live, card, on=ON, consent=True):
    page.goto(f"{live}/desk")  # the card reader on the desk (fixture ``reader``) signs
    page.get_by_label("カード（カードリーダーのカード）").select_option(card["path"].name)
    page.get_by_label("暗証番号").fill(card["pin"])
    if consent:
        page.get_by_label("薬剤情報に同意する").check()
    page.get_by_label("資格確認日").fill(on)
    page.get_by_role("button", name="資格確認").click()


def test_normal_result_fits_and_shows_the_chosen_check_date(world, users, live, desk):
    r = world.recipient()
    world.ticket(r, on=JULY, facility=CLINIC)
    sign_in(desk, live, users["clinic"])
    desk.goto(f"{live}/desk/numbers")
    expect(desk.get_by_label("資格確認日")).not_to_have_value("")  # today by default
    _numbers_check(desk, live, r["recipient_number"])
    expect(desk.locator(".headline").first).to_have_text("○：この資格は有効です。")
    expect(desk.locator("#checked-on")).to_contain_text("資格確認日：令和6年7月10日（本日ではありません）")
    expect(desk.locator('[data-label="診療年月"] .value')).to_have_text("令和6年7月")
    expect(desk.locator('[data-label="有効開始年月日"] .value')).to_have_text("令和6年7月1日")
    _assert_fits(desk)
    _shot(desk, "front-desk-normal.png")


def test_a_check_date_outside_the_ticket_month_and_a_bad_date(world, users, live, desk):
    r = world.recipient()
    world.ticket(r, on=JULY, facility=CLINIC)
    sign_in(desk, live, users["clinic"])
    _numbers_check(desk, live, r["recipient_number"], on="2024-08-01")  # the July ticket no longer covers
    expect(desk.locator(".headline").first).to_have_text("○：この資格は有効です。（医療券/調剤券情報が未登録です。）")
    expect(desk.locator("#checked-on")).to_contain_text("令和6年8月1日")
    _numbers_check(desk, live, r["recipient_number"], on="2024-13-45")
    expect(desk.locator("#f-confirmation_date-error")).not_to_have_text("")
    expect(desk.locator("#error-summary")).to_contain_text("資格確認日")
    expect(desk.get_by_label("資格確認日")).to_have_value("2024-13-45")


def test_not_designated_result_fits(world, users, live, desk, reader):
    r = world.recipient()
    world.ticket(r, on=JULY, facility=CLINIC)
    card = world.card(r)
    sign_in(desk, live, users["other"])  # ▲▲クリニック: not the designated facility
    _card_check(desk, live, card)
    expect(desk.locator(".headline").first).to_have_text("○：この資格は有効です。（医療券/調剤券情報が未登録です。）")
    expect(desk.locator(".advice")).to_contain_text("○○市福祉事務所（電話 03-0000-0000）")
    expect(desk.locator("#checked-on")).to_contain_text("令和6年7月10日")
    _assert_fits(desk)
    _shot(desk, "front-desk-not-designated.png")


def test_combined_insurance_and_assistance_side_by_side_fit(world, users, live, desk, reader):
    r = world.recipient()
    world.ticket(r, on=JULY, facility=CLINIC, single_or_combined="02")
    card = world.card(r)
    world.insurance(card)
    sign_in(desk, live, users["clinic"])
    _card_check(desk, live, card)
    blocks = desk.locator("section.result")
    expect(blocks).to_have_count(2)
    expect(blocks.nth(0).locator(".kind")).to_have_text("【医療保険】")
    expect(blocks.nth(1).locator(".kind")).to_have_text("【医療扶助】")
    expect(blocks.nth(1).locator('[data-label="単独/併用別"] .value')).to_have_text("併用")
    a, b = blocks.nth(0).bounding_box(), blocks.nth(1).bounding_box()
    assert a and b and abs(a["y"] - b["y"]) < 1 and b["x"] >= a["x"] + a["width"], (a, b)  # side by side
    _assert_fits(desk)
    _shot(desk, "front-desk-combined.png")


def test_hidden_assistance_says_how_to_switch_it_on_by_role(world, users, live, desk, reader):
    from fujo.accounts.service import create_user
    from fujo.facility.service import set_medical_assistance

    r = world.recipient()
    world.ticket(r, on=JULY, facility=CLINIC)
    card = world.card(r)
    world.insurance(card)
    set_medical_assistance(world.db, world.principal("clinic"), False)
    create_user(
        world.db,
        world.orgs["clinic"]["id"],
        login="uketsuke",
        password="uketsuke-pass-1",
        display_name="受付担当",
        role="reception",
    )
    sign_in(desk, live, users["clinic"])  # the 管理者
    _card_check(desk, live, card)
    notice = desk.locator("#hidden-assistance")
    expect(notice).to_contain_text("医療扶助の資格があります。")
    expect(notice.get_by_role("link")).to_have_attribute("href", "/desk/settings")
    _assert_fits(desk)
    desk.get_by_role("button", name="サインアウト").click()
    sign_in(desk, live, (users["clinic"][0], "uketsuke", "uketsuke-pass-1"))
    expect(desk.locator(".alert").first).to_contain_text("管理者に依頼してください")
    expect(desk.locator(".alert").first.get_by_role("link")).to_have_count(0)
    _card_check(desk, live, card)
    expect(notice).to_contain_text("医療扶助の資格があります。")
    expect(notice).to_contain_text("管理者に依頼してください")
    expect(notice.get_by_role("link")).to_have_count(0)


def test_bulk_table_columns_status_rows_and_names(world, users, live, desk):
    a = world.recipient(name="長谷川一郎左衛門", name_kana="ﾊｾｶﾞﾜ ｲﾁﾛｳｻﾞｴﾓﾝ")
    world.ticket(a, on=JULY, facility=CLINIC, single_or_combined="02")
    b = world.recipient(
        name="廃止花子", name_kana="ﾊｲｼ ﾊﾅｺ", sex="2", disqualification_date="2024-07-20", disqualification_kind="2"
    )
    world.ticket(b, on=JULY, facility=CLINIC, valid_to="2024-07-19")
    _registered_on_the_seeds_day(world.db)
    sign_in(desk, live, users["clinic"])
    desk.goto(f"{live}/desk/tickets?month=R6.7")  # as a clerk types it
    heads = [t.strip() for t in desk.locator("#tickets thead th").all_inner_texts()]
    for label in ("公費負担者番号", "受給者番号", "氏名", "性別", "単独/併用別", "資格の状態（当月）"):
        assert label in heads, (label, heads)
    rows = desk.locator("#tickets tbody tr")
    expect(rows).to_have_count(2)
    valid = desk.locator("#tickets tbody tr", has_text="長谷川一郎左衛門")
    ended = desk.locator("#tickets tbody tr", has_text="廃止花子")
    expect(valid).to_have_class("status-valid new")
    expect(valid).to_contain_text(PAYER)
    expect(valid).to_contain_text("併用")
    expect(ended).to_have_class("status-abolished new")
    expect(ended.locator("td.status")).to_contain_text("廃止（令和6年7月20日）")
    expect(ended).to_contain_text("女")

    def style(loc, prop):
        return loc.evaluate(f"e => getComputedStyle(e).{prop}")

    assert style(ended, "backgroundColor") != style(valid, "backgroundColor")
    assert style(ended.locator("td.status"), "borderLeftWidth") != style(valid.locator("td.status"), "borderLeftWidth")
    name = valid.locator("td.name")
    assert style(name, "whiteSpace") == "nowrap" and style(name, "wordBreak") == "keep-all"
    line = float(style(name, "lineHeight").removesuffix("px"))
    assert name.locator(".nm").bounding_box()["height"] < 1.5 * line  # one line: never broken inside
    table = desk.locator("#tickets").bounding_box()
    assert table["width"] > 1200  # the whole width of the screen
    expect(valid.locator("td.when")).to_have_text("令和6年7月1日 09:00")
    _shot(desk, "front-desk-tickets.png")
    assert desk.evaluate("document.documentElement.scrollWidth <= innerWidth"), desk.evaluate(
        "[document.documentElement.scrollWidth, innerWidth]"
    )


def test_the_refusing_results_fit_too(world, users, live, desk):
    """廃止 (×, with the date) and 該当なし (numbers that match no one) fit like the others."""
    ended = world.recipient(disqualification_date="2024-07-05", disqualification_kind="2")
    world.ticket(ended, on=JULY, facility=CLINIC, valid_to="2024-07-04")
    sign_in(desk, live, users["clinic"])
    _numbers_check(desk, live, ended["recipient_number"])
    expect(desk.locator(".headline").first).to_contain_text("×")
    _assert_fits(desk)
    _numbers_check(desk, live, "9999996")
    expect(desk.locator("#results, .alert, #page-message").first).to_be_visible()
    _assert_fits(desk)
