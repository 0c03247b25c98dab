"""The hand-over of a request file (take → answer → stage → commit → publish → release, see
fujo/terminal/agent.py): every request file gets exactly one outcome, whatever the interleaving
with a client re-using names, however many files arrive at once, and wherever the agent crashes.

Nothing here measures time: waits are bounded, and "the agent has looked again" is counted in polls."""

from __future__ import annotations

import hashlib
import json
import threading

import httpx
import pytest

from fujo.core.dates import today_jst
from fujo.terminal import requestfiles as rf
from fujo.terminal.agent import Agent
from fujo.terminal.client import ServerClient
from fujo.terminal.namereuse import run_race
from tests.factories import CLINIC, PAYER
from tests.helpers import snapshot
from tests.terminal.conftest import wait_for

TODAY = today_jst()
BIRTH = "19900115"
KIND = "OQSsiquc01"


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the agent catches it."""


def _designated(world):
    r = world.recipient()
    world.ticket(r, on=TODAY)
    return r


def _request(r, aid: str | None = None) -> bytes:
    return rf.single_check(CLINIC, PAYER, r["recipient_number"], BIRTH, arbitrary_id=aid)


def _idle(agent: Agent):
    """The agent holds nothing: no request waiting in req/, none in a hand-over."""
    return lambda: agent.outstanding() == 0 and not any(agent.folder.req.glob("*.xml"))


def _ledger(agent: Agent) -> list[dict]:
    return [json.loads(line) for line in agent.ledger.path.read_text("utf-8").splitlines() if line]


def _leftovers(agent: Agent) -> list[str]:
    return (
        sorted(p.name for p in agent.folder.req.iterdir())
        + sorted(p.name for p in agent.inflight.iterdir())
        + sorted(p.name for p in agent.folder.res.glob(".tmp-*"))
    )


# --- the race ------------------------------------------------------------------------------------


def test_names_reused_at_full_speed_each_request_gets_exactly_one_outcome(world, make_agent, db):
    r = _designated(world)
    agent = make_agent(settle=0.05, poll=0.02)
    sent, problems = run_race(
        agent.folder.root,
        KIND,
        lambda aid: _request(r, aid),
        prefix="race",
        clients=3,
        per_client=12,
        names_per_client=2,
        timeout=15,
        idle=_idle(agent.agent),
    )
    assert problems == []
    assert len(sent) == 36 and all(s.outcome for s in sent)
    by_name: dict[str, list] = {}
    for s in sorted(sent, key=lambda s: s.seq):
        by_name.setdefault(s.name, []).append(s)
    for name, chain in by_name.items():  # a name is answered once; every later request under it is refused
        assert [s.outcome.rsplit(".", 1)[1] for s in chain] == ["xml"] + ["err"] * (len(chain) - 1), name
        assert chain[0].error_code == "" and {s.error_code for s in chain[1:]} == {"FJ1007"}, name
    assert len(snapshot(db)["check_log"]) == len(by_name) == 6
    # the ledger has one commit per request written, each for its own hand-over
    lines = [e for e in _ledger(agent.agent) if e["name"].startswith(f"{KIND}req_race")]
    assert len(lines) == len(sent) and len({e["take"] for e in lines}) == len(sent)
    assert _leftovers(agent.agent) == []


class _Flaky(httpx.HTTPTransport):
    """Every call but each third one to /checks/numbers fails after it was sent (no answer)."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self._lock = threading.Lock()

    def handle_request(self, request):
        if request.url.path.endswith("/checks/numbers"):
            with self._lock:
                self.calls += 1
                fail = self.calls % 3 != 0
            if fail:
                raise httpx.ReadTimeout("no answer", request=request)
        return super().handle_request(request)


def test_a_name_answered_with_a_transient_error_is_answered_again_in_the_race(world, server, folder, tmp_path, db):
    """FJ9002 (transient) lets the client re-send under the same name: each re-sent request is
    answered again — still exactly once each — until one succeeds; then FJ1007."""
    r = _designated(world)
    client = ServerClient(server.url, world.tokens["clinic"], timeout=5, transport=_Flaky())
    agent = Agent(folder, client, tmp_path / "state", settle=0.05, poll=0.02, grace=1.0)
    stop = threading.Event()
    t = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    t.start()
    try:
        sent, problems = run_race(
            folder,
            KIND,
            lambda aid: _request(r, aid),
            prefix="flaky",
            clients=3,
            per_client=8,
            names_per_client=2,
            timeout=15,
            idle=_idle(agent),
        )
    finally:
        stop.set()
        t.join(timeout=10)
        client.close()
    assert problems == []
    codes = [s.error_code for s in sent]
    assert "FJ9002" in codes and "" in codes  # answered again after a transient error, and then for real
    for name in {s.name for s in sent}:
        chain = [s.error_code for s in sorted(sent, key=lambda s: s.seq) if s.name == name]
        ok = chain.index("") if "" in chain else len(chain)
        assert set(chain[:ok]) <= {"FJ9002"} and set(chain[ok + 1 :]) <= {"FJ1007"}, (name, chain)
    assert len(snapshot(db)["check_log"]) == codes.count("")
    assert _leftovers(agent) == []


# --- several at once -----------------------------------------------------------------------------


class _Gate(ServerClient):
    """A real client whose checks first wait for ``parties`` checks to be under way at once."""

    def __init__(self, *a, parties: int, **kw):
        super().__init__(*a, **kw)
        self.barrier = threading.Barrier(parties, timeout=10)

    def check_numbers(self, fields):
        self.barrier.wait()  # BrokenBarrierError (→ FJ9003 answer) unless ``parties`` run at once
        return super().check_numbers(fields)


def test_files_dropped_together_are_answered_concurrently(world, server, folder, tmp_path):
    people = [_designated(world) for _ in range(4)]
    client = _Gate(server.url, world.tokens["clinic"], timeout=5, parties=4)
    agent = Agent(folder, client, tmp_path / "state", workers=4, settle=0.05, poll=0.02)
    for i, r in enumerate(people):
        rf.drop(folder, KIND, f"pc{i}", _request(r, f"pc{i}"))
    stop = threading.Event()
    t = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    t.start()
    try:
        answers = [rf.wait_answer(folder, KIND, f"pc{i}", timeout=20) for i in range(4)]
    finally:
        stop.set()
        t.join(timeout=10)
        client.close()
    assert [(a.get("MessageHeader/ErrorCode"), a.get("MessageBody/QualificationValidity")) for a in answers] == [
        (None, "1")
    ] * 4


class _Held(ServerClient):
    """A real client whose first check waits until the test lets it go."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.entered, self.release, self.calls = threading.Event(), threading.Event(), 0

    def check_numbers(self, fields):
        self.calls += 1
        self.entered.set()
        self.release.wait(timeout=10)
        return super().check_numbers(fields)


def test_a_name_rewritten_while_its_request_is_being_answered_waits_its_turn(world, server, folder, tmp_path):
    r = _designated(world)
    client = _Held(server.url, world.tokens["clinic"], timeout=5)
    agent = Agent(folder, client, tmp_path / "state", settle=0.0, poll=0.02, grace=0.5)
    stop = threading.Event()
    t = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    t.start()
    try:
        rf.drop(folder, KIND, "busy", _request(r, "first"))
        assert client.entered.wait(timeout=10)
        second = _request(r, "second")
        req = rf.drop(folder, KIND, "busy", second)  # the client re-uses the name while the agent works on it
        polls = agent.polls
        wait_for(lambda: agent.polls >= polls + 10)
        assert req.exists() and client.calls == 1  # not taken while the name is in a hand-over
        client.release.set()
        answer = rf.read_answer(wait_for(folder / "res" / f"{KIND}res_busy.xml"))
        err = rf.read_answer(wait_for(folder / "res" / f"{KIND}res_busy.err"))
    finally:
        client.release.set()
        stop.set()
        t.join(timeout=10)
        client.close()
    assert answer.get("MessageHeader/ArbitraryFileIdentifier") == "first"
    assert "ErrorCode: FJ1007" in err.err_text
    assert f"RequestSHA256: {hashlib.sha256(second).hexdigest()}" in err.err_text
    assert client.calls == 1 and not req.exists()


# --- crashes -------------------------------------------------------------------------------------


def _bare_agent(server, world, folder, state, **kw) -> Agent:
    """An agent without its loop thread: the test calls its steps (no pool: poll_once answers inline)."""
    client = ServerClient(server.url, world.tokens["clinic"], timeout=5)
    return Agent(folder, client, state, settle=0.0, grace=0.0, **kw)


def _crash_at(monkeypatch, agent: Agent, step: str, seen: dict):
    real = getattr(agent, step)

    def crash(*a, **kw):
        if step == "_publish":
            seen["staged"] = a[0].read_bytes()
        raise Crash(step)

    monkeypatch.setattr(agent, step, crash)
    return real


@pytest.mark.parametrize(
    "step,asked,client_took_answer",
    [
        ("_dispatch", 1, False),  # taken into flight, nothing else done
        ("_commit", 2, False),  # answer staged, not committed: redone (the server is asked again)
        ("_publish", 1, False),  # committed, not published: the staged answer is published as it was
        ("_release", 1, False),  # published, in-flight copy left: only released
        ("_release", 1, True),  # … and the client took the answer before the restart: no second answer
    ],
)
def test_a_crash_at_any_step_leaves_exactly_one_answer(
    world, server, folder, tmp_path, db, monkeypatch, step, asked, client_took_answer
):
    r = _designated(world)
    state = tmp_path / "state"
    first = _bare_agent(server, world, folder, state)
    seen: dict = {}
    _crash_at(monkeypatch, first, step, seen)
    rf.drop(folder, KIND, "c", _request(r, "c"))
    first.poll_once()  # sees the file
    with pytest.raises(Crash):
        first.poll_once()  # takes it and dies at ``step``
    first.client.close()
    assert not (folder / "req" / f"{KIND}req_c.xml").exists() and len(list(first.inflight.iterdir())) == 1
    answer = folder / "res" / f"{KIND}res_c.xml"
    before = answer.stat().st_ino if answer.exists() else None
    if client_took_answer:
        answer.unlink()

    second = _bare_agent(server, world, folder, state)  # the restart
    try:
        assert second.recover() == 1
    finally:
        second.client.close()
    assert _leftovers(second) == []
    if client_took_answer:
        assert list((folder / "res").iterdir()) == []
    else:
        assert sorted(p.name for p in (folder / "res").iterdir()) == [f"{KIND}res_c.xml"]
        a = rf.read_answer(answer)
        assert a.get("MessageHeader/ArbitraryFileIdentifier") == "c"
        assert a.get("MessageBody/QualificationValidity") == "1"
        if step == "_publish":
            assert answer.read_bytes() == seen["staged"]
        if step == "_release":
            assert answer.stat().st_ino == before  # not written again
    assert len(snapshot(db)["check_log"]) == asked
    assert [e["outcome"] for e in _ledger(second)] == ["ok"]


def test_a_crash_after_a_duplicate_was_refused_does_not_refuse_it_twice(world, server, folder, tmp_path, monkeypatch):
    r = _designated(world)
    state = tmp_path / "state"
    first = _bare_agent(server, world, folder, state)
    rf.drop(folder, KIND, "d", _request(r, "d1"))
    first.poll_once()
    first.poll_once()
    rf.wait_answer(folder, KIND, "d").path.unlink()  # the client took the answer
    rf.drop(folder, KIND, "d", _request(r, "d2"))  # and re-uses the name
    monkeypatch.setattr(first, "_release", lambda *a: (_ for _ in ()).throw(Crash("_release")))
    first.poll_once()
    with pytest.raises(Crash):
        first.poll_once()
    first.client.close()
    err = folder / "res" / f"{KIND}res_d.err"
    assert "ErrorCode: FJ1007" in err.read_text("utf-8")
    err.unlink()  # the client took the refusal

    second = _bare_agent(server, world, folder, state)
    try:
        assert second.recover() == 1
    finally:
        second.client.close()
    assert list((folder / "res").iterdir()) == [] and _leftovers(second) == []


def test_a_crash_while_committing_leaves_a_torn_ledger_line_and_the_request_is_redone(
    world, server, folder, tmp_path, monkeypatch
):
    r = _designated(world)
    state = tmp_path / "state"
    first = _bare_agent(server, world, folder, state)

    def torn(entry):
        with open(first.ledger.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry.__dict__)[:40])  # half a line reached the disk
        raise Crash("_commit")

    monkeypatch.setattr(first, "_commit", torn)
    rf.drop(folder, KIND, "t", _request(r, "t"))
    first.poll_once()
    with pytest.raises(Crash):
        first.poll_once()
    first.client.close()
    second = _bare_agent(server, world, folder, state)
    try:
        second.recover()
    finally:
        second.client.close()
    a = rf.read_answer(folder / "res" / f"{KIND}res_t.xml")
    assert a.get("MessageBody/QualificationValidity") == "1"
    assert [e["outcome"] for e in _ledger(second)] == ["ok"] and _leftovers(second) == []


def test_a_request_left_in_flight_is_answered_before_a_new_one_under_its_name(
    world, server, folder, tmp_path, monkeypatch
):
    r = _designated(world)
    state = tmp_path / "state"
    first = _bare_agent(server, world, folder, state)
    monkeypatch.setattr(first, "_dispatch", lambda *a: (_ for _ in ()).throw(Crash("_dispatch")))
    rf.drop(folder, KIND, "n", _request(r, "old"))
    first.poll_once()
    with pytest.raises(Crash):
        first.poll_once()
    first.client.close()
    rf.drop(folder, KIND, "n", _request(r, "new"))  # written while the agent was down

    second = _bare_agent(server, world, folder, state)
    try:
        second.recover()
        second.poll_once()
        second.poll_once()
    finally:
        second.client.close()
    assert rf.read_answer(folder / "res" / f"{KIND}res_n.xml").get("MessageHeader/ArbitraryFileIdentifier") == "old"
    assert "ErrorCode: FJ1007" in (folder / "res" / f"{KIND}res_n.err").read_text("utf-8")
    assert _leftovers(second) == []


def test_an_unexpected_failure_keeps_the_request_in_flight_and_it_is_answered_later(world, make_agent, monkeypatch):
    r = _designated(world)
    agent = make_agent(settle=0.05, poll=0.02)
    failures = []
    real = agent.agent._stage

    def full_disk(taken, payload):
        if not failures:
            failures.append(taken.name)
            raise OSError(28, "No space left on device")
        return real(taken, payload)

    monkeypatch.setattr(agent.agent, "_stage", full_disk)
    monkeypatch.setattr("fujo.terminal.agent.RETRY_AFTER", 0.05)
    rf.drop(agent.folder.root, KIND, "full", _request(r, "full"))
    a = rf.wait_answer(agent.folder.root, KIND, "full")
    assert failures == [f"{KIND}req_full.xml"]
    assert a.get("MessageBody/QualificationValidity") == "1"
    wait_for(_idle(agent.agent))
    assert _leftovers(agent.agent) == []


def test_the_in_flight_folder_is_on_the_filesystem_of_req(world, agent):
    a = agent.agent
    assert a.inflight == a.folder.root / ".fujo-terminal" / "inflight"
    assert a.inflight.stat().st_dev == a.folder.req.stat().st_dev


def test_a_failure_after_the_commit_is_finished_later_not_answered_again(world, make_agent, db, monkeypatch):
    """E.g. the answer's rename refused once (a reader holding the old file open on Windows): the
    retry publishes the staged answer — it does not judge the request again (that would be FJ1007)."""
    r = _designated(world)
    agent = make_agent(settle=0.05, poll=0.02)
    failures = []
    real = agent.agent._publish

    def refused_once(staged, answer):
        if not failures:
            failures.append(answer)
            raise PermissionError(13, "in use")
        return real(staged, answer)

    monkeypatch.setattr(agent.agent, "_publish", refused_once)
    monkeypatch.setattr("fujo.terminal.agent.RETRY_AFTER", 0.05)
    rf.drop(agent.folder.root, KIND, "late", _request(r, "late"))
    a = rf.wait_answer(agent.folder.root, KIND, "late")
    assert failures == [f"{KIND}res_late.xml"] and a.path.suffix == ".xml"
    assert a.get("MessageBody/QualificationValidity") == "1"
    wait_for(_idle(agent.agent))
    assert sorted(p.name for p in agent.folder.res.iterdir()) == [f"{KIND}res_late.xml"]
    assert [e["outcome"] for e in _ledger(agent.agent)] == ["ok"] and len(snapshot(db)["check_log"]) == 1
    assert _leftovers(agent.agent) == []
