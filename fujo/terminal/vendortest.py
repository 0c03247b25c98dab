"""``fujo vendor-test`` — the acceptance-test kit (運用テスト) for a レセコン integration.

Given a shared folder that the terminal side under test is watching, the kit loads the known
scenario set into a fujo server, drives every case through the folder like a レセコン, and
reports pass/fail per case (console and JUnit XML). With ``--self`` it brings everything up itself:
a throw-away database, a local server on 127.0.0.1 and this project's own agent.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from .cases import CASES, Checks, Context
from .scenarios import Api, SetupFailed, load


@dataclass
class CaseResult:
    key: str
    title: str
    passed: bool
    seconds: float
    failures: list[str]


def run_cases(
    folder: Path,
    server_url: str,
    admin_token: str,
    facility_token: str,
    timeout: float = 15.0,
    only: list[str] | None = None,
    progress=None,
) -> list[CaseResult]:
    api = Api(server_url)
    try:
        ctx = Context(load(api, admin_token, facility_token), Path(folder), api, server_url, timeout)
        out = []
        for key, title, fn in CASES:
            if only and key not in only:
                continue
            c, start = Checks(), time.monotonic()
            try:
                fn(ctx, c)
            except (AssertionError, TimeoutError, SetupFailed, ValueError, etree.LxmlError) as e:
                c.failures.append(f"{type(e).__name__}: {e}")
            res = CaseResult(key, title, not c.failures, time.monotonic() - start, c.failures)
            out.append(res)
            if progress:
                progress(res)
        return out
    finally:
        api.close()


@contextlib.contextmanager
def self_test_environment(folder: Path | None = None):
    """A throw-away fujo: SQLite in a temp dir, a card authority, an operator and a test facility,
    the HTTP server on a free port and the agent watching ``folder``. Yields (folder, url, admin, facility)."""
    from ..api.app import create_app
    from ..auth.principal import ADMIN, FACILITY
    from ..cards.ca import CardAuthority
    from ..config import Settings
    from ..core.numbers import with_check_digit
    from ..db.database import Database
    from ..db.migrate import upgrade
    from ..orgs.service import create_organisation, issue_credential
    from .agent import Agent
    from .client import ServerClient
    from .localserver import LocalServer

    with tempfile.TemporaryDirectory(prefix="fujo-vendor-test-") as tmpdir:
        tmp = Path(tmpdir)
        db = Database(f"sqlite:///{tmp / 'fujo.db'}")
        upgrade(db)
        ca = CardAuthority.load_or_create(tmp / "ca")
        admin = issue_credential(
            db, create_organisation(db, kind=ADMIN, code="vendor-test", name="運用テスト管理者")["id"]
        )["token"]
        fac = create_organisation(db, kind=FACILITY, code=with_check_digit("131777777"), name="運用テスト医療機関")
        # the kit switches 「医療扶助」 on, which is the facility 管理者's to do
        token = issue_credential(db, fac["id"], label="vendor-test", role="manager")["token"]
        folder = Path(folder) if folder else tmp / "oqs"
        stop = threading.Event()
        with LocalServer(create_app(Settings(db.url, tmp), db, ca)) as server:
            client = ServerClient(server.url, token)
            agent = Agent(folder, client, tmp / "agent-state")
            thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
            thread.start()
            try:
                yield folder, server.url, admin, token
            finally:
                stop.set()
                thread.join(timeout=10)
                client.close()
        db.dispose()


def junit_xml(results: list[CaseResult]) -> bytes:
    suites = etree.Element("testsuites")
    suite = etree.SubElement(
        suites,
        "testsuite",
        name="fujo vendor-test",
        tests=str(len(results)),
        failures=str(sum(not r.passed for r in results)),
        errors="0",
        skipped="0",
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = etree.SubElement(
            suite, "testcase", classname="fujo.vendor_test", name=f"{r.key}: {r.title}", time=f"{r.seconds:.3f}"
        )
        if not r.passed:
            fail = etree.SubElement(case, "failure", message=r.failures[0][:200], type="AssertionError")
            fail.text = "\n".join(r.failures)
    return etree.tostring(suites, encoding="UTF-8", xml_declaration=True, pretty_print=True)
