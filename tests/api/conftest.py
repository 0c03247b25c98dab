"""Fixtures of the API tests."""

from __future__ import annotations

import time
import types

import pytest

from fujo.api import ratelimit


@pytest.fixture
def steady_window(monkeypatch):
    """Counts that a test asserts must not be split by the clock or by a slow machine: the clock
    stays in the middle of one window (five requests can otherwise straddle a minute), and the
    shared window's addition has all the time it needs (a loaded CI machine once took more than
    FLUSH_TIMEOUT, so the first request's count was given up — that bound has its own test in test_rate_limits.py)."""
    middle = time.time() // ratelimit.WINDOW * ratelimit.WINDOW + ratelimit.WINDOW / 2
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: middle))
    monkeypatch.setattr(ratelimit, "FLUSH_TIMEOUT", 60.0)
