"""CSV import of recipients, tickets, insurance qualifications and (運用管理者) the facility registry —
all or nothing per file.

Every row is validated first with the same field tables as the API; if any row is wrong, the
report lists every problem by row and field and nothing is written. Otherwise the whole file is
written in one transaction. Columns are the field names (header row required); UTF-8 (with or
without BOM) and Shift_JIS (cp932) are read. Tickets meet the registry's rules (fujo.core.ticket_rules)
against the database and against the other rows of the same file.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..audit.chain import chain_pending
from ..audit.service import record_changes
from ..auth.principal import ADMIN, INSURER, WELFARE_OFFICE, Principal
from ..core import ticket_rules
from ..core.errors import FieldProblem, FujoError, Problems, ValidationFailed
from ..core.fields import INSURANCE_FIELDS, RECIPIENT_FIELDS, TICKET_FIELDS
from ..core.rows import Record, TicketKey
from ..db import schema as s
from ..db.database import Database, DbRow, insert_many, next_values, prepare_insert
from ..insurance import service as insurance
from . import facilities as facility_registry
from . import service as registry
from .queries import current_tickets

log = logging.getLogger(__name__)

KINDS = {
    "recipients": [f.name for f in RECIPIENT_FIELDS],
    "tickets": ["payer_number", "recipient_number"] + [f.name for f in TICKET_FIELDS],
    "insurance": [f.name for f in INSURANCE_FIELDS] + ["card_serial"],
    "facilities": facility_registry.CSV_COLUMNS,
}
REQUIRED = {
    "recipients": [f.name for f in RECIPIENT_FIELDS if f.required],
    "tickets": ["payer_number", "recipient_number"] + [f.name for f in TICKET_FIELDS if f.required],
    "insurance": [f.name for f in INSURANCE_FIELDS if f.required],
    "facilities": ["code", "name"],
}
MAX_ROWS = 200_000
T = TypeVar("T")


@dataclass
class RowError:
    row: int  # line number in the file (header = 1)
    field: str
    message_ja: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message_ja": self.message_ja, "message_en": self.message_en}


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    written: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "written": self.written,
            "ok": not self.errors,
            "errors": [e.as_dict() for e in self.errors],
        }


TicketInput = tuple[str, str, Record]  # payer number, recipient number, the clean ticket
InsuranceInput = tuple[Record, str | None]  # the clean qualification, the holder's card serial


@dataclass
class Parsed:
    """The clean rows of a file with their line numbers: in ``records`` (recipients, facilities),
    ``tickets`` or ``insurance``, by the file's kind."""

    report: ImportReport
    records: list[tuple[int, Record]] = field(default_factory=list)
    tickets: list[tuple[int, TicketInput]] = field(default_factory=list)
    insurance: list[tuple[int, InsuranceInput]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records) + len(self.tickets) + len(self.insurance)


class ImportFailed(FujoError):
    status = 422
    code = "import_failed"

    def __init__(self, report: ImportReport) -> None:
        n = len(report.errors)
        super().__init__(
            f"{n}件の誤りがあるため、ファイル全体を取り込みませんでした。",
            f"{n} problem(s) found; nothing from the file was imported.",
        )
        self.report = report

    def as_dict(self) -> dict[str, Any]:
        d = super().as_dict()
        d["report"] = self.report.as_dict()
        return d


def decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(
        problems=[
            FieldProblem(
                "file",
                "encoding",
                "文字コードはUTF-8またはShift_JISにしてください。",
                "The file must be UTF-8 or Shift_JIS.",
            )
        ]
    )


def check_header(kind: str, header: list[str]) -> None:
    """The header row names only the kind's columns, each once, and all the required ones."""
    unknown = [h for h in header if h not in KINDS[kind]]
    missing = [h for h in REQUIRED[kind] if h not in header]
    if unknown or missing or len(set(header)) != len(header):
        probs = [
            FieldProblem(h, "unknown_column", f"列「{h}」は使えません。", f"Unknown column '{h}'.") for h in unknown
        ]
        probs += [
            FieldProblem(h, "missing_column", f"必須の列「{h}」がありません。", f"Required column '{h}' is missing.")
            for h in missing
        ]
        if len(set(header)) != len(header):
            probs.append(
                FieldProblem("header", "duplicate_column", "同じ列名が重複しています。", "A column name is repeated.")
            )
        raise ValidationFailed(problems=probs)


def check_start(kind: str, head: bytes, whole: bool) -> None:
    """What the first bytes of a file (``whole``: the whole file) tell: the kind, the header's
    encoding and the header itself — refused as :func:`parse` would refuse the whole file, so no
    job is started for a file that cannot be imported. A header longer than ``head`` is left to
    :func:`parse`."""
    require_kind(kind)
    if b"\n" not in head and not whole:
        return
    text = decode(head.split(b"\n", 1)[0])  # a line ends at \n in UTF-8 and in Shift_JIS alike
    try:
        header = next(csv.reader(io.StringIO(text, newline="")))
    except StopIteration:
        raise ValidationFailed(
            problems=[FieldProblem("file", "empty", "ファイルが空です。", "The file is empty.")]
        ) from None
    except csv.Error:
        return  # e.g. a quoted header spanning lines: parse() names it
    check_header(kind, [h.strip() for h in header])


def require_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "kind",
                    "code",
                    "種類はrecipients・tickets・insurance・facilitiesのいずれかです。",
                    "kind must be recipients, tickets, insurance or facilities.",
                )
            ]
        )


def parse(kind: str, data: bytes) -> Parsed:
    require_kind(kind)
    report = ImportReport(kind)
    reader = csv.reader(io.StringIO(decode(data), newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValidationFailed(
            problems=[FieldProblem("file", "empty", "ファイルが空です。", "The file is empty.")]
        ) from None
    except csv.Error as e:
        raise ValidationFailed(
            problems=[FieldProblem("file", "csv", f"CSVとして読めません: {e}", f"Not valid CSV: {e}")]
        ) from None
    check_header(kind, header)
    rows = []
    try:
        for line_no, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                report.errors.append(wrong_width(line_no, len(values), len(header)))
                continue
            rows.append((line_no, dict(zip(header, values))))
            if len(rows) > MAX_ROWS:
                raise ValidationFailed(
                    problems=[
                        FieldProblem(
                            "file",
                            "too_many_rows",
                            f"1ファイル{MAX_ROWS}行までです。",
                            f"At most {MAX_ROWS} rows per file.",
                        )
                    ]
                )
    except csv.Error as e:
        raise ValidationFailed(
            problems=[FieldProblem("file", "csv", f"CSVとして読めません: {e}", f"Not valid CSV: {e}")]
        ) from None
    report.rows = len(rows) + sum(1 for e in report.errors)
    parsed = Parsed(report)
    seen: set[object] = set()
    for line_no, raw in rows:
        raw = {k: v for k, v in raw.items() if v.strip() != ""}
        try:
            if kind == "recipients":
                rec = registry.clean_recipient(raw)
                dup = (rec["payer_number"], rec["recipient_number"])
                if dup in seen:
                    report.errors.append(
                        RowError(
                            line_no,
                            "recipient_number",
                            "同じ受給者がファイル内で重複しています。",
                            "The same recipient appears twice in the file.",
                        )
                    )
                seen.add(dup)
                parsed.records.append((line_no, rec))
            elif kind == "tickets":
                parsed.tickets.append((line_no, registry.split_ticket_input(raw)))
            elif kind == "facilities":
                rec = facility_registry.clean_facility(raw)
                if rec["code"] in seen:
                    report.errors.append(
                        RowError(
                            line_no,
                            "code",
                            "同じ医療機関コードがファイル内で重複しています。",
                            "The same facility code appears twice in the file.",
                        )
                    )
                seen.add(rec["code"])
                parsed.records.append((line_no, rec))
            else:
                serial = raw.pop("card_serial", None)
                parsed.insurance.append((line_no, (insurance.clean_insurance(raw), serial)))
        except ValidationFailed as e:
            report.errors += [RowError(line_no, p.field, p.message_ja, p.message_en) for p in e.problems]
    return parsed


def _chunks(items: list[T], n: int = 500) -> Iterator[list[T]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _existing_recipients(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(payer, recipient number) → id for those of ``keys`` already registered (batched lookups)."""
    return {k: row.id for k, row in _recipient_rows(conn, keys).items()}


def _keys(records: list[tuple[int, Record]]) -> list[tuple[str, str]]:
    return [(r["payer_number"], r["recipient_number"]) for _, r in records]


def _taken(records: list[tuple[int, Record]], registered: Collection[tuple[str, str]]) -> list[RowError]:
    """A row error for every row whose number is among ``registered``."""
    return [
        RowError(
            ln,
            "recipient_number",
            f"受給者番号{r['recipient_number']}は既に登録されています。",
            f"Recipient {r['recipient_number']} is already registered.",
        )
        for ln, r in records
        if (r["payer_number"], r["recipient_number"]) in registered
    ]


def _registered(db: Database, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The pre-check of a recipients import: which of ``keys`` are registered, read before the write
    (on SQLite's WAL a reader waits for no writer, and no writer for it)."""
    with db.read() as conn:
        return _existing_recipients(conn, keys)


class _Raced(Exception):
    """The write of a pre-checked recipients import met the UNIQUE constraint (a number registered
    since the pre-check): raised out of the write transaction, so that it rolls back."""


MAX_ROWID = 2**63 - 1  # SQLite's largest rowid; reached, it picks free ones at random


def _insert_recipients(conn: Connection, rows: list[Record], prepared: tuple[str, list[Any]] | None) -> list[int]:
    """Insert ``rows`` (``prepared``: their :func:`prepare_insert` statement and parameters); their new
    ids, in the rows' order."""
    r = s.recipients
    if conn.dialect.name != "sqlite":  # RETURNING in the rows' order is batched on PostgreSQL
        return list(conn.execute(r.insert().returning(r.c.id, sort_by_parameter_order=True), rows).scalars())
    # INSERT … RETURNING in the rows' order is one statement a row on SQLite: a plain executemany,
    # and the new ids known without reading them back. `id` is the table's INTEGER PRIMARY KEY, an
    # alias of the rowid, and is not given: SQLite gives each new row "a ROWID that is one larger than
    # the largest ROWID in the table prior to the insert" (1 in an empty table) — at random only once
    # the largest is MAX_ROWID (sqlite.org/autoinc.html; AUTOINCREMENT would start above the largest
    # ever used). We hold the database's one write lock, so no other connection inserts between our
    # rows: they are before+1 … before+n, in order. Verified, not assumed: the connection's
    # last_insert_rowid() (the last row's rowid; not changed by an insert into a WITHOUT ROWID table)
    # and max(id) must both be before+n; else (AUTOINCREMENT, a trigger that inserts recipients, a
    # changed table) the ids are looked up by their numbers, as they were before.
    before = conn.execute(select(func.max(r.c.id))).scalar() or 0
    if prepared is None:
        insert_many(conn, r, rows)
    else:
        conn.exec_driver_sql(*prepared)
    n = len(rows)
    last, top = conn.execute(select(func.last_insert_rowid(), func.max(r.c.id))).one()
    if last == top == before + n and before + n < MAX_ROWID:
        return list(range(before + 1, before + n + 1))
    found = _existing_recipients(conn, [(x["payer_number"], x["recipient_number"]) for x in rows])
    return [found[(x["payer_number"], x["recipient_number"])] for x in rows]


def _recipient_rows(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], DbRow]:
    """(payer, recipient number) → recipient row (its 保護 period included), batched."""
    r = s.recipients
    found: dict[tuple[str, str], DbRow] = {}
    by_payer: dict[str, list[str]] = {}
    for p, n in keys:
        by_payer.setdefault(p, []).append(n)
    for payer, nums in by_payer.items():
        for chunk in _chunks(sorted(set(nums))):
            for row in conn.execute(
                select(
                    r.c.id,
                    r.c.person_id,
                    r.c.recipient_number,
                    r.c.qualification_date,
                    r.c.disqualification_date,
                    r.c.disqualification_kind,
                ).where(r.c.payer_number == payer, r.c.recipient_number.in_(chunk))
            ):
                found[(payer, row.recipient_number)] = row
    return found


def _check_tickets(
    conn: Connection, clean: list[tuple[int, TicketInput]], recs: dict[tuple[str, str], DbRow], report: ImportReport
) -> None:
    """The registry's ticket rules for every row: against the database (batched look-ups) and
    against the rows before it in the same file, so the file cannot hold a ticket twice either."""
    t = s.tickets
    facilities = facility_registry.facility_rows(
        conn, [c for _, (_, _, x) in clean for c in (x["designated_facility_code"], x.get("prescription_issuer_code"))]
    )
    months = sorted({x["treatment_month"] for _, (_, _, x) in clean})
    rids = sorted({recs[(p, n)].id for _, (p, n, _) in clean})
    by_recipient: dict[tuple[int, str], list[TicketKey]] = {}
    for chunk in _chunks(rids):
        for row in conn.execute(
            select(t).where(
                t.c.recipient_id.in_(chunk),
                t.c.treatment_month.in_(months),
                current_tickets(),
            )
        ):
            by_recipient.setdefault((row.recipient_id, row.treatment_month), []).append(row)
    numbers = sorted({x["issue_number"] for _, (_, _, x) in clean if x.get("issue_number")})
    by_issue: dict[tuple[str, str, str | None], list[TicketKey]] = {}
    r = s.recipients
    for chunk in _chunks(numbers):
        for row in conn.execute(
            select(t, r.c.payer_number)
            .select_from(t.join(r, r.c.id == t.c.recipient_id))
            .where(
                t.c.issue_number.in_(chunk),
                t.c.treatment_month.in_(months),
                current_tickets(),
            )
        ):
            by_issue.setdefault((row.payer_number, row.treatment_month, row.issue_number), []).append(row)
    for ln, (p, n, x) in clean:
        rec = recs[(p, n)]
        problems = Problems()
        same_rm = by_recipient.setdefault((rec.id, x["treatment_month"]), [])
        same_in = (
            by_issue.setdefault((p, x["treatment_month"], x.get("issue_number")), []) if x.get("issue_number") else []
        )
        ticket_rules.check_against_registry(x, rec, facilities, same_rm, same_in, None, problems)
        report.errors += [RowError(ln, pr.field, pr.message_ja, pr.message_en) for pr in problems.items]
        mine = SimpleNamespace(
            ticket_key=f"row {ln}",
            **{k: x.get(k) for k in ("designated_facility_code", "ticket_type", "treatment_month", "issue_number")},
        )
        same_rm.append(mine)  # later rows of the file meet this one as already registered
        if x.get("issue_number"):
            same_in.append(mine)


def _refuse_if_any(report: ImportReport, errors: Sequence[RowError] = ()) -> None:
    """Add ``errors`` to the report; a report with any error refuses the whole file (nothing is
    written: the transaction rolls back)."""
    report.errors += errors
    if report.errors:
        raise ImportFailed(report)


IMPORTERS = {
    "recipients": (WELFARE_OFFICE, ADMIN),
    "tickets": (WELFARE_OFFICE, ADMIN),
    "insurance": (INSURER, ADMIN),
    "facilities": (ADMIN,),
}


def wrong_width(line_no: int, width: int, header: int) -> RowError:
    """A data row whose number of columns is not the header's (every CSV import says it so)."""
    return RowError(
        line_no, "-", f"列の数が{width}です（見出しは{header}列）。", f"{width} columns, the header has {header}."
    )


def require_importer(principal: Principal, kind: str) -> None:
    """Who may import ``kind`` (an unknown kind is left to :func:`parse` to name)."""
    if kind in IMPORTERS:
        principal.require(*IMPORTERS[kind])


def import_csv(
    db: Database,
    principal: Principal,
    kind: str,
    data: bytes,
    progress: Callable[[int, int], None] | None = None,
    in_tx: Callable[[Connection, ImportReport], None] | None = None,
) -> ImportReport:
    """Validate the whole file, then write it in one transaction (or raise ImportFailed).

    The write is batched (lookups with IN, inserts with executemany) so a file of hundreds of
    thousands of rows takes seconds; the rules are the same ones the single-record API applies.
    ``in_tx`` is called last inside that transaction with the report (a job marks itself done there,
    so the rows and the job's end commit together or not at all)."""
    # who may import a kind is decided before the file is read: an empty file (header only) from
    # the wrong kind of organisation is refused like a full one, not answered "0 rows imported"
    require_importer(principal, kind)
    parsed = parse(kind, data)
    report = parsed.report
    _refuse_if_any(report)
    total = len(parsed)
    now = db.now()
    written = reported = 0

    def step(n: int) -> None:
        nonlocal written, reported
        written += n
        if progress and written > reported:  # never backwards, should the write be done a second time
            reported = written
            progress(written, total)

    def scope_errors(pairs: Iterable[tuple[int, str]]) -> None:
        for line_no, payer in pairs:
            try:
                principal.require_payer(payer)
            except FujoError as e:
                report.errors.append(RowError(line_no, "payer_number", e.message_ja, e.message_en))

    rows: list[Record] = []
    prepared: tuple[str, list[tuple[Any, ...]]] | None = None
    prechecked = False
    if kind == "recipients":
        scope_errors((ln, rec["payer_number"]) for ln, rec in parsed.records)
        _refuse_if_any(report)  # say nothing about other offices' recipients (not even that they exist)
        # Outside the write lock: which numbers are registered already (a read, which on SQLite's WAL
        # waits for no writer) and the rows' driver parameters. Inside, the UNIQUE (payer_number,
        # recipient_number) constraint refuses any number registered since; that attempt is then rolled
        # back and the file written again with its look-ups under the lock (_Raced, below).
        _refuse_if_any(report, _taken(parsed.records, _registered(db, _keys(parsed.records))))
        rows = [dict(rec, version=1, created_at=now, updated_at=now) for _, rec in parsed.records]
        prepared = prepare_insert(db.engine.dialect, s.recipients, rows)
        prechecked = True

    def write(prechecked: bool) -> None:
        nonlocal written
        written = 0  # a second attempt counts again (step() reports only what is new)
        audit: list[tuple[str, list[tuple[int | None, int | None, str | None]]]] = []  # (action, entries) a chunk
        with db.write() as conn:
            if kind == "recipients":
                if not prechecked:  # the look-ups under the lock: the report names every number taken
                    _refuse_if_any(report, _taken(parsed.records, _existing_recipients(conn, _keys(parsed.records))))
                for i in range(0, len(rows), 1000):
                    part = rows[i : i + 1000]
                    try:
                        rids = _insert_recipients(conn, part, prepared and (prepared[0], prepared[1][i : i + 1000]))
                    except IntegrityError as e:
                        if prechecked:  # e.g. a number registered after the pre-check: let write(False) name it
                            raise _Raced from e
                        raise
                    # each new recipient is an entry of the audit trail, in the import's transaction
                    audit.append(("recipient.create", [(rid, None, "import") for rid in rids]))
                    step(len(part))
            elif kind == "tickets":
                scope_errors((ln, payer) for ln, (payer, _, _) in parsed.tickets)
                _refuse_if_any(report)
                registry.lock_payers(conn, [p for _, (p, _, _) in parsed.tickets])
                recs = _recipient_rows(conn, [(p, n) for _, (p, n, _) in parsed.tickets])
                ids = {k: r.id for k, r in recs.items()}
                missing = [(ln, p, n) for ln, (p, n, _) in parsed.tickets if (p, n) not in ids]
                _refuse_if_any(
                    report,
                    [
                        RowError(
                            ln, "recipient_number", f"受給者{p}/{n}が登録されていません。", f"No recipient {p}/{n}."
                        )
                        for ln, p, n in missing
                    ],
                )
                _check_tickets(conn, parsed.tickets, recs, report)
                _refuse_if_any(report)
                seq = next_values(conn, "ticket_seq", total) if total else 0
                for base, batch in ((i, parsed.tickets[i : i + 1000]) for i in range(0, total, 1000)):
                    conn.execute(
                        s.tickets.insert(),
                        [
                            registry.new_ticket_row(principal, ids[(p, n)], t, seq + base + j, now)
                            for j, (_, (p, n, t)) in enumerate(batch)
                        ],
                    )
                    audit.append(
                        ("ticket.register", [(ids[(p, n)], recs[(p, n)].person_id, "import") for _, (p, n, _) in batch])
                    )
                    step(len(batch))
            elif kind == "facilities":
                principal.require(ADMIN)
                registered = facility_registry.facility_rows(conn, [r["code"] for _, r in parsed.records])
                taken = [(ln, r["code"]) for ln, r in parsed.records if r["code"] in registered]
                _refuse_if_any(
                    report,
                    [
                        RowError(
                            ln,
                            "code",
                            f"医療機関コード{c}は既に登録されています。",
                            f"Facility {c} is already registered.",
                        )
                        for ln, c in taken
                    ],
                )
                for chunk in _chunks(parsed.records, 1000):
                    facility_registry.insert_facilities(conn, [r for _, r in chunk], now)
                    step(len(chunk))
            else:
                for ln, (rec, serial) in parsed.insurance:
                    try:
                        insurance.insert_qualification(conn, principal, rec, insurance.card_holder(conn, serial), now)
                    except FujoError as e:
                        probs = (
                            e.problems
                            if isinstance(e, ValidationFailed)
                            else [FieldProblem("insurer_number", e.code, e.message_ja, e.message_en)]
                        )
                        report.errors += [RowError(ln, p.field, p.message_ja, p.message_en) for p in probs]
                    step(1)
                _refuse_if_any(report)  # rolls back every row written so far
            # The audit trail's entries are staged with the rows (they commit or roll back together) and
            # chained after the commit, a hundred a transaction: appended here they would hold the
            # chain's lock — and every check's audit record behind it — until the import's commit.
            for action, entries in audit:
                record_changes(conn, principal, action, entries, now, staged=True)
            report.written = total
            if in_tx is not None:
                in_tx(conn, report)

    try:
        write(prechecked)
    except _Raced:
        # Another connection registered a number of the file between the pre-check and the write.
        # Nothing of the attempt remains (its transaction rolled back); the file is written again the
        # way that looks the numbers up under the lock, so the refusal names every number taken then.
        log.info("import of recipients: a number was registered meanwhile; looked up again under the lock")
        write(False)
    report.written = total
    try:
        chain_pending(db)
    except SQLAlchemyError as e:  # the import has committed: its entries stay staged, chained at the next pass
        log.warning("import committed; its audit entries wait to be chained (%s)", type(e).__name__)
    if total >= 1000 and not db.is_sqlite:
        # A bulk load leaves PostgreSQL's planner with stale statistics; the next import's IN
        # look-ups would then scan the whole table instead of using the unique index.
        table = {"recipients": "recipients", "tickets": "tickets", "facilities": "facilities"}.get(
            kind, "insurance_qualifications"
        )
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"ANALYZE {table}")
    return report
