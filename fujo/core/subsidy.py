"""医療扶助のオンライン資格確認導入の補助金 (introduction subsidy): the amount and the deadline checks.

Pure: the rules of a fiscal year arrive as a :class:`RuleSet` (read from a data file by
``fujo.subsidy.service``; :func:`rules_from_mapping` validates one), the request as plain values.

The amount is ``rate × min(cost, cost ceiling)``, rounded down to the yen (1円未満切り捨て). The
published maxima are rounded figures — 「5.4万円」 for ¾ of ¥73,000 = ¥54,750, 「3.6万円」 for ½ of
¥73,000 = ¥36,500 — so an estimate says so whenever the exact maximum differs from the published one,
and whenever the estimate is above the published figure, instead of hiding either number. Costs other
than the introduction's own (``other_costs``) are never subsidised; they call for a breakdown
(内訳書) with the receipts.

Deadlines: the work must be complete on or before ``completion_deadline``; the application must fall
within ``application_from`` – ``application_to`` (both days included) and after the completion (the
application carries the completion report). A date that is not given is not checked, and says so.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from .dates import parse_date
from .era import era_of, wareki_date
from .errors import FieldProblem, FujoError, Problems

MAX_YEN = 9_999_999_999  # ten digits: any real introduction cost, and nothing that overflows a report

OK, LATE, EARLY, UNCHECKED, BEFORE_COMPLETION = "ok", "late", "early", "unchecked", "before_completion"
CHECK_STATUS_JA = {
    OK: "適合",
    LATE: "期限後",
    EARLY: "受付開始前",
    UNCHECKED: "未確認",
    BEFORE_COMPLETION: "完了前の申請",
}

# the request's fields: name → 日本語 label (entry points may show other names: --other-costs …)
LABELS = {
    "fiscal_year": "年度",
    "kind": "区分",
    "cost": "導入経費（事業額）",
    "other_costs": "その他の経費",
    "completed": "完了日",
    "applied": "申請日",
}


class RulesError(FujoError):
    """A rules file that cannot be used (an installation fault, not the user's input); the message
    names the file and the key."""

    status = 500
    code = "subsidy_rules"

    def __init__(self, detail: str) -> None:
        super().__init__(f"補助金の規則ファイルを使えません: {detail}", f"Subsidy rules unusable: {detail}")


@dataclass(frozen=True)
class KindRule:
    key: str  # hospital | clinic | pharmacy | chain-pharmacy …
    label_ja: str
    rate: Fraction  # 1/2, 3/4 …
    cost_ceiling: int  # 事業額の上限 (yen)
    published_max: str  # the maximum as published: 「5.4万円」
    published_max_yen: int  # … and its value: 54000

    @property
    def max_amount(self) -> int:
        """The exact maximum: rate × ceiling, rounded down to the yen."""
        return math.floor(self.rate * self.cost_ceiling)

    @property
    def rounded(self) -> bool:
        """Whether the published maximum is a rounded figure of the exact one."""
        return self.published_max_yen != self.max_amount


@dataclass(frozen=True)
class RuleSet:
    fiscal_year: int  # 2023 = 令和5年度 (April 2023 – March 2024)
    title: str
    source: str
    completion_deadline: dt.date
    application_from: dt.date
    application_to: dt.date
    kinds: Mapping[str, KindRule]  # in the order of the file
    documents: tuple[str, ...]  # always required with the application
    breakdown_document: str  # required when the receipts include other costs

    @property
    def fiscal_year_ja(self) -> str:
        name, y = era_of(dt.date(self.fiscal_year, 4, 1))
        return f"{name}{'元' if y == 1 else y}年度"

    @property
    def window_ja(self) -> str:
        return f"{wareki_date(self.application_from)}～{wareki_date(self.application_to)}"


# --- reading a rules file ------------------------------------------------------------------------

_MAN = re.compile(r"^([0-9]+(?:\.[0-9]+)?)万円$")
_RATE = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)$")


def man_yen(text: str) -> int:
    """The value of a published figure in 万円 (「5.4万円」 → 54000); ValueError when not one."""
    m = _MAN.match(text)
    if m is None:
        raise ValueError(text)
    value = Decimal(m.group(1)) * 10000
    if value != value.to_integral_value():
        raise ValueError(text)
    return int(value)


def rules_from_mapping(data: Mapping[str, Any], origin: str) -> RuleSet:
    """A :class:`RuleSet` from the parsed data of a rules file (``origin`` names it in errors)."""

    def need(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        v = d.get(key)
        if not isinstance(v, kind) or isinstance(v, bool) or (kind is dt.date and isinstance(v, dt.datetime)):
            raise RulesError(f"{origin}: {where}{key} is missing or not a {getattr(kind, '__name__', kind)}")
        return v

    year = need(data, "fiscal_year", int, "")
    dates = {k: need(data, k, dt.date, "") for k in ("completion_deadline", "application_from", "application_to")}
    if dates["application_from"] > dates["application_to"]:
        raise RulesError(f"{origin}: application_from is after application_to")
    raw_kinds = need(data, "kinds", dict, "")
    if not raw_kinds:
        raise RulesError(f"{origin}: no kinds")
    kinds: dict[str, KindRule] = {}
    for key, k in raw_kinds.items():
        where = f"kinds.{key}."
        if not isinstance(k, dict):
            raise RulesError(f"{origin}: kinds.{key} is not a table")
        rate = _RATE.match(need(k, "rate", str, where))
        if rate is None or int(rate.group(1)) > int(rate.group(2)):
            raise RulesError(f"{origin}: {where}rate must be a fraction such as 3/4, at most 1")
        ceiling = need(k, "cost_ceiling", int, where)
        if not 0 < ceiling <= MAX_YEN:
            raise RulesError(f"{origin}: {where}cost_ceiling must be a positive number of yen")
        published = need(k, "published_max", str, where)
        try:
            published_yen = man_yen(published)
        except ValueError:
            raise RulesError(f"{origin}: {where}published_max must be written as published, e.g. 5.4万円") from None
        kinds[key] = KindRule(
            key=key,
            label_ja=need(k, "label", str, where),
            rate=Fraction(int(rate.group(1)), int(rate.group(2))),
            cost_ceiling=ceiling,
            published_max=published,
            published_max_yen=published_yen,
        )
    documents = need(data, "documents", list, "")
    if not documents or not all(isinstance(d, str) and d for d in documents):
        raise RulesError(f"{origin}: documents must be a list of names")
    return RuleSet(
        fiscal_year=year,
        title=need(data, "title", str, ""),
        source=need(data, "source", str, ""),
        kinds=kinds,
        documents=tuple(documents),
        breakdown_document=need(data, "breakdown_document", str, ""),
        **dates,
    )


# --- the request ---------------------------------------------------------------------------------


def parse_yen(
    value: object, field: str, label_ja: str, required: bool = True
) -> tuple[int | None, FieldProblem | None]:
    """A whole number of yen, 0 or more: 73000, 73,000, ¥73,000, 73,000円, 7.3万円 (full-width folded)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            return None, FieldProblem(field, "required", f"{label_ja}を入力してください。", f"{field} is required.")
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        n: int | None = value
    else:
        s = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        s = s.removeprefix("¥").removeprefix("\\").strip()
        n = None
        if s.endswith("万円") or s.endswith("万"):
            try:
                d = Decimal(s.removesuffix("円").removesuffix("万")) * 10000
            except InvalidOperation:
                d = Decimal("NaN")
            if d.is_finite() and d == d.to_integral_value():
                n = int(d)
        else:
            s = s.removesuffix("円").strip()
            if s.isascii() and s.isdigit():
                n = int(s)
    if n is None:
        return None, FieldProblem(
            field,
            "amount",
            f"{label_ja}は円単位の整数で入力してください（例 73000、73,000円、7.3万円）。",
            f"{field} must be a whole number of yen (73000, 73,000円, 7.3万円).",
        )
    if not 0 <= n <= MAX_YEN:
        return None, FieldProblem(
            field,
            "out_of_range",
            f"{label_ja}は0円以上{MAX_YEN:,}円以下で入力してください。",
            f"{field} must be between 0 and {MAX_YEN} yen.",
        )
    return n, None


@dataclass(frozen=True)
class Request:
    rules: RuleSet
    kind: KindRule
    cost: int
    other_costs: int = 0
    completed: dt.date | None = None
    applied: dt.date | None = None


def select_rules(
    sets: Sequence[RuleSet], *, fiscal_year: int | None, completed: dt.date | None, applied: dt.date | None
) -> RuleSet:
    """The rule set a request falls under (``sets`` is not empty; a given ``fiscal_year`` is in it):
    that year's when given; else the one whose application window holds the application date (or the
    latest one whose window opened before it); else the first whose completion deadline is not before
    the completion date (or the latest); else the latest."""
    ordered = sorted(sets, key=lambda r: r.fiscal_year)
    if fiscal_year is not None:
        return next(r for r in ordered if r.fiscal_year == fiscal_year)
    if applied is not None:
        inside = [r for r in ordered if r.application_from <= applied <= r.application_to]
        opened = [r for r in ordered if r.application_from <= applied]
        if inside or opened:
            return (inside or opened)[-1]
        return ordered[0]  # before every window: the first year's (its check says "too early")
    if completed is not None:
        return next((r for r in ordered if completed <= r.completion_deadline), ordered[-1])
    return ordered[-1]


def read_request(
    values: Mapping[str, object], sets: Sequence[RuleSet], names: Mapping[str, str] | None = None
) -> Request:
    """The request from raw values (keys of :data:`LABELS`; dates ISO, wire or 和暦; yen as
    :func:`parse_yen` reads it). Every problem at once, as a ValidationFailed whose fields are named as
    the entry point shows them (``names``: e.g. ``{"other_costs": "--other-costs"}``)."""
    names = names or {}

    def n(key: str) -> str:
        return names.get(key, key)

    problems = Problems()
    if not sets:
        raise RulesError("no subsidy rules are installed")
    years = sorted(r.fiscal_year for r in sets)
    fiscal_year: int | None = None
    raw_year = values.get("fiscal_year")
    if raw_year not in (None, ""):
        s = unicodedata.normalize("NFKC", str(raw_year)).strip()
        if s.isascii() and s.isdigit() and int(s) in years:
            fiscal_year = int(s)
        else:
            problems.add(
                FieldProblem(
                    n("fiscal_year"),
                    "unknown",
                    f"{LABELS['fiscal_year']}「{s}」の補助金の規則はありません（{'、'.join(map(str, years))}年度があります）。",
                    f"No subsidy rules for fiscal year '{s}' (known: {', '.join(map(str, years))}).",
                )
            )
    cost, p = parse_yen(values.get("cost"), n("cost"), LABELS["cost"])
    problems.add(p)
    other, p = parse_yen(values.get("other_costs"), n("other_costs"), LABELS["other_costs"], required=False)
    problems.add(p)
    completed, p = parse_date(values.get("completed"), n("completed"), LABELS["completed"], required=False)
    problems.add(p)
    applied, p = parse_date(values.get("applied"), n("applied"), LABELS["applied"], required=False)
    problems.add(p)
    rules = select_rules(sets, fiscal_year=fiscal_year, completed=completed, applied=applied)
    kind_key = unicodedata.normalize("NFKC", str(values.get("kind") or "")).strip().lower().replace("_", "-")
    kind = rules.kinds.get(kind_key)
    if kind is None:
        allowed = "、".join(f"{k}（{r.label_ja}）" for k, r in rules.kinds.items())
        problems.add(
            FieldProblem(
                n("kind"),
                "required" if not kind_key else "code",
                f"{LABELS['kind']}は{allowed}のいずれかです" + (f"（入力は「{kind_key}」）。" if kind_key else "。"),
                f"{n('kind')} must be one of {', '.join(rules.kinds)}" + (f" (got '{kind_key}')." if kind_key else "."),
            )
        )
    order = [n(k) for k in LABELS]
    problems.items.sort(key=lambda p: order.index(p.field) if p.field in order else len(order))
    problems.raise_if_any()
    assert kind is not None and cost is not None
    return Request(rules, kind, cost, other or 0, completed, applied)


# --- the estimate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    item: str  # completion | application | order
    status: str  # ok | late | early | before_completion | unchecked
    message_ja: str
    message_en: str

    @property
    def failed(self) -> bool:
        return self.status not in (OK, UNCHECKED)


@dataclass(frozen=True)
class Note:
    code: str  # rounded_max | above_published | ceiling | other_costs | rounding
    message_ja: str
    message_en: str


@dataclass(frozen=True)
class Estimate:
    request: Request
    counted_cost: int  # the cost the rate applies to: min(cost, ceiling)
    amount: int  # rate × counted cost, rounded down to the yen
    checks: tuple[Check, ...]
    notes: tuple[Note, ...]
    documents: tuple[str, ...]
    eligible: bool | None  # None: a date was not given, so not every requirement is checked
    fraction_dropped: bool = field(default=False)

    def as_dict(self) -> dict[str, Any]:
        r, k = self.request, self.request.kind
        return {
            "fiscal_year": r.rules.fiscal_year,
            "fiscal_year_ja": r.rules.fiscal_year_ja,
            "title": r.rules.title,
            "source": r.rules.source,
            "kind": k.key,
            "kind_label": k.label_ja,
            "rate": f"{k.rate.numerator}/{k.rate.denominator}",
            "cost_ceiling": k.cost_ceiling,
            "max_amount": k.max_amount,
            "published_max": k.published_max,
            "published_max_yen": k.published_max_yen,
            "published_max_rounded": k.rounded,
            "cost": r.cost,
            "other_costs": r.other_costs,
            "counted_cost": self.counted_cost,
            "amount": self.amount,
            "completed": r.completed.isoformat() if r.completed else None,
            "applied": r.applied.isoformat() if r.applied else None,
            "completion_deadline": r.rules.completion_deadline.isoformat(),
            "application_from": r.rules.application_from.isoformat(),
            "application_to": r.rules.application_to.isoformat(),
            "checks": [
                {"item": c.item, "status": c.status, "message_ja": c.message_ja, "message_en": c.message_en}
                for c in self.checks
            ],
            "notes": [{"code": x.code, "message_ja": x.message_ja, "message_en": x.message_en} for x in self.notes],
            "documents": list(self.documents),
            "eligible": self.eligible,
        }


def _yen(n: int) -> str:
    return f"{n:,}円"


def _checks(req: Request) -> list[Check]:
    rules, done, applied = req.rules, req.completed, req.applied
    deadline = wareki_date(rules.completion_deadline)
    out = []
    if done is None:
        out.append(
            Check(
                "completion",
                UNCHECKED,
                f"完了日が入力されていないため、完了期限（{deadline}まで）は確認していません。",
                f"No completion date given: the deadline ({rules.completion_deadline.isoformat()}) is not checked.",
            )
        )
    elif done <= rules.completion_deadline:
        out.append(
            Check(
                "completion",
                OK,
                f"完了日 {wareki_date(done)} は完了期限（{deadline}まで）内です。",
                f"Completed on {done.isoformat()}, by the deadline {rules.completion_deadline.isoformat()}.",
            )
        )
    else:
        out.append(
            Check(
                "completion",
                LATE,
                f"完了日 {wareki_date(done)} は完了期限（{deadline}まで）を過ぎています。"
                f"{rules.fiscal_year_ja}の補助金の対象外です。",
                f"Completed on {done.isoformat()}, after the deadline {rules.completion_deadline.isoformat()}: "
                f"not eligible under the fiscal year {rules.fiscal_year} rules.",
            )
        )
    window_en = f"{rules.application_from.isoformat()} – {rules.application_to.isoformat()}"
    if applied is None:
        out.append(
            Check(
                "application",
                UNCHECKED,
                f"申請日が入力されていないため、申請受付期間（{rules.window_ja}）は確認していません。",
                f"No application date given: the application window ({window_en}) is not checked.",
            )
        )
    elif applied < rules.application_from:
        out.append(
            Check(
                "application",
                EARLY,
                f"申請日 {wareki_date(applied)} は申請受付期間（{rules.window_ja}）の前です。期間内に申請してください。",
                f"Applied on {applied.isoformat()}, before the application window ({window_en}) opens.",
            )
        )
    elif applied > rules.application_to:
        out.append(
            Check(
                "application",
                LATE,
                f"申請日 {wareki_date(applied)} は申請受付期間（{rules.window_ja}）を過ぎています。",
                f"Applied on {applied.isoformat()}, after the application window ({window_en}) closed.",
            )
        )
    else:
        out.append(
            Check(
                "application",
                OK,
                f"申請日 {wareki_date(applied)} は申請受付期間（{rules.window_ja}）内です。",
                f"Applied on {applied.isoformat()}, within the application window ({window_en}).",
            )
        )
    if done is not None and applied is not None and applied < done:
        out.append(
            Check(
                "order",
                BEFORE_COMPLETION,
                f"申請日 {wareki_date(applied)} が完了日 {wareki_date(done)} より前です。"
                "申請には完了報告書が必要なため、改修等の完了後に申請してください。",
                "The application is dated before the completion; it needs the completion report.",
            )
        )
    return out


def _notes(req: Request, counted: int, amount: int, dropped: bool) -> list[Note]:
    k = req.kind
    rate = f"{k.rate.numerator}/{k.rate.denominator}"
    out = []
    if k.rounded:
        out.append(
            Note(
                "rounded_max",
                f"公表の上限「{k.published_max}」は概数です。計算上の上限は{_yen(k.cost_ceiling)}×{rate}＝"
                f"{_yen(k.max_amount)}（1円未満切り捨て）で、この見積りはこの規則で計算しています。",
                f"The published maximum '{k.published_max}' is rounded: the rule gives {k.cost_ceiling} × {rate} = "
                f"{k.max_amount} yen, which this estimate uses.",
            )
        )
    if amount > k.published_max_yen:
        out.append(
            Note(
                "above_published",
                f"この見積り（{_yen(amount)}）は公表の上限「{k.published_max}」（{_yen(k.published_max_yen)}）を"
                f"上回ります。交付額が{_yen(k.published_max_yen)}となる場合があるため、交付元に確認してください。",
                f"This estimate ({amount} yen) is above the published maximum '{k.published_max}' "
                f"({k.published_max_yen} yen): the grant may be capped there; confirm with the funder.",
            )
        )
    if req.cost > counted:
        out.append(
            Note(
                "ceiling",
                f"導入経費{_yen(req.cost)}のうち、補助の対象は事業額の上限{_yen(k.cost_ceiling)}までです。",
                f"Of the cost of {req.cost} yen, only the ceiling of {k.cost_ceiling} yen counts.",
            )
        )
    if req.other_costs:
        out.append(
            Note(
                "other_costs",
                f"導入経費以外の経費（{_yen(req.other_costs)}）は補助の対象外です。"
                f"領収書とあわせて{req.rules.breakdown_document}を提出してください。",
                f"Other costs ({req.other_costs} yen) are not subsidised; send a breakdown with the receipts.",
            )
        )
    if dropped:
        out.append(
            Note(
                "rounding",
                f"{_yen(counted)}×{rate}の1円未満は切り捨てています。",
                f"{counted} × {rate} is rounded down to the yen.",
            )
        )
    return out


def estimate(req: Request) -> Estimate:
    """The subsidy for a request: amount, the deadline checks, notes and the documents to send."""
    k = req.kind
    counted = min(req.cost, k.cost_ceiling)
    exact = k.rate * counted
    amount = math.floor(exact)
    checks = _checks(req)
    if any(c.failed for c in checks):
        eligible: bool | None = False
    elif any(c.status == UNCHECKED for c in checks):
        eligible = None
    else:
        eligible = True
    documents = req.rules.documents + ((req.rules.breakdown_document,) if req.other_costs else ())
    dropped = exact != amount
    return Estimate(
        request=req,
        counted_cost=counted,
        amount=amount,
        checks=tuple(checks),
        notes=tuple(_notes(req, counted, amount, dropped)),
        documents=documents,
        eligible=eligible,
        fraction_dropped=dropped,
    )
