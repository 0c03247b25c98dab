"""Front desk in a real browser: the seed's result screens (通常パターン, 未委託のパターン), an
invalid check, number validation as typed, a card check, bulk retrieval and the facility setting."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from fujo.core.dates import today_jst
from tests.core import seed_screens
from tests.factories import CLINIC, PAYER
from tests.web.conftest import sign_in

# Screens behave the same on either database (the services' tests run on both); the browser runs
# them once, on PostgreSQL — the production database.
pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def _items(page) -> dict[str, str]:
    """Label → value of the first result block, as the user reads it."""
    out = {}
    for item in page.locator("section.result").first.locator(".item").all():
        out[item.locator(".label").inner_text().rstrip("：")] = item.locator(".value").inner_text()
    return out


BIRTH = "1990-01-15"  # the factories' 生保一郎


def _check_numbers(page, live, payer, rn, birthdate=BIRTH):
    page.goto(f"{live}/desk/numbers")
    page.get_by_label("公費負担者番号").fill(payer)
    page.get_by_label("受給者番号").fill(rn)
    if birthdate:
        page.get_by_label("生年月日").fill(birthdate)
    page.get_by_role("button", name="資格確認").click()


def test_designated_check_by_numbers_shows_the_seeds_normal_screen(world, users, live, page):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    sign_in(page, live, users["clinic"])
    expect(page.get_by_role("heading", name="資格確認（マイナンバーカード）")).to_be_visible()
    _check_numbers(page, live, PAYER, r["recipient_number"])
    expect(page.locator(".headline").first).to_have_text("○：この資格は有効です。")
    items = _items(page)
    assert list(items) == seed_screens.labels(seed_screens.NORMAL)
    today = today_jst()
    from fujo.core.era import wareki_date, wareki_month

    assert items["公費負担者番号"] == PAYER and items["受給者番号"] == r["recipient_number"]
    assert items["福祉事務所名"] == "○○市福祉事務所" and items["氏名"] == "生保一郎" and items["性別"] == "男"
    assert items["生年月日"] == "平成2年1月15日"
    assert items["医療券/調剤券別"] == "医療券" and items["単独/併用別"] == "単独"
    assert items["診療年月"] == wareki_month(today.year, today.month)
    assert items["有効開始年月日"] == wareki_date(today.replace(day=1))
    assert items["指定医療機関名"] == "●●医療機関" and items["傷病名1"] == "高血圧症"
    expect(page.locator(".advice")).to_have_count(0)


def test_not_designated_card_check_withholds_numbers_and_says_to_call(world, users, live, page, reader):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r)
    sign_in(page, live, users["other"])  # ▲▲クリニック: not the designated facility
    page.get_by_label("カード（カードリーダーのカード）").select_option(card["path"].name)  # at the reader
    page.get_by_label("暗証番号").fill(card["pin"])
    page.get_by_label("薬剤情報に同意する").check()
    page.get_by_role("button", name="資格確認").click()
    expect(page.locator(".headline").first).to_have_text("○：この資格は有効です。（医療券/調剤券情報が未登録です。）")
    items = _items(page)
    for label in seed_screens.withheld():
        assert items[label] == "-", label
    assert items["氏名"] == "生保一郎" and items["福祉事務所名"] == "○○市福祉事務所"
    assert items["生年月日"] == "平成2年1月15日"
    expect(
        page.get_by_text("未委託の状態での診療報酬請求を防止するために公費負担者番号・受給者番号を連携しません。")
    ).to_be_visible()
    expect(page.locator(".advice")).to_have_text(
        "○○市福祉事務所（電話 03-0000-0000）に医療扶助の利用可否を電話等で確認してください。"
    )
    # the same words whether another facility holds the ticket or none is registered yet
    expect(page.locator(".reason")).to_have_text(
        "この医療機関・薬局を委託先とする今月の医療券/調剤券は登録されていません（未委託または未登録）。"
    )
    expect(page.get_by_text("委託先ではありません")).to_have_count(0)
    expect(page.locator(".consent")).to_contain_text("薬剤情報 あり")


def test_invalid_check_names_the_welfare_office_to_call(world, users, live, page):
    r = world.recipient(
        disqualification_date=(today_jst() - dt.timedelta(days=5)).isoformat(), disqualification_kind="2"
    )
    sign_in(page, live, users["clinic"])
    _check_numbers(page, live, PAYER, r["recipient_number"])
    expect(page.locator(".headline").first).to_have_text("×：この資格は無効です。")
    expect(page.locator(".advice")).to_contain_text("○○市福祉事務所（電話 03-0000-0000）")
    expect(page.get_by_text("保護が停止・廃止されています。")).to_be_visible()


def test_not_yet_registered_check_by_numbers_gives_the_same_reason_as_not_designated(world, users, live, page):
    r = world.recipient()  # no ticket this month yet
    sign_in(page, live, users["clinic"])
    _check_numbers(page, live, PAYER, r["recipient_number"])
    expect(page.locator(".headline").first).to_have_text("○：この資格は有効です。（医療券/調剤券情報が未登録です。）")
    expect(page.locator(".reason")).to_have_text(
        "この医療機関・薬局を委託先とする今月の医療券/調剤券は登録されていません（未委託または未登録）。"
    )
    items = _items(page)
    assert items["公費負担者番号"] == "-" and items["受給者番号"] == "-" and items["氏名"] == "生保一郎"
    expect(page.get_by_text("東京都○○市1-2-3")).to_have_count(0)  # no address on a masked answer


def test_check_by_numbers_without_a_birth_date_is_refused_next_to_the_field(world, users, live, page, db):
    from tests.helpers import snapshot

    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    sign_in(page, live, users["clinic"])
    before = snapshot(db)
    _check_numbers(page, live, PAYER, r["recipient_number"], birthdate=None)
    expect(page.locator("#f-birthdate-error")).to_have_text("生年月日を入力してください。")
    expect(page.locator("#error-summary")).to_contain_text("生年月日")
    expect(page.get_by_label("公費負担者番号")).to_have_value(PAYER)  # what was typed is kept
    expect(page.get_by_label("受給者番号")).to_have_value(r["recipient_number"])
    expect(page.get_by_text("生保一郎")).to_have_count(0)
    assert snapshot(db) == before  # no check was made (nor logged)
    # a birth date that does not match reveals nothing
    _check_numbers(page, live, PAYER, r["recipient_number"], birthdate="1990-01-16")
    expect(page.locator(".headline").first).to_have_text("×：該当する資格がありません。")
    expect(page.get_by_text("生保一郎")).to_have_count(0)


def test_unknown_numbers_give_no_qualification_and_the_office_of_the_payer(world, users, live, page):
    from fujo.core.numbers import with_check_digit

    sign_in(page, live, users["clinic"])
    _check_numbers(page, live, PAYER, with_check_digit("999999"))
    expect(page.locator(".headline").first).to_have_text("×：該当する資格がありません。")
    expect(page.locator(".advice")).to_contain_text("○○市福祉事務所")


def test_numbers_are_validated_as_typed_and_by_the_server(world, users, live, page):
    sign_in(page, live, users["clinic"])
    page.goto(f"{live}/desk/numbers")
    payer = page.get_by_label("公費負担者番号")
    payer.fill(PAYER[:-1] + str((int(PAYER[-1]) + 1) % 10))
    expect(page.locator("#f-payer_number-error")).to_have_text("公費負担者番号の検証番号が正しくありません。")
    payer.fill(PAYER)
    expect(page.locator("#f-payer_number-error")).to_have_text("")
    rn = page.get_by_label("受給者番号")
    rn.fill("12345")
    rn.press("Tab")  # leaving the field: the length is final
    expect(page.locator("#f-recipient_number-error")).to_have_text("受給者番号は7桁です（入力は5桁）。")
    # The script blocks that submission; forced through, the server says the same next to the field.
    page.evaluate("document.querySelector('form[data-validate]').submit()")  # bypasses the script's check
    expect(page.locator("#f-recipient_number-error")).to_have_text("受給者番号は7桁です（入力は5桁）。")
    expect(page.locator("#error-summary")).to_contain_text("受給者番号")


def test_bulk_retrieval_table_marks_new_since_last_csv_download(world, users, live, page):
    a = world.recipient(name="一括太郎", name_kana="ｲｯｶﾂ ﾀﾛｳ")
    world.ticket(a, on=today_jst(), facility=CLINIC)
    sign_in(page, live, users["clinic"])
    page.get_by_role("link", name="委託先一括取得").click()
    expect(page.locator("#tickets tbody tr")).to_have_count(1)
    expect(page.locator("#tickets tbody tr").first).to_contain_text("一括太郎")
    with page.expect_download() as dl:
        page.get_by_role("link", name="CSVダウンロード").click()
    csv_text = dl.value.path().read_text(encoding="utf-8-sig")
    assert "一括太郎" in csv_text and csv_text.startswith("公費負担者番号,受給者番号,氏名")
    b = world.recipient(name="事後花子", name_kana="ｼﾞｺﾞ ﾊﾅｺ", sex="2")
    world.ticket(b, on=today_jst(), facility=CLINIC)  # registered after the download
    page.reload()
    rows = page.locator("#tickets tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("tr.new")).to_have_count(1)
    expect(page.locator("tr.new")).to_contain_text("事後花子")
    expect(page.get_by_text("前回のCSVダウンロード以降の新着 1件")).to_be_visible()
    # sortable: 受給者番号 descending puts the larger number first
    page.get_by_role("button", name="受給者番号").click()
    page.get_by_role("button", name="受給者番号").click()
    first = rows.first.locator("td").nth(3).inner_text()  # 新着, 状態, 公費負担者番号, 受給者番号
    assert first == max(a["recipient_number"], b["recipient_number"])


def test_setting_medical_assistance_off_is_respected(world, users, live, page):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    sign_in(page, live, users["clinic"])
    page.get_by_role("link", name="環境設定").click()
    page.get_by_label("利用しない").check()
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("設定を保存しました。")).to_be_visible()
    expect(page.get_by_label("利用しない")).to_be_checked()
    _check_numbers(page, live, PAYER, r["recipient_number"])
    expect(page.locator("#page-message")).to_contain_text("「利用しない」設定です")


def _register_reference(page, number, payer, rn, birthdate=BIRTH):
    page.get_by_role("link", name="照会番号の登録").click()
    page.get_by_label("照会番号", exact=False).first.fill(number)
    page.get_by_label("公費負担者番号（または保険者番号）").fill(payer)
    page.get_by_label("受給者番号（または被保険者番号）").fill(rn)
    if birthdate:
        page.get_by_label("生年月日").fill(birthdate)
    page.get_by_role("button", name="登録").click()


def test_reference_number_then_shown_on_the_result(world, users, live, page):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    world.card(r)  # the office's 初回ひも付け: only a linked qualification gets a 照会番号
    sign_in(page, live, users["clinic"])
    _register_reference(page, "0000001", PAYER, r["recipient_number"])
    expect(page.get_by_text("照会番号 0000001 を登録しました。")).to_be_visible()
    _check_numbers(page, live, PAYER, r["recipient_number"])
    assert _items(page)["照会番号"] == "0000001"


def test_reference_number_needs_the_birth_date_and_a_qualification_linked_to_a_card(world, users, live, page, db):
    from tests.helpers import snapshot

    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    sign_in(page, live, users["clinic"])
    before = snapshot(db)
    _register_reference(page, "0000001", PAYER, r["recipient_number"], birthdate=None)
    expect(page.locator("#f-birthdate-error")).to_have_text("生年月日を入力してください。")
    expect(page.locator("#error-summary")).to_contain_text("生年月日")
    expect(page.get_by_label("照会番号", exact=False).first).to_have_value("0000001")
    _register_reference(page, "0000001", PAYER, r["recipient_number"])  # not linked to a card yet
    expect(page.locator("#page-message")).to_contain_text("まだマイナンバーカードにひも付けられていない")
    expect(page.get_by_text("を登録しました。")).to_have_count(0)
    assert snapshot(db) == before  # no person created, the recipient untouched, no 照会番号
    world.card(r)
    _register_reference(page, "0000001", PAYER, r["recipient_number"], birthdate="1990-01-16")
    expect(page.locator("#page-message")).to_contain_text("該当する資格がありません")
    _register_reference(page, "0000001", PAYER, r["recipient_number"])
    expect(page.get_by_text("照会番号 0000001 を登録しました。")).to_be_visible()


def test_sign_in_refused_with_wrong_password(world, users, live, page):
    code, login, _ = users["clinic"]
    sign_in(page, live, (code, login, "wrong-password-1"))
    expect(page.get_by_role("alert").first).to_have_text("組織コード、ログインID、またはパスワードが正しくありません。")
    expect(page.get_by_label("パスワード")).to_have_value("")
    page.goto(f"{live}/desk")
    expect(page).to_have_url(f"{live}/login?next=/desk")
    # the right password works, and sign-out ends the session
    sign_in(page, live, users["clinic"])
    page.get_by_role("button", name="サインアウト").click()
    expect(page.get_by_text("サインアウトしました。")).to_be_visible()
    page.goto(f"{live}/desk/numbers")
    expect(page).to_have_url(re.compile(r".*/login\?next=.*"))
