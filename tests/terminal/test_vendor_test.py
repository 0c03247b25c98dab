"""The acceptance-test kit: passes against this project's agent, fails against a broken one, and
the CLI commands work end to end."""

from __future__ import annotations

import threading

import pytest
from lxml import etree
from typer.testing import CliRunner

from fujo.cli.main import app as cli
from fujo.core.dates import today_jst
from fujo.terminal import requestfiles as rf
from fujo.terminal.cases import CASES
from fujo.terminal.messages import FILE_NAME
from fujo.terminal.vendortest import junit_xml, run_cases
from fujo.terminal.xmlio import atomic_write, sub, to_bytes
from tests.factories import CLINIC, PAYER
from tests.terminal.conftest import wait_for

# The kit drives the agent through HTTP; `fujo vendor-test --self` (below) runs every case on SQLite,
# so these two run on PostgreSQL only — together both databases are covered, each once.
ON_POSTGRESQL = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


@ON_POSTGRESQL
def test_every_case_passes_against_the_agent(world, server, agent):
    results = run_cases(agent.folder.root, server.url, world.tokens["admin"], world.tokens["clinic"])
    assert [(r.key, r.failures) for r in results] == [(k, []) for k, _, _ in CASES]


def _broken_terminal(folder, stop):
    """Answers every request with 'valid, no results' — what a careless integration might do."""
    while not stop.is_set():
        for p in (folder / "req").glob("*.xml"):
            m = FILE_NAME.match(p.name)
            root = etree.Element("XmlMsg")
            head = sub(root, "MessageHeader")
            sub(head, "SegmentOfResult", "1")
            body = sub(root, "MessageBody")
            sub(body, "QualificationValidity", "1")
            sub(body, "ReceptionNumber", "1")
            atomic_write(folder / "res" / f"{m.group(1)}res_{m.group(2)}.xml", to_bytes(root))
            p.unlink()
        stop.wait(0.05)


@ON_POSTGRESQL
def test_the_kit_reports_failures_of_a_broken_integration(world, server, tmp_path):
    folder = tmp_path / "broken"
    for d in ("req", "res", "face"):
        (folder / d).mkdir(parents=True)
    stop = threading.Event()
    t = threading.Thread(target=_broken_terminal, args=(folder, stop), daemon=True)
    t.start()
    try:
        results = run_cases(folder, server.url, world.tokens["admin"], world.tokens["clinic"], timeout=5)
    finally:
        stop.set()
        t.join()
    failed = {r.key for r in results if not r.passed}
    assert {
        "designated",
        "not_designated",
        "late_ticket",
        "lost",
        "no_birthdate",
        "reference_number",
        "setting_off",
        "malformed",
    } <= failed
    report = etree.fromstring(junit_xml(results))
    suite = report.find("testsuite")
    assert suite.get("tests") == str(len(CASES)) and int(suite.get("failures")) == len(failed)
    assert report.find(".//testcase/failure").get("message")


def test_vendor_test_self_passes_every_case_and_writes_junit(tmp_path):
    junit = tmp_path / "report.xml"
    res = CliRunner().invoke(cli, ["vendor-test", "--self", "--junit", str(junit)])
    assert res.exit_code == 0, res.output
    assert f"{len(CASES)}/{len(CASES)} passed" in res.output
    suite = etree.parse(str(junit)).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == (str(len(CASES)), "0")


def test_cli_run_once_answers_and_card_writes_a_face_file(world, server, tmp_path):
    r = world.recipient()
    world.ticket(r, on=today_jst())
    card = world.card(r)
    folder = tmp_path / "cli"
    rf.drop(folder, "OQSsiquc01", "cli1", rf.single_check(CLINIC, PAYER, r["recipient_number"], "19900115"))
    env = {"FUJO_TERMINAL_TOKEN": world.tokens["clinic"]}
    res = CliRunner().invoke(cli, ["terminal", "run", "--dir", str(folder), "--server", server.url, "--once"], env=env)
    assert res.exit_code == 0, res.output
    assert rf.read_answer(folder / "res" / "OQSsiquc01res_cli1.xml").get("MessageBody/QualificationValidity") == "1"

    res = CliRunner().invoke(
        cli,
        [
            "terminal",
            "card",
            "--dir",
            str(folder),
            "--server",
            server.url,
            "--card-file",
            str(card["path"]),
            "--pin",
            card["pin"],
            "--consent",
            "medication,surgery",
            "--encoding",
            "shift_jis",
        ],
        env=env,
    )
    assert res.exit_code == 0, res.output
    face = rf.read_answer(wait_for(lambda: rf.face_files(folder) and rf.face_files(folder)[0]))
    assert face.get("MessageHeader/CharacterCodeIdentifier") == "1"
    assert face.all(".//OperationInfoConsFlg")[0].text == "1"

    res = CliRunner().invoke(
        cli,
        [
            "terminal",
            "card",
            "--dir",
            str(folder),
            "--server",
            server.url,
            "--card-file",
            str(card["path"]),
            "--pin",
            "9999",
        ],
        env=env,
    )
    assert res.exit_code == 2 and "暗証番号" in res.output
    assert len(rf.face_files(folder)) == 1
