"""Helpers shared by tests: snapshot of every table (to prove bad input changed nothing), card proofs."""

from __future__ import annotations

from sqlalchemy import select

from fujo.cards.reader import prove
from fujo.cards.service import create_challenge
from fujo.db import schema


def snapshot(db) -> dict:
    """Every row of every table: compare before/after to prove nothing was written. ``check_log``
    holds the checks only: the registry changes recorded there (method ``registry``) move the chain's
    head too, so ``audit_head`` still shows them. ``rate_windows`` counts requests, refused ones
    included (a rate limit counts what is asked, not what is written): it is left out."""
    out = {}
    with db.read() as conn:
        for t in schema.metadata.sorted_tables:
            if t is schema.rate_windows:
                continue
            q = select(t).order_by(*t.primary_key.columns)
            if t is schema.check_log:
                q = q.where(t.c.method != "registry")
            out[t.name] = [tuple(r) for r in conn.execute(q)]
    return out


def card_proof(db, principal, card: dict, consent: dict | None = None, pin: str | None = None) -> dict:
    ch = create_challenge(db, principal)["challenge"]
    return prove(card["path"], pin or card["pin"], ch, principal.code, consent).as_dict()
