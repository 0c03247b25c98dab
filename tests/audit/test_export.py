"""The auditor exports a period of the audit trail as CSV: ``GET /api/v1/audit/export`` (the operator's
監査担当 or 運用管理者) and ``fujo audit export``. The file is read back with Python's csv module."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import update

from fujo.accounts.service import create_user
from fujo.audit.export import HEADER
from fujo.audit.verify import verify
from fujo.core.dates import JST
from fujo.core.errors import ValidationFailed
from fujo.db import schema as s
from tests.api.test_authorisation import _api_calls, _call, _forbidden
from tests.eligibility.test_checks import numbers_check

EXPORT = "/api/v1/audit/export"


def _read(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def _world_with_entries(client, world):
    r = world.recipient(name="監査太郎")
    world.ticket(r)
    assert numbers_check(client, world, "clinic", r).status_code == 200
    assert numbers_check(client, world, "other", r).status_code == 200
    return r


def test_auditor_exports_a_period_as_csv(client, world, db):
    r = _world_with_entries(client, world)
    today = dt.datetime.now(JST).date()
    res = client.get(EXPORT, headers=world.role_auth("admin", "auditor"), params={"from": today, "to": today})
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("text/csv")
    assert f'filename="audit-{today}-{today}.csv"' in res.headers["content-disposition"]
    rows = _read(res.text)
    assert list(rows[0]) == list(HEADER)
    got = [(x["method"], x["reason"] if x["method"] == "registry" else x["organisation_code"]) for x in rows]
    assert got == [
        ("registry", "recipient.create"),
        ("registry", "ticket.register"),
        ("numbers", world.orgs["clinic"]["code"]),
        ("numbers", world.orgs["other"]["code"]),
        ("export", "operator"),  # the export itself, recorded before the rows were read
    ]
    check = rows[2]
    assert (check["payer_number"], check["recipient_number"], check["recipient_id"]) == (
        r["payer_number"],
        r["recipient_number"],
        str(r["id"]),
    )
    assert check["channel"] == "api" and check["role"] == "manager" and check["outcome"] == "1"
    assert rows[0]["organisation_name"] == "○○市福祉事務所" and rows[0]["category"] == "registry"
    assert rows[-1]["role"] == "auditor" and rows[-1]["category"] == "audit"
    assert [int(x["seq"]) for x in rows] == list(range(1, 6))
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, len(rows)))
    assert dt.datetime.fromisoformat(check["at"]).utcoffset() == dt.timedelta(hours=9)
    assert "監査太郎" not in res.text  # whom by number, not by name
    assert verify(db).ok


def test_the_period_is_in_jst_days(client, world, db):
    _world_with_entries(client, world)
    with db.write() as conn:  # move the first two entries to the last moment of 2024-07-01 JST, the rest out
        conn.execute(update(s.check_log).values(at=dt.datetime(2024, 7, 2, 0, 0, tzinfo=JST)))
        conn.execute(
            update(s.check_log)
            .where(s.check_log.c.seq <= 2)
            .values(at=dt.datetime(2024, 7, 1, 23, 59, 59, 999999, tzinfo=JST))
        )
    admin = world.role_auth("admin", "manager")  # the 運用管理者 may export too
    rows = _read(client.get(EXPORT, headers=admin, params={"from": "2024-07-01", "to": "2024-07-01"}).text)
    assert [x["seq"] for x in rows] == ["1", "2"]
    rows = _read(client.get(EXPORT, headers=admin, params={"from": "2024-06-01", "to": "2024-06-30"}).text)
    assert rows == []
    bad = client.get(EXPORT, headers=admin, params={"from": "2024-07-02", "to": "2024-07-01"})
    assert bad.status_code == 422
    assert client.get(EXPORT, headers=admin, params={"from": "2024-01-01", "to": "2025-12-31"}).status_code == 422
    assert client.get(EXPORT, headers=admin, params={"from": "x", "to": "2024-07-01"}).status_code == 422


def test_only_the_operator_may_export(client, world):
    for who in (("office", "manager"), ("clinic", "manager"), ("insurer", "manager")):
        res = client.get(EXPORT, headers=world.role_auth(*who), params={"from": "2024-07-01", "to": "2024-07-01"})
        assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden", who
    assert client.get(EXPORT, params={"from": "2024-07-01", "to": "2024-07-01"}).status_code == 401


def test_the_auditor_may_do_nothing_else(client, world):
    r = world.recipient()
    t = world.ticket(r)
    q = world.insurance()
    auditor = world.role_auth("admin", "auditor")
    wrong = []
    for method, tpl, path, query, body in _api_calls(world, r, t, q):
        if tpl in (EXPORT, "/api/v1/health", "/api/v1/ready"):
            continue
        res = _call(client, method, path, query, body, auditor)
        if not _forbidden(res) and not tpl.startswith("/api/v1/facilities"):  # the public facility registry
            wrong.append((method, tpl, res.status_code))
    assert wrong == []


def test_an_auditor_is_a_token_not_a_web_user(db, world):
    try:
        create_user(db, world.orgs["admin"]["id"], login="audit1", password="audit-pass-1234", role="auditor")
    except ValidationFailed as e:
        assert [p.field for p in e.problems] == ["role"]
    else:  # pragma: no cover
        raise AssertionError("an auditor web user was created")


def test_cli_export_to_a_file_and_stdout(client, world, db, fujo, tmp_path):
    _world_with_entries(client, world)
    today = dt.datetime.now(JST).date().isoformat()
    out = tmp_path / "audit.csv"
    res = fujo("audit", "export", "--from", today, "--to", today, "--out", out)
    assert res.exit_code == 0, res.output
    rows = _read(out.read_text(encoding="utf-8"))
    assert [x["method"] for x in rows] == ["registry", "registry", "numbers", "numbers", "export"]
    assert rows[-1]["channel"] == "cli" and rows[-1]["organisation_code"] == ""  # the operator's CLI
    res = fujo("audit", "export", "--from", today, "--to", today)
    assert res.exit_code == 0
    assert [x["method"] for x in _read(res.stdout)][-2:] == ["export", "export"]
    assert fujo("audit", "export", "--from", "2024-07-02", "--to", "2024-07-01").exit_code == 2
    assert fujo("audit", "export", "--from", "yesterday", "--to", today).exit_code == 2
    assert fujo("audit", "verify").exit_code == 0
