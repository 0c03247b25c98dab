"""Every screen with every role, in Chromium (issue 9). For each organisation kind and each role inside
it (the callers of tests/api/test_authorisation.py, whose table of who may use which screen is the one
used here), a web user signs in through the login form and opens every page its role may see, at a
reception PC's 1366×768: each answers as documented (200, or the 薬剤情報等 refusal of a role that may
not read them), shows its heading, scrolls no sideways and leaves nothing in the console; a page of
another role or organisation shows the refusal page (403). Then the flows no other browser test
walks: the office's 担当員 registers a recipient, links the card (初回ひも付け), registers and prints a
ticket; the facility's 医師 reads the 薬剤情報 a card check with consent opened.

Downloads and the JSON a page's script reads (``NOT_PAGES``) are answered over HTTP in
tests/api/test_authorisation.py, not opened here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from fujo.accounts.service import create_user
from fujo.auth.principal import role_label
from fujo.core.dates import today_jst
from tests.api.test_authorisation import (
    CALLERS,
    FORBIDDEN,
    HOME,
    NOT_PAGES,
    PASSWORD,
    WEB,
    expected_answer,
    screen_url,
    screen_world,
    web_user,
)
from tests.conftest import browser_page
from tests.factories import CLINIC, PAYER, World
from tests.medinfo.helpers import add, medication
from tests.web.conftest import sign_in

# On PostgreSQL only, like every browser test of the suite (the `live` server serves the app of the
# parametrised `db`): what a screen reads is tested on both databases over HTTP; what the browser
# adds (scripts, console, layout) does not depend on the database, and a second run would double
# the cost of the suite's slowest tests.
pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)

PAGES = sorted(tpl for method, tpl in WEB if method == "GET" and (method, tpl) not in NOT_PAGES)
WIDTH, HEIGHT = 1366, 768


@dataclasses.dataclass
class Screen:
    """A page at the reception PC's size, and what went wrong in it: console errors and uncaught
    exceptions, each with the address it happened on."""

    page: Page
    problems: list[tuple[str, str, str]]


@pytest.fixture
def screen(browser) -> Iterator[Screen]:
    with browser_page(browser, WIDTH, HEIGHT) as page:
        problems: list[tuple[str, str, str]] = []
        page.on("console", lambda m: problems.append((page.url, "console", m.text)) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append((page.url, "pageerror", str(e))))
        yield Screen(page, problems)


def _refused_screen(caller: tuple[str, str]) -> str:
    """A page ``caller`` may not see: one of another role of its organisation if there is one (the
    refusal by role), else one of another organisation kind (the refusal by kind)."""
    others = [tpl for tpl in PAGES if caller not in WEB[("GET", tpl)]]
    same_org = [tpl for tpl in others if any(org == caller[0] for org, _ in WEB[("GET", tpl)])]
    return (same_org or others)[0]


# the status Chromium logs for a page answered with it (a refusal the test asks for is no error)
REFUSED_LOAD = "Failed to load resource: the server responded with a status of 403 (Forbidden)"


@pytest.mark.parametrize("caller", CALLERS, ids=[f"{org}-{role}" for org, role in CALLERS])
def test_every_screen_the_role_may_see_answers_with_its_page(
    caller: tuple[str, str], world: World, screen: Screen, request: pytest.FixtureRequest
) -> None:
    org, role = caller
    values = screen_world(world) | web_user(world, org, role)
    live = request.getfixturevalue("live")
    if org == "clinic":  # the desk's pages ask the card reader on the desk for its cards
        request.getfixturevalue("reader")
    page = screen.page
    sign_in(page, live, (world.orgs[org]["code"], values["login"], PASSWORD))
    expect(page).to_have_url(f"{live}{HOME[org]}")
    expect(page.locator("#user-role")).to_have_text(f"（{role_label(world.orgs[org]['kind'], role)}）")
    pages = [tpl for tpl in PAGES if caller in WEB[("GET", tpl)]]
    wrong: list[tuple] = [("/login", *p[1:]) for p in screen.problems]  # the sign-in page's
    for tpl in [*pages, _refused_screen(caller)]:
        url = screen_url("GET", tpl, values)
        status = expected_answer(caller, "GET", tpl)[0] if tpl in pages else 403
        seen = len(screen.problems)
        res = page.goto(live + url)
        assert res is not None
        if res.status != status:
            wrong.append((url, "status", res.status))
        heading = page.locator("main h1")
        title = heading.inner_text().strip() if heading.is_visible() else ""
        if tpl not in pages:  # the refusal page: its heading, and why
            message = page.locator("#page-message").inner_text() if title == "エラー" else ""
            if not FORBIDDEN.fullmatch(message):
                wrong.append((url, "not the refusal page", title, message))
        elif title in ("", "エラー"):
            wrong.append((url, "heading", title))
        elif status == 403 and not page.locator('#refusal[data-reason="role"]').is_visible():
            wrong.append((url, "not the 薬剤情報等 refusal by role", title))
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if widths[0] > widths[1]:
            wrong.append((url, "scrolls sideways", widths))
        wrong += [(url, *p[1:]) for p in screen.problems[seen:] if not (status == 403 and p[2] == REFUSED_LOAD)]
    assert wrong == []


# --- flows no other browser test walks: the 担当員 (not 管理者) at the office, the 医師 from a card check -


@pytest.mark.full_chromium  # the printed ticket opens in the browser's PDF viewer
def test_the_caseworker_registers_a_recipient_links_the_card_and_prints_the_ticket(world, live, screen):
    page = screen.page
    create_user(world.db, world.orgs["office"]["id"], login="tanto", password=PASSWORD, role="caseworker")
    sign_in(page, live, (world.orgs["office"]["code"], "tanto", PASSWORD))
    expect(page.locator("#user-role")).to_have_text("（担当員）")
    r = World.recipient_data(name="登録花子", name_kana="ﾄｳﾛｸ ﾊﾅｺ", sex="2", birthdate="1985-03-03")
    page.get_by_role("link", name="受給者登録").click()
    page.get_by_label("公費負担者番号").fill(PAYER)
    page.get_by_label("受給者番号").fill(r["recipient_number"])
    page.get_by_role("textbox", name="氏名 必須", exact=True).fill(r["name"])
    page.get_by_label("氏名カナ").fill(r["name_kana"])
    page.get_by_label("性別").select_option(r["sex"])
    page.get_by_label("生年月日").fill("S60.3.3")
    page.get_by_label("住所").fill(r["address"])
    page.get_by_label("保護開始・再開日").fill("R2.4.1")
    page.get_by_role("button", name="登録", exact=True).click()
    expect(page.locator("main .notice")).to_have_text("登録しました。")
    # 初回ひも付け: the card of the same person (個人番号 and 基本4情報), issued by the CA
    card = world.card(r, link=False)
    page.get_by_label("個人番号（12桁）").fill(card["individual_number"])
    page.get_by_role("button", name="照合してひも付け").click()
    expect(page.locator("main .notice")).to_contain_text("マイナンバーカードとひも付けました（初回ひも付け）")
    expect(page.locator("#linked-cards")).to_contain_text(card["serial"])
    # a ticket of this month at the clinic, then its PDF
    page.get_by_role("link", name="医療券/調剤券を登録").click()
    page.get_by_label("指定医療機関コード").fill(CLINIC)
    expect(page.locator("#f-designated_facility_name")).to_have_text("●●医療機関（医科）")
    page.get_by_label("診療別").select_option("02")
    page.get_by_label("傷病名1").fill("高血圧症")
    page.get_by_role("button", name="登録", exact=True).click()
    expect(page.get_by_text("医療券/調剤券を登録しました。")).to_be_visible()
    # Chromium opens the PDF (inline, in a new tab) in its viewer: what the server sent is taken on its
    # way to the tab, as it is (the viewer's page is all the tab's answer shows)
    sent = []

    def keep(route):
        answer = route.fetch()
        sent.append((answer.status, answer.headers, answer.body()))
        route.fulfill(response=answer)

    page.context.route("**/print.pdf", keep)
    with page.context.expect_page() as tab:
        page.get_by_role("link", name="印刷（PDF）").click()
    expect(tab.value).to_have_url(re.compile(r"/office/tickets/[0-9a-f-]{36}/print\.pdf$"))
    tab.value.close()
    [(status, headers, body)] = sent
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert re.fullmatch(r'inline; filename="ticket-[0-9a-f-]{36}\.pdf"', headers["content-disposition"])
    assert body.startswith(b"%PDF-") and b"%%EOF" in body[-1024:]
    assert screen.problems == []


def test_the_clinician_reads_the_medication_a_card_check_with_consent_opened(world, live, screen, reader):
    r = world.recipient(name="同意一郎")
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r)
    add(world, "medication", medication(r, today_jst() - dt.timedelta(days=3)))
    page = screen.page
    create_user(world.db, world.orgs["clinic"]["id"], login="ishi", password=PASSWORD, role="clinician")
    sign_in(page, live, (CLINIC, "ishi", PASSWORD))
    expect(page.locator("#user-role")).to_have_text("（医師・歯科医師・薬剤師）")
    page.get_by_label("カード（カードリーダーのカード）").select_option(card["path"].name)
    page.get_by_label("暗証番号").fill(card["pin"])
    page.get_by_label("薬剤情報に同意する").check()
    page.get_by_role("button", name="資格確認").click()
    expect(page.locator(".headline").first).to_have_text("○：この資格は有効です。")
    page.get_by_role("link", name="同意を得た薬剤情報等を見る").click()
    expect(page.get_by_role("heading", name="薬剤情報の閲覧")).to_be_visible()
    rows = page.locator("#medinfo-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("アムロジピン")
    assert screen.problems == []
