"""The medication screen in a real browser: a clinician opens a patient's 薬剤情報 after a card check
with consent and sees the duplicate-prescription hint. PostgreSQL only, like the other browser tests."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from fujo.accounts.service import create_user
from fujo.core.dates import today_jst
from tests.medinfo.helpers import AMLODIPINE_OD, METFORMIN, OTHER, add, card_check, medication
from tests.web.conftest import sign_in

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)
TODAY = today_jst()


def test_the_medication_screen_shows_the_duplicate_hint(world, live, page):
    r = world.recipient()
    c = world.card(r)
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=12)))
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=4), AMLODIPINE_OD, OTHER, "▲▲クリニック"))
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=4), METFORMIN, OTHER, "▲▲クリニック"))
    card_check(world, c)
    create_user(
        world.db,
        world.orgs["clinic"]["id"],
        login="doctor",
        password="doctor-pass-1",
        display_name="医師",
        role="clinician",
    )
    sign_in(page, live, (world.orgs["clinic"]["code"], "doctor", "doctor-pass-1"))
    page.goto(f"{live}/desk/medinfo")
    page.get_by_label("公費負担者番号（8桁）").fill(r["payer_number"])
    page.get_by_label("受給者番号（7桁）").fill(r["recipient_number"])
    page.get_by_role("button", name="薬剤情報を表示").click()
    expect(page.get_by_role("heading", name="薬剤情報の閲覧")).to_be_visible()
    expect(page.locator("#duplicate-hint")).to_contain_text("重複投薬の可能性")
    rows = page.locator("#medinfo-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#medinfo-table tr.duplicate")).to_have_count(2)
    metformin = page.locator(f"#medinfo-table tr[data-drug='{METFORMIN[0]}']")
    expect(metformin.locator(".badge")).to_have_count(0)
    expect(page.locator("#medinfo-table tr.duplicate").first.locator(".dup")).to_contain_text("●●医療機関")
    # the other tabs of the same patient
    page.get_by_role("link", name="特定健診情報").click()
    expect(page.locator("#medinfo-table")).to_contain_text("表示期間内の記録はありません。")
