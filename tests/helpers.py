"""Helpers shared by tests: snapshot of every table (to prove bad input changed nothing), card proofs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fujo.cards.reader import prove
from fujo.cards.service import create_challenge
from fujo.db import schema


def snapshot(db) -> dict:
    """Every row of every table: compare before/after to prove nothing was written. ``check_log``
    holds the checks only: the registry changes recorded there (method ``registry``) move the chain's
    head too, so ``audit_head`` still shows them. ``rate_windows`` counts requests, refused ones
    included (a rate limit counts what is asked, not what is written): it is left out, and so is
    ``jobs`` (an import job records what was asked and how it ended, a refused import included)."""
    out = {}
    with db.read() as conn:
        for t in schema.metadata.sorted_tables:
            if t is schema.rate_windows or t is schema.jobs:
                continue
            q = select(t).order_by(*t.primary_key.columns)
            if t is schema.check_log:
                q = q.where(t.c.method != "registry")
            out[t.name] = [tuple(r) for r in conn.execute(q)]
    return out


def card_proof(db, principal, card: dict, consent: dict | None = None, pin: str | None = None) -> dict:
    ch = create_challenge(db, principal)["challenge"]
    return prove(card["path"], pin or card["pin"], ch, principal.code, consent).as_dict()


@dataclass
class JobAnswer:
    """How an import job ended, in the shape the synchronous import answered: 200 and the report,
    or the refusal's status and ``{"error": …}``; ``job`` is the job's last state (None: no job)."""

    status_code: int
    body: Any
    job: dict | None = None

    def json(self) -> Any:
        return self.body

    @property
    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)


ERROR_STATUS = {"import_failed": 422, "validation_error": 422, "forbidden": 403}


def import_job(client, path: str, **kw) -> JobAnswer:
    """POST a CSV import (202 with the job and its Location), then poll the job until it ends."""
    res = client.post(path, **kw)
    if res.status_code != 202:
        return JobAnswer(res.status_code, res.json())
    loc = res.headers["Location"]
    assert loc == f"/api/v1/jobs/{res.json()['id']}"
    job = wait_for_job(client, loc, kw.get("headers"))
    if job["state"] == "done":
        return JobAnswer(200, job["report"], job)
    return JobAnswer(ERROR_STATUS.get(job["error"]["code"], 500), {"error": job["error"]}, job)


def wait_for_job(client, location: str, headers=None, polls: int = 2000) -> dict:
    """Poll a job until it is done or failed (a bound on the polls, not a timing assertion)."""
    for _ in range(polls):
        res = client.get(location, headers=headers)
        assert res.status_code == 200, res.text
        job = res.json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.005)
    raise AssertionError(f"the job did not end: {job}")


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` in a thread of its own. A worker that has run a browser test has
    Playwright's event loop marked as running in its main thread (the sync API drives it from a
    greenlet, for the whole session), and asyncio.run refuses to start there: such a test failed or
    passed by which tests its worker had run before."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
