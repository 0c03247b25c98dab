"""The subsidy estimate (pure, fujo.core.subsidy) over the 令和5年度 rules file: amount by rate and cost
ceiling, the rounded published maxima said out loud, the completion deadline and application window,
every input refused by name. No database."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fujo.core.errors import FujoError, ValidationFailed
from fujo.core.subsidy import (
    MAX_YEN,
    RulesError,
    estimate,
    man_yen,
    parse_yen,
    read_request,
    rules_from_mapping,
    select_rules,
)
from fujo.subsidy.service import RULES_DIR, estimate_subsidy, rule_sets

SETS = rule_sets()
FY2023 = SETS[0]
KINDS = ["hospital", "clinic", "pharmacy", "chain-pharmacy"]
# the published figures (日医発第1465号): rate, 事業額の上限, published maximum
PUBLISHED = {
    "hospital": (Fraction(1, 2), 566_000, "28.3万円", 283_000),
    "clinic": (Fraction(3, 4), 73_000, "5.4万円", 54_750),
    "pharmacy": (Fraction(3, 4), 73_000, "5.4万円", 54_750),
    "chain-pharmacy": (Fraction(1, 2), 73_000, "3.6万円", 36_500),
}


def est(**values):
    return estimate(read_request(values, SETS))


def test_the_rules_file_holds_the_published_figures():
    assert [r.fiscal_year for r in SETS] == [2023] and FY2023.fiscal_year_ja == "令和5年度"
    assert FY2023.completion_deadline == dt.date(2023, 12, 31)
    assert (FY2023.application_from, FY2023.application_to) == (dt.date(2023, 11, 13), dt.date(2024, 1, 15))
    assert list(FY2023.kinds) == KINDS
    for key, (rate, ceiling, published, exact) in PUBLISHED.items():
        k = FY2023.kinds[key]
        assert (k.rate, k.cost_ceiling, k.published_max, k.max_amount) == (rate, ceiling, published, exact)
    # 28.3万円 is exact; 5.4万円 (54,750) and 3.6万円 (36,500) are rounded down
    assert [FY2023.kinds[k].rounded for k in KINDS] == [False, True, True, True]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cost_of", [0, 1, 2, 3, "half", "ceiling-1", "ceiling", "ceiling+1", "double"])
def test_amount_is_the_rate_of_the_cost_up_to_the_ceiling_rounded_down(kind, cost_of):
    rate, ceiling, _, exact = PUBLISHED[kind]
    cost = {"half": ceiling // 2, "ceiling-1": ceiling - 1, "ceiling": ceiling, "ceiling+1": ceiling + 1}.get(
        cost_of, 2 * ceiling if cost_of == "double" else cost_of
    )
    e = est(kind=kind, cost=cost)
    assert e.counted_cost == min(cost, ceiling)
    assert e.amount == math.floor(rate * min(cost, ceiling)) <= exact
    assert (e.amount == exact) == (cost >= ceiling)
    assert e.fraction_dropped == (rate * min(cost, ceiling) != e.amount)
    codes = [n.code for n in e.notes]
    assert ("ceiling" in codes) == (cost > ceiling)
    assert ("rounding" in codes) == e.fraction_dropped


def test_the_seed_figures_each_kind_at_its_ceiling():
    got = {k: est(kind=k, cost=1_000_000).as_dict() for k in KINDS}
    assert {k: v["amount"] for k, v in got.items()} == {
        "hospital": 283_000,
        "clinic": 54_750,
        "pharmacy": 54_750,
        "chain-pharmacy": 36_500,
    }
    assert [n["code"] for n in got["hospital"]["notes"]] == ["ceiling"]  # 28.3万円 is exact: nothing to say
    clinic = got["clinic"]["notes"]
    assert clinic[0]["code"] == "rounded_max"
    assert "公表の上限「5.4万円」は概数です" in clinic[0]["message_ja"]
    assert "73,000円×3/4＝54,750円" in clinic[0]["message_ja"]
    assert clinic[1]["code"] == "above_published" and "54,000円" in clinic[1]["message_ja"]
    chain = got["chain-pharmacy"]["notes"]
    assert "公表の上限「3.6万円」は概数です" in chain[0]["message_ja"] and "36,500円" in chain[0]["message_ja"]


def test_the_rounding_is_said_even_below_the_published_figure():
    e = est(kind="clinic", cost=40_000)  # 30,000: below 5.4万円, but the published maximum is still rounded
    assert e.amount == 30_000
    assert [n.code for n in e.notes] == ["rounded_max"]
    e = est(kind="clinic", cost=72_001)  # 54,000.75 → 54,000: at the published figure, not above it
    assert e.amount == 54_000 and [n.code for n in e.notes] == ["rounded_max", "rounding"]
    e = est(kind="clinic", cost=72_002)  # 54,001.5 → 54,001: above it
    assert e.amount == 54_001 and "above_published" in [n.code for n in e.notes]


def test_other_costs_are_never_subsidised_and_need_a_breakdown():
    a, b = est(kind="hospital", cost=100_000), est(kind="hospital", cost=100_000, other_costs="20,000円")
    assert a.amount == b.amount == 50_000
    assert "内訳書" not in "".join(a.documents)
    assert b.documents[-1].startswith("内訳書") and b.documents[:-1] == a.documents
    note = next(n for n in b.notes if n.code == "other_costs")
    assert "20,000円" in note.message_ja and "対象外" in note.message_ja


D = dt.date


@pytest.mark.parametrize(
    ("completed", "applied", "statuses", "eligible"),
    [
        (None, None, {"completion": "unchecked", "application": "unchecked"}, None),
        (D(2023, 12, 31), None, {"completion": "ok", "application": "unchecked"}, None),
        (D(2024, 1, 1), None, {"completion": "late", "application": "unchecked"}, False),
        (None, D(2023, 11, 13), {"completion": "unchecked", "application": "ok"}, None),
        (D(2023, 11, 1), D(2023, 11, 12), {"completion": "ok", "application": "early"}, False),
        (D(2023, 11, 1), D(2023, 11, 13), {"completion": "ok", "application": "ok"}, True),
        (D(2023, 12, 31), D(2024, 1, 15), {"completion": "ok", "application": "ok"}, True),
        (D(2023, 12, 31), D(2024, 1, 16), {"completion": "ok", "application": "late"}, False),
        (
            D(2023, 12, 20),
            D(2023, 12, 1),
            {"completion": "ok", "application": "ok", "order": "before_completion"},
            False,
        ),
        (D(2024, 1, 5), D(2024, 1, 10), {"completion": "late", "application": "ok"}, False),
    ],
)
def test_the_completion_deadline_and_the_application_window_both_days_included(completed, applied, statuses, eligible):
    e = est(kind="clinic", cost=73_000, completed=completed, applied=applied)
    assert {c.item: c.status for c in e.checks} == statuses
    assert e.eligible is eligible
    assert e.amount == 54_750  # the amount is shown either way; eligibility says whether it is paid


def test_the_checks_speak_wareki():
    e = est(kind="clinic", cost=73_000, completed="R5.12.20", applied="令和6年1月16日").as_dict()
    assert e["completed"] == "2023-12-20" and e["applied"] == "2024-01-16"
    (done, applied) = e["checks"]
    assert done["message_ja"] == "完了日 令和5年12月20日 は完了期限（令和5年12月31日まで）内です。"
    assert "申請受付期間（令和5年11月13日～令和6年1月15日）を過ぎています" in applied["message_ja"]
    assert e["eligible"] is False


def test_every_wrong_field_is_named_at_once_in_the_order_of_the_form():
    with pytest.raises(ValidationFailed) as ei:
        read_request(
            {"kind": "clinik", "cost": "abc", "other_costs": "-5", "completed": "R5.13.1", "applied": "平成31年5月1日"},
            SETS,
            names={"other_costs": "--other-costs", "kind": "--kind"},
        )
    got = [(p.field, p.code) for p in ei.value.problems]
    assert got == [
        ("--kind", "code"),
        ("cost", "amount"),
        ("--other-costs", "amount"),
        ("completed", "invalid_date"),
        ("applied", "outside_era"),
    ]
    kind = ei.value.problems[0]
    assert "clinic（診療所）" in kind.message_ja and "「clinik」" in kind.message_ja
    assert "--kind must be one of hospital, clinic" in kind.message_en
    with pytest.raises(ValidationFailed) as ei:
        read_request({}, SETS)
    assert [(p.field, p.code) for p in ei.value.problems] == [("kind", "required"), ("cost", "required")]
    with pytest.raises(ValidationFailed) as ei:
        read_request({"kind": "clinic", "cost": 1, "fiscal_year": "2019"}, SETS)
    (p,) = ei.value.problems
    assert (p.field, p.code) == ("fiscal_year", "unknown") and "2023" in p.message_ja


@pytest.mark.parametrize(
    ("raw", "yen"),
    [
        ("73000", 73_000),
        ("73,000", 73_000),
        ("73,000円", 73_000),
        ("¥73,000", 73_000),
        ("￥７３，０００", 73_000),
        ("7.3万円", 73_000),
        ("56.6万", 566_000),
        (" 0 ", 0),
        (566_000, 566_000),
    ],
)
def test_yen_as_people_write_it(raw, yen):
    assert parse_yen(raw, "cost", "導入経費") == (yen, None)


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "7.33333万円", "1e3", "１２３abc", "万円", "12 34", "٣"])
def test_anything_else_is_refused_naming_the_field(raw):
    n, p = parse_yen(raw, "--cost", "導入経費")
    assert n is None and p.field == "--cost" and p.code == "amount" and "導入経費" in p.message_ja


def test_yen_beyond_ten_digits_is_out_of_range():
    assert parse_yen(MAX_YEN, "cost", "x") == (MAX_YEN, None)
    assert parse_yen(str(MAX_YEN + 1), "cost", "x")[1].code == "out_of_range"


@given(st.sampled_from(KINDS), st.integers(0, MAX_YEN), st.integers(0, MAX_YEN))
def test_amount_properties(kind, cost, other):
    rate, ceiling, _, exact = PUBLISHED[kind]
    e = est(kind=kind, cost=cost, other_costs=other)
    assert 0 <= e.amount <= exact
    assert e.amount <= rate * cost  # never more than the rate of what was spent
    assert rate * min(cost, ceiling) - 1 < e.amount  # rounded down by less than a yen
    assert e.amount == est(kind=kind, cost=cost).amount  # other costs never count


@given(st.sampled_from(KINDS), st.integers(0, MAX_YEN - 1))
def test_amount_never_falls_when_the_cost_rises(kind, cost):
    assert est(kind=kind, cost=cost).amount <= est(kind=kind, cost=cost + 1).amount


@given(st.integers(0, MAX_YEN))
def test_written_yen_reads_back(n):
    assert parse_yen(f"{n:,}円", "cost", "x") == (n, None)
    assert parse_yen(f"¥{n}", "cost", "x") == (n, None)
    if n % 1000 == 0:
        assert parse_yen(f"{n / 10000:g}万円" if n < 10**9 else f"{n // 10000}万円", "cost", "x") == (n, None)


@given(st.dates(D(2023, 1, 1), D(2024, 12, 31)), st.dates(D(2023, 1, 1), D(2024, 12, 31)))
def test_eligibility_is_exactly_both_windows_and_the_order(completed, applied):
    e = est(kind="hospital", cost=1, completed=completed, applied=applied)
    expected = completed <= D(2023, 12, 31) and D(2023, 11, 13) <= applied <= D(2024, 1, 15) and completed <= applied
    assert e.eligible is expected


# --- rule sets: the next year is a file, not code --------------------------------------------------

NEXT_YEAR = """
fiscal_year = 2025
title = "架空の次年度"
source = "test"
completion_deadline = 2025-12-31
application_from = 2025-11-01
application_to = 2026-01-31
documents = ["領収書（写）"]
breakdown_document = "内訳書"
[kinds.clinic]
label = "診療所"
rate = "1/3"
cost_ceiling = 100000
published_max = "3.3万円"
"""


def test_a_new_fiscal_year_is_a_new_file(tmp_path):
    (tmp_path / "2023.toml").write_text((RULES_DIR / "2023.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "2025.toml").write_text(NEXT_YEAR, encoding="utf-8")
    sets = rule_sets(tmp_path)
    assert [r.fiscal_year for r in sets] == [2023, 2025]
    by_date = estimate_subsidy({"kind": "clinic", "cost": 100_000, "applied": "2025-12-01"}, directory=tmp_path)
    assert (by_date["fiscal_year"], by_date["amount"], by_date["rate"]) == (2025, 33_333, "1/3")
    assert [n["code"] for n in by_date["notes"]][:1] == ["rounded_max"]  # 33,333 published as 3.3万円
    old = estimate_subsidy({"kind": "clinic", "cost": 100_000, "applied": "2024-01-10"}, directory=tmp_path)
    assert old["fiscal_year"] == 2023 and old["amount"] == 54_750
    chosen = estimate_subsidy({"kind": "clinic", "cost": 100_000, "fiscal_year": "2023"}, directory=tmp_path)
    assert chosen["fiscal_year"] == 2023
    assert estimate_subsidy({"kind": "clinic", "cost": 1}, directory=tmp_path)["fiscal_year"] == 2025  # latest
    with pytest.raises(ValidationFailed) as ei:  # a kind the chosen year does not have
        estimate_subsidy({"kind": "hospital", "cost": 1, "fiscal_year": 2025}, directory=tmp_path)
    assert ei.value.problems[0].field == "kind" and "clinic（診療所）" in ei.value.problems[0].message_ja


def test_selection_by_dates():
    a = rules_from_mapping({**_base(2023), "application_from": D(2023, 11, 13), "application_to": D(2024, 1, 15)}, "a")
    b = rules_from_mapping({**_base(2024), "application_from": D(2024, 11, 1), "application_to": D(2025, 1, 31)}, "b")
    pick = lambda **kw: select_rules([b, a], fiscal_year=None, **{"completed": None, "applied": None, **kw}).fiscal_year  # noqa: E731
    assert pick() == 2024
    assert pick(applied=D(2023, 1, 1)) == 2023  # before every window: the first (its check says early)
    assert pick(applied=D(2024, 2, 1)) == 2023  # between windows: the one that closed (late)
    assert pick(applied=D(2024, 11, 5)) == 2024
    assert pick(completed=D(2023, 12, 31)) == 2023 and pick(completed=D(2024, 1, 1)) == 2024
    assert pick(completed=D(2030, 1, 1)) == 2024


def _base(year: int) -> dict:
    return {
        "fiscal_year": year,
        "title": "t",
        "source": "s",
        "completion_deadline": D(year, 12, 31),
        "application_from": D(year, 11, 1),
        "application_to": D(year + 1, 1, 15),
        "documents": ["領収書（写）"],
        "breakdown_document": "内訳書",
        "kinds": {"clinic": {"label": "診療所", "rate": "3/4", "cost_ceiling": 73000, "published_max": "5.4万円"}},
    }


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"fiscal_year": "2023"}, "fiscal_year"),
        ({"completion_deadline": "2023-12-31"}, "completion_deadline"),
        ({"application_to": D(2023, 1, 1)}, "application_from is after application_to"),
        ({"kinds": {}}, "no kinds"),
        ({"kinds": {"clinic": {"label": "x", "rate": "3:4", "cost_ceiling": 1, "published_max": "1万円"}}}, "rate"),
        (
            {"kinds": {"clinic": {"label": "x", "rate": "5/4", "cost_ceiling": 1, "published_max": "1万円"}}},
            "at most 1",
        ),
        (
            {"kinds": {"clinic": {"label": "x", "rate": "1/2", "cost_ceiling": 0, "published_max": "1万円"}}},
            "cost_ceiling",
        ),
        (
            {"kinds": {"clinic": {"label": "x", "rate": "1/2", "cost_ceiling": 1, "published_max": "54000"}}},
            "published_max",
        ),
        ({"kinds": {"clinic": "x"}}, "not a table"),
        ({"documents": []}, "documents"),
    ],
)
def test_a_broken_rules_file_names_its_file_and_key(change, says):
    with pytest.raises(RulesError) as ei:
        rules_from_mapping({**_base(2023), **change}, "2023.toml")
    assert ei.value.message_en.startswith("Subsidy rules unusable: 2023.toml: ") and says in ei.value.message_en
    assert isinstance(ei.value, FujoError) and ei.value.status == 500


def test_a_file_named_after_another_year_or_no_file_at_all(tmp_path):
    (tmp_path / "2024.toml").write_text(NEXT_YEAR, encoding="utf-8")
    with pytest.raises(RulesError, match="does not match the file name"):
        rule_sets(tmp_path)
    (tmp_path / "2024.toml").write_text("fiscal_year = [", encoding="utf-8")
    with pytest.raises(RulesError, match=r"2024\.toml"):
        rule_sets(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RulesError, match="no subsidy rules"):
        rule_sets(empty)


def test_man_yen_reads_published_figures_only():
    assert [man_yen(x) for x in ("28.3万円", "5.4万円", "3万円")] == [283_000, 54_000, 30_000]
    for bad in ("5.4万", "54000円", "5.44444万円"):
        with pytest.raises(ValueError):
            man_yen(bad)


def test_rules_dir_is_inside_the_package():
    assert Path(__file__).resolve().parents[2] / "fujo" / "subsidy" / "rules" == RULES_DIR
