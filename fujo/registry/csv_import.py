"""CSV import of recipients, tickets and insurance qualifications — all or nothing per file.

Every row is validated first with the same field tables as the API; if any row is wrong, the
report lists every problem by row and field and nothing is written. Otherwise the whole file is
written in one transaction. Columns are the field names (header row required); UTF-8 (with or
without BOM) and Shift_JIS (cp932) are read.
"""
from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from typing import Callable

from ..auth.principal import Principal
from ..core.errors import FieldProblem, FujoError, ValidationFailed
from sqlalchemy import select

from ..core.fields import INSURANCE_FIELDS, RECIPIENT_FIELDS, TICKET_FIELDS
from ..db import schema as s
from ..db.database import Database, next_values
from ..insurance import service as insurance
from . import service as registry

KINDS = {
    "recipients": [f.name for f in RECIPIENT_FIELDS],
    "tickets": ["payer_number", "recipient_number"] + [f.name for f in TICKET_FIELDS],
    "insurance": [f.name for f in INSURANCE_FIELDS] + ["card_serial"],
}
REQUIRED = {
    "recipients": [f.name for f in RECIPIENT_FIELDS if f.required],
    "tickets": ["payer_number", "recipient_number"] + [f.name for f in TICKET_FIELDS if f.required],
    "insurance": [f.name for f in INSURANCE_FIELDS if f.required],
}
MAX_ROWS = 200_000


@dataclass
class RowError:
    row: int      # line number in the file (header = 1)
    field: str
    message_ja: str
    message_en: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message_ja": self.message_ja, "message_en": self.message_en}


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    written: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "rows": self.rows, "written": self.written, "ok": not self.errors,
                "errors": [e.as_dict() for e in self.errors]}


class ImportFailed(FujoError):
    status = 422
    code = "import_failed"

    def __init__(self, report: ImportReport):
        n = len(report.errors)
        super().__init__(f"{n}件の誤りがあるため、ファイル全体を取り込みませんでした。",
                         f"{n} problem(s) found; nothing from the file was imported.")
        self.report = report

    def as_dict(self) -> dict:
        d = super().as_dict()
        d["report"] = self.report.as_dict()
        return d


def decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(problems=[FieldProblem("file", "encoding", "文字コードはUTF-8またはShift_JISにしてください。",
                                                  "The file must be UTF-8 or Shift_JIS.")])


def parse(kind: str, data: bytes) -> tuple[list[dict], ImportReport]:
    if kind not in KINDS:
        raise ValidationFailed(problems=[FieldProblem("kind", "code", "種類はrecipients・tickets・insuranceのいずれかです。",
                                                      "kind must be recipients, tickets or insurance.")])
    report = ImportReport(kind)
    reader = csv.reader(io.StringIO(decode(data), newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValidationFailed(problems=[FieldProblem("file", "empty", "ファイルが空です。", "The file is empty.")])
    except csv.Error as e:
        raise ValidationFailed(problems=[FieldProblem("file", "csv", f"CSVとして読めません: {e}", f"Not valid CSV: {e}")])
    unknown = [h for h in header if h not in KINDS[kind]]
    missing = [h for h in REQUIRED[kind] if h not in header]
    if unknown or missing or len(set(header)) != len(header):
        probs = [FieldProblem(h, "unknown_column", f"列「{h}」は使えません。", f"Unknown column '{h}'.") for h in unknown]
        probs += [FieldProblem(h, "missing_column", f"必須の列「{h}」がありません。", f"Required column '{h}' is missing.")
                  for h in missing]
        if len(set(header)) != len(header):
            probs.append(FieldProblem("header", "duplicate_column", "同じ列名が重複しています。", "A column name is repeated."))
        raise ValidationFailed(problems=probs)
    rows = []
    try:
        for line_no, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                report.errors.append(RowError(line_no, "-", f"列の数が{len(values)}です（見出しは{len(header)}列）。",
                                              f"{len(values)} columns, the header has {len(header)}."))
                continue
            rows.append((line_no, dict(zip(header, values))))
            if len(rows) > MAX_ROWS:
                raise ValidationFailed(problems=[FieldProblem("file", "too_many_rows", f"1ファイル{MAX_ROWS}行までです。",
                                                              f"At most {MAX_ROWS} rows per file.")])
    except csv.Error as e:
        raise ValidationFailed(problems=[FieldProblem("file", "csv", f"CSVとして読めません: {e}", f"Not valid CSV: {e}")])
    report.rows = len(rows) + sum(1 for e in report.errors)
    clean = []
    seen = set()
    for line_no, raw in rows:
        raw = {k: v for k, v in raw.items() if v.strip() != ""}
        try:
            if kind == "recipients":
                rec = registry.clean_recipient(raw)
                dup = (rec["payer_number"], rec["recipient_number"])
                if dup in seen:
                    report.errors.append(RowError(line_no, "recipient_number", "同じ受給者がファイル内で重複しています。",
                                                  "The same recipient appears twice in the file."))
                seen.add(dup)
                clean.append((line_no, rec))
            elif kind == "tickets":
                clean.append((line_no, registry.split_ticket_input(raw)))
            else:
                serial = raw.pop("card_serial", None)
                clean.append((line_no, (insurance.clean_insurance(raw), serial)))
        except ValidationFailed as e:
            report.errors += [RowError(line_no, p.field, p.message_ja, p.message_en) for p in e.problems]
    return clean, report


def _chunks(items: list, n: int = 500):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _existing_recipients(conn, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(payer, recipient number) → id for those of ``keys`` already registered (batched lookups)."""
    r = s.recipients
    found: dict[tuple[str, str], int] = {}
    by_payer: dict[str, list[str]] = {}
    for p, n in keys:
        by_payer.setdefault(p, []).append(n)
    for payer, nums in by_payer.items():
        for chunk in _chunks(sorted(set(nums))):
            for row in conn.execute(select(r.c.id, r.c.recipient_number)
                                    .where(r.c.payer_number == payer, r.c.recipient_number.in_(chunk))):
                found[(payer, row.recipient_number)] = row.id
    return found


def import_csv(db: Database, principal: Principal, kind: str, data: bytes,
               progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Validate the whole file, then write it in one transaction (or raise ImportFailed).

    The write is batched (lookups with IN, inserts with executemany) so a file of hundreds of
    thousands of rows takes seconds; the rules are the same ones the single-record API applies."""
    clean, report = parse(kind, data)
    if report.errors:
        raise ImportFailed(report)
    total = len(clean)
    now = db.now()
    written = 0

    def step(n: int) -> None:
        nonlocal written
        written += n
        if progress:
            progress(written, total)

    def scope_errors(pairs) -> None:
        for line_no, payer in pairs:
            try:
                principal.require_payer(payer)
            except FujoError as e:
                report.errors.append(RowError(line_no, "payer_number", e.message_ja, e.message_en))

    with db.write() as conn:
        if kind == "recipients":
            scope_errors((ln, rec["payer_number"]) for ln, rec in clean)
            if report.errors:  # say nothing about other offices' recipients (not even that they exist)
                raise ImportFailed(report)
            existing = _existing_recipients(conn, [(r["payer_number"], r["recipient_number"]) for _, r in clean])
            for ln, rec in clean:
                if (rec["payer_number"], rec["recipient_number"]) in existing:
                    n = rec["recipient_number"]
                    report.errors.append(RowError(ln, "recipient_number", f"受給者番号{n}は既に登録されています。",
                                                  f"Recipient {n} is already registered."))
            if report.errors:
                raise ImportFailed(report)
            for chunk in _chunks(clean, 1000):
                conn.execute(s.recipients.insert(), [dict(rec, version=1, created_at=now, updated_at=now)
                                                     for _, rec in chunk])
                step(len(chunk))
        elif kind == "tickets":
            scope_errors((ln, payer) for ln, (payer, _, _) in clean)
            if report.errors:
                raise ImportFailed(report)
            ids = _existing_recipients(conn, [(p, n) for _, (p, n, _) in clean])
            for ln, (p, n, _) in clean:
                if (p, n) not in ids:
                    report.errors.append(RowError(ln, "recipient_number", f"受給者{p}/{n}が登録されていません。",
                                                  f"No recipient {p}/{n}."))
            if report.errors:
                raise ImportFailed(report)
            seq = next_values(conn, "ticket_seq", total) if total else 0
            org = principal.organisation_id or None
            for base, chunk in ((i, clean[i:i + 1000]) for i in range(0, total, 1000)):
                conn.execute(s.tickets.insert(), [
                    dict(t, ticket_key=str(uuid.uuid4()), revision=1, recipient_id=ids[(p, n)], status="active",
                         seq=seq + base + j, registered_at=now, changed_at=now, changed_by=org)
                    for j, (_, (p, n, t)) in enumerate(chunk)])
                step(len(chunk))
        else:
            for ln, (rec, serial) in clean:
                try:
                    insurance.insert_qualification(conn, principal, rec, insurance.card_holder(conn, serial), now)
                except FujoError as e:
                    probs = e.problems if isinstance(e, ValidationFailed) else [
                        FieldProblem("insurer_number", e.code, e.message_ja, e.message_en)]
                    report.errors += [RowError(ln, p.field, p.message_ja, p.message_en) for p in probs]
                step(1)
            if report.errors:
                raise ImportFailed(report)  # rolls back every row written so far
    report.written = total
    if total >= 1000 and not db.is_sqlite:
        # A bulk load leaves PostgreSQL's planner with stale statistics; the next import's IN
        # look-ups would then scan the whole table instead of using the unique index.
        table = {"recipients": "recipients", "tickets": "tickets"}.get(kind, "insurance_qualifications")
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"ANALYZE {table}")
    return report
