"""How long a CSV import delays the checks made meanwhile: an import of N recipients while another
thread records a check's audit entry every 10 ms (what every check does before it answers).

    .venv/bin/python bench/import_stall.py --backend postgresql --recipients 50000 [--in-process runner]

Prints the import's time and rate and the audit records' p50 and max while it ran (issue 13: "a
running import never delays a check by more than a few milliseconds"); with the import in this or
another process also the time of its chaining (its audit entries appended after its commit,
fujo.audit.chain.chain_pending) and the p50, p99 and max of the records asked meanwhile."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_bench import CLINIC, drop_database, fresh_database, payer_of, recipient_of  # noqa: E402
from sqlalchemy import Connection, func, select  # noqa: E402

from fujo.audit.service import record_check  # noqa: E402
from fujo.auth.principal import FACILITY, WELFARE_OFFICE  # noqa: E402
from fujo.db import schema  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.jobs import service as jobs  # noqa: E402
from fujo.jobs.runner import JobRunner  # noqa: E402
from fujo.orgs.service import create_organisation, principal_for  # noqa: E402
from fujo.registry import csv_import  # noqa: E402
from fujo.registry.csv_import import import_csv  # noqa: E402


def _import_elsewhere(url: str, data: bytes) -> tuple[float, float, float, str]:
    db = Database(url)
    chaining, writes = _time_chaining(), _time_writes()
    import_csv(db, principal_for(db, kind=WELFARE_OFFICE, code="13000"), "recipients", data)
    return (*chaining, max(writes), str(ROOT))


def _time_writes() -> list[float]:
    """Every ``Database.write`` transaction of this process, timed from the moment it has begun (on
    SQLite: BEGIN IMMEDIATE, the write lock taken) to the end of its commit, in seconds: the longest
    is the import's write window, what a check's audit record may have to wait for."""
    spans: list[float] = []
    write = Database.write

    @contextlib.contextmanager
    def timed(self: Database) -> Iterator[Connection]:
        t0 = time.perf_counter()
        try:
            with write(self) as conn:
                t0 = time.perf_counter()  # begun
                yield conn
        finally:  # after the commit (or the rollback)
            spans.append(time.perf_counter() - t0)

    Database.write = timed  # type: ignore[method-assign]
    return spans


def _time_chaining() -> list[float]:
    """The import's chaining of its audit entries after its commit (csv_import's call of chain_pending),
    timed: [start, end] in wall-clock seconds (comparable across processes), once it has run."""
    window: list[float] = []
    chain_pending = csv_import.chain_pending

    def timed(db: Database) -> int:
        window.append(time.time())
        try:
            return chain_pending(db)
        finally:
            window.append(time.time())

    csv_import.chain_pending = timed
    return window


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    ap.add_argument("--recipients", type=int, default=50_000)
    ap.add_argument(
        "--in-process",
        choices=["same", "other", "runner"],
        default="same",
        help="the import in the checks' thread's process, in another process (fujo worker), or as a job "
        "of the server's runner (a child process of the checks' process, fujo.jobs.isolated)",
    )
    a = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fujo-stall-"))  # the SQLite file, the runner's spool
    db = Database(fresh_database(a.backend, workdir, NAME))
    try:
        measure(a, db, workdir)
    finally:  # leave no database and no files behind
        db.dispose()
        drop_database(a.backend, NAME)
        shutil.rmtree(workdir, ignore_errors=True)


NAME = "fujo_stall"  # the PostgreSQL database's (its own: another benchmark may run meanwhile)


def measure(a: argparse.Namespace, db: Database, workdir: Path) -> None:
    upgrade(db)
    create_organisation(
        db,
        kind=WELFARE_OFFICE,
        code="13000",
        name="第1福祉事務所",
        phone="03",
        address=None,
        payer_numbers=[payer_of(0)],
    )
    create_organisation(db, kind=FACILITY, code=CLINIC, name="●●医療機関")
    office, clinic = principal_for(db, kind=WELFARE_OFFICE, code="13000"), principal_for(db, kind=FACILITY, code=CLINIC)
    rows = ["payer_number,recipient_number,name,name_kana,sex,birthdate,qualification_date"]
    rows += [
        f"{payer_of(i)},{recipient_of(i)},試験太郎{i},ｼｹﾝ ﾀﾛｳ,1,1960-01-01,2020-04-01" for i in range(a.recipients)
    ]
    stop, took, asked = threading.Event(), [], []

    def checks() -> None:
        while not stop.is_set():
            asked.append(time.time())
            t0 = time.perf_counter()
            record_check(db, clinic, "numbers", "1")
            took.append(time.perf_counter() - t0)
            time.sleep(0.01)

    checker = threading.Thread(target=checks)
    checker.start()
    time.sleep(0.5)
    t0 = time.perf_counter()
    data = "\n".join(rows).encode()
    chaining: list[float] = []  # its start and end (not known for a job of the runner)
    window: float | None = None  # its longest write transaction (likewise)
    if a.in_process == "same":
        chaining, writes = _time_chaining(), _time_writes()
        import_csv(db, office, "recipients", data)
        window = max(writes)
    elif a.in_process == "runner":  # as the server runs an uploaded file: a job, in a child process
        data_dir = workdir / "spool"
        path, f = jobs.open_spool(data_dir)
        with f:
            f.write(data)
        jobs.submit(db, office, kind="recipients", spool_path=path)
        assert JobRunner(db, data_dir=data_dir, isolate=True).run_once() == 1
    else:  # its Python work then shares no interpreter lock with the checks
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            *chaining, window, root = pool.apply(_import_elsewhere, (db.url, data))
        assert root == str(ROOT), f"the import ran {root}'s code"
    seconds = time.perf_counter() - t0
    with db.read() as conn:  # the import (in whichever process) wrote every row
        written = conn.execute(select(func.count()).select_from(schema.recipients)).scalar_one()
    if written != a.recipients:
        raise SystemExit(f"the import wrote {written} of {a.recipients} recipients")
    time.sleep(0.3)
    stop.set()
    checker.join()
    # the checks asked while the import's entries were chained, after its commit
    during = sorted(d for at, d in zip(asked, took) if chaining and chaining[0] <= at <= chaining[1])
    took.sort()
    print(
        f"{a.backend} (import in the {a.in_process} process): import of {a.recipients:,} recipients {seconds:.2f} s ({a.recipients / seconds:,.0f}/s); "
        f"{len(took)} audit records meanwhile: p50 {took[len(took) // 2] * 1e3:.1f} ms, p99 {took[int(len(took) * 0.99)] * 1e3:.1f} ms, max {took[-1] * 1e3:.0f} ms"
    )
    if window is not None:
        print(f"  the import's longest write transaction (its write lock, commit included): {window * 1e3:.0f} ms")
    if during:
        print(
            f"  chaining {chaining[1] - chaining[0]:.2f} s; {len(during)} audit records asked meanwhile: "
            f"p50 {during[len(during) // 2] * 1e3:.1f} ms, p99 {during[int(len(during) * 0.99)] * 1e3:.1f} ms, "
            f"max {during[-1] * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
