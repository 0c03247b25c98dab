"""The operator's dashboard: counts of checks (check_log, card and number checks) for one day, per
hour and per outcome (QualificationValidity). Aggregated in Python from one indexed range read,
so it is the same on SQLite and PostgreSQL (no dialect-specific date functions)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from ..core.dates import JST
from ..db import schema as s
from ..db.database import Database, aware

CHECK_METHODS = ("card", "numbers")


def checks_for_day(db: Database, day: dt.date) -> dict:
    """{'day', 'total', 'by_outcome': {validity: n}, 'by_method': {...},
    'hours': [{'hour': 0..23, 'total': n, 'by_outcome': {validity: n}}]} for the JST day ``day``."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=JST)
    end = start + dt.timedelta(days=1)
    cl = s.check_log
    with db.read() as conn:
        rows = conn.execute(
            select(cl.c.at, cl.c.outcome, cl.c.method).where(
                cl.c.at >= start, cl.c.at < end, cl.c.method.in_(CHECK_METHODS)
            )
        ).all()
    hours: list[Counter[str]] = [Counter() for _ in range(24)]
    by_outcome: Counter[str] = Counter()
    by_method: Counter[str] = Counter()
    for r in rows:
        at = aware(r.at)
        hours[at.hour][r.outcome] += 1
        by_outcome[r.outcome] += 1
        by_method[r.method] += 1
    return {
        "day": day.isoformat(),
        "total": len(rows),
        "by_outcome": dict(by_outcome),
        "by_method": dict(by_method),
        "hours": [{"hour": h, "total": sum(c.values()), "by_outcome": dict(c)} for h, c in enumerate(hours)],
    }
