"""The seed's two screens (通常パターン / 未委託のパターン) reproduced field by field."""

from __future__ import annotations

import datetime as dt

from fujo.core.eligibility import assistance_result, decide_assistance, insurance_result
from fujo.core.screen import assistance_screen, insurance_screen, render_text

from . import seed_screens
from .rows import CLINIC, JULY_10, OFFICE, OTHER_CLINIC, insured, recipient, ticket

PHONE = "03-0000-1111"


def seed_result(facility, tickets=None, rec=None):
    rec = rec or recipient()
    tickets = [ticket()] if tickets is None else tickets
    return assistance_result(rec, OFFICE, decide_assistance(rec, tickets, facility, JULY_10), facility, "0000001")


def check(results, validity, contact=True):
    out = {"QualificationValidity": validity, "ResultList": results}
    if contact and validity != "1":
        out["Contact"] = {"OfficeName": OFFICE, "Phone": PHONE}
    return out


def test_seed_screens_parse_into_the_items_domain_md_lists():
    head, items = seed_screens.parse(seed_screens.NORMAL)
    assert head == "○：この資格は有効です。"
    assert [k for k, _ in items] == [
        "照会番号",
        "公費負担者番号",
        "福祉事務所名",
        "受給者番号",
        "氏名",
        "性別",
        "生年月日",
        "医療券/調剤券別",
        "診療年月",
        "指定医療機関名",
        "単独/併用別",
        "有効開始年月日",
        "有効終了年月日",
        "傷病名1",
        "傷病名2",
        "傷病名3",
    ]


def test_normal_screen_at_the_designated_facility_is_the_seeds_screen():
    head, items = assistance_screen(seed_result(CLINIC))
    seed_head, seed_items = seed_screens.parse(seed_screens.NORMAL)
    assert head == seed_head
    assert items == seed_screens.with_valid_numbers(seed_items)


def test_normal_screen_values_spelled_out():
    _, items = assistance_screen(seed_result(CLINIC))
    assert items == [
        ("照会番号", "0000001"),
        ("公費負担者番号", "12130019"),
        ("福祉事務所名", "○○市福祉事務所"),
        ("受給者番号", "1010008"),
        ("氏名", "生保一郎"),
        ("性別", "男"),
        ("生年月日", "平成2年1月15日"),
        ("医療券/調剤券別", "医療券"),
        ("診療年月", "令和6年7月"),
        ("指定医療機関名", "●●医療機関"),
        ("単独/併用別", "単独"),
        ("有効開始年月日", "令和6年7月1日"),
        ("有効終了年月日", "令和6年7月31日"),
        ("傷病名1", "高血圧症"),
        ("傷病名2", "2型糖尿病"),
        ("傷病名3", "腰痛症"),
    ]


def test_not_designated_screen_is_the_seeds_screen():
    head, items = assistance_screen(seed_result(OTHER_CLINIC))
    seed_head, seed_items = seed_screens.parse(seed_screens.NOT_DESIGNATED)
    assert head == "○：この資格は有効です。（医療券/調剤券情報が未登録です。）"
    assert head == seed_head
    assert items == seed_items


def test_not_registered_yet_shows_the_same_withheld_screen():
    head, items = assistance_screen(seed_result(CLINIC, tickets=[]))
    seed_head, seed_items = seed_screens.parse(seed_screens.NOT_DESIGNATED)
    assert (head, items) == (seed_head, seed_items)


def test_withheld_items_are_exactly_the_seeds_dashes():
    _, items = assistance_screen(seed_result(OTHER_CLINIC))
    dashed = [k for k, v in items if v == "-"]
    assert dashed == [
        "公費負担者番号",
        "受給者番号",
        "医療券/調剤券別",
        "診療年月",
        "指定医療機関名",
        "単独/併用別",
        "有効開始年月日",
        "有効終了年月日",
        "傷病名1",
        "傷病名2",
        "傷病名3",
    ]


def test_sex_and_combined_use_and_dispensing_ticket_labels():
    rec = recipient(sex="2")
    t = ticket(
        ticket_type="02",
        treatment_type="04",
        single_or_combined="02",
        designated_facility_code="1341234563",
        designated_facility_name="■■薬局",
    )
    res = assistance_result(rec, OFFICE, decide_assistance(rec, [t], "1341234563", JULY_10), "1341234563")
    items = dict(assistance_screen(res)[1])
    assert items["性別"] == "女" and items["医療券/調剤券別"] == "調剤券" and items["単独/併用別"] == "併用"
    assert items["照会番号"] == "-"


def test_missing_injury_names_are_dashes():
    items = dict(assistance_screen(seed_result(CLINIC, tickets=[ticket(injury_name2=None, injury_name3=None)]))[1])
    assert (items["傷病名1"], items["傷病名2"], items["傷病名3"]) == ("高血圧症", "-", "-")


def test_two_tickets_show_two_ticket_blocks():
    t2 = ticket(issue_number="0000002", valid_from=dt.date(2024, 7, 5), injury_name1="気管支喘息")
    _, items = assistance_screen(seed_result(CLINIC, tickets=[ticket(), t2]))
    assert [v for k, v in items if k == "有効開始年月日"] == ["令和6年7月1日", "令和6年7月5日"]


def test_invalid_screen_headline_and_disqualification_date():
    rec = recipient(disqualification_date=dt.date(2024, 7, 1), disqualification_kind="2")
    head, items = assistance_screen(seed_result(CLINIC, rec=rec))
    assert head.startswith("×") and "無効" in head
    assert ("保護停止・廃止日", "令和6年7月1日") in items
    assert dict(items)["公費負担者番号"] == "-"


def test_render_text_of_the_normal_screen_has_every_seed_line_item():
    text = render_text(check([seed_result(CLINIC)], "1"))
    lines = text.splitlines()
    assert lines[0] == "【医療扶助】"
    assert lines[1] == "○：この資格は有効です。"
    expected = [f"{k}：{v}" for k, v in seed_screens.with_valid_numbers(seed_screens.parse(seed_screens.NORMAL)[1])]
    assert lines[2 : 2 + len(expected)] == expected
    assert "電話" not in text  # valid at the designated facility: nothing to call about


def test_render_text_tells_the_front_desk_to_call_the_office_with_its_phone_number():
    text = render_text(check([seed_result(OTHER_CLINIC)], "6"))
    assert "○：この資格は有効です。（医療券/調剤券情報が未登録です。）" in text
    advice = [line for line in text.splitlines() if OFFICE in line and PHONE in line]
    assert advice, text
    assert "確認" in advice[0]


def test_render_text_of_an_invalid_check_also_gives_the_office_to_call():
    rec = recipient(disqualification_date=dt.date(2024, 7, 1), disqualification_kind="2")
    text = render_text(check([seed_result(CLINIC, rec=rec)], "2"))
    assert any(OFFICE in line and PHONE in line for line in text.splitlines())


def test_render_text_without_a_phone_number_still_names_the_office():
    out = check([seed_result(OTHER_CLINIC)], "6", contact=False)
    out["Contact"] = {"OfficeName": OFFICE, "Phone": None}
    text = render_text(out)
    assert any(OFFICE in line and "確認" in line for line in text.splitlines()[-2:])


def test_render_text_with_no_result_says_no_qualification():
    assert render_text({"QualificationValidity": "4", "ResultList": []}).strip() == "×：該当する資格がありません。"


def test_render_text_shows_both_insurance_and_assistance_for_a_combined_person():
    ins = insurance_result(insured(insurer_number="138222"), "1")
    text = render_text(check([ins, seed_result(CLINIC)], "1"))
    assert text.index("【医療保険】") < text.index("【医療扶助】")
    assert "保険者番号：138222" in text  # the screen shows the number without the wire padding
    assert "公費負担者番号：12130019" in text


def test_insurance_screen_items():
    head, items = insurance_screen(insurance_result(insured(), "1"))
    assert head == "○：この資格は有効です。"
    assert items == [
        ("照会番号", "-"),
        ("保険者番号", "06139992"),
        ("保険者名", "○○健康保険組合"),
        ("保険の種類", "組合管掌健康保険（健康保険組合）"),
        ("被保険者証区分", "被保険者証（一般）"),
        ("記号", "12-34"),
        ("番号", "5678"),
        ("枝番", "01"),
        ("氏名", "生保一郎"),
        ("性別", "男"),
        ("生年月日", "平成2年1月15日"),
        ("資格取得日", "平成31年4月1日"),
        ("一部負担金割合", "-"),
    ]


def test_insurance_screen_kind_of_insurance_comes_from_the_insurer_number_not_the_card_class():
    # 被保険者証区分 01 is 被保険者証（一般） for every insurer; the kind is the 保険者番号's.
    for number, kind in (
        ("39130006", "後期高齢者医療"),
        ("138222", "国民健康保険（市町村）"),
        ("01130012", "協会けんぽ"),
    ):
        items = dict(
            insurance_screen(insurance_result(insured(insurer_number=number, contribution_ratio="010"), "1"))[1]
        )
        assert kind in items["保険の種類"]
        assert items["被保険者証区分"] == "被保険者証（一般）"
        assert items["一部負担金割合"] == "1割"
    unknown = dict(insurance_screen({"InsurerNumber": "99130000", "InsuredCardClassification": "07"})[1])
    assert (unknown["保険の種類"], unknown["被保険者証区分"]) == ("-", "自衛官診療証")


def test_insurance_screen_shows_the_certificates_the_result_carries():
    at = dt.datetime(2024, 7, 10, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    q = insured(
        birthdate=dt.date(1952, 9, 15),
        elderly_valid_from=dt.date(2024, 8, 1),
        elderly_valid_to=dt.date(2025, 7, 31),
        elderly_contribution_ratio="020",
        limit_classification="01",
        limit_bracket="B04",
        limit_valid_from=dt.date(2024, 8, 1),
        specific_disease_category="1",
        specific_disease_valid_from=dt.date(2024, 8, 1),
        specific_disease_self_pay=10000,
    )
    items = dict(insurance_screen(insurance_result(q, "1", limit_consent_at=at, specific_consent_at=at))[1])
    assert items["高齢受給者証"] == "2割（令和6年8月1日〜令和7年7月31日）"
    assert items["限度額適用認定証"] == "限度額適用認定証 適用区分一般（令和6年8月1日〜）"
    assert items["特定疾病療養受療証"] == "人工透析を必要とする慢性腎不全 自己負担限度額10,000円（令和6年8月1日〜）"
    withheld = dict(insurance_screen(insurance_result(q, "1"))[1])  # no consent: no 限度額/特定疾病 lines
    assert "限度額適用認定証" not in withheld and "特定疾病療養受療証" not in withheld and "高齢受給者証" in withheld
