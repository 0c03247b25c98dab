"""Jobs: a CSV import asked over HTTP (API or the office's screen) is a row of ``jobs`` and runs
outside the request, in a runner (fujo.jobs.runner): the server's own thread, or ``fujo worker``.

The upload is first streamed to a spool file under the data directory (``<data dir>/spool/jobs``,
mode 0600), with the size limit counted while it streams; the job row names the file, its owner
(organisation, and the credential or web user that asked, with its role) and its state:
``queued`` → ``running`` → ``done`` | ``failed``. A runner claims a job for a lease (as the webhook
worker claims an endpoint); a job whose runner died is claimed again once the lease has expired and
redone from its file. Redoing is safe because an import is all or nothing and the job is marked done
*in the import's own transaction* (:func:`finish` through ``import_csv(in_tx=…)``): the rows and the
job's end commit together, and a runner that lost its lease cannot commit (its finish matches no
row, which rolls the import back).

The row holds no personal data beyond what the owner is answered: the result is the import's
per-row report (the numbers of the owner's own rows and the field tables' messages), and the spool
file is deleted (and its path emptied) when the job ends. Finished jobs are kept for
:data:`KEEP` and then deleted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, and_, delete, or_, select, update

from ..auth.principal import Principal
from ..core.errors import FujoError, NotFound
from ..db import schema as s
from ..db.database import Database, DbRow, aware
from ..registry import csv_import

j_ = s.jobs

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = {QUEUED: "待機中", RUNNING: "実行中", DONE: "完了", FAILED: "失敗"}
ENDED = (DONE, FAILED)
IMPORT = "import."  # kind of an import job: import.<csv_import kind>
MAX_ATTEMPTS = 3  # a job whose runner died this many times is failed (it may be what kills them)
KEEP = dt.timedelta(days=30)  # finished jobs (and their reports) are deleted after this
CHUNK = 64 * 1024


class PayloadTooLarge(FujoError):
    """The upload went over the import limit while it was streamed (nothing is kept)."""

    status = 413
    code = "payload_too_large"


class LeaseLost(Exception):
    """Another runner holds the job now (this one's lease expired): this run must not commit."""


# --- the spool ----------------------------------------------------------------------------------


def spool_dir(data_dir: Path) -> Path:
    d = Path(data_dir) / "spool" / "jobs"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def open_spool(data_dir: Path) -> tuple[Path, BinaryIO]:
    """A new, empty spool file (only this user may read it) and its handle."""
    path = spool_dir(data_dir) / f"{secrets.token_urlsafe(18)}.upload"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return path, os.fdopen(fd, "wb")


def remove_spool(path: str | Path | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def too_large(limit: int) -> PayloadTooLarge:
    from ..api.errors import TOO_LARGE

    return PayloadTooLarge(TOO_LARGE[1], f"The file is larger than {limit // (1024 * 1024)} MiB (imports' limit).")


def copy_to_spool(src: BinaryIO, data_dir: Path, limit: int) -> Path:
    """Copy an upload already received (the screens' form) into a spool file, chunk by chunk;
    over ``limit`` bytes the file is removed and :class:`PayloadTooLarge` raised."""
    path, out = open_spool(data_dir)
    size = 0
    try:
        with out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                out.write(chunk)
    except BaseException:
        remove_spool(path)
        raise
    return path


def read_head(path: Path, n: int = CHUNK) -> tuple[bytes, bool]:
    """The first ``n`` bytes of a spool file, and whether that is the whole file."""
    with open(path, "rb") as f:
        head = f.read(n + 1)
    return head[:n], len(head) <= n


def check_upload(kind: str, path: Path) -> None:
    """Refuse at once what the file's first line already refuses (kind, encoding, header)."""
    head, whole = read_head(path)
    csv_import.check_start(kind, head, whole)


# --- asking, and reading a job ------------------------------------------------------------------


def submit(db: Database, principal: Principal, *, kind: str, spool_path: Path) -> dict[str, Any]:
    """A queued import job of ``kind`` for the spooled file; the caller must be allowed to import
    it (checked again here: the route checked before it read the upload)."""
    csv_import.require_importer(principal, kind)
    csv_import.require_kind(kind)
    now = db.now()
    row = {
        "id": secrets.token_urlsafe(24),
        "kind": IMPORT + kind,
        "organisation_id": principal.organisation_id,
        "credential_id": principal.credential_id,
        "user_id": principal.user_id,
        "role": principal.role,
        "actor": (principal.actor or principal.code)[:100],
        "state": QUEUED,
        "rows_done": 0,
        "attempts": 0,
        "created_at": now,
        "spool_path": str(spool_path),
    }
    with db.write() as conn:
        conn.execute(j_.insert().values(**row))
        return public(conn.execute(select(j_).where(j_.c.id == row["id"])).one())


def public(row: DbRow) -> dict[str, Any]:
    """The job as its owner is answered (docs/API.md, Jobs)."""
    result = json.loads(row.result) if row.result else {}

    def iso(v: dt.datetime | None) -> str | None:
        return aware(v).isoformat() if v is not None else None

    return {
        "id": row.id,
        "kind": row.kind,
        "state": row.state,
        "rows_done": int(row.rows_done),
        "rows_total": None if row.rows_total is None else int(row.rows_total),
        "attempts": int(row.attempts),
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "report": result.get("report"),
        "error": result.get("error"),
    }


def _owned(principal: Principal) -> Any:
    return and_(
        j_.c.organisation_id == principal.organisation_id,
        j_.c.credential_id == principal.credential_id
        if principal.credential_id is not None
        else j_.c.credential_id.is_(None),
        j_.c.user_id == principal.user_id if principal.user_id is not None else j_.c.user_id.is_(None),
    )


def get(db: Database, principal: Principal, job_id: str) -> dict[str, Any]:
    """The caller's own job (the same organisation and the same credential or web user); any
    other job is answered as not found, so an id tells nothing to anyone else."""
    with db.read() as conn:
        row = conn.execute(select(j_).where(j_.c.id == job_id[:40], _owned(principal))).first()
    if row is None:
        raise NotFound("処理が見つかりません。", "No such job.")
    return public(row)


# --- the runner's side (fujo.jobs.runner) -------------------------------------------------------


def due(db: Database, now: dt.datetime, limit: int = 100) -> list[str]:
    """Jobs to run, oldest first: queued, or running under a lease that has expired."""
    with db.read() as conn:
        return list(
            conn.execute(
                select(j_.c.id)
                .where(or_(j_.c.state == QUEUED, and_(j_.c.state == RUNNING, j_.c.lease_until < now)))
                .order_by(j_.c.created_at)
                .limit(limit)
            ).scalars()
        )


def claim(db: Database, job_id: str, owner: str, now: dt.datetime, lease: dt.timedelta) -> DbRow | None:
    """Take the job for ``lease``; None when another runner took it first or it has ended."""
    with db.write() as conn:
        res = conn.execute(
            update(j_)
            .where(
                j_.c.id == job_id,
                or_(j_.c.state == QUEUED, and_(j_.c.state == RUNNING, j_.c.lease_until < now)),
            )
            .values(
                state=RUNNING,
                lease_owner=owner,
                lease_until=now + lease,
                attempts=j_.c.attempts + 1,
                started_at=now,
                rows_done=0,
            )
        )
        if res.rowcount != 1:
            return None
        return conn.execute(select(j_).where(j_.c.id == job_id)).one()


def renew(
    db: Database, job_id: str, owner: str, now: dt.datetime, lease: dt.timedelta, done: int, total: int | None
) -> bool:
    """Progress, and a longer lease; False when the job is no longer this runner's."""
    with db.write() as conn:
        res = conn.execute(
            update(j_)
            .where(j_.c.id == job_id, j_.c.state == RUNNING, j_.c.lease_owner == owner)
            .values(lease_until=now + lease, rows_done=done, rows_total=total)
        )
        return res.rowcount == 1


def finish(
    conn: Connection,
    job_id: str,
    owner: str,
    now: dt.datetime,
    *,
    state: str,
    result: dict[str, Any],
    done: int,
    total: int | None,
) -> None:
    """End the job in ``conn``'s transaction; :class:`LeaseLost` (rolling it back) when the job is
    no longer this runner's."""
    res = conn.execute(
        update(j_)
        .where(j_.c.id == job_id, j_.c.state == RUNNING, j_.c.lease_owner == owner)
        .values(
            state=state,
            result=json.dumps(result, ensure_ascii=False, default=str),
            rows_done=done,
            rows_total=total,
            finished_at=now,
            lease_owner=None,
            lease_until=None,
            spool_path=None,
        )
    )
    if res.rowcount != 1:
        raise LeaseLost(job_id)


def fail(db: Database, job_id: str, owner: str, error: dict[str, Any], total: int | None = None) -> None:
    with db.write() as conn:
        finish(conn, job_id, owner, db.now(), state=FAILED, result={"error": error}, done=0, total=total)


def give_up(db: Database, row: DbRow, error: dict[str, Any]) -> bool:
    """Fail a job that is not anyone's now (e.g. it has used up its attempts)."""
    with db.write() as conn:
        res = conn.execute(
            update(j_)
            .where(j_.c.id == row.id, j_.c.state.in_((QUEUED, RUNNING)), j_.c.attempts == row.attempts)
            .values(
                state=FAILED,
                result=json.dumps({"error": error}, ensure_ascii=False),
                finished_at=db.now(),
                lease_owner=None,
                lease_until=None,
                spool_path=None,
            )
        )
        return res.rowcount == 1


def release(db: Database, job_id: str, owner: str) -> None:
    """Put the job back in the queue (this runner could not finish it: a database fault)."""
    with db.write() as conn:
        conn.execute(
            update(j_)
            .where(j_.c.id == job_id, j_.c.state == RUNNING, j_.c.lease_owner == owner)
            .values(state=QUEUED, lease_owner=None, lease_until=None)
        )


def principal_of(db: Database, row: DbRow) -> Principal:
    """The owner, as it was when it asked: its organisation (as it is now), role, credential or web
    user. A credential revoked or a user disabled since is refused (the job fails forbidden)."""
    from ..core.errors import Forbidden
    from ..orgs.service import principal_for

    with db.read() as conn:
        org = conn.execute(
            select(s.organisations.c.kind, s.organisations.c.code).where(s.organisations.c.id == row.organisation_id)
        ).one()
        gone = False
        if row.credential_id is not None:
            gone = (
                conn.execute(
                    select(s.credentials.c.revoked_at).where(s.credentials.c.id == row.credential_id)
                ).scalar_one_or_none()
                is not None
            )
        if row.user_id is not None:
            gone = gone or (
                conn.execute(select(s.users.c.disabled_at).where(s.users.c.id == row.user_id)).scalar_one_or_none()
                is not None
            )
    if gone:
        raise Forbidden(
            "依頼した利用者またはトークンが無効になったため、取り込みませんでした。",
            "The token or user that asked for the job has been revoked or disabled since.",
        )
    p = principal_for(db, kind=org.kind, code=org.code, role=row.role, user_id=row.user_id, actor=row.actor)
    return dataclasses.replace(p, credential_id=row.credential_id)


def import_kind(row: DbRow) -> str:
    return str(row.kind)[len(IMPORT) :]


ORPHAN_AGE = dt.timedelta(hours=1)  # a spool file this old that no job names is an orphan


def sweep_spool(db: Database, data_dir: Path, now: dt.datetime) -> int:
    """Delete the spool files no queued or running job names and untouched for :data:`ORPHAN_AGE`
    (a process died between the upload and its job row); the number deleted. An upload being
    streamed is written to, so its age stays small."""
    d = spool_dir(data_dir)
    with db.read() as conn:
        named = {p for (p,) in conn.execute(select(j_.c.spool_path).where(j_.c.spool_path.is_not(None)))}
    cutoff = (now - ORPHAN_AGE).timestamp()
    swept = 0
    for f in d.glob("*.upload"):
        try:
            if str(f) not in named and f.stat().st_mtime < cutoff:
                f.unlink()
                swept += 1
        except FileNotFoundError:  # removed meanwhile by its own job
            pass
    return swept


def purge(db: Database, now: dt.datetime) -> int:
    """Delete the jobs that ended more than :data:`KEEP` ago; the number deleted."""
    with db.write() as conn:
        return conn.execute(delete(j_).where(j_.c.state.in_(ENDED), j_.c.finished_at < now - KEEP)).rowcount
