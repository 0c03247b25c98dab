"""The simple claims CSV, for facilities whose receipt computer has no UKE output (docs/API.md).

One row per claim, a header row first, UTF-8 (with or without BOM) or Shift_JIS (cp932)::

    診療年月,公費負担者番号,受給者番号,氏名,生年月日[,実日数][,医療機関コード][,レセプト番号][,保険者番号]

- 診療年月: 2024-07, 202407, 令和6年7月 or the UKE form 50607
- 生年月日: 1990-01-15, 19900115 or 和暦 (平成2年1月15日, H2.1.15)
- 実日数 (optional): the 診療実日数 billed to 医療扶助
- 医療機関コード: required in the welfare office's check (whose claims), ignored in a facility's (its own)
- 保険者番号 (optional): set when the claim is 医療保険と併用

Rows are read one at a time (never the whole file). A missing header column stops the file
(:class:`UkeError` naming the column); a bad value in a row is a problem of that claim only."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator

from ..core.dates import parse_date, parse_month
from ..core.errors import FieldProblem
from .uke import Claim, Payer, _looks_utf8, file_problem, gyymm

REQUIRED = ("診療年月", "公費負担者番号", "受給者番号", "氏名", "生年月日")
OPTIONAL = ("実日数", "医療機関コード", "レセプト番号", "保険者番号")
_WAREKI_MONTH = re.compile(r"^(令和|平成|昭和|R|H|S)(元|[0-9]{1,2})[年./-]([0-9]{1,2})月?$")
_ERA_GAP = {"令和": 2018, "R": 2018, "平成": 1988, "H": 1988, "昭和": 1925, "S": 1925}


def _month(value: str) -> tuple[str | None, FieldProblem | None]:
    s = unicodedata.normalize("NFKC", value).strip()
    if len(s) == 5 and s.isdigit():
        ym = gyymm(s)
        if ym:
            return f"{ym[0]:04d}{ym[1]:02d}", None
    m = _WAREKI_MONTH.match(s)
    if m:
        y = _ERA_GAP[m.group(1)] + (1 if m.group(2) == "元" else int(m.group(2)))
        s = f"{y:04d}{int(m.group(3)):02d}"
    ym2, p = parse_month(s, "診療年月")
    return (f"{ym2[0]:04d}{ym2[1]:02d}" if ym2 else None), p


def _text_lines(source: Iterable[bytes]) -> Iterator[str]:
    encoding = None
    for n, raw in enumerate(source, 1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw, encoding = raw[3:], "utf-8"
        if encoding is None and not raw.isascii():
            encoding = "utf-8" if _looks_utf8(raw) else "cp932"
        try:
            yield raw.decode(encoding or "ascii")
        except UnicodeDecodeError:
            raise file_problem(
                n,
                "文字コード",
                f"{'UTF-8' if encoding == 'utf-8' else 'Shift_JIS（cp932）'}として読めない文字があります。"
                "ファイル全体をUTF-8またはShift_JISのどちらかで保存してください。",
                "Bytes that are neither UTF-8 nor Shift_JIS (cp932) throughout.",
                "encoding",
            ) from None


class _Rows:
    """csv.reader's rows, its refusal of a line (a lone CR inside a field, say) as a file problem
    naming the line, not an error of the server."""

    def __init__(self, lines: Iterable[str]):
        self._reader = csv.reader(lines)

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self._reader)
        except csv.Error as e:
            n = self._reader.line_num
            raise file_problem(
                n,
                "CSV",
                "CSVとして読めない行です（値の途中の改行、長すぎる値など）。改行はCRLFかLFに揃え、"
                '改行を含む値は"で囲んでください。',
                f"Not readable as CSV: {e}.",
                "csv",
            ) from None


def read_csv(source: Iterable[bytes], *, facility_code: str | None = None) -> Iterator[Claim]:
    """The claims of the simple CSV; ``facility_code`` is the caller's (a facility checks its own)."""
    rows = _Rows(_text_lines(source))
    header = next(rows, None)
    if header is None or not any(h.strip() for h in header):
        raise file_problem(1, "ファイル", "ファイルが空です。", "The file is empty (no header).", "empty_file")
    names = [unicodedata.normalize("NFKC", h).strip() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if facility_code is None and "医療機関コード" not in names:
        missing.append("医療機関コード")
    if missing:
        raise file_problem(
            1,
            "見出し行",
            f"見出し行に{'・'.join(missing)}の列がありません（必要な列: {','.join(REQUIRED)}）。",
            f"The header lacks {', '.join(missing)}.",
            "header",
        )
    col = {name: i for i, name in enumerate(names)}
    for row in rows:
        n = rows.line_num
        if not any(v.strip() for v in row):
            continue

        def get(name: str, row: list[str] = row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        c = Claim(line=n, facility_code=facility_code or get("医療機関コード"), receipt_number=get("レセプト番号"))
        c.name, c.month_text = get("氏名"), get("診療年月")
        c.month, p = _month(c.month_text)
        if p:
            c.problems.append(FieldProblem(f"{n}行目 診療年月", p.code, p.message_ja, p.message_en))
        c.birthdate, p = parse_date(get("生年月日"), "生年月日", "生年月日")
        if p:
            c.problems.append(FieldProblem(f"{n}行目 生年月日", p.code, p.message_ja, p.message_en))
        c.insurer_number = get("保険者番号") or None
        days = get("実日数")
        c.payers.append(Payer(n, get("公費負担者番号"), get("受給者番号"), int(days) if days.isdigit() else None))
        c.receipt_type = "" if c.insurer_number else "1211"  # no 保険者番号: 公費単独
        yield c
