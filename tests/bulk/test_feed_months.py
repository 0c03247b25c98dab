"""The change feed reads each ticket's newest revision first in the months of the changes it found
(on PostgreSQL the tickets are partitioned by month) and only then in every month: a ticket whose
newest revision lies in another month still gets its entry."""

from __future__ import annotations

import datetime as dt

from fujo.bulk import service as bulk
from fujo.registry.service import amend_ticket
from tests.factories import OTHER


def _amend(world, ticket: dict, recipient: dict, **kw) -> None:
    data = world.ticket_data(recipient, issue_number=ticket["issue_number"], **kw)
    for k in ("payer_number", "recipient_number"):
        data.pop(k)
    amend_ticket(world.db, world.principal("office"), key=ticket["ticket_key"], data=data, reason="訂正")


def test_a_ticket_moved_away_then_into_another_month_is_removed_from_the_first_facilitys_feed(world):
    r = world.recipient()
    t = world.ticket(r)  # July, the clinic's
    kept = world.ticket(world.recipient())  # July, the clinic's, unchanged
    _amend(world, t, r, facility=OTHER)  # moved to the other clinic (its previous facility: ours)
    _amend(world, t, r, facility=OTHER, on=dt.date(2024, 9, 1))  # then, by the office, into September
    feed = bulk.changes_since(world.db, world.principal("clinic"), 0)
    got = {c["TicketKey"]: c["Change"] for c in feed["Changes"]}
    # the newest revision is in a month none of the clinic's changes is in: found all the same
    assert got == {t["ticket_key"]: "removed", kept["ticket_key"]: "upsert"}
    theirs = bulk.changes_since(world.db, world.principal("other"), 0)["Changes"]
    assert [(c["TicketKey"], c["Change"]) for c in theirs] == [(t["ticket_key"], "upsert")]
    tickets = theirs[0]["Result"]["PublicExpenseResultList"]["MedicalTicketInfo"]
    assert [x["MedicalTreatmentMonth"] for x in tickets] == ["202409"]
