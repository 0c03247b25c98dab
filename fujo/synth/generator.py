"""Deterministic generation of a national-scale synthetic data set (``fujo synth``).

Pure: no database, no clock, no secrets. Every value comes from the configuration and
``random.Random`` streams seeded from ``SynthConfig.seed`` (string seeds, so the streams do not
depend on ``PYTHONHASHSEED``), so the same configuration over the same :class:`Existing` gives the
same rows, byte for byte. :func:`generate` yields ``(table, rows)`` batches in an order that
satisfies every foreign key (organisations → office_payers → facilities → persons → recipients →
cards → insurance → tickets → facility organisations); each row is a tuple in the order of
:data:`COLUMNS`, with dates as ``YYYY-MM-DD`` and times as ``YYYY-MM-DD HH:MM:SS.ffffff`` JST wall
time (what SQLAlchemy stores on SQLite; the PostgreSQL loader sets the session time zone to
Asia/Tokyo), booleans as bool, absent values as None.

The model (sizes are the configuration's; shares below are of recipients):

- **Welfare offices** over the 47 prefectures (offices ∝ population^0.8, at least one each), each an
  organisation with one 公費負担者番号 ``12`` + prefecture + 実施機関番号 + 検証番号. Recipients per
  prefecture follow the approximate 被保護人員 by prefecture (大阪・東京 ≈ 14 % each, 北海道 8 %, …),
  and within a prefecture a Zipf law over its offices (a few big city offices, many small ones).
- **Facilities** (医療機関コード = prefecture + 点数表 + 郡市区 + 番号 + 検証番号) ∝ population, by
  kind: 3.5 % hospitals and 42 % clinics (点数表 1), 25 % dental (3), 24 % pharmacies (4), 5.5 %
  訪問看護ステーション (6). A recipient is treated in the prefecture of its office; within a
  prefecture the choice of a facility of a kind follows a Zipf law (hospitals s = 1.4: at
  2,000,000 recipients a few hospitals get 10,000+ tickets a month; clinics s = 0.7: many small).
- **Care profile** of a recipient, drawn once and kept every month: 3.5 % in-patients (医療券 入院 at
  a hospital, 97 % of months), 78 % out-patients (医療券 入院外 at a clinic or, 33 %, a hospital,
  75 % of months; 3 % of those months elsewhere), of whom 60 % also get a 調剤券 at a pharmacy (75 %
  of the months they have a 医療券; the prescriber is that month's 医療券 facility), 14 % dental
  (医療券 歯科, half the months), 2 % 訪問看護 (90 %). About 0.9 tickets per recipient and month.
- **保護 period**: 15 % started inside the window (the month and its history), 8 % ended inside it
  (停止 or 廃止 with a reason). A ticket lies inside the recipient's period: valid from
  max(month start, 保護開始) to min(month end, day before 停止・廃止), so the registry's rules hold.
- **Health insurance (併用)**: ``insurance_share`` of the recipients aged 18–74 have an employee
  insurance qualification (協会けんぽ of their prefecture 70 %, else a 健康保険組合 or 共済組合, each
  an insurer organisation); their tickets are 併用 (社会保険あり) from the first month after the
  資格取得日, 単独 (社会保険なし) before.
- **Cards**: ``card_share`` of the recipients hold a My Number card (a ``persons`` row with the
  keyed hash of a synthetic 個人番号 and the 基本4情報, one ``cards`` row) and are linked to it
  (初回ひも付け done). These cards carry synthetic serials and no certificate: the loader issues
  real certificates for a few (``--real-cards``).
- **Tickets**: 1 % are amended (a second revision, the first superseded) and 0.3 % cancelled; 交付番号
  run per office and month; ``seq`` and ids follow the generation order (month by month), the
  registration time runs through each month's office hours (weekdays 8:30–17:15, from ten days
  before the month to the 19th, never after ``as_of``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import random
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from ..core.dates import month_bounds, month_key
from ..core.fields import ELDERLY_BLOCK, LIMIT_BLOCK, SPECIFIC_DISEASE_BLOCK, normalize_kana
from ..core.numbers import with_check_digit, with_individual_check_digit
from ..db import schema

Row = tuple[object, ...]
Batch = tuple[str, list[Row]]

# --- the columns each table gets, in tuple order --------------------------------------------------


def _columns(table: Table, *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The table's columns in the schema's order, but those the synthetic rows leave to their
    defaults (``without``: NULL, or the database's id)."""
    unknown = set(without) - set(table.c.keys())
    assert not unknown, f"{table.name} has no column {sorted(unknown)}"
    return tuple(c.name for c in table.columns if c.name not in without)


COLUMNS: dict[str, tuple[str, ...]] = {
    "organisations": _columns(schema.organisations),
    "office_payers": _columns(schema.office_payers),
    "facilities": _columns(schema.facilities),
    "persons": _columns(schema.persons),
    "recipients": _columns(schema.recipients),
    "cards": _columns(schema.cards, without=("revoked_at", "revocation_reason")),  # never revoked
    "insurance_qualifications": _columns(
        schema.insurance_qualifications,
        without=(
            "disqualification_date",
            "name_of_other",
            "name_of_other_kana",
            "card_valid_to",
            "preschool",
            *ELDERLY_BLOCK,  # no certificates
            *LIMIT_BLOCK,
            *SPECIFIC_DISEASE_BLOCK,
        ),
    ),
    "tickets": _columns(
        schema.tickets,
        without=(
            "handling_contact_name",
            "consistency_flag",
            "infection_status",
            "elderly_care_status",
            "prefectural_expense_status",
            "remarks2",
            "remarks3",
            "previous_facility_code",
        ),
    ),
    "setting_changes": _columns(schema.setting_changes, without=("id", "user_id", "credential_id")),
}
# tables whose ids the generator assigns (the loader moves PostgreSQL's sequences past them)
ID_TABLES = ("organisations", "facilities", "persons", "recipients", "cards", "insurance_qualifications", "tickets")

# --- reference tables -----------------------------------------------------------------------------
# (code, name, 被保護人員 in thousands ≈ 2023, population in 10,000s ≈ 2023): approximate, rounded
PREFECTURES: tuple[tuple[str, str, int, int], ...] = (
    ("01", "北海道", 160, 510),
    ("02", "青森県", 30, 120),
    ("03", "岩手県", 13, 117),
    ("04", "宮城県", 29, 226),
    ("05", "秋田県", 14, 93),
    ("06", "山形県", 8, 103),
    ("07", "福島県", 20, 176),
    ("08", "茨城県", 30, 281),
    ("09", "栃木県", 21, 190),
    ("10", "群馬県", 15, 190),
    ("11", "埼玉県", 100, 734),
    ("12", "千葉県", 90, 627),
    ("13", "東京都", 285, 1404),
    ("14", "神奈川県", 150, 923),
    ("15", "新潟県", 22, 213),
    ("16", "富山県", 4, 101),
    ("17", "石川県", 6, 111),
    ("18", "福井県", 4, 75),
    ("19", "山梨県", 7, 80),
    ("20", "長野県", 11, 201),
    ("21", "岐阜県", 10, 194),
    ("22", "静岡県", 36, 355),
    ("23", "愛知県", 83, 748),
    ("24", "三重県", 18, 173),
    ("25", "滋賀県", 11, 141),
    ("26", "京都府", 52, 254),
    ("27", "大阪府", 285, 876),
    ("28", "兵庫県", 110, 537),
    ("29", "奈良県", 19, 130),
    ("30", "和歌山県", 14, 90),
    ("31", "鳥取県", 7, 54),
    ("32", "島根県", 6, 65),
    ("33", "岡山県", 24, 185),
    ("34", "広島県", 43, 274),
    ("35", "山口県", 14, 131),
    ("36", "徳島県", 13, 70),
    ("37", "香川県", 12, 93),
    ("38", "愛媛県", 22, 130),
    ("39", "高知県", 18, 67),
    ("40", "福岡県", 120, 508),
    ("41", "佐賀県", 9, 80),
    ("42", "長崎県", 28, 127),
    ("43", "熊本県", 27, 172),
    ("44", "大分県", 19, 110),
    ("45", "宮崎県", 18, 105),
    ("46", "鹿児島県", 33, 156),
    ("47", "沖縄県", 40, 147),
)

SURNAMES = (
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("遠藤", "エンドウ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("髙橋", "タカハシ"),  # 旧字 (cp932 has it): names as offices really write them
    ("齋藤", "サイトウ"),
    ("渡邊", "ワタナベ"),
    ("金城", "キンジョウ"),
    ("比嘉", "ヒガ"),
)
GIVEN = {
    "1": (
        ("一郎", "イチロウ"),
        ("太郎", "タロウ"),
        ("健一", "ケンイチ"),
        ("誠", "マコト"),
        ("浩", "ヒロシ"),
        ("茂", "シゲル"),
        ("勇", "イサム"),
        ("清", "キヨシ"),
        ("正", "タダシ"),
        ("隆", "タカシ"),
        ("大輔", "ダイスケ"),
        ("翔太", "ショウタ"),
        ("拓也", "タクヤ"),
        ("健太", "ケンタ"),
        ("和夫", "カズオ"),
        ("昭", "アキラ"),
        ("修", "オサム"),
        ("進", "ススム"),
        ("悟", "サトル"),
        ("蓮", "レン"),
    ),
    "2": (
        ("花子", "ハナコ"),
        ("洋子", "ヨウコ"),
        ("幸子", "サチコ"),
        ("和子", "カズコ"),
        ("節子", "セツコ"),
        ("恵子", "ケイコ"),
        ("久美子", "クミコ"),
        ("由美子", "ユミコ"),
        ("美穂", "ミホ"),
        ("愛", "アイ"),
        ("さくら", "サクラ"),
        ("陽菜", "ヒナ"),
        ("明美", "アケミ"),
        ("京子", "キョウコ"),
        ("直美", "ナオミ"),
        ("千代", "チヨ"),
        ("静香", "シズカ"),
        ("真由美", "マユミ"),
        ("文子", "フミコ"),
        ("結衣", "ユイ"),
    ),
}
_PLACE_A = (
    "青葉",
    "若葉",
    "緑",
    "桜",
    "港",
    "栄",
    "旭",
    "朝日",
    "松原",
    "平和",
    "山手",
    "川端",
    "宮前",
    "泉",
    "城山",
    "春日",
    "双葉",
    "白山",
    "日吉",
    "富士見",
    "千代田",
    "寿",
    "常盤",
    "梅園",
    "竹原",
    "清水",
    "森下",
    "本郷",
    "大和",
    "東雲",
)
_PLACE_B = ("", "台", "町", "野", "原", "浜", "丘", "谷", "沢", "島")
PLACES = tuple(a + b for b in _PLACE_B for a in _PLACE_A)  # 300 names, the plain ones first
MEDICAL_DX = (
    "高血圧症",
    "2型糖尿病",
    "脂質異常症",
    "腰痛症",
    "統合失調症",
    "うつ病",
    "慢性胃炎",
    "変形性膝関節症",
    "気管支喘息",
    "慢性腎臓病",
    "不眠症",
    "逆流性食道炎",
    "骨粗鬆症",
    "慢性心不全",
    "アルコール依存症",
    "慢性閉塞性肺疾患",
    "脳梗塞後遺症",
    "肝機能障害",
    "関節リウマチ",
    "認知症",
)
INPATIENT_DX = ("統合失調症", "脳梗塞", "肺炎", "大腿骨頸部骨折", "慢性心不全", "認知症", "胃癌", "慢性腎不全")
DENTAL_DX = ("う蝕", "慢性歯周炎", "歯肉炎", "義歯不適合", "歯髄炎", "智歯周囲炎")
NURSING_DX = ("脳梗塞後遺症", "慢性心不全", "慢性閉塞性肺疾患", "認知症", "統合失調症", "パーキンソン病")
ABOLISH_REASONS = ("就労による収入増加", "死亡", "転居（他管内へ移管）", "年金受給による収入増加", "親族による扶養")
SUSPEND_REASONS = ("一時的な収入増加", "入院による一時的な医療保険適用")

# facility kinds: (key, 点数表, share of facilities, Zipf exponent within a prefecture)
HOSPITAL, CLINIC, DENTAL, PHARMACY, NURSING = range(5)
KINDS: tuple[tuple[str, str, float, float], ...] = (
    ("hospital", "1", 0.035, 1.4),
    ("clinic", "1", 0.42, 0.7),
    ("dental", "3", 0.25, 0.6),
    ("pharmacy", "4", 0.24, 0.9),
    ("nursing", "6", 0.055, 0.5),
)
# care profile: share of recipients and the chance of a ticket in a month they are protected
P_INPATIENT, M_INPATIENT = 0.035, 0.97
P_OUTPATIENT, M_OUTPATIENT, P_AT_HOSPITAL, M_ELSEWHERE = 0.78, 0.75, 0.33, 0.03
P_PHARMACY, M_PHARMACY = 0.60, 0.75
P_DENTAL, M_DENTAL = 0.14, 0.5
P_NURSING, M_NURSING = 0.02, 0.9
P_STARTED_IN_WINDOW, P_ENDED_IN_WINDOW, P_RESTRICTED = 0.15, 0.08, 0.001
P_AMEND, P_CANCEL, P_SELF_PAY = 0.01, 0.003, 0.04
# an estimate of tickets per recipient and month (progress totals, the registration clock)
TICKETS_PER_RECIPIENT_MONTH = (
    P_INPATIENT * M_INPATIENT
    + (1 - P_INPATIENT) * P_OUTPATIENT * M_OUTPATIENT * (1 + P_PHARMACY * M_PHARMACY)
    + P_DENTAL * M_DENTAL
    + P_NURSING * M_NURSING
) * 0.93  # ≈ the share protected in a month of the window

# health insurers of the 併用 case: 協会けんぽ (法別01) per prefecture, a few 健保組合 (06) and 共済 (31–34)
UNIONS = (
    ("0613", "関東電機健康保険組合"),
    ("0613", "東日本運輸健康保険組合"),
    ("0627", "関西流通健康保険組合"),
    ("0623", "中部製造健康保険組合"),
    ("0640", "九州建設健康保険組合"),
    ("3113", "国家公務員共済組合"),
    ("3213", "地方職員共済組合"),
    ("3413", "公立学校共済組合"),
)
SYNTH_ACTOR = "fujo synth（合成データ）"
MEDICAL_ASSISTANCE_SETTING = "medical_assistance"  # fujo.facility.service.MEDICAL_ASSISTANCE


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. ``month`` is yyyyMM; ``as_of`` the last day anything is registered (tickets,
    recipients, cards): by default the month's last day (the CLI passes today for this month)."""

    recipients: int = 2_000_000
    offices: int = 1_250
    facilities: int = 100_000
    month: str = "202407"
    history_months: int = 12
    insurance_share: float = 0.04
    card_share: float = 0.30
    seed: int = 1
    as_of: dt.date | None = None
    facility_orgs: int = 20

    @property
    def months(self) -> list[str]:
        """The months with tickets, oldest first (the history, then ``month``)."""
        y, m = int(self.month[:4]), int(self.month[4:])
        out = []
        for back in range(self.history_months, -1, -1):
            k = y * 12 + (m - 1) - back
            out.append(month_key(k // 12, k % 12 + 1))
        return out

    @property
    def cutoff(self) -> dt.date:
        return self.as_of or month_bounds(self.month)[1]

    def problems(self) -> list[str]:
        """What is wrong with the sizes and shares (empty when the configuration can be generated)."""
        out = []
        if self.recipients < 1:
            out.append("recipients must be at least 1")
        if not 1 <= self.offices <= 20_000:
            out.append("offices must be between 1 and 20,000")
        if self.facilities < len(KINDS):
            out.append(f"facilities must be at least {len(KINDS)} (one of each kind)")
        if not 0 <= self.history_months <= 120:
            out.append("history_months must be between 0 and 120")
        for name in ("insurance_share", "card_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                out.append(f"{name} must be between 0 and 1")
        if self.facility_orgs < 0:
            out.append("facility_orgs must be 0 or more")
        if len(self.month) != 6 or not self.month.isdigit() or not 1 <= int(self.month[4:]) <= 12:
            out.append("month must be yyyyMM")
        return out


@dataclass(frozen=True)
class Existing:
    """What the database already holds, so that an ``--append`` load never reuses a number and
    starts its ids after the rows there (an empty database: the defaults)."""

    payer_numbers: frozenset[str] = frozenset()
    office_codes: frozenset[str] = frozenset()
    facility_codes: frozenset[str] = frozenset()
    insurers: Mapping[str, int] = field(default_factory=dict)  # insurer number → its organisation id
    number_hashes: frozenset[str] = frozenset()
    insurance_cards: frozenset[tuple[str, str]] = frozenset()  # (insurer number, card number)
    next_ids: Mapping[str, int] = field(default_factory=dict)  # table → first free id (default 1)
    next_seq: int = 1  # first free ticket_seq


@dataclass
class Summary:
    """Counts of what was generated (filled in while :func:`generate` runs)."""

    rows: dict[str, int] = field(default_factory=dict)
    month_tickets: int = 0  # active tickets of the month (current revisions)
    last_seq: int = 0
    offices: list[tuple[int, str, str]] = field(default_factory=list)  # (organisation id, payer, name)
    facility_orgs: list[tuple[int, str, str, int]] = field(default_factory=list)  # (org id, code, name, tickets)
    top_facilities: list[tuple[str, str, int]] = field(default_factory=list)  # (code, name, tickets of the month)
    digest: str = ""

    def add(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n


def _check_tables() -> tuple[list[int], list[int]]:
    """Partial sums of the 検証番号 rule for a 6-digit body split in two halves of 3 digits (from the
    right the weights are 2, 1, 2 | 1, 2, 1): a 受給者番号's check digit by two look-ups."""

    def f(p: int) -> int:
        return p // 10 + p % 10

    low = [f(2 * (v % 10)) + (v // 10) % 10 + f(2 * (v // 100)) for v in range(1000)]
    high = [v % 10 + f(2 * ((v // 10) % 10)) + v // 100 for v in range(1000)]
    return low, high


_LOW, _HIGH = _check_tables()


def recipient_check_digit(body: int) -> int:
    """:func:`fujo.core.numbers.check_digit` of the 6-digit body ``body`` (an int), faster."""
    return (10 - (_LOW[body % 1000] + _HIGH[body // 1000]) % 10) % 10


def _iso(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (integers summing to ``total``)."""
    s = sum(weights)
    if s <= 0 or total <= 0:
        return [0] * len(weights)
    exact = [total * w / s for w in weights]
    out = [int(x) for x in exact]
    rest = total - sum(out)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[:rest]:
        out[i] += 1
    return out


def _zipf(n: int, s: float) -> list[float]:
    """Cumulative Zipf weights of ranks 1…n."""
    acc, out = 0.0, []
    for k in range(1, n + 1):
        acc += 1.0 / k**s
        out.append(acc)
    return out


def _uuid_prefix(tag: str) -> str:
    """24 characters of a version-4 UUID (the last 12 hex digits are a counter), from ``tag``."""
    h = hashlib.sha256(tag.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[12:15]}-8{h[15:18]}-"


def _business_minutes(first: dt.date, cutoff: dt.date) -> list[str]:
    """Office hours (weekdays 8:30–17:15) from ten days before ``first`` to its 19th, up to
    ``cutoff``: when the month's tickets are registered, as 'YYYY-MM-DD HH:MM' strings."""
    out: list[str] = []
    day = first - dt.timedelta(days=10)
    end = min(first + dt.timedelta(days=18), cutoff)
    while day <= end:
        if day.weekday() < 5:
            d = day.isoformat()
            out.extend(f"{d} {m // 60:02d}:{m % 60:02d}" for m in range(8 * 60 + 30, 17 * 60 + 15))
        day += dt.timedelta(days=1)
    if not out:  # the whole window lies after the cutoff: everything at the cutoff's morning
        out.append(f"{cutoff.isoformat()} 09:00")
    return out


class Generator:
    """Build the rows of a configuration (see the module docstring). Iterate :meth:`batches`
    once; :attr:`summary` is complete afterwards."""

    BATCH = 20_000

    def __init__(
        self,
        config: SynthConfig,
        number_hash: Callable[[str], str],
        existing: Existing | None = None,
        digest: bool = False,
        null: object = None,
    ) -> None:
        problems = config.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.c = config
        self.number_hash = number_hash
        self.x = existing or Existing()
        self.summary = Summary()
        self.months = config.months
        self.window_start = month_bounds(self.months[0])[0]
        self.cutoff = config.cutoff
        self._next = {t: self.x.next_ids.get(t, 1) for t in ID_TABLES}
        self.digest = digest  # a SHA-256 over every row (summary.digest): costs a few µs a row
        # what stands for NULL in the big tables' rows: None, or a sentinel the writer turns into NULL
        # (SQLite's driver binds None several times slower than a string: see load.SQLiteWriter)
        self.null = null
        self._digest = hashlib.sha256()
        self._kana = {
            k: normalize_kana(k) for k in {k for _, k in SURNAMES} | {k for g in GIVEN.values() for _, k in g}
        }
        self._plan_offices()
        self._plan_facilities()

    # --- ids -------------------------------------------------------------------------------------
    def _ids(self, table: str, n: int) -> int:
        first = self._next[table]
        self._next[table] = first + n
        return first

    def _emit(self, table: str, rows: list[Row]) -> Batch:
        self.summary.add(table, len(rows))
        if self.digest:
            h = self._digest
            h.update(table.encode())
            for r in rows:
                h.update(repr(r).encode())
        return table, rows

    # --- plan: offices and facilities (small; kept in memory) -----------------------------------
    def _plan_offices(self) -> None:
        c, rng = self.c, random.Random(f"{self.c.seed}/offices")
        n_pref = len(PREFECTURES)
        if c.offices >= n_pref:
            per_pref = [1 + k for k in _largest_remainder(c.offices - n_pref, [p[3] ** 0.8 for p in PREFECTURES])]
        else:  # fewer offices than prefectures: the prefectures with the most recipients
            top = sorted(range(n_pref), key=lambda i: (-PREFECTURES[i][2], i))[: c.offices]
            per_pref = [1 if i in top else 0 for i in range(n_pref)]
        self.office_pref: list[int] = []  # prefecture index of each office
        self.office_payer: list[str] = []
        self.office_name: list[str] = []
        self.office_code: list[str] = []
        self.office_place: list[str] = []
        weights: list[float] = []
        for pi, (pcode, pname, recips, _) in enumerate(PREFECTURES):
            n = per_pref[pi]
            if not n:
                continue
            cum = _zipf(n, 0.8)
            total = cum[-1]
            places = list(PLACES)
            rng.shuffle(places)
            number = 0
            for j in range(n):
                while True:
                    number += 1
                    if number > 999:
                        raise ValueError(f"no free 実施機関番号 left in prefecture {pcode}")
                    payer = with_check_digit(f"12{pcode}{number:03d}")
                    code = f"{pcode}{number:03d}"
                    if payer not in self.x.payer_numbers and code not in self.x.office_codes:
                        break
                place = places[j % len(places)] + ("市" if j < len(places) else f"第{j // len(places) + 1}区")
                self.office_pref.append(pi)
                self.office_payer.append(payer)
                self.office_code.append(code)
                self.office_place.append(place)
                self.office_name.append(f"{pname}{place}福祉事務所")
                weights.append(recips * (cum[j] - (cum[j - 1] if j else 0.0)) / total)
        self.office_size = _largest_remainder(c.recipients, weights)
        if max(self.office_size) > 999_998:  # 受給者番号 has 6 digits before its 検証番号
            raise ValueError("more than 999,998 recipients in one office: give more offices")
        self.office_org = list(range(self._ids("organisations", len(self.office_payer)), self._next["organisations"]))

    def _plan_facilities(self) -> None:
        c, rng = self.c, random.Random(f"{self.c.seed}/facilities")
        n_pref = len(PREFECTURES)
        per_kind = [1 + k for k in _largest_remainder(c.facilities - len(KINDS), [k[2] for k in KINDS])]
        # (prefecture, kind) → facility indices, in rank order (rank 1 = the busiest)
        self.fac_code: list[str] = []
        self.fac_name: list[str] = []
        self.fac_kind: list[int] = []
        self.fac_address: list[str] = []
        self.fac_phone: list[str] = []
        self.choice: dict[tuple[int, int], tuple[list[int], list[float]]] = {}
        national: dict[int, list[int]] = {}
        counters: dict[tuple[int, str], int] = {}
        for ki, (_, table, _, s) in enumerate(KINDS):
            per_pref = _largest_remainder(per_kind[ki], [p[3] for p in PREFECTURES])
            for pi in range(n_pref):
                idx: list[int] = []
                pcode, pname = PREFECTURES[pi][0], PREFECTURES[pi][1]
                for rank in range(per_pref[pi]):
                    j = counters.get((pi, table), 0)
                    while True:
                        j += 1
                        if j > 99 * 9999:
                            raise ValueError(f"no free 医療機関コード left in prefecture {pcode}")
                        code = with_check_digit(f"{pcode}{table}{1 + (j - 1) // 9999:02d}{1 + (j - 1) % 9999:04d}")
                        if code not in self.x.facility_codes:
                            break
                    counters[(pi, table)] = j
                    place = PLACES[rng.randrange(len(PLACES))]
                    sur = SURNAMES[rng.randrange(len(SURNAMES))][0]
                    if ki == HOSPITAL:
                        name = (
                            (
                                f"{pname}立{place}総合病院",
                                f"国立病院機構{place}医療センター",
                                f"{place}赤十字病院",
                            )[rank]
                            if rank < 3
                            else f"医療法人{sur}会 {place}病院"
                        )
                    elif ki == CLINIC:
                        name = f"{sur}{('内科', '医院', 'クリニック', '整形外科', '心療内科')[rank % 5]}"
                        name += f"（{place}）"
                    elif ki == DENTAL:
                        name = f"{sur}歯科医院（{place}）"
                    elif ki == PHARMACY:
                        name = f"{('さくら', 'ひまわり', 'あおば', 'なの花', 'すずらん')[rank % 5]}薬局 {place}店"
                    else:
                        name = f"訪問看護ステーション{place}"
                    idx.append(len(self.fac_code))
                    self.fac_code.append(code)
                    self.fac_name.append(name[:80])
                    self.fac_kind.append(ki)
                    self.fac_address.append(
                        f"{pname}{place}{rng.randint(1, 5)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
                    )
                    self.fac_phone.append(f"0{rng.randint(10, 99)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}")
                if idx:
                    self.choice[(pi, ki)] = (idx, _zipf(len(idx), s))
                national.setdefault(ki, []).extend(idx)
        for ki, idx in national.items():  # a prefecture without a facility of a kind: the whole country's
            self.choice[(-1, ki)] = (idx, _zipf(len(idx), KINDS[ki][3]))
        self.fac_id0 = self._ids("facilities", len(self.fac_code))

    def _pick(self, rng: random.Random, pref: int, kind: int) -> int:
        idx, cum = self.choice.get((pref, kind)) or self.choice[(-1, kind)]
        return idx[bisect.bisect_left(cum, rng.random() * cum[-1])]

    # --- the stream ------------------------------------------------------------------------------
    def batches(self, bulk: Callable[[], Iterator[Batch]] | None = None) -> Iterator[Batch]:
        """Every table's rows in foreign-key order. ``bulk`` replaces :meth:`bulk_stage` (the loader
        runs it in a child process and hands its batches back here)."""
        yield from self._organisations()
        yield from self._facilities()
        yield from (bulk or self.bulk_stage)()
        yield from self._facility_orgs()
        if self.digest:
            self.summary.digest = self._digest.hexdigest()

    def bulk_stage(self) -> Iterator[Batch]:
        """Nearly all the rows: the people (recipients with their card holders, cards and
        insurance) and then the tickets; afterwards :meth:`bulk_state` holds what the later stages
        and the summary need."""
        yield from self._population()
        yield from self._tickets()

    def bulk_state(self) -> dict[str, object]:
        return {
            "next": dict(self._next),
            "rid0": self.rid0,
            "p_ins": self.p_ins,
            "month_count": self.month_count,
            "last_seq": self.summary.last_seq,
            "month_tickets": self.summary.month_tickets,
            "top_facilities": self.summary.top_facilities,
        }

    def set_bulk_state(self, state: dict[str, Any]) -> None:
        """Take over the state of a bulk stage run elsewhere (:meth:`bulk_state`)."""
        self._next.update(state["next"])
        self.rid0 = state["rid0"]
        self.p_ins = state["p_ins"]
        self.month_count = state["month_count"]
        self.summary.last_seq = state["last_seq"]
        self.summary.month_tickets = state["month_tickets"]
        self.summary.top_facilities = state["top_facilities"]

    def emit(self, table: str, rows: list[Row]) -> Batch:
        """Count (and digest) a batch produced elsewhere, as if produced here."""
        return self._emit(table, rows)

    def _ts(self, d: dt.date, hhmm: str = "09:00") -> str:
        return f"{min(d, self.cutoff).isoformat()} {hhmm}:00.000000"

    def _organisations(self) -> Iterator[Batch]:
        created = self._ts(self.window_start - dt.timedelta(days=30))
        rows: list[Row] = []
        rng = random.Random(f"{self.c.seed}/office-phones")
        for k, oid in enumerate(self.office_org):
            pi = self.office_pref[k]
            phone = f"0{rng.randint(10, 99)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
            address = f"{PREFECTURES[pi][1]}{self.office_place[k]}本町1-1-1"
            rows.append(
                (oid, "welfare_office", self.office_code[k], self.office_name[k], phone, address, False, created)
            )
            self.summary.offices.append((oid, self.office_payer[k], self.office_name[k]))
        # insurers of the 併用 case (an insurer the database already has is used as it is)
        self.insurers: list[tuple[str, str]] = []  # (number, name); index 0..46: 協会けんぽ by prefecture
        for pcode, pname, _, _ in PREFECTURES:
            self.insurers.append((with_check_digit(f"01{pcode}001"), f"全国健康保険協会 {pname}支部"))
        for body, name in UNIONS:
            self.insurers.append((with_check_digit(f"{body}{len(self.insurers) % 1000:03d}"), name))
        self.insurer_org: list[int] = []
        if self.c.insurance_share > 0:
            for number, name in self.insurers:
                if number in self.x.insurers:
                    self.insurer_org.append(self.x.insurers[number])
                    continue
                oid = self._ids("organisations", 1)
                self.insurer_org.append(oid)
                rows.append((oid, "insurer", number, name, None, None, False, created))
        yield self._emit("organisations", rows)
        yield self._emit("office_payers", [(self.office_payer[k], oid) for k, oid in enumerate(self.office_org)])

    def _facilities(self) -> Iterator[Batch]:
        created = self._ts(self.window_start - dt.timedelta(days=30))
        rows: list[Row] = []
        for i, code in enumerate(self.fac_code):
            rows.append(
                (
                    self.fac_id0 + i,
                    code,
                    self.fac_name[i],
                    code[2],
                    code[:2],
                    self.fac_address[i],
                    self.fac_phone[i],
                    created,
                    created,
                )
            )
            if len(rows) >= self.BATCH:
                yield self._emit("facilities", rows)
                rows = []
        if rows:
            yield self._emit("facilities", rows)

    def _population(self) -> Iterator[Batch]:
        """Recipients office by office, with their card holders, cards and insurance; keeps each
        recipient's care profile (compact arrays) for the tickets."""
        c = self.c
        n = c.recipients
        NULL = self.null
        cut = self.cutoff.toordinal()
        ws = self.window_start.toordinal()
        last = month_bounds(self.months[-1])[1].toordinal()
        self.p_office = array("i", bytes(4 * n))
        self.p_q = array("i", bytes(4 * n))  # 保護開始 (ordinal)
        self.p_d = array("i", bytes(4 * n))  # 停止・廃止日 (ordinal; 0 = none)
        self.p_ins = array("i", bytes(4 * n))  # 医療保険 資格取得日 (ordinal; 0 = none)
        self.p_med = array("i", [-1]) * n  # out- or in-patient facility
        self.p_inpatient = array("b", bytes(n))
        self.p_pharm = array("i", [-1]) * n
        self.p_dental = array("i", [-1]) * n
        self.p_nursing = array("i", [-1]) * n
        self.p_dx = array("H", bytes(2 * n))
        self.rid0 = self._ids("recipients", n)
        pid0 = self._next["persons"]
        card0 = self._next["cards"]
        ins0 = self._next["insurance_qualifications"]
        n_person = n_ins = 0
        public_prefix = _uuid_prefix(f"fujo-synth/{c.seed}/persons/{pid0}")
        serial_prefix = hashlib.sha256(f"fujo-synth/{c.seed}/cards/{card0}".encode()).hexdigest()[:12]
        number_base = int(hashlib.sha256(f"fujo-synth/{c.seed}/numbers".encode()).hexdigest(), 16) % 10**11
        number_i = 0
        taken_cards = self.x.insurance_cards
        ins_counter = 0
        persons: list[Row] = []
        recipients: list[Row] = []
        cards: list[Row] = []
        insurance: list[Row] = []
        r = 0
        created_floor = self.window_start - dt.timedelta(days=30)
        for k, size in enumerate(self.office_size):
            if not size:
                continue
            rng = random.Random(f"{c.seed}/office/{k}")
            rand = rng.random

            def ri(lo: int, hi: int, rand: Callable[[], float] = rand) -> int:
                return lo + int(rand() * (hi - lo + 1))

            payer = self.office_payer[k]
            pi = self.office_pref[k]
            pname = PREFECTURES[pi][1]
            place = self.office_place[k]
            gaps = 3 * size < 990_000
            body = ri(1, 999_999 - (3 * size if gaps else size)) if size < 999_000 else 1
            for _ in range(size):
                body += 1 + (int(rand() * 3) if gaps else 0)
                rn = f"{body:06d}{recipient_check_digit(body)}"
                sex = "1" if rand() < 0.48 else "2"
                sur, sur_k = SURNAMES[int(rand() * len(SURNAMES))]
                given, given_k = GIVEN[sex][int(rand() * 20)]
                u = rand()  # age: 52 % 65–99, 33 % 18–64, 15 % 0–17
                age = ri(65, 99) if u < 0.52 else ri(18, 64) if u < 0.85 else ri(0, 17)
                birth = cut - age * 365 - int(rand() * 365)
                if birth >= ws or rand() < P_STARTED_IN_WINDOW:
                    q = ri(max(ws, birth), max(last, birth))
                else:
                    q = ri(max(birth, ws - 25 * 365), ws - 1)
                d = 0
                kind = reason = NULL
                if rand() < P_ENDED_IN_WINDOW and q + 31 <= last:
                    d = ri(max(q + 31, ws), last)
                    if rand() < 0.75:
                        kind, reason = "2", ABOLISH_REASONS[int(rand() * len(ABOLISH_REASONS))]
                    else:
                        kind, reason = "1", SUSPEND_REASONS[int(rand() * len(SUSPEND_REASONS))]
                address = f"{pname}{place}{PLACES[int(rand() * 300)]}{ri(1, 9)}-{ri(1, 30)}-{ri(1, 20)}"
                post = f"{ri(100, 999)}-{ri(0, 9999):04d}"
                created = self._ts(max(dt.date.fromordinal(q), created_floor), "10:00")
                name = sur + given
                kana = f"{self._kana[sur_k]} {self._kana[given_k]}"
                birth_s = _iso(birth)
                person_id = NULL
                if rand() < c.card_share:
                    while True:
                        number_i += 1
                        number = with_individual_check_digit(f"{(number_base + number_i * 7919) % 10**11:011d}")
                        h = self.number_hash(number)
                        if h not in self.x.number_hashes:
                            break
                    person_id = pid0 + n_person
                    issued = ri(min(max(cut - 5 * 365 + 30, birth), cut), cut)
                    issued_at = f"{_iso(issued)} 10:00:00.000000"
                    persons.append(
                        (person_id, f"{public_prefix}{n_person:012x}", issued_at, h, name, birth_s, sex, address)
                    )
                    cards.append(
                        (
                            card0 + n_person,
                            person_id,
                            f"{serial_prefix}{n_person:010x}",
                            hashlib.sha256(f"synthetic card {serial_prefix}{n_person:010x}".encode()).hexdigest(),
                            f"{_iso(issued)} 09:55:00.000000",
                            f"{_iso(issued + 5 * 365)} 09:55:00.000000",
                            issued_at,
                        )
                    )
                    n_person += 1
                restricted = 1 if rand() < P_RESTRICTED else 0  # an int: the drivers bind bool slowly
                recipients.append(
                    (
                        self.rid0 + r,
                        payer,
                        rn,
                        person_id,
                        name,
                        kana,
                        sex,
                        birth_s,
                        address,
                        post,
                        _iso(q),
                        _iso(d) if d else NULL,
                        kind,
                        reason,
                        1,
                        restricted,
                        created,
                        created,
                    )
                )
                # health insurance (併用): employees aged 18–74, from before the window or inside it
                if 18 <= age <= 74 and c.insurance_share and rand() < c.insurance_share:
                    ins_from = ri(ws - 10 * 365, last) if rand() < 0.8 else ri(ws, last)
                    ins_from = max(ins_from, birth + 18 * 365)
                    which = pi if rand() < 0.7 else len(PREFECTURES) + int(rand() * len(UNIONS))
                    inumber, iname = self.insurers[which]
                    while True:
                        ins_counter += 1
                        card_number = f"{ins_counter:08d}"
                        if (inumber, card_number) not in taken_cards:
                            break
                    family = rand() < 0.2
                    insured = (
                        (SURNAMES[int(rand() * len(SURNAMES))][0] + GIVEN["1"][int(rand() * 20)][0]) if family else name
                    )
                    ins_s = _iso(ins_from)
                    insurance.append(
                        (
                            ins0 + n_ins,
                            person_id,
                            self.insurer_org[which],
                            inumber,
                            iname,
                            "01",
                            f"{ri(1, 99999)}",
                            card_number,
                            "01" if family else "00",
                            "2" if family else "1",
                            name,
                            kana,
                            sex,
                            birth_s,
                            address,
                            post,
                            ins_s,
                            self._ts(dt.date.fromordinal(ins_from), "11:00"),
                            self._ts(dt.date.fromordinal(ins_from), "11:00"),
                            insured,
                            ins_s,
                            ins_s,
                            "020" if age >= 70 else "030",
                        )
                    )
                    n_ins += 1
                    self.p_ins[r] = ins_from
                # the care profile
                self.p_office[r] = k
                self.p_q[r] = q
                self.p_d[r] = d
                if rand() < P_INPATIENT:
                    self.p_inpatient[r] = 1
                    self.p_med[r] = self._pick(rng, pi, HOSPITAL)
                    self.p_dx[r] = int(rand() * len(INPATIENT_DX))
                else:
                    if rand() < P_OUTPATIENT:
                        self.p_med[r] = self._pick(rng, pi, HOSPITAL if rand() < P_AT_HOSPITAL else CLINIC)
                        if rand() < P_PHARMACY:
                            self.p_pharm[r] = self._pick(rng, pi, PHARMACY)
                    self.p_dx[r] = int(rand() * len(MEDICAL_DX) * len(MEDICAL_DX))
                if rand() < P_DENTAL:
                    self.p_dental[r] = self._pick(rng, pi, DENTAL)
                if rand() < P_NURSING:
                    self.p_nursing[r] = self._pick(rng, pi, NURSING)
                r += 1
                if len(recipients) >= self.BATCH:
                    yield from self._flush_population(persons, recipients, cards, insurance)
                    persons, recipients, cards, insurance = [], [], [], []
        yield from self._flush_population(persons, recipients, cards, insurance)
        self._ids("persons", n_person)
        self._ids("cards", n_person)
        self._ids("insurance_qualifications", n_ins)

    def _flush_population(
        self, persons: list[Row], recipients: list[Row], cards: list[Row], insurance: list[Row]
    ) -> Iterator[Batch]:
        for table, rows in (
            ("persons", persons),
            ("recipients", recipients),
            ("cards", cards),
            ("insurance_qualifications", insurance),
        ):
            if rows:
                yield self._emit(table, rows)

    def _tickets(self) -> Iterator[Batch]:
        """Every month's tickets, oldest month first (so ids, seq and registration times grow
        together), recipient by recipient."""
        c = self.c
        n = c.recipients
        NULL = self.null
        self.month_count = array("i", bytes(4 * len(self.fac_code)))
        tid = self._ids("tickets", 0)
        seq = self.x.next_seq
        key_prefix = _uuid_prefix(f"fujo-synth/{c.seed}/tickets/{tid}")
        key_n = 0
        fac_code, fac_name = self.fac_code, self.fac_name
        p_office, p_q, p_d, p_ins = self.p_office, self.p_q, self.p_d, self.p_ins
        p_med, p_inp, p_pharm, p_dental, p_nurs, p_dx = (
            self.p_med,
            self.p_inpatient,
            self.p_pharm,
            self.p_dental,
            self.p_nursing,
            self.p_dx,
        )
        office_org = self.office_org
        office_pref = self.office_pref
        # 傷病名1–3 by the recipient's diagnosis number (p_dx), built once
        n_dx = len(MEDICAL_DX)
        inj_medical = [
            (MEDICAL_DX[a], MEDICAL_DX[b] if b != a else NULL, NULL) for a in range(n_dx) for b in range(n_dx)
        ]
        inj_inpatient = [(INPATIENT_DX[x % len(INPATIENT_DX)], NULL, NULL) for x in range(n_dx * n_dx)]
        inj_dental = [(DENTAL_DX[x % len(DENTAL_DX)], NULL, NULL) for x in range(n_dx * n_dx)]
        inj_nursing = [(NURSING_DX[x % len(NURSING_DX)], NULL, NULL) for x in range(n_dx * n_dx)]
        # 地区担当員 of each office: five caseworkers, a recipient always has the same one
        rng0 = random.Random(f"{c.seed}/caseworkers")
        caseworkers = [
            [SURNAMES[rng0.randrange(len(SURNAMES))][0] + GIVEN["12"[j % 2]][rng0.randrange(20)][0] for j in range(5)]
            for _ in office_org
        ]
        expected = max(1, int(n * TICKETS_PER_RECIPIENT_MONTH))
        rows: list[Row] = []
        rid0 = self.rid0
        current = len(self.months) - 1
        for mi, month in enumerate(self.months):
            rng = random.Random(f"{c.seed}/tickets/{month}")
            rand = rng.random
            first_d, last_d = month_bounds(month)
            fo, lo = first_d.toordinal(), last_d.toordinal()
            first_s, last_s = first_d.isoformat(), last_d.isoformat()
            clock = _business_minutes(first_d, self.cutoff)
            n_clock = len(clock)
            issue = [0] * len(office_org)
            issue_prefix = month[2:]
            is_current = mi == current
            k = 0  # tickets of the month so far (the registration clock)
            for r, q, d, med, dental, nursing in zip(range(n), p_q, p_d, p_med, p_dental, p_nurs):
                if q > lo or (d and d <= fo) or (med < 0 and dental < 0 and nursing < 0):
                    continue
                wanted: list[tuple[str, int, str, int, tuple[str, object, object]]] = []
                if med >= 0:
                    inpatient = p_inp[r]
                    if rand() < (M_INPATIENT if inpatient else M_OUTPATIENT):
                        if inpatient:
                            inj = inj_inpatient[p_dx[r]]
                            wanted.append(("01", med, "01", -1, inj))
                        else:
                            if rand() < M_ELSEWHERE:
                                med = self._pick(rng, office_pref[p_office[r]], CLINIC)
                            inj = inj_medical[p_dx[r]]
                            wanted.append(("01", med, "02", -1, inj))
                            pharm = p_pharm[r]
                            if pharm >= 0 and rand() < M_PHARMACY:
                                wanted.append(("02", pharm, "04", med, inj))
                if dental >= 0 and rand() < M_DENTAL:
                    wanted.append(("01", dental, "03", -1, inj_dental[p_dx[r]]))
                if nursing >= 0 and rand() < M_NURSING:
                    wanted.append(("01", nursing, "05", -1, inj_nursing[p_dx[r]]))
                if not wanted:
                    continue
                vf = first_s if q <= fo else _iso(q)
                vt = last_s if not d or d > lo else _iso(d - 1)
                ins = p_ins[r]
                if ins and ins < fo:
                    single, social = "02", "01"
                else:
                    single, social = "01", "02"
                office = p_office[r]
                rid = rid0 + r
                worker = caseworkers[office][r % 5]
                changed_by = office_org[office]
                for ttype, fac, treat, prescriber, inj in wanted:
                    issue[office] += 1
                    at = f"{clock[min(k * n_clock // expected, n_clock - 1)]}:{(k * 7) % 60:02d}.000000"
                    k += 1
                    u = rand()
                    revised = u < P_AMEND + P_CANCEL
                    row = (
                        tid,
                        f"{key_prefix}{key_n:012x}",
                        1,
                        rid,
                        "active",
                        ttype,
                        month,
                        vf,
                        vt,
                        f"{issue_prefix}{issue[office]:06d}",
                        fac_code[fac],
                        fac_name[fac],
                        fac_code[prescriber] if prescriber >= 0 else NULL,
                        fac_name[prescriber] if prescriber >= 0 else NULL,
                        inj[0],
                        inj[1],
                        inj[2],
                        treat,
                        int(rand() * 40 + 1) * 500 if rand() < P_SELF_PAY else NULL,
                        worker,
                        single,
                        social,
                        NULL,
                        tid + 1 if revised else NULL,
                        seq,
                        at,
                        at,
                        changed_by,
                        NULL,
                    )
                    rows.append(row)
                    tid += 1
                    seq += 1
                    if revised:
                        later = (
                            f"{clock[min(k * n_clock // expected + 3 * 525, n_clock - 1)]}:{(k * 11) % 60:02d}.000000"
                        )
                        if u < P_AMEND:  # a third 傷病名 added: the first revision is superseded
                            extra = "不眠症" if "腰痛症" in inj else "腰痛症"
                            rows.append(
                                (
                                    row[0] + 1,
                                    row[1],
                                    2,
                                    rid,
                                    "active",
                                    *row[5:16],
                                    inj[2] or extra,
                                    *row[17:22],
                                    "傷病名の追加",
                                    NULL,
                                    seq,
                                    at,
                                    max(later, at),
                                    changed_by,
                                    "傷病名の追加",
                                )
                            )
                            if is_current:
                                self.month_count[fac] += 1
                        else:
                            rows.append(
                                (
                                    row[0] + 1,
                                    row[1],
                                    2,
                                    rid,
                                    "cancelled",
                                    *row[5:23],
                                    NULL,
                                    seq,
                                    at,
                                    max(later, at),
                                    changed_by,
                                    "受診先の変更のため取消",
                                )
                            )
                        tid += 1
                        seq += 1
                    elif is_current:
                        self.month_count[fac] += 1
                    key_n += 1
                    if len(rows) >= self.BATCH:
                        yield self._emit("tickets", rows)
                        rows = []
            if rows:
                yield self._emit("tickets", rows)
                rows = []
        self._next["tickets"] = tid
        self.summary.last_seq = seq - 1
        self.summary.month_tickets = sum(self.month_count)
        top = sorted(range(len(fac_code)), key=lambda i: (-self.month_count[i], i))[:10]
        self.summary.top_facilities = [(fac_code[i], fac_name[i], self.month_count[i]) for i in top]

    def _facility_orgs(self) -> Iterator[Batch]:
        """The busiest facilities of the month (and the busiest pharmacy, clinic, dental clinic and
        訪問看護ステーション) become organisations using 「医療扶助」, so a benchmark can check as them."""
        want = self.c.facility_orgs
        if not want:
            return
        counts = self.month_count
        order = sorted(range(len(self.fac_code)), key=lambda i: (-counts[i], i))
        chosen: list[int] = []
        for ki in (PHARMACY, CLINIC, DENTAL, NURSING):
            best = next((i for i in order if self.fac_kind[i] == ki), None)
            if best is not None and len(chosen) < want:
                chosen.append(best)
        for i in order:
            if len(chosen) >= want:
                break
            if i not in chosen:
                chosen.append(i)
        chosen.sort(key=lambda i: (-counts[i], i))
        at = self._ts(self.window_start - dt.timedelta(days=20))
        orgs: list[Row] = []
        settings: list[Row] = []
        for i in chosen:
            oid = self._ids("organisations", 1)
            orgs.append(
                (oid, "facility", self.fac_code[i], self.fac_name[i], self.fac_phone[i], self.fac_address[i], True, at)
            )
            settings.append((oid, MEDICAL_ASSISTANCE_SETTING, "1", at, SYNTH_ACTOR))
            self.summary.facility_orgs.append((oid, self.fac_code[i], self.fac_name[i], counts[i]))
        yield self._emit("organisations", orgs)
        yield self._emit("setting_changes", settings)

    def next_ids(self) -> dict[str, int]:
        """The first free id of each table after the load (for PostgreSQL's sequences)."""
        return dict(self._next)


def estimate_rows(config: SynthConfig) -> int:
    """About how many rows :func:`generate` yields (for a progress bar's total)."""
    n = config.recipients
    tickets = int(n * TICKETS_PER_RECIPIENT_MONTH * (config.history_months + 1) * (1 + P_AMEND + P_CANCEL))
    people = n + int(n * config.card_share) * 2 + int(n * config.insurance_share * 0.6)
    return config.offices * 2 + config.facilities + people + tickets


def generate(
    config: SynthConfig, number_hash: Callable[[str], str], existing: Existing | None = None, digest: bool = False
) -> tuple[Generator, Iterator[Batch]]:
    """The generator (its ``summary`` is complete once the stream is consumed) and the stream of
    ``(table, rows)`` batches (absent values None)."""
    g = Generator(config, number_hash, existing, digest)
    return g, g.batches()
