"""The next page of a Coverage walk read while the client reads the page before (fujo.fhir.read_ahead):
the walk is what it was without it — the same pages, the audit entries of a page written only when it
is asked for, a ticket cancelled or moved away meanwhile never served, a page of one caller never
handed to another —, and each page is read once instead of twice."""

from __future__ import annotations

import json
import threading

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from fujo.facility.service import set_medical_assistance
from fujo.fhir import service as fhir_service
from fujo.fhir.read_ahead import ReadAhead
from fujo.fhir.service import CoveragePage
from fujo.registry.service import cancel_ticket
from tests.fhir.test_paging import _month, as_rows, bulk_entries, link, native_rows, page, walk


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def a_page(n: int = 0) -> CoveragePage:
    return CoveragePage(month="202407", snapshot=n, total=None, tickets=[], next=None)


# --- the store ---------------------------------------------------------------------------------------
def test_a_page_read_ahead_is_taken_once_by_its_key():
    ahead = ReadAhead()
    p = a_page(1)
    assert ahead.start("k", lambda: p)
    assert ahead.take("other") is None
    assert ahead.take("k") is p
    assert ahead.take("k") is None  # taken: gone
    ahead.close()


def test_a_page_older_than_max_age_is_not_handed_out():
    clock = Clock()
    ahead = ReadAhead(max_age=2.0, clock=clock)
    ahead.start("fresh", lambda: a_page(1))
    ahead.start("stale", lambda: a_page(2))
    clock.now += 1.9
    assert ahead.take("fresh").snapshot == 1
    clock.now += 0.2  # 2.1 s after the read started
    assert ahead.take("stale") is None
    ahead.close()


def test_a_failed_read_is_not_handed_out():
    ahead = ReadAhead()

    def broken() -> CoveragePage:
        raise RuntimeError("database gone")

    assert ahead.start("k", broken)
    assert ahead.take("k") is None  # the caller reads the page itself, and meets the failure there
    ahead.close()


def test_reads_ahead_are_skipped_not_queued_when_the_workers_are_busy_and_old_pages_are_evicted():
    release = threading.Event()

    def slow() -> CoveragePage:
        release.wait(10)
        return a_page(9)

    ahead = ReadAhead(workers=1, entries=2)
    assert ahead.start("slow", slow)
    assert not ahead.start("next", lambda: a_page(1))  # the one worker is busy: nothing done
    release.set()
    assert ahead.take("slow").snapshot == 9  # waits for the read under way
    ahead.close()
    held = ReadAhead(workers=3, entries=2)
    for k in ("a", "b", "c"):
        assert held.start(k, lambda: a_page(3))
    assert held.take("a") is None  # evicted: two pages are held at most
    assert held.take("b") and held.take("c")
    held.start("d", lambda: a_page(4))
    held.close()
    assert held.take("d") is None  # dropped at the server's shutdown


# --- over HTTP, on both databases --------------------------------------------------------------------
class Reads(list):
    """The position of every page read (None: the first page), in the order read; ``finished(n)``
    waits until n reads have returned (a read ahead runs on a thread of its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.done = threading.Semaphore(0)

    def finished(self, n: int) -> None:
        for _ in range(n):
            assert self.done.acquire(timeout=30), "a page read did not finish"


@pytest.fixture
def reads(monkeypatch) -> Reads:
    """Every read of a page, counted (see Reads)."""
    seen = Reads()
    real = fhir_service.read_page

    def counted(*a, **kw):
        seen.append(kw["position"].token if kw.get("position") else None)
        try:
            return real(*a, **kw)
        finally:
            seen.done.release()

    monkeypatch.setattr(fhir_service, "read_page", counted)
    return seen


def test_each_page_of_a_walk_is_read_once_and_the_walk_is_the_native_download(client, world, db, reads):
    _month(world, 7)
    pages = walk(client, world, 3)
    assert [len(p.entry) for p in pages] == [3, 3, 1]
    _, native = native_rows(client, world)
    assert [(rn, issue) for _, rn, issue in as_rows(pages)] == native
    # page 1 asked; pages 2 and 3 read ahead, each once, and handed out when asked for
    assert len(reads) == 3 and reads[0] is None
    assert reads[1:] == [link(p, "next").split("_cursor=")[1] for p in pages[:2]]


def test_a_page_read_ahead_records_nothing_until_it_is_asked_for(client, world, db, reads):
    tickets = _month(world, 4)
    first = page(client, world, {"month": "2024-07", "_count": 2})
    reads.finished(2)  # page 2 was read ahead …
    recorded = sorted(x.recipient_id for x in bulk_entries(db) if x.channel == "fhir")
    assert recorded == sorted(t["recipient_id"] for t in tickets[:2])  # … but only page 1 is recorded
    second = page(client, world, link(first, "next"))
    assert len(reads) == 2  # handed out, not read again
    recorded = sorted(x.recipient_id for x in bulk_entries(db) if x.channel == "fhir")
    assert recorded == sorted(t["recipient_id"] for t in tickets)
    assert [e.resource.id for e in second.entry] == [t["ticket_key"] for t in tickets[2:]]


def test_a_ticket_cancelled_after_the_read_ahead_is_not_served(client, world, db, reads):
    tickets = _month(world, 4)
    first = page(client, world, {"month": "2024-07", "_count": 2})
    reads.finished(2)  # page 2 read ahead, then one of its tickets cancelled
    cancel_ticket(world.db, world.principal("office"), key=tickets[3]["ticket_key"], reason="誤登録")
    second = page(client, world, link(first, "next"))
    assert [e.resource.id for e in second.entry] == [tickets[2]["ticket_key"]]
    assert len(reads) == 3  # the page read ahead was dropped: read again


def test_a_page_read_ahead_is_not_handed_to_another_credential_of_the_facility(client, world, db, reads):
    _month(world, 4)
    first = page(client, world, {"month": "2024-07", "_count": 2})
    res = client.get(link(first, "next"), headers=world.role_auth("clinic", "reception"))
    assert res.status_code == 200 and len(res.json()["entry"]) == 2
    assert len(reads) == 3  # its own read, not the manager's page


def test_switching_medical_assistance_off_mid_walk_refuses_the_page_read_ahead(client, world, db, reads):
    _month(world, 4)
    first = page(client, world, {"month": "2024-07", "_count": 2})
    before = len(bulk_entries(db))
    set_medical_assistance(db, world.principal("clinic"), False)
    res = client.get(link(first, "next"), headers=world.auth("clinic"))
    assert res.status_code == 403
    oo = OperationOutcome.model_validate(res.json())
    assert oo.issue[0].details.coding[0].code == "medical_assistance_disabled"
    assert len(bulk_entries(db)) == before  # nothing of the page read ahead was revealed or recorded


def test_a_page_read_ahead_gzipped_is_not_sent_to_a_request_that_does_not_accept_gzip(client, world, db, reads):
    _month(world, 4)
    first = client.get(
        "/fhir/Coverage?month=2024-07&_count=2", headers={**world.auth("clinic"), "Accept-Encoding": "gzip"}
    )
    assert first.headers["content-encoding"] == "gzip"
    nxt = link(Bundle.model_validate(first.json()), "next")
    res = client.get(nxt, headers={**world.auth("clinic"), "Accept-Encoding": "identity"})
    assert res.status_code == 200 and "content-encoding" not in res.headers
    assert len(json.loads(res.content)["entry"]) == 2  # plain JSON as sent
    assert len(reads) == 3  # read and written again for this request
