"""Run the ``fujo`` command line against the test database (SQLite and PostgreSQL, via ``db``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fujo.cli.main import app
from fujo.db import schema


@pytest.fixture
def fujo(db, tmp_path, monkeypatch):
    """``fujo(*args)`` runs one command as a user would, with FUJO_DATABASE_URL / FUJO_DATA_DIR set."""
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at the terminal width; keep each message on one line
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


_DEMO_CACHE: dict[str, tuple[Path, str, dict[str, list[dict]]]] = {}


def _snapshot(db) -> dict[str, list[dict]]:
    with db.engine.connect() as c:
        return {t.name: [dict(r._mapping) for r in c.execute(t.select())] for t in schema.metadata.sorted_tables}


def _restore(db, rows: dict[str, list[dict]]) -> None:
    """Put the demo's rows back after the per-test reset (parents first). The ids are those the
    database gave the demo, so later inserts (which draw from the same sequences) never collide."""
    with db.engine.begin() as c:
        c.execute(schema.counters.delete())
        for t in schema.metadata.sorted_tables:
            if rows[t.name]:
                c.execute(t.insert(), rows[t.name])


@pytest.fixture
def demo(fujo, db, tmp_path, tmp_path_factory):
    """The state ``fujo demo`` leaves — run for real once per database and worker, then restored
    for each test (tables and data folder) — and what it printed, parsed: tokens and card files.
    Running it every time cost most of this folder's time (key generation, password hashing)."""
    key = db.url
    if key not in _DEMO_CACHE:
        res = fujo("demo")
        assert res.exit_code == 0, res.output
        saved = tmp_path_factory.mktemp("demo")
        shutil.copytree(tmp_path, saved, dirs_exist_ok=True)
        _DEMO_CACHE[key] = (saved, res.stdout.replace(str(tmp_path), "{DATA}"), _snapshot(db))
    else:
        saved, _, rows = _DEMO_CACHE[key]
        _restore(db, rows)
        shutil.copytree(saved, tmp_path, dirs_exist_ok=True)
    out = _DEMO_CACHE[key][1].replace("{DATA}", str(tmp_path))
    tokens = dict(re.findall(r"^  (\w+)\s+(demo-[\w-]+)$", out, re.M))
    cards = {
        m[0]: {"file": m[1], "pin": m[2], "recipient_number": m[3]}
        for m in re.findall(r"^  (\w+)\s+(\S+\.p12)\s+PIN (\d{4})\s+(\d{7})$", out, re.M)
    }
    return {"output": out, "tokens": tokens, "cards": cards}
