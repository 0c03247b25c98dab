"""CSV import of 薬剤情報等 records (one category per file) — all or nothing, as the registry's import.

Columns: ``payer_number``, ``recipient_number`` and the category's fields (fujo/medinfo/fields.py),
header row required, UTF-8 (with or without BOM) or Shift_JIS. Every row is validated; a problem is
named by its line and field, and a file with any problem writes nothing. Each recipient must be
registered under the importing office's own 公費負担者番号."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from ..auth.principal import Principal
from ..core.errors import FieldProblem, FujoError, Problems, ValidationFailed
from ..core.rows import Record
from ..db.database import Database
from ..registry.csv_import import MAX_ROWS, ImportFailed, ImportReport, RowError, decode, wrong_width
from . import fields as F
from . import service


def columns(category: str) -> list[str]:
    return [f.key for f in F.WHO + F.FIELDS[category]]


def _header_problems(category: str, header: list[str]) -> list[FieldProblem]:
    allowed = columns(category)
    required = [f.key for f in F.WHO + F.FIELDS[category] if f.required]
    probs = [
        FieldProblem(h, "unknown_column", f"列「{h}」は使えません。", f"Unknown column '{h}'.")
        for h in header
        if h not in allowed
    ]
    probs += [
        FieldProblem(h, "missing_column", f"必須の列「{h}」がありません。", f"Required column '{h}' is missing.")
        for h in required
        if h not in header
    ]
    if len(set(header)) != len(header):
        probs.append(
            FieldProblem("header", "duplicate_column", "同じ列名が重複しています。", "A column name is repeated.")
        )
    return probs


def import_csv(
    db: Database,
    principal: Principal,
    category: str,
    data: bytes,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate the whole file, then write it in one transaction (or raise ImportFailed)."""
    service.require_feeder(principal)
    if category not in F.FIELDS:
        raise ValidationFailed(problems=[F.unknown_category(category)])
    report = ImportReport(f"medinfo:{category}")
    try:
        rows = list(csv.reader(io.StringIO(decode(data), newline="")))
    except csv.Error as e:
        raise ValidationFailed(
            problems=[FieldProblem("file", "csv", f"CSVとして読めません: {e}", f"Not valid CSV: {e}")]
        ) from None
    if not rows:
        raise ValidationFailed(problems=[FieldProblem("file", "empty", "ファイルが空です。", "The file is empty.")])
    header = [h.strip() for h in rows[0]]
    probs = _header_problems(category, header)
    if probs:
        raise ValidationFailed(problems=probs)
    if len(rows) - 1 > MAX_ROWS:
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "file", "too_many_rows", f"1ファイル{MAX_ROWS}行までです。", f"At most {MAX_ROWS} rows per file."
                )
            ]
        )
    clean: list[tuple[int, Record]] = []
    for line_no, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        report.rows += 1
        if len(values) != len(header):
            report.errors.append(wrong_width(line_no, len(values), len(header)))
            continue
        raw = {k: v for k, v in zip(header, values) if v.strip() != ""}
        problems = Problems()
        rec = F.clean_record(category, raw, problems)
        if problems:
            report.errors += [RowError(line_no, p.field, p.message_ja, p.message_en) for p in problems.items]
            continue
        try:
            principal.require_payer(rec["payer_number"])
        except FujoError as e:
            report.errors.append(RowError(line_no, "payer_number", e.message_ja, e.message_en))
            continue
        clean.append((line_no, rec))
    if report.errors:
        raise ImportFailed(report)
    total = len(clean)
    now = db.now()
    with db.write() as conn:
        ids = service._recipient_ids(conn, [(r["payer_number"], r["recipient_number"]) for _, r in clean])
        missing = [(ln, r) for ln, r in clean if (r["payer_number"], r["recipient_number"]) not in ids]
        if missing:
            report.errors += [
                RowError(
                    ln,
                    "recipient_number",
                    f"受給者{r['payer_number']}/{r['recipient_number']}が登録されていません。",
                    f"No recipient {r['payer_number']}/{r['recipient_number']}.",
                )
                for ln, r in missing
            ]
            raise ImportFailed(report)  # rolls back: nothing written
        done = 0
        for i in range(0, total, 1000):
            chunk = clean[i : i + 1000]
            service.insert_records(
                conn,
                principal,
                category,
                [(ln, ids[(r["payer_number"], r["recipient_number"])], r) for ln, r in chunk],
                now,
            )
            done += len(chunk)
            if progress:
                progress(done, total)
    report.written = total
    return report
