"""Reader of the electronic receipt file (レセプト電算処理システム, ``RECEIPTC.UKE`` …), record by record.

The layout is the one of 「オンライン又は光ディスク等による請求に係る記録条件仕様」 (医科用 / 歯科用 / 調剤用,
厚生労働省; e.g. https://shinryohoshu.mhlw.go.jp/shinryohoshu/file/spec/R02bt1_1_kiroku.pdf), read here
from independent public implementations that quote it and agree with each other (search of public code,
2026-11: an Erlang reader's ``COLUMNS_IR`` table "records defined in iryokikan_in_03.pdf", the
``mk医療機関情報レコード`` / ``mkレセプト共通レコード`` / ``mk公費レコード`` writers of a public clinic
system, and a note on reading UKE files, note.com/rc_marumie). What this reader relies on:

- A file is CSV text: fields separated by ``,``, no quoting, records ended by CR LF, Shift_JIS
  (in practice Windows-31J, cp932: 全角 and 半角カナ), optionally ended by an EOF byte ``0x1A``.
  In cp932 a second byte is never ``0x2C``, so the bytes are split on commas before decoding, and
  an undecodable byte is named with its field.
- Each record starts with its 2-letter record identifier (レコード識別情報). A file opens with
  ``IR`` 医療機関情報 (``YK`` 薬局情報 for 調剤, see below), then per claim ``RE`` レセプト共通 followed
  by its ``HO`` 保険者, ``KO`` 公費 and detail records (``SY`` ``SI`` ``IY`` ``TO`` ``CO`` …), and ends
  with ``GO`` 診療報酬請求書 (合計).
- ``IR``: 1 IR, 2 審査支払機関, 3 都道府県, 4 点数表, 5 医療機関コード (7 digits: 郡市区 2 + 番号 4
  + 検証番号 1), 6 予備, 7 医療機関名称, 8 請求年月 (GYYMM), 9 マルチボリューム識別情報, 10 電話番号.
  The 10-digit code of fujo is 都道府県 + 点数表 + the 7 digits.
- ``YK`` (調剤): only its first fields are read — 1 YK, 2 審査支払機関, 3 都道府県, 4 点数表 (4),
  5 薬局コード (7 digits) — the positions of IR. The 調剤用 specification itself was not at hand
  (search of public code, 2026-11: two public writers of 調剤 files agree on these five fields, and
  one writes a 予備 field after the code as IR does while the other does not), so nothing after the
  薬局コード is read or named: a problem there is named by its position (``YK 第7項目``).
- ``RE``: 1 RE, 2 レセプト番号, 3 レセプト種別 (4 digits, 別表5: 1 医科 …; 2nd digit 1 医保 2 公費
  3 後期 4 退職; 3rd digit 1 単独, 2 二併 …), 4 診療年月 (GYYMM), 5 氏名, 6 男女区分 (1 男 2 女),
  7 生年月日 (GYYMMDD), 8 給付割合, … 14 カルテ番号等.
- ``HO``: 1 HO, 2 保険者番号, 3 記号, 4 番号, 5 診療実日数, 6 合計点数, …
- ``KO``: 1 KO, 2 公費負担者番号, 3 公費受給者番号, 4 任意給付区分, 5 診療実日数, 6 合計点数, …
  (up to four KO per claim, 第1公費 first).
- ``GO``: 1 GO, 2 総件数, 3 総合計点数, 4 マルチボリューム識別情報.
- 年号区分 (別表4): 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和; ``50607`` = 令和6年7月.

:func:`read_uke` yields one :class:`Claim` per RE block as soon as the block ends, so a file of any
size is never held in memory. A broken *file* (no IR first, a record before its RE, bytes that are
not cp932, a UTF-8 file, nothing in it, a GO count that disagrees) raises :class:`UkeError` naming
the line and the field; a broken *claim* (a missing or unreadable field of one RE/KO) is kept on the
claim as a problem, so the other claims are still checked. Several IR … GO blocks in a row (the data
a welfare office receives from the 審査支払機関, one block per facility) are read when ``multi`` is set.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..core.errors import FieldProblem, ValidationFailed

ERA_STARTS = {"1": 1867, "2": 1911, "3": 1925, "4": 1988, "5": 2018}  # 別表4: Gyy → year = start + yy
ERA_NAMES = {"1": "明治", "2": "大正", "3": "昭和", "4": "平成", "5": "令和"}
LAW_PUBLIC_ASSISTANCE = "12"

FIELDS = {  # names of the fields this reader reads or names in its messages (1-based positions)
    "IR": [
        "レコード識別情報",
        "審査支払機関",
        "都道府県",
        "点数表",
        "医療機関コード",
        "予備",
        "医療機関名称",
        "請求年月",
    ],
    "RE": ["レコード識別情報", "レセプト番号", "レセプト種別", "診療年月", "氏名", "男女区分", "生年月日"],
    "HO": ["レコード識別情報", "保険者番号", "被保険者証等の記号", "被保険者証等の番号", "診療実日数"],
    "KO": ["レコード識別情報", "公費負担者番号", "公費受給者番号", "任意給付区分", "診療実日数"],
    "GO": ["レコード識別情報", "総件数", "総合計点数"],
}
# the fields public 調剤 writers agree on (module docstring); the rest are named by position
FIELDS["YK"] = ["レコード識別情報", "審査支払機関", "都道府県", "点数表", "薬局コード"]
_RECORD_ID = re.compile(r"^[A-Z]{2}$")
_JAPANESE = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")


class UkeError(ValidationFailed):
    """The file cannot be read as a UKE file; nothing was checked or written."""


def file_problem(line: int, field_name: str, ja: str, en: str, code: str = "uke_format") -> UkeError:
    return UkeError(problems=[FieldProblem(f"{line}行目 {field_name}", code, ja, en)])


@dataclass
class Payer:
    """One KO record: a 公費 of the claim."""

    line: int
    payer_number: str
    recipient_number: str
    days: int | None  # 診療実日数


@dataclass
class Claim:
    """One レセプト (an RE record with the records that follow it)."""

    line: int  # the RE record's line
    facility_code: str  # 10 digits, from the IR record before it
    receipt_number: str = ""
    receipt_type: str = ""
    month: str | None = None  # 診療年月 yyyyMM
    month_text: str = ""  # as written (GYYMM)
    name: str = ""
    sex: str = ""
    birthdate: dt.date | None = None
    insurer_number: str | None = None  # HO present: 医療保険と併用
    payers: list[Payer] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)  # fields of this claim that cannot be read

    @property
    def assistance(self) -> Payer | None:
        """The KO of 生活保護 (法別 12), if the claim bills medical assistance."""
        return next((p for p in self.payers if p.payer_number.startswith(LAW_PUBLIC_ASSISTANCE)), None)

    @property
    def public_only(self) -> bool:
        """レセプト種別 says 公費単独 (2nd digit 2, 3rd digit 1): for a 生保 claim, 生保単独."""
        return len(self.receipt_type) == 4 and self.receipt_type[1] == "2" and self.receipt_type[2] == "1"


def gyymm(text: str) -> tuple[int, int] | None:
    """(year, month) of a 和暦 GYYMM, or None when it is not one."""
    if len(text) != 5 or not text.isascii() or not text.isdigit() or text[0] not in ERA_STARTS:
        return None
    y, m = ERA_STARTS[text[0]] + int(text[1:3]), int(text[3:5])
    if int(text[1:3]) == 0 or not 1 <= m <= 12:
        return None
    return y, m


def gyymmdd(text: str) -> dt.date | None:
    ym = gyymm(text[:5]) if len(text) == 7 else None
    if ym is None or not text[5:].isdigit():
        return None
    try:
        return dt.date(ym[0], ym[1], int(text[5:]))
    except ValueError:
        return None


def _decode(raw: bytes, line: int, rid: str, index: int) -> str:
    name = _field_name(rid, index)
    if raw.startswith(b"\xef\xbb\xbf") or _looks_utf8(raw):
        raise file_problem(
            line,
            name,
            "UTF-8で保存されたファイルです。レセプト電算処理システムのファイルはShift_JIS（cp932）です。"
            "レセコンから出力したままのファイルを指定してください。",
            "The file is UTF-8; receipt files are Shift_JIS (cp932). Use the file as the receipt computer wrote it.",
            "encoding",
        )
    try:
        return raw.decode("cp932")
    except UnicodeDecodeError as e:
        raise file_problem(
            line,
            name,
            f"Shift_JIS（cp932）として読めない文字があります（{e.start + 1}バイト目）。"
            "レセコンから出力したままのファイルか確認してください。",
            f"Bytes that are not Shift_JIS (cp932) at byte {e.start + 1} of the field.",
            "encoding",
        ) from None


def _fields(rec: bytes, raw_fields: list[bytes], n: int, rid: str) -> list[str]:
    """The record's fields as text: the whole record decoded at once (the usual case), field by field
    only to name the field of a bad byte."""
    if rec.isascii():
        return rec.decode("ascii").split(",")
    if not rec.startswith(b"\xef\xbb\xbf") and not _looks_utf8(rec):
        try:
            return rec.decode("cp932").split(",")
        except UnicodeDecodeError:
            pass
    return [_decode(f, n, rid, i) for i, f in enumerate(raw_fields)]


def _looks_utf8(raw: bytes) -> bool:
    """UTF-8 Japanese (3-byte sequences decoding to kana/kanji)? 半角カナ in cp932 can form valid
    2-byte UTF-8 (ﾃｽ = C3 BD = ý), which is why a mere UTF-8 decode is not taken as proof."""
    if raw.isascii():
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_JAPANESE.search(text))


def _field_name(rid: str, index: int) -> str:
    names = FIELDS.get(rid, [])
    return f"{rid}.{names[index]}" if index < len(names) else f"{rid} 第{index + 1}項目"


def _lines(source: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, record bytes without its line end); the EOF byte and blank lines at the end ignored."""
    blank = 0
    lines = (part for chunk in source for part in chunk.splitlines())  # an item holding several lines too
    for n, raw in enumerate(lines, 1):
        rec = raw.rstrip(b"\x1a")
        if not rec.strip():
            blank = blank or n
            continue
        if blank:  # a blank line inside the file: a record is missing there
            raise file_problem(blank, "レコード", "空の行があります。", "An empty line inside the file.", "empty_line")
        yield n, rec


def read_uke(source: Iterable[bytes], *, multi: bool = False) -> Iterator[Claim]:
    """The claims of a UKE file given as byte lines (an open binary file, an upload). ``multi``: several
    IR … GO blocks (a welfare office's data from the 審査支払機関)."""
    header: str | None = None  # the 10-digit facility code of the current IR block
    claim: Claim | None = None
    count = 0  # claims in the current block (for GO)
    ended = False  # GO seen
    last = 0
    seen_any = False
    for n, rec in _lines(source):
        last = n
        seen_any = True
        raw_fields = rec.split(b",")
        rid_raw = raw_fields[0]
        rid = rid_raw.decode("ascii", "replace")
        if not _RECORD_ID.match(rid):
            if n == 1 and not rec.isascii() and (rec.startswith(b"\xef\xbb\xbf") or _looks_utf8(rec)):
                _decode(rec, n, "IR", 0)  # raises: a UTF-8 file
            raise file_problem(
                n,
                "レコード識別情報",
                f"レコード識別情報「{rid[:10]}」は読めません（英大文字2文字、例: IR, RE, KO）。",
                f"Record identifier {rid[:10]!r} is not two capital letters (IR, RE, KO …).",
                "record_id",
            )
        fields = _fields(rec, raw_fields, n, rid)
        if rid in ("IR", "YK"):
            if header is not None and not ended:
                raise file_problem(
                    n,
                    rid,
                    "前の医療機関のGOレコード（合計）がないまま次の医療機関情報レコードがあります。",
                    "A second IR record before the GO record of the first.",
                    "record_order",
                )
            if ended and not multi:
                raise file_problem(
                    n, rid, "GOレコードの後にレコードがあります。", "Records after the GO record.", "record_order"
                )
            header, ended, count = _facility(fields, n), False, 0
            continue
        if header is None or ended:
            if header is None:
                raise file_problem(
                    n,
                    rid,
                    f"{rid}レコードの前にIRレコード（医療機関情報）がありません。ファイルの先頭はIRレコード（調剤はYK）です。",
                    f"{rid} record before the IR record: a receipt file starts with IR (YK for pharmacies).",
                    "record_order",
                )
            raise file_problem(
                n, rid, "GOレコードの後にレコードがあります。", "Records after the GO record.", "record_order"
            )
        if rid == "RE":
            if claim is not None:
                yield claim
            count += 1
            claim = _claim(fields, n, header)
            continue
        if rid == "GO":
            if claim is not None:
                yield claim
                claim = None
            _total(fields, n, count)
            ended = True
            continue
        if claim is None:
            raise file_problem(
                n,
                rid,
                f"{rid}レコードの前にREレコード（レセプト共通）がありません。",
                f"{rid} record without a preceding RE record.",
                "record_order",
            )
        if rid == "KO":
            _payer(claim, fields, n)
        elif rid == "HO":
            claim.insurer_number = fields[1].strip() if len(fields) > 1 else ""
    if not seen_any:
        raise file_problem(1, "ファイル", "ファイルが空です。", "The file is empty (no records).", "empty_file")
    if not ended:
        raise file_problem(
            last + 1,
            "GO",
            "GOレコード（合計）がありません。ファイルが途中で切れていないか確認してください。",
            "No GO record at the end: the file may be truncated.",
            "truncated",
        )


def _facility(fields: list[str], n: int) -> str:
    rid = fields[0]
    need = {i: FIELDS[rid][i] for i in (2, 3, 4)}  # 医療機関コード, or 薬局コード in a YK record
    for i, label in need.items():
        v = fields[i].strip() if len(fields) > i else ""
        size = {2: 2, 3: 1, 4: 7}[i]
        if len(v) != size or not v.isascii() or not v.isdigit():
            raise file_problem(
                n,
                f"{rid}.{label}",
                f"{label}は{size}桁の数字です（{'空' if not v else v[:12]}）。",
                f"{label} must be {size} digits.",
                "required" if not v else "format",
            )
    return fields[2].strip() + fields[3].strip() + fields[4].strip()


def _claim(fields: list[str], n: int, facility_code: str) -> Claim:
    c = Claim(line=n, facility_code=facility_code)

    def get(i: int) -> str:
        return fields[i].strip() if len(fields) > i else ""

    def problem(i: int, code: str, ja: str, en: str) -> None:
        c.problems.append(FieldProblem(f"{n}行目 {_field_name('RE', i)}", code, ja, en))

    c.receipt_number, c.receipt_type, c.month_text = get(1), get(2), get(3)
    c.name, c.sex = get(4), get(5)
    if len(fields) < 7:
        lacking = "・".join(FIELDS["RE"][len(fields) : 7])
        problem(
            len(fields),
            "missing_fields",
            f"REレコードの項目が{len(fields)}個しかありません（{lacking}がありません）。",
            f"RE record has {len(fields)} fields (7 or more needed).",
        )
    ym = gyymm(c.month_text)
    if ym is None:
        problem(
            3,
            "required" if not c.month_text else "format",
            "診療年月がありません。"
            if not c.month_text
            else f"診療年月「{c.month_text}」は和暦GYYMM（例: 50607 = 令和6年7月）ではありません。",
            "診療年月 is missing." if not c.month_text else "診療年月 is not a 和暦 GYYMM (50607 = R6-07).",
        )
    else:
        c.month = f"{ym[0]:04d}{ym[1]:02d}"
    b = get(6)
    c.birthdate = gyymmdd(b)
    if c.birthdate is None and len(fields) >= 7:
        problem(
            6,
            "required" if not b else "format",
            "生年月日がありません。" if not b else f"生年月日「{b}」は和暦GYYMMDDの日付ではありません。",
            "生年月日 is missing." if not b else "生年月日 is not a 和暦 GYYMMDD date.",
        )
    return c


def _payer(claim: Claim, fields: list[str], n: int) -> None:
    def get(i: int) -> str:
        return fields[i].strip() if len(fields) > i else ""

    days = get(4)
    claim.payers.append(
        Payer(line=n, payer_number=get(1), recipient_number=get(2), days=int(days) if days.isdigit() else None)
    )


def _total(fields: list[str], n: int, count: int) -> None:
    v = fields[1].strip() if len(fields) > 1 else ""
    if v and v.isdigit() and int(v) != count:
        raise file_problem(
            n,
            "GO.総件数",
            f"総件数は{int(v)}件ですが、REレコードは{count}件です。ファイルが欠けていないか確認してください。",
            f"GO says {int(v)} claims but the block has {count} RE records.",
            "count_mismatch",
        )
