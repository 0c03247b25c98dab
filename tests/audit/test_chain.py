"""The check log is a hash chain (issue 11): every entry — checks, downloads, registry changes —
carries seq, prev_hash and hash, and ``fujo audit verify`` names the first changed, removed or
inserted entry when someone edits the table directly with SQL. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text, update

from fujo.audit.chain import GENESIS, append, entry_hash
from fujo.audit.service import access_log, record_check
from fujo.audit.verify import head, verify
from fujo.core.errors import ValidationFailed
from fujo.db import schema as s
from fujo.eligibility.service import check_by_numbers
from fujo.registry.service import amend_ticket, cancel_ticket, unlink_card, update_recipient


def _checks(world, r, n: int = 3) -> None:
    for _ in range(n):
        check_by_numbers(
            world.db,
            world.principal("clinic"),
            insurer_number=r["payer_number"],
            identification_number=r["recipient_number"],
            birthdate=r["birthdate"],
            confirmation_date="2024-07-10",
        )


def _log(db) -> list:
    with db.read() as conn:
        return conn.execute(select(s.check_log).order_by(s.check_log.c.seq)).all()


def _chain(world) -> list:
    """A world with a recipient, a ticket, a card link and three checks: 7 entries."""
    r = world.recipient()
    world.ticket(r)
    world.card(r)
    _checks(world, r)
    log = _log(world.db)
    assert len(log) == 6 and [e.seq for e in log] == list(range(1, 7))
    return log


def test_every_entry_is_chained_and_verify_passes(world, db, fujo):
    log = _chain(world)
    prev = GENESIS
    for e in log:
        assert e.prev_hash == prev and e.hash == entry_hash(e, prev)
        prev = e.hash
    assert head(db).seq == 6 and head(db).hash == prev
    res = fujo("audit", "verify")
    assert res.exit_code == 0, res.output
    assert "ok: 6 entries" in res.output


def test_an_empty_log_verifies(db, fujo):
    res = fujo("audit", "verify")
    assert res.exit_code == 0 and "ok: 0 entries" in res.output


def test_registry_changes_are_entries_with_who_and_whom(world, db):
    r = world.recipient()
    t = world.ticket(r)
    office = world.principal("office")
    card = world.card(r)
    amend_ticket(db, office, key=t["ticket_key"], data={**world.ticket_data(r), "injury_name1": "感冒"})
    cancel_ticket(db, office, key=t["ticket_key"], reason="誤登録")
    update_recipient(db, office, payer=r["payer_number"], rn=r["recipient_number"], changes={"address": "別の住所"})
    update_recipient(
        db,
        office,
        payer=r["payer_number"],
        rn=r["recipient_number"],
        changes={
            "disqualification_date": "2024-08-31",
            "disqualification_kind": "1",
            "disqualification_reason": "入院",
        },
    )
    unlink_card(db, office, payer=r["payer_number"], rn=r["recipient_number"], reason="誤ってひも付けた")
    log = _log(db)
    got = [(e.method, e.reason if e.method == "registry" else None) for e in log]
    assert got == [
        ("registry", "recipient.create"),
        ("registry", "ticket.register"),
        ("link", None),
        ("registry", "ticket.amend"),
        ("registry", "ticket.cancel"),
        ("registry", "recipient.update"),
        ("registry", "recipient.suspend"),
        ("unlink", None),
    ]
    for e in log:
        assert e.organisation_id == world.orgs["office"]["id"] and e.recipient_id == r["id"]
        assert e.category == "registry" and e.channel == "cli" and e.role == "manager"
    assert log[5].detail == "version=2 fields=address"  # field names, never the values
    assert "別の住所" not in str([tuple(e) for e in log])
    assert {e.person_id for e in log if e.method in ("link", "unlink")} == {card["person_id"]}
    assert verify(db).ok
    # the recipient's portal shows them, in words
    shown = [e["method_ja"] for e in access_log(db, card["person_id"], [r["id"]])]
    assert shown[0] == "マイナンバーカードとのひも付けの解除"
    assert "保護の停止" in shown and "医療券/調剤券の取消" in shown and shown[-1] == "受給者の登録"


def test_a_refused_registry_change_writes_no_entry(world, db):
    r = world.recipient()
    before = head(db)
    with pytest.raises(ValidationFailed):
        update_recipient(
            db,
            world.principal("office"),
            payer=r["payer_number"],
            rn=r["recipient_number"],
            changes={"disqualification_date": "2019-01-01", "disqualification_kind": "2"},  # before 保護開始
        )
    assert head(db) == before and len(_log(db)) == 1


def test_a_change_rolled_back_takes_its_entry_with_it(world, db):
    r = world.recipient()
    before = head(db)
    try:
        with db.write() as conn:
            append(conn, [{"at": db.now(), "organisation_id": 1, "method": "registry", "outcome": "-"}])
            raise RuntimeError("the change failed after its entry was appended")
    except RuntimeError:
        pass
    assert head(db) == before and len(_log(db)) == 1
    record_check(db, world.principal("clinic"), "numbers", "1", recipient_id=r["id"])
    assert verify(db).ok and head(db).seq == 2  # no gap


def _exec(db, sql: str, **params) -> None:
    with db.engine.begin() as c:
        c.execute(text(sql), params)


def test_an_edited_entry_is_named(world, db, fujo):
    log = _chain(world)
    _exec(db, "UPDATE check_log SET outcome = '0' WHERE seq = 5")
    res = fujo("audit", "verify")
    assert res.exit_code == 1
    assert f"changed: seq 5, id {log[4].id}" in res.output
    assert "fields do not give its hash" in res.output


def test_an_edited_and_rehashed_entry_is_named(world, db, fujo):
    log = _chain(world)
    e = log[2]
    changed = {**e._mapping, "detail": "rewritten"}
    _exec(
        db,
        "UPDATE check_log SET detail = 'rewritten', hash = :h WHERE id = :i",
        h=entry_hash(changed, e.prev_hash),
        i=e.id,
    )
    res = fujo("audit", "verify")
    assert res.exit_code == 1 and f"changed: seq 3, id {e.id}" in res.output and "hash was rewritten" in res.output


def test_an_edited_prev_hash_is_named(world, db, fujo):
    log = _chain(world)
    _exec(db, "UPDATE check_log SET prev_hash = :h WHERE seq = 4", h="f" * 64)
    res = fujo("audit", "verify")
    assert res.exit_code == 1 and f"changed: seq 4, id {log[3].id}" in res.output


def test_a_removed_entry_is_named(world, db, fujo):
    log = _chain(world)
    _exec(db, "DELETE FROM check_log WHERE seq = 2")
    res = fujo("audit", "verify")
    assert res.exit_code == 1
    assert f"removed: seq 2: entry 2 missing (the next entry is seq 3, id {log[2].id})" in res.output


def test_removed_last_entries_are_named(world, db, fujo):
    _chain(world)
    _exec(db, "DELETE FROM check_log WHERE seq >= 5")
    res = fujo("audit", "verify")
    assert res.exit_code == 1 and "removed: seq 5: entries 5…6 are missing" in res.output


def test_an_inserted_entry_is_named(world, db, fujo):
    log = _chain(world)
    _exec(
        db,
        "INSERT INTO check_log (at, organisation_id, method, outcome) VALUES (:at, :o, 'numbers', '1')",
        at=dt.datetime.now(dt.UTC),
        o=log[0].organisation_id,
    )
    with db.read() as conn:
        new_id = conn.execute(select(s.check_log.c.id).where(s.check_log.c.seq.is_(None))).scalar_one()
    res = fujo("audit", "verify")
    assert res.exit_code == 1 and f"inserted: id {new_id}: a row outside the chain" in res.output


def _forge(db, like, **changes) -> None:
    """Insert an entry as someone who knows the scheme would: a full row with a correct hash."""
    values = {k: v for k, v in like._mapping.items() if k != "id"} | changes
    values["hash"] = entry_hash(values, values["prev_hash"])
    with db.engine.begin() as c:
        c.execute(s.check_log.insert().values(**values))


def test_an_entry_inserted_in_the_middle_is_named(world, db, fujo):
    """Slipping an entry in at seq 3 needs the later ones moved up: the one after it no longer fits."""
    log = _chain(world)
    _exec(db, "UPDATE check_log SET seq = seq + 100 WHERE seq >= 3")
    _exec(db, "UPDATE check_log SET seq = seq - 99 WHERE seq >= 103")
    _forge(db, log[2], seq=3, prev_hash=log[1].hash, detail="slipped in")
    res = fujo("audit", "verify")
    assert res.exit_code == 1
    # the forged entry itself fits (its author knows the scheme); the original one after it does not
    assert f"changed: seq 4, id {log[2].id}" in res.output


def test_an_entry_appended_without_moving_the_head_is_named(world, db, fujo):
    log = _chain(world)
    _forge(db, log[-1], seq=7, prev_hash=log[-1].hash)
    res = fujo("audit", "verify")
    assert res.exit_code == 1 and "inserted: seq 7: entries after the recorded head (seq 6)" in res.output


def test_anchor_catches_a_rewritten_chain(world, db, fujo):
    log = _chain(world)
    res = fujo("audit", "anchor")
    assert res.exit_code == 0
    anchor, at = res.output.split()
    assert anchor == f"6:{log[-1].hash}" and dt.datetime.fromisoformat(at).utcoffset() == dt.timedelta(hours=9)
    r = world.recipient()  # the chain grows after the anchor was taken
    ok = fujo("audit", "verify", "--anchor", anchor)
    assert ok.exit_code == 0 and "anchor seq 6 found" in ok.output
    # someone with the database rewrites entry 2 and re-hashes everything after it, head included
    prev = log[0].hash
    with db.engine.begin() as c:
        rows = c.execute(select(s.check_log).order_by(s.check_log.c.seq)).all()
        for e in rows[1:]:
            values = {**e._mapping, "prev_hash": prev}
            if e.seq == 2:
                values["detail"] = "forged"
            h = entry_hash(values, prev)
            c.execute(
                update(s.check_log)
                .where(s.check_log.c.id == e.id)
                .values(prev_hash=prev, hash=h, detail=values["detail"])
            )
            prev = h
        c.execute(update(s.audit_head).values(hash=prev))
    assert fujo("audit", "verify").exit_code == 0  # without the anchor this cannot be seen
    bad = fujo("audit", "verify", "--anchor", anchor)
    assert bad.exit_code == 1 and "anchor: seq 6" in bad.output and "rewritten" in bad.output
    assert r["id"]
    gone = fujo("audit", "verify", "--anchor", f"99:{'0' * 64}")
    assert gone.exit_code == 1 and "no longer in the chain" in gone.output
    assert fujo("audit", "verify", "--anchor", "nonsense").exit_code == 2


def test_many_registry_changes_at_once(world, db):
    from fujo.audit.service import record_changes

    r1, r2 = world.recipient(), world.recipient()
    with db.write() as conn:
        record_changes(
            conn,
            world.principal("office"),
            "recipient.create",
            [(r1["id"], None, "import"), (r2["id"], None, None)],
            db.now(),
            channel="web",
        )
    log = _log(db)
    assert [(e.reason, e.recipient_id, e.channel) for e in log[2:]] == [
        ("recipient.create", r1["id"], "web"),
        ("recipient.create", r2["id"], "web"),
    ]
    assert verify(db).ok
