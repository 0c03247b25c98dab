"""A walk's order kept in the server process (fujo.fhir.service.WalkOrders): a later page of a walk held
there reads just its own tickets by id; a page asked of a process that does not hold the walk (another
`fujo serve`, or evicted) is read by position. Both give the same pages, on SQLite and PostgreSQL,
also when tickets are cancelled or move away between the pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fujo.api.app import create_app
from fujo.config import Settings
from fujo.fhir.service import PagePosition, WalkOrders, coverage_page, read_page
from fujo.registry.service import amend_ticket, cancel_ticket
from tests.factories import OTHER, World
from tests.fhir.test_paging import _month, as_rows, link, page, walk


def test_the_order_held_gives_a_pages_ids_and_whether_more_follow():
    orders = WalkOrders(entries=2)
    orders.put((1, "202407", 9), [11, 12, 13, 14, 15])
    assert orders.after((1, "202407", 9), 11, 2) == ([12, 13], True)
    assert orders.after((1, "202407", 9), 13, 2) == ([14, 15], False)
    assert orders.after((1, "202407", 9), 15, 2) == ([], False)
    assert orders.after((1, "202407", 9), 99, 2) is None  # not a ticket of this walk: read by position
    assert orders.after((2, "202407", 9), 11, 2) is None  # another facility's walk is not this one
    orders.put((1, "202408", 9), [1])
    orders.put((1, "202409", 9), [2])  # a third walk: the oldest is let go
    assert orders.after((1, "202407", 9), 11, 2) is None
    assert orders.after((1, "202409", 9), 2, 1) == ([], False)
    old = WalkOrders(max_age=0.0)
    old.put((1, "202407", 9), [11, 12])
    assert old.after((1, "202407", 9), 11, 1) is None  # too old: read by position


def _keys(pages) -> list[str]:
    return [key for p in pages for key, _ in p.tickets]


def _walk(db, principal, count, orders, between=None):
    pages = [read_page(db, principal, "2024-07", count=count, orders=orders)]
    if between:
        between()
    while pages[-1].next is not None:
        pages.append(read_page(db, principal, "2024-07", count=count, position=pages[-1].next, orders=orders))
    return pages


def test_held_and_by_position_give_the_same_pages(world, db):
    _month(world, 7)
    clinic = world.principal("clinic")
    held = _walk(db, clinic, 3, WalkOrders())
    by_position = _walk(db, clinic, 3, None)
    assert [len(p.tickets) for p in held] == [len(p.tickets) for p in by_position] == [3, 3, 1]
    assert [p.tickets for p in held] == [p.tickets for p in by_position]
    assert [p.total for p in held] == [p.total for p in by_position] == [7, None, None]
    assert [p.next for p in held] == [p.next for p in by_position]  # the same continuations


@pytest.mark.parametrize("orders", [True, False], ids=["held", "by_position"])
def test_what_is_cancelled_or_moved_away_between_pages_is_not_served(world, db, orders):
    tickets = _month(world, 6)
    clinic, office = world.principal("clinic"), world.principal("office")
    order = [t["ticket_key"] for t in tickets]
    by_key = {t["ticket_key"]: t for t in tickets}

    def meanwhile():
        cancel_ticket(world.db, office, key=order[2], reason="誤登録")
        amend_ticket(world.db, office, key=order[4], data=World.ticket_data(by_key[order[4]], facility=OTHER))

    pages = _walk(db, clinic, 2, WalkOrders() if orders else None, between=meanwhile)
    assert _keys(pages) == [k for i, k in enumerate(order) if i not in (2, 4)]
    assert pages[0].total == 6  # as counted at the first page
    # and the audit records only what was served (coverage_page records each page it returns)
    assert all(set(p.recipients) == {by_key[k]["recipient_id"] for k, _ in p.tickets} for p in pages)


def test_a_walk_continued_in_another_server_process_gives_the_same_pages(world, db, ca, tmp_path):
    """The first page from one process, the rest from another that does not hold the walk (the pages
    are read by position there): the walk is the same as in one process, and each page is recorded."""
    _month(world, 5)
    other_app = create_app(Settings(database_url=db.url, data_dir=tmp_path / "second"), db, ca)
    with TestClient(create_app(Settings(database_url=db.url, data_dir=tmp_path / "first"), db, ca)) as one:
        whole = walk(one, world, 2)
        first = page(one, world, {"month": "2024-07", "_count": 2})
    with TestClient(other_app) as two:
        rest = [first]
        while link(rest[-1], "next"):
            rest.append(page(two, world, link(rest[-1], "next")))
    assert as_rows(rest) == as_rows(whole) and len(as_rows(whole)) == 5
    assert [link(p, "next") for p in rest] == [link(p, "next") for p in whole]


def test_a_continuation_not_of_the_walk_held_is_still_refused(world, db):
    _month(world, 3)
    clinic = world.principal("clinic")
    orders = WalkOrders()
    first = coverage_page(db, clinic, "2024-07", count=1)
    read_page(db, clinic, "2024-07", count=1, orders=orders)  # the walk held
    forged = PagePosition(first.next.snapshot, 999_999_999)  # a position that is not one of its tickets
    with pytest.raises(Exception, match="_cursor"):
        read_page(db, clinic, "2024-07", count=1, position=forged, orders=orders)
