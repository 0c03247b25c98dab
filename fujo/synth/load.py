"""Bulk writers of ``fujo synth``: the generator's batches straight into the database.

- **PostgreSQL**: ``COPY … FROM STDIN`` through psycopg 3's ``cursor.copy()`` on the raw DBAPI
  connection of the engine (``write_row`` per row), with the session's ``TimeZone`` set to
  Asia/Tokyo (the generator writes JST wall time), no statement timeout, a larger
  ``maintenance_work_mem`` for the index builds and, for a superuser, ``session_replication_role =
  replica`` (foreign keys are not re-checked row by row: the generator builds them consistent, the
  tests check them). Everything — rows, index rebuilds, credentials, counters, the audit entry —
  is ONE transaction: a failed load leaves nothing behind. ANALYZE afterwards.
- **SQLite**: ``executemany`` of prepared INSERTs on the raw ``sqlite3`` connection, in one
  transaction as well, with ``synchronous=OFF``, a 2 GB page cache, memory-mapped reads,
  ``temp_store=MEMORY``, ``threads=2`` (the index builds sort in two threads) and
  ``foreign_keys=OFF`` for the load (:data:`LOAD_PRAGMAS`; 6 GB resident at 2,000,000 recipients,
  the mapped pages included). A fresh load also switches ``journal_mode`` from WAL to MEMORY for
  its duration (pages appended to a new database are not journaled at all; an error still rolls
  back, but a killed process may leave the file unusable: it held nothing, delete it) and back to
  WAL at the end; an ``--append`` load keeps WAL, so the rows already there stay
  crash-safe. Absent values travel as '' and become NULL in the INSERT (:class:`SQLiteWriter`):
  the driver binds None slowly.

Generation and writing run at once: a forked child process generates the people and the tickets
(nearly every row; :func:`forked_bulk`) while this process writes them (and PostgreSQL's own
process stores them). Without ``fork`` (or with ``parallel=False``) the same rows are generated
in this process. (A writer thread beside the unpickling one gained nothing measurable: both need
the GIL for all but sqlite3's step.)

On both, the secondary indexes of the big tables (tickets, recipients, persons, cards,
insurance_qualifications; the ones created by CREATE INDEX, not those behind a primary key or
UNIQUE constraint) are dropped before the rows go in and re-created afterwards from their own
definitions read from the catalogue, which is several times faster than maintaining them row by
row. The database must not be in use while synth runs.

**Audit.** A synthetic load is an operator's bulk load, not registrations: it writes no entry per
recipient or ticket, but ONE ``check_log`` entry for the whole load through
:func:`fujo.audit.chain.append` (method and category ``registry``, reason ``synth.load``, channel
``cli``, the organisation 0 of the operator; the detail names the seed, month and counts), in
the load's transaction, so ``fujo audit verify`` still walks an unbroken chain.

**Counters.** ``ticket_seq`` is set to the last ``seq`` written, and PostgreSQL's id sequences are
moved past the ids the generator chose, so the registry keeps registering (and facilities' change
cursors keep working) right after a load.

**Cards.** The generator's cards carry synthetic serials and no certificate (issuing 600,000
RSA keys would take hours). ``real_cards`` of them — holders with a ticket of the month at the
first facility organisation — are re-issued here with a real certificate signed by the card
authority; their PKCS#12 files (PIN :data:`REAL_CARD_PIN`) go to ``cards_dir`` and are listed in
the result, so a benchmark can run card checks. Those files and the credentials' tokens are the
only non-deterministic part of a load.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, func, select, text

from ..audit.chain import append as audit_append
from ..auth.principal import CASEWORKER, RECEPTION, hash_token, new_token
from ..cards.ca import CardAuthority
from ..core.dates import JST
from ..core.errors import Conflict
from ..db import partitions
from ..db import schema as s
from ..db.database import Database
from ..registry.queries import current_tickets
from .generator import COLUMNS, ID_TABLES, Batch, Existing, Generator, Row, SynthConfig

INDEXED_TABLES = ("tickets", "recipients", "persons", "cards", "insurance_qualifications")
# SQLite, for the load's connection only (restored before it goes back to the pool): the index
# builds of 22 million tickets read the table six times and sort in memory, so a 2 GB page cache
# (allocated as used) and memory-mapped reads save a third of their time
LOAD_PRAGMAS = (
    "synchronous=OFF",
    "cache_size=-2097152",
    "mmap_size=2147418112",
    "temp_store=MEMORY",
    "threads=2",
    "foreign_keys=OFF",
)
RESTORE_PRAGMAS = (
    "synchronous=NORMAL",
    "cache_size=-2000",
    "mmap_size=0",
    "temp_store=DEFAULT",
    "threads=0",
    "foreign_keys=ON",
)
REAL_CARD_PIN = "1234"
OFFICE_TOKENS = 3  # the largest offices get a caseworker token (registering after the load)
SAMPLES = 20  # per facility organisation: people with a ticket designating it this month

Progress = Callable[[str, int], None]


class NotEmpty(Conflict):
    code = "not_empty"


@dataclass
class LoadResult:
    config: SynthConfig
    generator: Generator
    seconds: float = 0.0
    rows: int = 0
    facilities: list[dict[str, Any]] = field(default_factory=list)
    offices: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def tokens_document(self, database_url: str) -> dict[str, Any]:
        """What a benchmark needs to check as the facilities (written by ``--tokens-out``)."""
        c = self.config
        return {
            "database": database_url,
            "seed": c.seed,
            "month": f"{c.month[:4]}-{c.month[4:]}",
            "as_of": c.cutoff.isoformat(),
            "recipients": c.recipients,
            "facilities": self.facilities,
            "offices": self.offices,
            "cards": self.cards,
        }


# --- what the database holds -------------------------------------------------------------------


def count(conn: Connection, table: str) -> int:
    return int(conn.execute(select(func.count()).select_from(s.metadata.tables[table])).scalar_one())


def existing(conn: Connection) -> Existing:
    """Numbers and ids the database already uses (an ``--append`` load avoids them)."""
    o = s.organisations
    persons = count(conn, "persons")
    next_ids = {
        t: int(conn.execute(select(func.coalesce(func.max(s.metadata.tables[t].c.id), 0))).scalar_one()) + 1
        for t in ID_TABLES
    }
    seq = conn.execute(select(s.counters.c.value).where(s.counters.c.name == "ticket_seq")).scalar() or 0
    top = conn.execute(select(func.coalesce(func.max(s.tickets.c.seq), 0))).scalar_one()
    return Existing(
        payer_numbers=frozenset(conn.execute(select(s.office_payers.c.payer_number)).scalars()),
        office_codes=frozenset(conn.execute(select(o.c.code).where(o.c.kind == "welfare_office")).scalars()),
        facility_codes=frozenset(conn.execute(select(s.facilities.c.code)).scalars())
        | frozenset(conn.execute(select(o.c.code).where(o.c.kind == "facility")).scalars()),
        insurers={row.code: row.id for row in conn.execute(select(o.c.code, o.c.id).where(o.c.kind == "insurer"))},
        number_hashes=frozenset(
            conn.execute(
                select(s.persons.c.individual_number_hash).where(s.persons.c.individual_number_hash.is_not(None))
            ).scalars()
        )
        if persons
        else frozenset(),
        insurance_cards=frozenset(
            (row.insurer_number, row.card_number)
            for row in conn.execute(
                select(s.insurance_qualifications.c.insurer_number, s.insurance_qualifications.c.card_number)
            )
        ),
        next_ids=next_ids,
        next_seq=max(int(seq), int(top)) + 1,
    )


def refuse_if_not_empty(conn: Connection, append: bool) -> None:
    """Never mix silently: a database holding recipients or tickets is refused without ``append``."""
    held = {t: count(conn, t) for t in ("recipients", "tickets")}
    if any(held.values()) and not append:
        raise NotEmpty(
            f"データベースには既に受給者{held['recipients']:,}件・医療券{held['tickets']:,}件があります。"
            "合成データを追加するには --append を指定してください（新しいデータベースの使用を推奨します）。",
            f"The database already holds {held['recipients']:,} recipients and {held['tickets']:,} tickets; "
            "pass --append to add a second synthetic population beside them (or use a new database).",
        )


# --- indexes -------------------------------------------------------------------------------------


def secondary_indexes(conn: Connection) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes of :data:`INDEXED_TABLES` made by CREATE INDEX
    (not those behind a primary key or a UNIQUE constraint), as the database itself defines them."""
    if conn.dialect.name == "sqlite":
        marks = ",".join(f"'{t}'" for t in INDEXED_TABLES)
        rows = conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})"  # noqa: S608 - constants
        ).all()
    else:
        rows = conn.execute(
            text(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
                "WHERE t.relname = ANY(:tables) AND pg_table_is_visible(t.oid) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
            ),
            {"tables": list(INDEXED_TABLES)},
        ).all()
    # a partitioned table's index is defined "ON ONLY" the parent (its partitions' indexes are attached
    # one by one): made again that way it would be the parent's alone, and every partition unindexed
    return sorted((str(r[0]), str(r[1]).replace(" ON ONLY ", " ON ", 1)) for r in rows)


# --- writers ------------------------------------------------------------------------------------


class Writer:
    """Writes batches of generator rows into one open transaction of ``conn``."""

    NULL: object = None  # what the generator writes for an absent value

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dbapi: Any = conn.connection.driver_connection

    def write(self, table: str, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def write_columns(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        raise NotImplementedError


class SQLiteWriter(Writer):
    """Python's sqlite3 binds None (and bool) through its adaptation protocol, several times slower
    than a str: the generator writes :data:`NULL` for absent values instead, and the INSERT turns
    it back into NULL with ``NULLIF(?, '')`` on every nullable column ('' is never a value here:
    the field tables turn an empty entry into NULL)."""

    NULL = ""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._sql: dict[tuple[str, tuple[str, ...]], str] = {}
        self.cursor = self.dbapi.cursor()

    def write(self, table: str, rows: Sequence[Row]) -> None:
        self.write_columns(table, COLUMNS[table], rows)

    def write_columns(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        key = (table, tuple(columns))
        sql = self._sql.get(key)
        if sql is None:
            cols = s.metadata.tables[table].c
            values = ", ".join("NULLIF(?, '')" if cols[c].nullable else "?" for c in columns)
            sql = self._sql[key] = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608 - constants
        self.cursor.executemany(sql, rows)


class PostgresWriter(Writer):
    def write(self, table: str, rows: Sequence[Row]) -> None:
        self.write_columns(table, COLUMNS[table], rows)

    def write_columns(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        with self.dbapi.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def forked_bulk(gen: Generator) -> Iterator[Batch]:
    """The bulk stage (recipients, cards, insurance, tickets: nearly every row) generated by a
    forked child process while this one writes: the child sends pickled batches through a pipe,
    then the stage's state. It only computes and writes to the pipe — never the database
    connections it inherited — and leaves with ``os._exit`` (no finalizer may touch them). A child
    that fails sends its error; one that dies is noticed by the closed pipe."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        receive.close()
        try:
            for batch in gen.bulk_stage():
                send.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
            send.send_bytes(pickle.dumps(("", gen.bulk_state()), protocol=pickle.HIGHEST_PROTOCOL))
        except BaseException as e:  # reported to the parent, which raises it
            send.send_bytes(pickle.dumps(("!", f"{type(e).__name__}: {e}")))
        finally:
            send.close()
            os._exit(0)

    proc = ctx.Process(target=child, name="synth-generator", daemon=True)
    proc.start()
    send.close()
    try:
        while True:
            try:
                table, data = pickle.loads(receive.recv_bytes())  # noqa: S301 - our own child's data
            except EOFError:
                raise RuntimeError("the generator process ended unexpectedly") from None
            if table == "":
                gen.set_bulk_state(data)
                return
            if table == "!":
                raise RuntimeError(f"the generator process failed: {data}")
            yield gen.emit(table, data)
    finally:
        receive.close()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()


# --- the load ------------------------------------------------------------------------------------


def load(
    db: Database,
    config: SynthConfig,
    ca: CardAuthority,
    *,
    append: bool = False,
    real_cards: int = 0,
    cards_dir: Path | None = None,
    progress: Progress | None = None,
    digest: bool = False,
    parallel: bool = True,
) -> LoadResult:
    """Generate ``config`` into ``db`` (see the module docstring). Raises :class:`NotEmpty` when the
    database holds recipients or tickets and ``append`` is false. The schema must exist (fujo init)."""
    started = time.perf_counter()
    sqlite = db.is_sqlite
    with db.engine.connect() as conn:
        refuse_if_not_empty(conn, append)
        x = existing(conn)
        conn.rollback()
    journal = None
    if sqlite and not append:
        db.engine.dispose()  # WAL can only be left by the one connection open on the file
    with db.engine.connect() as conn:
        conn = conn.execution_options(fujo_write=True)  # SQLite: BEGIN IMMEDIATE
        if sqlite:
            journal = _sqlite_prepare(conn, fresh=not append)
        try:
            with conn.begin():
                if not sqlite:
                    _postgres_prepare(conn)
                    if partitions.is_partitioned(conn, partitions.TICKETS):  # each month's tickets in its own
                        months = [(int(m[:4]), int(m[4:])) for m in (config.months[0], config.months[-1])]
                        partitions.ensure(conn, months[0], months[1], partitions.TICKETS)
                indexes = secondary_indexes(conn)
                for name, _ in indexes:
                    conn.exec_driver_sql(f"DROP INDEX {name}")
                writer: Writer = SQLiteWriter(conn) if sqlite else PostgresWriter(conn)
                gen = Generator(config, ca.number_hash, x, digest, null=writer.NULL)
                result = LoadResult(config, gen)
                stage = (lambda: forked_bulk(gen)) if parallel and _can_fork() else None
                for table, rows in gen.batches(stage):
                    writer.write(table, rows)
                    result.rows += len(rows)
                    if progress:
                        progress(table, len(rows))
                for _, ddl in indexes:
                    if progress:
                        progress("indexes", 0)
                    conn.exec_driver_sql(ddl)
                now = db.now()
                _credentials(conn, writer, result, now)
                _counters_and_audit(conn, gen, x, now)
                if not sqlite:
                    _move_sequences(conn, gen)
                _samples(conn, result)
                if real_cards:
                    _real_cards(conn, ca, result, real_cards, cards_dir or Path("synth-cards"), now)
        finally:
            if sqlite:
                _sqlite_restore(conn, journal)
    if not sqlite:
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in (*ID_TABLES, "office_payers"):
                if progress:
                    progress("analyze", 0)
                conn.exec_driver_sql(f"ANALYZE {table}")
    result.seconds = time.perf_counter() - started
    return result


def _sqlite_prepare(conn: Connection, fresh: bool) -> str | None:
    """Pragmas for the load (outside any transaction); the journal mode to restore, if changed."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for pragma in LOAD_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")
    before = str(cur.execute("PRAGMA journal_mode").fetchone()[0])
    if fresh and before.lower() == "wal":
        try:
            mode = str(cur.execute("PRAGMA journal_mode=MEMORY").fetchone()[0])
        except sqlite3.OperationalError:  # another connection has the file open: load in WAL, slower but safe
            return None
        if mode.lower() == "memory":
            return before
    return None


def _sqlite_restore(conn: Connection, journal: str | None) -> None:
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if journal:
        cur.execute(f"PRAGMA journal_mode={journal}")
    for pragma in RESTORE_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")


def _postgres_prepare(conn: Connection) -> None:
    for setting in (
        "statement_timeout = 0",
        "lock_timeout = 0",
        "idle_in_transaction_session_timeout = 0",
        "TimeZone = 'Asia/Tokyo'",
        "synchronous_commit = off",
        "maintenance_work_mem = '512MB'",
    ):
        conn.exec_driver_sql(f"SET LOCAL {setting}")
    if conn.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar():
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def _credentials(conn: Connection, writer: Writer, result: LoadResult, now: dt.datetime) -> None:
    """A token for each facility organisation (受付: checks and 委託先一括取得) and for the largest
    offices (担当員: registering), shown once in the result, only their hashes stored."""
    summary = result.generator.summary
    at = now.astimezone(JST).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    rows: list[Row] = []
    for oid, code, name, tickets in summary.facility_orgs:
        token = new_token()
        rows.append((oid, hash_token(token), "synth", at, RECEPTION))
        result.facilities.append(
            {"code": code, "name": name, "organisation_id": oid, "tickets_this_month": tickets, "token": token}
        )
    sizes = result.generator.office_size
    biggest = sorted(range(len(sizes)), key=lambda k: (-sizes[k], k))[:OFFICE_TOKENS]
    for k in biggest:
        oid, payer, name = summary.offices[k]
        token = new_token()
        rows.append((oid, hash_token(token), "synth", at, CASEWORKER))
        result.offices.append(
            {
                "code": result.generator.office_code[k],
                "payer_number": payer,
                "name": name,
                "recipients": sizes[k],
                "organisation_id": oid,
                "token": token,
            }
        )
    if rows:  # JST wall time: PostgreSQL's session TimeZone is Asia/Tokyo for the load
        writer.write_columns("credentials", ("organisation_id", "token_hash", "label", "created_at", "role"), rows)


def _counters_and_audit(conn: Connection, gen: Generator, x: Existing, now: dt.datetime) -> None:
    summary = gen.summary
    last = max(summary.last_seq, x.next_seq - 1)
    c = s.counters
    if conn.execute(c.update().where(c.c.name == "ticket_seq").values(value=last)).rowcount == 0:
        conn.execute(c.insert().values(name="ticket_seq", value=last))
    cfg = gen.c
    rows = summary.rows
    detail = (
        f"fujo synth seed={cfg.seed} month={cfg.month} history={cfg.history_months} "
        f"offices={rows.get('office_payers', 0)} facilities={rows.get('facilities', 0)} "
        f"recipients={rows.get('recipients', 0)} tickets={rows.get('tickets', 0)} "
        f"persons={rows.get('persons', 0)} insurance={rows.get('insurance_qualifications', 0)}"
    )
    audit_append(
        conn,
        [
            {
                "at": now,
                "organisation_id": 0,
                "role": "manager",
                "method": "registry",
                "category": "registry",
                "channel": "cli",
                "outcome": "-",
                "reason": "synth.load",
                "detail": detail[:200],
            }
        ],
        want_ids=False,
    )


def _move_sequences(conn: Connection, gen: Generator) -> None:
    for table in ID_TABLES:
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - constants
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
        )


def _ticket_holders(month: str) -> Select[Any]:
    """People with a current ticket of ``month`` (numbers, birth date, person) with the ticket's first
    day, type and designated facility, in the order the tickets were written."""
    t, r = s.tickets, s.recipients
    return (
        select(
            r.c.payer_number,
            r.c.recipient_number,
            r.c.birthdate,
            r.c.person_id,
            t.c.valid_from,
            t.c.ticket_type,
            t.c.designated_facility_code,
        )
        .select_from(t.join(r, r.c.id == t.c.recipient_id))
        .where(t.c.treatment_month == month, current_tickets())
        .order_by(t.c.id)
    )


def _designated(conn: Connection, code: str, month: str, limit: int, carded: bool = False) -> Iterator[Any]:
    """People with a current ticket of ``month`` designating ``code`` (not under 閲覧制限)."""
    t, r = s.tickets, s.recipients
    q = _ticket_holders(month).where(t.c.designated_facility_code == code, r.c.restricted.is_(False)).limit(limit)
    if carded:
        q = q.where(r.c.person_id.is_not(None))
    yield from conn.execute(q)


def _samples(conn: Connection, result: LoadResult) -> None:
    month = result.config.month
    for f in result.facilities:
        f["samples"] = [
            {
                "insurer_number": row.payer_number,
                "identification_number": row.recipient_number,
                "birthdate": _iso(row.birthdate),
                "confirmation_date": _iso(row.valid_from),
                "ticket_type": row.ticket_type,
                "expected_validity": "1",
            }
            for row in _designated(conn, f["code"], month, SAMPLES)
        ]


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def _real_cards(
    conn: Connection, ca: CardAuthority, result: LoadResult, n: int, cards_dir: Path, now: dt.datetime
) -> None:
    """Re-issue ``n`` synthetic cards with real certificates (holders designated to the first
    facility organisation this month, else anyone with a card and a ticket of the month)."""
    month = result.config.month
    codes: Iterable[str] = [f["code"] for f in result.facilities[:1]]
    holders: list[tuple[Any, str]] = []
    for code in codes:
        holders += [(row, code) for row in _designated(conn, code, month, n, carded=True)]
    if len(holders) < n:
        seen = {h[0].person_id for h in holders}
        for row in conn.execute(_ticket_holders(month).where(s.recipients.c.person_id.is_not(None)).limit(4 * n)):
            if len(holders) >= n:
                break
            if row.person_id not in seen:
                seen.add(row.person_id)
                holders.append((row, row.designated_facility_code))
    cards_dir.mkdir(parents=True, exist_ok=True)
    p, c = s.persons, s.cards
    for row, code in holders[:n]:
        public_id = conn.execute(select(p.c.public_id).where(p.c.id == row.person_id)).scalar_one()
        card = ca.issue(public_id, REAL_CARD_PIN)
        conn.execute(
            c.update()
            .where(c.c.person_id == row.person_id)
            .values(
                serial=card.serial,
                fingerprint=card.fingerprint,
                not_before=card.not_before.astimezone(JST),
                not_after=card.not_after.astimezone(JST),
                issued_at=now,
            )
        )
        path = cards_dir / f"{row.payer_number}-{row.recipient_number}.p12"
        path.write_bytes(card.p12)
        result.cards.append(
            {
                "file": str(path),
                "pin": REAL_CARD_PIN,
                "serial": card.serial,
                "payer_number": row.payer_number,
                "recipient_number": row.recipient_number,
                "birthdate": _iso(row.birthdate),
                "designated_facility_code": code,
                "confirmation_date": _iso(row.valid_from),
            }
        )
