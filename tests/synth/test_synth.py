"""``fujo synth``: the generated data is what the registry would have accepted, deterministic for a
seed, usable by the normal services right after the load, and never mixed into a database silently.
Small sizes on SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from fujo.audit.verify import verify
from fujo.auth.principal import FACILITY, WELFARE_OFFICE
from fujo.cards.reader import prove
from fujo.cards.service import create_challenge
from fujo.core import numbers, ticket_rules
from fujo.core.dates import month_bounds
from fujo.core.errors import Problems
from fujo.db import schema as s
from fujo.db.database import current_value
from fujo.eligibility.service import check_by_card, check_by_numbers
from fujo.insurance.service import clean_insurance
from fujo.orgs.service import principal_for
from fujo.registry.facilities import facility_rows
from fujo.registry.queries import current_tickets
from fujo.registry.service import TICKET_COLUMNS, clean_recipient, clean_ticket, register_recipient, register_ticket
from fujo.synth.generator import COLUMNS, PREFECTURES, Generator, SynthConfig, recipient_check_digit
from fujo.synth.load import NotEmpty, load, secondary_indexes

MONTH = "202407"
AS_OF = dt.date(2024, 7, 25)
CONFIG = SynthConfig(
    recipients=2000,
    offices=20,
    facilities=200,
    month=MONTH,
    history_months=12,
    insurance_share=0.1,
    card_share=0.3,
    seed=7,
    as_of=AS_OF,
    facility_orgs=5,
)
TINY = SynthConfig(
    recipients=300, offices=5, facilities=40, month=MONTH, history_months=2, seed=3, as_of=AS_OF, facility_orgs=2
)


def fake_hash(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()


def generated(config: SynthConfig, digest: bool = True) -> Generator:
    g = Generator(config, fake_hash, digest=digest)
    for _ in g.batches():
        pass
    return g


# --- the generator alone ------------------------------------------------------------------------


def test_same_seed_same_rows_other_seed_other_rows():
    a, b = generated(TINY), generated(TINY)
    assert a.summary.digest == b.summary.digest and a.summary.rows == b.summary.rows
    c = generated(SynthConfig(**{**TINY.__dict__, "seed": 4}))
    assert c.summary.digest != a.summary.digest


def test_fast_check_digit_is_the_rule():
    for body in random.Random(1).sample(range(1_000_000), 5000):
        assert recipient_check_digit(body) == numbers.check_digit(f"{body:06d}")


def test_sizes_and_skew_of_the_model():
    g = generated(CONFIG, digest=False)
    rows = g.summary.rows
    assert rows["recipients"] == 2000 and rows["office_payers"] == 20 and rows["facilities"] == 200
    # about 0.9 tickets per recipient and month, twelve months of history
    assert 1500 <= g.summary.month_tickets <= 2000
    assert 17_000 <= rows["tickets"] <= 26_000
    assert 400 <= rows["persons"] <= 800 and 0 < rows["insurance_qualifications"] < 200
    # the busiest facility is a hospital (点数表 1) well ahead of the median facility
    code, _, top = g.summary.top_facilities[0]
    assert code[2] == "1" and top >= 10 * sorted(g.month_count)[len(g.month_count) // 2]
    assert rows["organisations"] == 20 + 5 + (47 + 8)  # offices, facility organisations, insurers


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="recipients"):
        Generator(SynthConfig(recipients=0), fake_hash)
    assert SynthConfig(card_share=1.5, month="2024-7").problems() == [
        "card_share must be between 0 and 1",
        "month must be yyyyMM",
    ]


# --- loaded into the database -------------------------------------------------------------------


def _designated(conn, code: str, month: str = MONTH, carded: bool = False):
    t, r = s.tickets, s.recipients
    q = (
        select(r, t.c.valid_from, t.c.valid_to, t.c.ticket_type)
        .select_from(t.join(r, r.c.id == t.c.recipient_id))
        .where(
            t.c.designated_facility_code == code,
            t.c.treatment_month == month,
            current_tickets(),
            r.c.restricted.is_(False),
        )
        .order_by(t.c.id)
    )
    if carded:
        q = q.where(r.c.person_id.is_not(None))
    return conn.execute(q).first()


def test_load_is_what_the_registry_accepts_and_serves(db, ca, tmp_path):
    with db.read() as conn:
        indexes_before = secondary_indexes(conn)
    result = load(db, CONFIG, ca, real_cards=1, cards_dir=tmp_path / "cards")
    summary = result.generator.summary
    assert result.rows == sum(summary.rows.values()) and result.rate > 0

    with db.read() as conn:
        assert secondary_indexes(conn) == indexes_before  # dropped for the load, re-created as they were
        if not db.is_sqlite:  # and on every partition of the tickets: an index made ON ONLY the parent is invalid
            invalid = conn.exec_driver_sql(
                "SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE NOT x.indisvalid"
            ).all()
            assert invalid == []
        # --- every number valid, offices' payer numbers in their prefecture ---
        offices = conn.execute(
            select(s.office_payers.c.payer_number, s.organisations.c.code, s.organisations.c.name).select_from(
                s.office_payers.join(s.organisations, s.organisations.c.id == s.office_payers.c.organisation_id)
            )
        ).all()
        assert len(offices) == 20
        pref_names = {p[0]: p[1] for p in PREFECTURES}
        for payer, code, name in offices:
            assert numbers.check_payer_number(payer) is None
            assert code[:2] == payer[2:4] and name.startswith(pref_names[payer[2:4]])
        recipients = conn.execute(select(s.recipients)).all()
        assert len(recipients) == 2000
        for r in recipients:
            assert numbers.check_payer_number(r.payer_number) is None
            assert numbers.check_recipient_number(r.recipient_number) is None
        for r in random.Random(2).sample(recipients, 200):  # the office would have registered them
            fields = {c: getattr(r, c) for c in COLUMNS["recipients"] if c not in ("id", "person_id", "version")}
            fields = {k: v for k, v in fields.items() if k not in ("restricted", "created_at", "updated_at")}
            clean_recipient({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in fields.items()})
        facilities = {f.code: f for f in conn.execute(select(s.facilities))}
        assert len(facilities) == 200
        for code, f in facilities.items():
            assert numbers.check_facility_code(code) is None
            assert f.score_table == code[2] and f.prefecture == code[:2]
        assert {code[2] for code in facilities} == {"1", "3", "4", "6"}
        insurance = conn.execute(select(s.insurance_qualifications)).all()
        assert insurance
        for q in insurance:
            data = {
                c: getattr(q, c)
                for c in COLUMNS["insurance_qualifications"]
                if c not in ("id", "person_id", "registered_by", "created_at", "updated_at")
            }
            clean_insurance({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in data.items()})
        # --- referential integrity (the load writes with foreign keys unchecked) ---
        for child, col, parent in (
            ("tickets", "recipient_id", "recipients"),
            ("tickets", "changed_by", "organisations"),
            ("recipients", "person_id", "persons"),
            ("cards", "person_id", "persons"),
            ("insurance_qualifications", "person_id", "persons"),
            ("insurance_qualifications", "registered_by", "organisations"),
            ("office_payers", "organisation_id", "organisations"),
        ):
            orphans = conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM {child} c LEFT JOIN {parent} p ON p.id = c.{col} "
                f"WHERE c.{col} IS NOT NULL AND p.id IS NULL"
            ).scalar_one()
            assert orphans == 0, (child, col)
        # --- tickets pass the registry's rules (a sample of every month) ---
        t = s.tickets
        tickets = conn.execute(select(t).where(current_tickets())).all()
        by_rm: dict[tuple[int, str], list] = {}
        by_issue: dict[tuple[int, str, str], list] = {}
        rec = {r.id: r for r in recipients}
        for x in tickets:
            by_rm.setdefault((x.recipient_id, x.treatment_month), []).append(x)
            by_issue.setdefault((rec[x.recipient_id].payer_number, x.treatment_month, x.issue_number), []).append(x)
        gen = result.generator
        months = {x.treatment_month for x in tickets}
        assert len(months) == 13
        registry = facility_rows(conn, list(facilities))
        for x in random.Random(3).sample(tickets, 600):
            raw = {c: getattr(x, c) for c in TICKET_COLUMNS}
            raw = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in raw.items() if v is not None}
            raw["treatment_month"] = f"{x.treatment_month[:4]}-{x.treatment_month[4:]}"
            clean = clean_ticket(raw)  # fields, month, 調剤/診療別, 点数表, 単独/併用 vs 社会保険
            problems = Problems()
            r = rec[x.recipient_id]
            ticket_rules.check_against_registry(
                clean,
                r,
                registry,
                by_rm[(x.recipient_id, x.treatment_month)],
                by_issue[(r.payer_number, x.treatment_month, x.issue_number)],
                x.ticket_key,
                problems,
            )
            assert not problems.items, (x.ticket_key, [p.code for p in problems.items])
            assert clean["designated_facility_name"] == facilities[x.designated_facility_code].name
            # 併用 exactly when the recipient had health insurance at the start of the month
            since = gen.p_ins[r.id - gen.rid0]  # the generator's own record of the 資格取得日 (0: none)
            insured = bool(since) and since < month_bounds(x.treatment_month)[0].toordinal()
            assert (x.single_or_combined == "02") == insured, x.ticket_key
        # --- revisions: amended and cancelled tickets keep their history ---
        revised = conn.execute(select(func.count()).select_from(t).where(t.c.revision == 2)).scalar_one()
        assert revised > 0
        assert current_value(conn, "ticket_seq") == conn.execute(select(func.max(t.c.seq))).scalar_one()
        assert conn.execute(select(func.count()).select_from(t)).scalar_one() == summary.rows["tickets"]
        # --- organisations with tokens for a benchmark ---
        f0 = result.facilities[0]
        assert len(result.facilities) == 5 and f0["token"].startswith("fujo_") and f0["samples"]
        assert {f["code"][2] for f in result.facilities} >= {"1", "4"}
        designated = _designated(conn, f0["code"])
        held = set(  # the facilities designated for this person this month: "another" is none of them
            conn.execute(
                select(t.c.designated_facility_code).where(
                    t.c.recipient_id == designated.id, t.c.treatment_month == MONTH
                )
            ).scalars()
        )
        other = next(f for f in result.facilities if f["code"] not in held)
        office_code = conn.execute(
            select(s.organisations.c.code)
            .select_from(
                s.office_payers.join(s.organisations, s.organisations.c.id == s.office_payers.c.organisation_id)
            )
            .where(s.office_payers.c.payer_number == designated.payer_number)
        ).scalar_one()
        # exactly one audit entry for the whole load, and an unbroken chain
        entries = conn.execute(select(s.check_log.c.reason, s.check_log.c.detail)).all()
        assert [e.reason for e in entries] == ["synth.load"] and "recipients=2000" in entries[0].detail
    assert verify(db).ok

    # --- the normal check path: 1 for the designated facility, 6 (masked) for another ---
    day = designated.valid_from
    query = dict(
        insurer_number=designated.payer_number,
        identification_number=designated.recipient_number,
        birthdate=designated.birthdate,
        confirmation_date=day,
    )
    mine = check_by_numbers(db, principal_for(db, kind=FACILITY, code=f0["code"]), **query)
    assert mine["QualificationValidity"] == "1"
    assert mine["ResultList"][0]["InsuredIdentificationNumber"] == designated.recipient_number
    theirs = check_by_numbers(db, principal_for(db, kind=FACILITY, code=other["code"]), **query)
    assert theirs["QualificationValidity"] == "6"
    assert "InsurerNumber" not in theirs["ResultList"][0] and "PublicExpenseResultList" not in theirs["ResultList"][0]
    sample = f0["samples"][0]
    assert (
        check_by_numbers(
            db,
            principal_for(db, kind=FACILITY, code=f0["code"]),
            insurer_number=sample["insurer_number"],
            identification_number=sample["identification_number"],
            birthdate=sample["birthdate"],
            confirmation_date=sample["confirmation_date"],
        )["QualificationValidity"]
        == "1"
    )

    # --- a real card re-issued by the load checks like any card ---
    (card,) = result.cards
    facility = principal_for(db, kind=FACILITY, code=card["designated_facility_code"])
    proof = prove(Path(card["file"]), card["pin"], create_challenge(db, facility)["challenge"], facility.code)
    by_card = check_by_card(db, ca, facility, **proof.as_dict(), confirmation_date=card["confirmation_date"])
    a1 = [x for x in by_card["ResultList"] if x["InsuredCardClassification"] == "A1"]
    assert a1[0]["QualificationValidity"] == "1"
    assert a1[0]["InsuredIdentificationNumber"] == card["recipient_number"]

    # --- the registry keeps registering: counters and sequences consistent ---
    office = principal_for(db, kind=WELFARE_OFFICE, code=office_code)
    last_seq = summary.last_seq
    first, last = month_bounds(MONTH)
    with db.read() as conn:
        r = conn.execute(
            select(s.recipients).where(
                s.recipients.c.payer_number == designated.payer_number,
                s.recipients.c.qualification_date <= first,
                s.recipients.c.disqualification_date.is_(None),
            )
        ).first()
        used = set(
            conn.execute(
                select(s.tickets.c.designated_facility_code).where(
                    s.tickets.c.recipient_id == r.id, s.tickets.c.treatment_month == MONTH
                )
            ).scalars()
        )
    clinic = next(c for c in sorted(facilities) if c[2] == "1" and c not in used)
    new = register_ticket(
        db,
        office,
        {
            "payer_number": r.payer_number,
            "recipient_number": r.recipient_number,
            "ticket_type": "01",
            "treatment_month": "2024-07",
            "valid_from": first.isoformat(),
            "valid_to": last.isoformat(),
            "designated_facility_code": clinic,
            "treatment_type": "02",
            "single_or_combined": "01",
            "issue_number": "99999999",
        },
    )
    assert new["seq"] == last_seq + 1
    with db.read() as conn:
        top = conn.execute(select(func.max(s.recipients.c.id))).scalar_one()
    body = 999_990
    added = register_recipient(
        db,
        office,
        {
            "payer_number": r.payer_number,
            "recipient_number": f"{body:06d}{recipient_check_digit(body)}",
            "name": "合成追加",
            "name_kana": "ｺﾞｳｾｲ ﾂｲｶ",
            "sex": "1",
            "birthdate": "1970-01-01",
            "qualification_date": "2024-07-01",
        },
    )
    assert added["id"] == top + 1  # the id sequence was moved past the load's ids


def _digest(db) -> str:
    """The rows of every generated table, as the database returns them (credentials excepted)."""
    h = hashlib.sha256()
    with db.read() as conn:
        for table in ("organisations", "office_payers", "facilities", "persons", "recipients", "cards"):
            cols = COLUMNS[table]
            order = "id" if "id" in cols else cols[0]
            for row in conn.exec_driver_sql(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}"):
                h.update(repr(tuple(row)).encode())
        for row in conn.execute(select(*[s.tickets.c[c] for c in COLUMNS["tickets"]]).order_by(s.tickets.c.id)):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def _empty(db) -> None:
    with db.engine.begin() as c:
        for table in reversed(s.metadata.sorted_tables):
            c.execute(table.delete())
        c.execute(text("INSERT INTO counters (name, value) VALUES ('ticket_seq', 0)"))


def test_deterministic_refuses_a_full_database_and_appends_apart(db, ca):
    load(db, TINY, ca)
    first = _digest(db)
    with pytest.raises(NotEmpty):
        load(db, TINY, ca)  # never mixed in silently
    _empty(db)
    load(db, TINY, ca, parallel=False)  # the tickets generated in this process rather than a child
    assert _digest(db) == first  # same seed, same rows

    # --append: a second population beside the first, sharing no number
    result = load(db, TINY, ca, append=True)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(s.recipients)).scalar_one() == 600
        payers = conn.execute(select(s.office_payers.c.payer_number)).scalars().all()
        assert len(payers) == len(set(payers)) == 10
        codes = conn.execute(select(s.facilities.c.code)).scalars().all()
        assert len(codes) == len(set(codes)) == 80
        keys = conn.execute(select(s.tickets.c.ticket_key, s.tickets.c.revision)).all()
        assert len(keys) == len(set(keys))
        assert current_value(conn, "ticket_seq") == conn.execute(select(func.max(s.tickets.c.seq))).scalar_one()
        assert conn.execute(select(func.count()).select_from(s.check_log)).scalar_one() == 2
    assert result.generator.summary.rows["recipients"] == 300 and verify(db).ok
    # the second population's facility organisation checks its own people
    f = result.facilities[0]
    with db.read() as conn:
        x = _designated(conn, f["code"])
    out = check_by_numbers(
        db,
        principal_for(db, kind=FACILITY, code=f["code"]),
        insurer_number=x.payer_number,
        identification_number=x.recipient_number,
        birthdate=x.birthdate,
        confirmation_date=x.valid_from,
    )
    assert out["QualificationValidity"] == "1"


def test_cli_refuses_a_full_database(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fujo.cli.main import app

    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'synth.db'}"
    args = ["synth", "--recipients", "200", "--offices", "3", "--facilities", "20", "--month", "2024-07"]
    args += ["--history-months", "1", "--real-cards", "0", "--facility-orgs", "2", "--database-url", url]
    out = tmp_path / "tokens.json"
    runner = CliRunner()
    ok = runner.invoke(app, [*args, "--tokens-out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "rows/s" in ok.output and "200 recipients" in ok.output
    doc = json.loads(out.read_text())
    assert doc["month"] == "2024-07" and len(doc["facilities"]) == 2 and doc["facilities"][0]["samples"]
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--append" in again.output


def test_a_sqlite_file_another_connection_reads_is_loaded_in_wal(tmp_path, ca):
    """A load into a SQLite file that someone else has open (a server, another test's pool) cannot
    leave WAL for its faster journal; it loads in WAL rather than failing, and the file stays WAL."""
    import sqlite3

    from fujo.db.database import Database
    from fujo.db.migrate import upgrade

    path = tmp_path / "busy.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    reader = sqlite3.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM recipients").fetchone()  # a read transaction held open
    try:
        result = load(db, TINY, ca)
    finally:
        reader.rollback()
        reader.close()
    assert result.rows > 0
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("SELECT count(*) FROM recipients").fetchone()[0] == TINY.recipients
    db.dispose()
