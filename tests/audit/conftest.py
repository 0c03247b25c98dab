"""Fixtures of the audit tests: the ``fujo`` command line against the test database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fujo.cli.main import app


@pytest.fixture
def fujo(db, tmp_path, monkeypatch):
    """``fujo(*args)`` runs one command as the operator would (FUJO_DATABASE_URL set); a Result."""
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run
