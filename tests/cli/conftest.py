"""Run the ``fujo`` command line against the test database (SQLite and PostgreSQL, via ``db``)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from fujo.cli.main import app


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


@pytest.fixture
def demo(fujo):
    """Run ``fujo demo`` and return what it printed, parsed: tokens and card files."""
    res = fujo("demo")
    assert res.exit_code == 0, res.output
    out = res.stdout
    tokens = dict(re.findall(r"^  (\w+)\s+(demo-[\w-]+)$", out, re.M))
    cards = {
        m[0]: {"file": m[1], "pin": m[2], "recipient_number": m[3]}
        for m in re.findall(r"^  (\w+)\s+(\S+\.p12)\s+PIN (\d{4})\s+(\d{7})$", out, re.M)
    }
    return {"output": out, "tokens": tokens, "cards": cards}
