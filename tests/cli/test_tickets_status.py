"""``fujo tickets``: the status of the month per row, and ``--since`` with removals in text and CSV."""

from __future__ import annotations

import csv
import io

from fujo.registry.service import cancel_ticket, update_recipient
from tests.factories import CLINIC, OTHER


def test_since_lists_removals_in_text_and_csv_as_in_json(fujo, world):
    a, b = world.recipient(name="残る一郎"), world.recipient(name="消える二郎")
    world.ticket(a)
    gone = world.ticket(b)
    moved = world.ticket(world.recipient(name="移る三郎"))
    office = world.principal("office")
    cancel_ticket(world.db, office, key=gone["ticket_key"], reason="受診なし")
    from fujo.registry.service import amend_ticket

    data = {
        k: v
        for k, v in world.ticket_data(world.recipient(), facility=OTHER).items()
        if k not in ("payer_number", "recipient_number")
    }
    amend_ticket(world.db, office, key=moved["ticket_key"], data=data, reason="指定医療機関の変更")
    text = fujo("tickets", "--facility", CLINIC, "--since", "0")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert f"削除 removed {gone['ticket_key']}" in lines and f"削除 removed {moved['ticket_key']}" in lines
    assert any("残る一郎" in x and x.endswith("有効") for x in lines)
    assert lines[-1].startswith("1名 / 削除 2件 removed / cursor ")
    out = fujo("tickets", "--facility", CLINIC, "--since", "0", "--csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert sorted((r["Change"], r["TicketKey"]) for r in rows if r["Change"] == "removed") == sorted(
        [("removed", gone["ticket_key"]), ("removed", moved["ticket_key"])]
    )
    [up] = [r for r in rows if r["Change"] == "upsert"]
    assert (up["Name"], up["QualificationStatus"], up["TicketType"]) == ("残る一郎", "valid", "01")
    js = fujo("tickets", "--facility", CLINIC, "--since", "0", "--json")
    assert sorted(c["Change"] for c in __import__("json").loads(js.stdout)["Changes"]) == [
        "removed",
        "removed",
        "upsert",
    ]


def test_month_rows_show_the_status_and_withhold_the_unbillable(fujo, world):
    ok, ended = world.recipient(name="有効一郎"), world.recipient(name="廃止二郎")
    world.ticket(ok)
    world.ticket(ended)
    update_recipient(
        world.db,
        world.principal("office"),
        payer=ended["payer_number"],
        rn=ended["recipient_number"],
        changes={"disqualification_date": "2024-07-01", "disqualification_kind": "2"},
    )
    text = fujo("tickets", "--facility", CLINIC, "--month", "2024-07")
    assert text.exit_code == 0, text.output
    assert any(x.startswith("- - 廃止二郎 廃止（20240701） 請求不可") for x in text.stdout.splitlines())
    assert ended["recipient_number"] not in text.stdout
    rows = list(
        csv.DictReader(io.StringIO(fujo("tickets", "--facility", CLINIC, "--month", "2024-07", "--csv").stdout))
    )
    got = {r["Name"]: r for r in rows}
    assert (got["廃止二郎"]["QualificationStatus"], got["廃止二郎"]["QualificationStatusDate"]) == (
        "abolished",
        "20240701",
    )
    assert got["廃止二郎"]["InsuredIdentificationNumber"] == "" and got["廃止二郎"]["TicketType"] == ""
    assert got["有効一郎"]["QualificationStatus"] == "valid" and got["有効一郎"]["RegisteredAt"]
