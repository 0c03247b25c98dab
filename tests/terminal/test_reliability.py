"""Server unreachable → an answer saying so; retries and restarts never produce a second answer."""

from __future__ import annotations

from fujo.core.dates import today_jst
from fujo.terminal import requestfiles as rf
from fujo.terminal.localserver import free_port
from fujo.terminal.requestfiles import wait_answer
from tests.factories import CLINIC, PAYER
from tests.helpers import snapshot
from tests.terminal.conftest import wait_for

TODAY = today_jst()


def _stop(running):
    running.stop.set()
    running.thread.join(timeout=10)


def test_unreachable_server_is_answered_and_a_retry_of_the_same_file_is_processed(world, make_agent, db):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    down = make_agent(url=f"http://127.0.0.1:{free_port()}")
    data = rf.single_check(CLINIC, PAYER, r["recipient_number"], "19900115")
    rf.drop(down.folder.root, "OQSsiquc01", "x", data)
    a = wait_answer(down.folder.root, "OQSsiquc01", "x")
    assert a.get("MessageHeader/SegmentOfResult") == "9"
    assert a.get("MessageHeader/ErrorCode") == "FJ9001"
    assert "接続できません" in a.get("MessageHeader/ErrorMessage")
    _stop(down)

    up = make_agent()  # same state directory: the ledger knows the first answer was transient
    a.path.unlink()
    rf.drop(up.folder.root, "OQSsiquc01", "x", data)
    again = wait_answer(up.folder.root, "OQSsiquc01", "x")
    assert again.get("MessageHeader/SegmentOfResult") == "1", again.raw.decode()
    assert again.get("MessageBody/QualificationValidity") == "1"
    assert len(snapshot(db)["check_log"]) == 1


def test_a_request_seen_again_after_a_restart_is_not_answered_twice(world, make_agent, db):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    first = make_agent()
    data = rf.single_check(CLINIC, PAYER, r["recipient_number"], "19900115")
    rf.drop(first.folder.root, "OQSsiquc01", "once", data)
    answer = wait_answer(first.folder.root, "OQSsiquc01", "once").path
    written = answer.read_bytes()
    _stop(first)

    # the same bytes dropped again while the answer is still in res/ (a client's retry): settled by that answer
    req = rf.drop(first.folder.root, "OQSsiquc01", "once", data)
    second = make_agent()
    wait_for(lambda: not req.exists())
    assert answer.read_bytes() == written
    assert sorted(p.name for p in second.folder.res.iterdir()) == ["OQSsiquc01res_once.xml"]
    assert len(snapshot(db)["check_log"]) == 1


def test_reusing_an_answered_file_name_is_refused_as_a_duplicate(world, agent, db):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    data = rf.single_check(CLINIC, PAYER, r["recipient_number"], "19900115")
    rf.drop(agent.folder.root, "OQSsiquc01", "dup", data)
    wait_answer(agent.folder.root, "OQSsiquc01", "dup").path.unlink()  # the レセコン took the answer
    rf.drop(agent.folder.root, "OQSsiquc01", "dup", data)
    err = rf.read_answer(wait_for(agent.folder.res / "OQSsiquc01res_dup.err"))
    assert "ErrorCode: FJ1007" in err.err_text
    assert not (agent.folder.res / "OQSsiquc01res_dup.xml").exists()
    assert len(snapshot(db)["check_log"]) == 1


def test_state_holds_no_personal_data(world, agent):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    rf.drop(
        agent.folder.root,
        "OQSsiquc01",
        "p",
        rf.single_check(CLINIC, PAYER, r["recipient_number"], birthdate="19900115"),
    )
    wait_answer(agent.folder.root, "OQSsiquc01", "p")
    for f in agent.agent.state_dir.iterdir():
        text = f.read_text("utf-8")
        assert r["recipient_number"] not in text and "19900115" not in text and "生保" not in text
