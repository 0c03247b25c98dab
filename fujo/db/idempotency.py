"""Idempotency-Key support: a repeated registration with the same key returns the first answer
instead of writing twice. The key row is written in the same transaction as the registration, so
two concurrent requests with one key cannot both write."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select

from ..core.errors import FieldProblem, ValidationFailed
from . import schema as s
from .database import Database


@dataclass(frozen=True)
class IdempotencyKey:
    organisation_id: int
    key: str
    request_hash: str

    @classmethod
    def of(cls, organisation_id: int, key: str | None, method: str, path: str, body: bytes):
        if not key:
            return None
        if len(key) > 100:
            raise ValidationFailed(
                problems=[
                    FieldProblem(
                        "Idempotency-Key",
                        "too_long",
                        "Idempotency-Keyは100文字以内です。",
                        "Idempotency-Key must be at most 100 characters.",
                    )
                ]
            )
        h = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
        return cls(organisation_id, key, h)

    def replay(self, db: Database):
        """(status, body) of the earlier request with this key, or None."""
        t = s.idempotency_keys
        with db.read() as conn:
            row = conn.execute(
                select(t.c.request_hash, t.c.status, t.c.body).where(
                    t.c.organisation_id == self.organisation_id, t.c.key == self.key
                )
            ).first()
        if not row:
            return None
        if row.request_hash != self.request_hash:
            raise ValidationFailed(
                problems=[
                    FieldProblem(
                        "Idempotency-Key",
                        "reused",
                        "このIdempotency-Keyは別の内容の要求に使用済みです。",
                        "This Idempotency-Key was already used for a different request.",
                    )
                ]
            )
        return row.status, json.loads(row.body)

    def record(self, conn, status: int, body) -> None:
        conn.execute(
            s.idempotency_keys.insert().values(
                organisation_id=self.organisation_id,
                key=self.key,
                request_hash=self.request_hash,
                status=status,
                body=json.dumps(body, ensure_ascii=False, default=str),
                created_at=Database.now(),
            )
        )
