"""CSV imports over HTTP are jobs (issue 13; fujo/jobs): 202 with the job, polled to its end; the
upload streamed to disk under a limit counted while it streams; the refusals that need no file made
before any job; a job of a dead runner redone by another (all or nothing kept); a check answered
while an import runs. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

import pytest
from sqlalchemy import func, select, update

from fujo.api import limits
from fujo.audit import chain
from fujo.audit.verify import verify
from fujo.db import schema
from fujo.jobs import service as jobs
from fujo.jobs.runner import JobRunner
from fujo.registry import csv_import
from tests.db.throwaway_pg import poll
from tests.factories import PAYER, World
from tests.helpers import import_job, run_coroutine, wait_for_job

COLUMNS = list(World.recipient_data())


def _csv(rows: list[dict]) -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(r[c] for c in COLUMNS) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def _jobs(db) -> list:
    with db.read() as c:
        return list(c.execute(select(schema.jobs)))


def _recipients(db) -> int:
    with db.read() as c:
        return c.execute(select(func.count()).select_from(schema.recipients)).scalar_one()


def _spooled(settings) -> list:
    d = settings.data_dir / "spool" / "jobs"
    return sorted(d.iterdir()) if d.exists() else []


def test_an_import_answers_202_and_its_job_ends_with_the_synchronous_report(client, world, db, settings):
    good = _csv([World.recipient_data(), World.recipient_data(name="保護花子", sex="2")])
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", good)})
    assert res.status_code == 202, res.text
    job = res.json()
    assert res.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["kind"] == "import.recipients" and job["state"] in ("queued", "running", "done")
    assert len(job["id"]) >= 32  # opaque, not a counter
    done = wait_for_job(client, res.headers["Location"], world.auth("office"))
    assert done["state"] == "done" and done["error"] is None and done["attempts"] == 1
    assert done["report"] == {"kind": "recipients", "rows": 2, "written": 2, "ok": True, "errors": []}
    assert (done["rows_done"], done["rows_total"]) == (2, 2)
    assert done["started_at"] and done["finished_at"] and _recipients(db) == 2
    # a refused file: the job's error is exactly what the synchronous import raised (its report by row)
    bad = _csv([World.recipient_data(), World.recipient_data(birthdate="1978-13-03")])
    with pytest.raises(csv_import.ImportFailed) as sync:
        csv_import.import_csv(db, world.principal("office"), "recipients", bad)
    got = import_job(client, "/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", bad)})
    assert got.job["state"] == "failed" and got.job["report"] is None
    assert got.job["error"] == sync.value.as_dict()
    assert [(e["row"], e["field"]) for e in got.job["error"]["report"]["errors"]] == [(3, "birthdate")]
    assert _recipients(db) == 2  # all or nothing
    # the spool files are gone with the jobs' end (the runner removes a file right after its job's end
    # commits: a client may see the end a moment before); no personal data stays but the reports
    assert poll(lambda: _spooled(settings) == [], 30)
    assert all(r.spool_path is None for r in _jobs(db))


def _multipart(boundary: bytes, chunks: int, size: int) -> list[bytes]:
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="r.csv"\r\n\r\n'
    return (
        [head]
        + [b"payer_number\n" + b"x" * (size - 13)]
        + [b"x" * size] * (chunks - 1)
        + [b"\r\n--" + boundary + b"--\r\n"]
    )


def _post_streamed(app, path: str, headers: dict, body: list[bytes]):
    """Drive the application with a body that arrives chunk by chunk (as over a slow connection);
    the status, the answer and how many chunks the application took."""
    taken, sent = [0], []

    async def receive():
        if taken[0] < len(body):
            taken[0] += 1
            return {"type": "http.request", "body": body[taken[0] - 1], "more_body": taken[0] < len(body)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    run_coroutine(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(answer), taken[0]


def test_an_upload_over_the_limit_is_cut_off_while_it_streams(app, world, db, settings, monkeypatch):
    monkeypatch.setattr(limits, "IMPORT", 256 * 1024)  # the file's limit, counted as it streams
    created = []
    opened = jobs.open_spool

    def spy(data_dir):
        path, f = opened(data_dir)
        created.append(path)
        return path, f

    monkeypatch.setattr(jobs, "open_spool", spy)
    headers = {**world.auth("office"), "Content-Type": "multipart/form-data; boundary=b0undary"}
    body = _multipart(b"b0undary", chunks=64, size=64 * 1024)  # 4 MiB, sent without a length
    status, answer, taken = _post_streamed(app, "/api/v1/imports/recipients", headers, body)
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    assert taken < 10  # cut off at the limit: the rest of the body was never read
    assert len(created) == 1 and not created[0].exists()  # the partial file was written, then removed
    assert _spooled(settings) == [] and _jobs(db) == []
    # under the limit, the same way: accepted (and refused for its header at once, without a job)
    status, answer, _ = _post_streamed(app, "/api/v1/imports/recipients", headers, _multipart(b"b0undary", 2, 1024))
    assert status == 422 and answer["error"]["code"] == "validation_error"
    assert _spooled(settings) == [] and _jobs(db) == []


def test_refusals_that_need_no_file_make_no_job(client, world, db, settings):
    header_only = ("payer_number,recipient_number," + ",".join(COLUMNS[2:]) + "\n").encode()
    # the wrong organisation: 403 before the upload is read
    res = client.post("/api/v1/imports/tickets", headers=world.auth("clinic"), files={"file": ("h.csv", header_only)})
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
    # the right one, with a header that is not the kind's: 422 naming the columns, at once
    res = client.post("/api/v1/imports/tickets", headers=world.auth("office"), files={"file": ("h.csv", header_only)})
    assert res.status_code == 422, res.text
    assert {"missing_column", "unknown_column"} <= {f["code"] for f in res.json()["error"]["fields"]}
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("h.csv", b"")})
    assert res.status_code == 422 and res.json()["error"]["fields"][0]["code"] == "empty"
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), data={"x": "no file"})
    assert res.status_code == 422 and res.json()["error"]["fields"][0]["field"] == "file"
    assert _jobs(db) == [] and _spooled(settings) == []


def test_only_the_credential_that_asked_sees_its_job(client, world, db):
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", _csv([]))})
    loc = res.headers["Location"]
    assert wait_for_job(client, loc, world.auth("office"))["report"]["written"] == 0
    for other in (world.auth("office2"), world.auth("admin"), world.role_auth("office", "caseworker")):
        res = client.get(loc, headers=other)
        assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/jobs/nope", headers=world.auth("office")).status_code == 404
    assert client.get(loc).status_code == 401


def _queued_job(client, app, world, rows: list[dict]) -> str:
    app.state.job_runner.close()  # this server takes no more jobs: they wait for another runner
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", _csv(rows))})
    assert res.status_code == 202 and res.json()["state"] == "queued"
    return res.json()["id"]


def test_a_job_whose_runner_died_is_redone_by_fujo_worker(client, app, world, db, monkeypatch):
    job_id = _queued_job(client, app, world, [World.recipient_data(), World.recipient_data()])
    # a runner took it and died (its transaction rolled back: nothing written); its lease runs on
    past = db.now() - dt.timedelta(minutes=10)
    assert jobs.claim(db, job_id, "dead-runner", db.now(), dt.timedelta(minutes=5)) is not None
    assert JobRunner(db, name="early").run_once() == 0  # not while the lease lasts
    with db.write() as c:
        c.execute(update(schema.jobs).where(schema.jobs.c.id == job_id).values(lease_until=past))
    from typer.testing import CliRunner

    from fujo.cli.main import app as cli

    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    out = CliRunner().invoke(cli, ["worker", "--once", "--timeout", "0.5"])
    assert out.exit_code == 0, out.output
    assert "ran 1 job(s)" in out.output
    job = wait_for_job(client, f"/api/v1/jobs/{job_id}", world.auth("office"))
    assert (job["state"], job["attempts"], job["report"]["written"]) == ("done", 2, 2)
    assert _recipients(db) == 2
    # the dead runner, were it to come back, cannot end the job a second time
    with pytest.raises(jobs.LeaseLost), db.write() as c:
        jobs.finish(c, job_id, "dead-runner", db.now(), state="done", result={}, done=0, total=0)


def test_a_runner_that_lost_its_lease_writes_nothing(client, app, world, db):
    job_id = _queued_job(client, app, world, [World.recipient_data(), World.recipient_data()])
    slow = JobRunner(db, name="slow")
    row = jobs.claim(db, job_id, "slow", db.now(), slow.lease)
    with db.write() as c:  # its lease expired and another runner took the job meanwhile
        c.execute(update(schema.jobs).where(schema.jobs.c.id == job_id).values(lease_owner="another"))
    with pytest.raises(jobs.LeaseLost):
        slow._import(row)
    assert _recipients(db) == 0  # the import rolled back with the job's end
    (job,) = _jobs(db)
    assert (job.state, job.lease_owner) == ("running", "another")


def test_a_check_is_answered_while_an_import_job_runs(client, world, db, monkeypatch):
    r = world.recipient()
    world.ticket(r)
    entered, release = threading.Event(), threading.Event()
    parse = csv_import.parse

    def held(kind, data):  # the job stops while it validates the file, until the check is answered
        entered.set()
        release.wait(30)
        return parse(kind, data)

    monkeypatch.setattr(csv_import, "parse", held)
    _check_while_the_job_is_held(client, world, r, 50, entered, release)


@pytest.mark.parametrize("hold", ["rows_written", "before_commit"])
def test_a_check_is_answered_while_an_import_job_is_held(client, world, db, monkeypatch, hold):
    """PostgreSQL: an import job held with every row written, or at the very end of its transaction
    (its audit entries staged, the commit not made): a check — and its audit record — is answered
    meanwhile. The import's entries are staged, not appended, so it holds no lock of the chain's
    (fujo.audit.chain); they are chained after its commit."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: a check's audit record waits for the import's commit")
    r = world.recipient()
    world.ticket(r)
    entered, release = threading.Event(), threading.Event()
    real = csv_import.import_csv

    def held(db_, principal, kind, data, progress=None, in_tx=None):
        def stop_here() -> None:  # the job stops until the check is answered
            entered.set()
            release.wait(30)

        def report(done: int, total: int) -> None:
            if progress:
                progress(done, total)
            if hold == "rows_written" and done == total:
                stop_here()

        def last(conn, rep) -> None:
            if in_tx:
                in_tx(conn, rep)
            if hold == "before_commit":
                stop_here()

        return real(db_, principal, kind, data, report, in_tx=last)

    monkeypatch.setattr(csv_import, "import_csv", held)
    _check_while_the_job_is_held(client, world, r, 1500, entered, release)  # two chunks of the import's writes

    def chained() -> bool:  # after the commit (which the job's end is part of): a moment after "done"
        with db.read() as conn:
            return chain.pending_count(conn) == 0

    assert poll(chained, 30)
    with db.read() as conn:
        log = schema.check_log
        imported = conn.execute(
            select(func.count()).select_from(log).where(log.c.reason == "recipient.create", log.c.detail == "import")
        ).scalar_one()
    assert imported == 1500  # one entry a recipient, in the chain
    assert verify(db).ok


def _check_while_the_job_is_held(client, world, r, rows: int, entered, release) -> None:
    """An import job of ``rows`` recipients, held where the test's patch holds it (``entered`` set,
    waiting for ``release``): a check by numbers of ``r`` meanwhile is answered 200; then the job ends
    with every row written."""
    client.app.state.job_runner.isolate = False  # the patch that holds the import is this process's
    data = _csv([World.recipient_data() for _ in range(rows)])
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", data)})
    assert res.status_code == 202
    try:
        assert entered.wait(60)
        assert client.get(res.headers["Location"], headers=world.auth("office")).json()["state"] == "running"
        body = {"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": r["birthdate"]}
        check = client.post("/api/v1/checks/numbers", json=body, headers=world.auth("clinic"))
        assert check.status_code == 200, check.text
    finally:
        release.set()
    assert wait_for_job(client, res.headers["Location"], world.auth("office"))["report"]["written"] == rows


def test_the_office_screen_imports_through_the_same_jobs(app, world, db):
    from tests.web.conftest import signed_in

    c, tok = signed_in(app, db, world.orgs["office"], "clerk", role="caseworker")
    res = c.post(
        "/office/import/jobs",
        data={"csrf_token": tok, "kind": "recipients"},
        files={"file": ("r.csv", _csv([World.recipient_data()]), "text/csv")},
    )
    assert res.status_code == 202, res.text
    started = res.json()
    (row,) = _jobs(db)  # the job row is the one the API uses, owned by the web user
    assert row.id == started["job"] and row.user_id is not None and row.credential_id is None
    for _ in range(2000):
        status = c.get(started["status_url"]).json()
        if status["finished"]:
            break
    assert status == {"phase": "完了", "done": 1, "total": 1, "finished": True}
    page = c.get(started["report_url"])
    assert page.status_code == 200 and "1件を登録しました" in page.text
    # another user of the same office does not see it; the API does not show it to a token either
    other, _ = signed_in(app, db, world.orgs["office"], "clerk2", role="caseworker")
    assert other.get(started["status_url"]).status_code == 404
    assert c.get(f"/api/v1/jobs/{row.id}", headers=world.auth("office")).status_code == 404
    # without JavaScript: the same job, and its report
    res = c.post(
        "/office/import",
        data={"csrf_token": tok, "kind": "recipients"},
        files={"file": ("r.csv", _csv([World.recipient_data(birthdate="1978-13-03")]), "text/csv")},
    )
    assert res.status_code == 422 and "誤りのある行" in res.text
    assert len(_jobs(db)) == 2 and _recipients(db) == 1


def test_a_job_that_cannot_run_fails_with_a_reason_and_nothing_written(world, db, settings):
    from fujo.orgs.service import issue_credential, revoke_credential

    office = world.principal("office")

    def submitted(principal, body: bytes = _csv([World.recipient_data()])) -> str:
        path, f = jobs.open_spool(settings.data_dir)
        with f:
            f.write(body)
        return jobs.submit(db, principal, kind="recipients", spool_path=path)["id"]

    gone = submitted(office)
    with db.read() as c:
        path = c.execute(select(schema.jobs.c.spool_path).where(schema.jobs.c.id == gone)).scalar_one()
    jobs.remove_spool(path)  # the spool was lost (another host's disk, cleaned by hand)
    cred = issue_credential(db, world.orgs["office"]["id"], label="revoked later", role="caseworker")
    revoked = submitted(dataclasses.replace(office, credential_id=cred["id"], role="caseworker"))
    revoke_credential(db, world.orgs["office"]["id"], cred["id"])
    crashing = submitted(office)
    with db.write() as c:  # its runners died three times already
        c.execute(update(schema.jobs).where(schema.jobs.c.id == crashing).values(attempts=jobs.MAX_ATTEMPTS))
    not_csv = submitted(office, b"name\r\n\x82\xa0\xff\xfe\r\n")
    assert JobRunner(db).run_once() == 4
    with db.read() as c:
        ended = {r.id: r for r in c.execute(select(schema.jobs))}
    codes = {k: json.loads(ended[k].result)["error"]["code"] for k in (gone, revoked, crashing, not_csv)}
    assert codes == {
        gone: "spool_missing",
        revoked: "forbidden",
        crashing: "internal_error",
        not_csv: "validation_error",
    }
    assert {r.state for r in ended.values()} == {"failed"} and _recipients(db) == 0
    assert _spooled(settings) == []


def test_the_server_takes_the_queued_jobs_when_it_starts(app, world, db, settings):
    from fastapi.testclient import TestClient

    path, f = jobs.open_spool(settings.data_dir)
    with f:
        f.write(_csv([World.recipient_data()]))
    jobs.submit(db, world.principal("office"), kind="recipients", spool_path=path)  # left by a server that died
    with TestClient(app):  # starting: its runner thread looks for what is queued
        for _ in range(2000):
            (job,) = _jobs(db)
            if job.state in ("done", "failed"):
                break
            time.sleep(0.005)
    assert (job.state, job.rows_done) == ("done", 1) and _recipients(db) == 1


def test_orphaned_spool_files_are_swept_and_named_ones_kept(world, db, tmp_path):
    """A process that died between the upload and its job row leaves a spool file no job names: the
    runner's hourly purge deletes it once it is an hour old; a queued job's file and a fresh upload stay."""
    import os
    import time

    old = time.time() - 2 * 3600
    orphan, out = jobs.open_spool(tmp_path)
    out.close()
    fresh, out = jobs.open_spool(tmp_path)  # an upload still arriving (or just now stored)
    out.close()
    named, out = jobs.open_spool(tmp_path)
    out.write(_csv([World.recipient_data()]))
    out.close()
    jobs.submit(db, world.principal("office"), kind="recipients", spool_path=named)
    for p in (orphan, named):
        os.utime(p, (old, old))
    JobRunner(db, data_dir=tmp_path, interval=0).purge()
    assert (orphan.exists(), fresh.exists(), named.exists()) == (False, True, True)
