"""Our face file against the real published result file (/work/shared/reference): same envelope,
same element names at the same paths, same formats — and no personal data in the agent's log."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from lxml import etree

from fujo.core.dates import today_jst
from fujo.terminal import requestfiles as rf
from fujo.terminal.face import card_check_to_face
from tests.factories import CLINIC, PAYER

SAMPLE = Path("/work/shared/reference/face-result-sample-insurance.xml")


def _paths(root) -> set[str]:
    return {root.getroottree().getpath(el).replace("[1]", "").replace("[2]", "") for el in root.iter()}


def test_face_file_uses_the_paths_and_formats_of_the_real_sample(world, agent):
    r = world.recipient(name="診療　太郎", name_kana="ｼﾝﾘｮｳ ﾀﾛｳ")
    card = world.card(r)
    world.insurance(
        card,
        name="診療　太郎",
        name_kana="ｼﾝﾘｮｳ ﾀﾛｳ",
        address="東京都",
        post_number="123-4567",
        personal_family="1",
        card_issuance_date="2019-10-01",
        card_valid_from="2019-10-01",
    )
    path = card_check_to_face(
        agent.agent.client,
        agent.folder.root,
        card["path"],
        card["pin"],
        {"PharmacistsInfo": True, "SpecificHealthCheckupsInfo": True},
    )
    ours = etree.parse(str(path)).getroot()
    sample = etree.parse(str(SAMPLE)).getroot()
    ours_paths = {
        p.replace("/ResultOfQualificationConfirmation[2]", "/ResultOfQualificationConfirmation") for p in _paths(ours)
    }
    # Every element of the real file is produced (card dates and both 限度額/特定疾病 consent flags included).
    missing = _paths(sample) - ours_paths
    assert missing == set()
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>')
    for name, pattern in (
        ("ProcessExecutionTime", r"\d{14}"),
        ("QualificationConfirmationDate", r"\d{8}"),
        ("Birthdate", r"\d{8}"),
        ("PharmacistsInfoConsTime", r"\d{14}"),
        ("InsuredCardValidDate", r"\d{8}"),
        ("InsuredCertificateIssuanceDate", r"\d{8}"),
        ("LimitApplicationCertificateRelatedConsFlg", r"[01]"),
        ("SpecificDiseasesCertificateRelatedConsFlg", r"[0-3]"),
        ("PharmacistsInfoAvailableTime", r"\d{14}"),
        ("Sex1", r"[123]"),
    ):
        assert re.fullmatch(pattern, sample.find(f".//{name}").text)
        assert all(re.fullmatch(pattern, el.text) for el in ours.iter(name)), name
    assert ours.findtext(".//ReferenceClassification") == sample.findtext(".//ReferenceClassification") == "1"
    ins = ours.find(".//ResultOfQualificationConfirmation")
    assert (ins.findtext("InsuredCardValidDate"), ins.findtext("InsuredCertificateIssuanceDate")) == (
        sample.findtext(".//InsuredCardValidDate"),
        sample.findtext(".//InsuredCertificateIssuanceDate"),
    )
    # No consent to the 限度額/特定疾病 information at the reader: flag 0, as in the sample, and no block.
    assert ins.findtext("LimitApplicationCertificateRelatedConsFlg") == "0"
    assert ins.findtext("SpecificDiseasesCertificateRelatedConsFlg") == "0"
    assert ins.find("LimitApplicationCertificateRelatedInfo") is None


def test_the_agent_logs_file_names_and_codes_only(world, agent, caplog):
    r = world.recipient()
    world.ticket(r, on=today_jst())
    with caplog.at_level(logging.DEBUG, logger="fujo.terminal"):
        rf.drop(
            agent.folder.root,
            "OQSsiquc01",
            "log",
            rf.single_check(CLINIC, PAYER, r["recipient_number"], birthdate="19900115"),
        )
        rf.wait_answer(agent.folder.root, "OQSsiquc01", "log")
        rf.drop(agent.folder.root, "OQSsiquc01", "log2", rf.single_check(CLINIC, PAYER, "1010009"))
        rf.wait_answer(agent.folder.root, "OQSsiquc01", "log2")
    text = caplog.text
    assert "OQSsiquc01req_log.xml" in text and "invalid_value" in text
    for secret in (r["recipient_number"], "1010009", "19900115", "生保", PAYER):
        assert secret not in text
