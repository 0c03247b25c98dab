"""docs/TERMINAL.md must not drift from what the agent writes (issue 7: the vendor documentation lists,
element by element, what we write for each message and where each part comes from)."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from fujo.core.notices import NOTICE_CODES
from fujo.terminal import bulkcheck
from fujo.terminal import messages as M
from fujo.terminal.errors import CODES
from fujo.terminal.xmlio import GETA, SJIS_FALLBACK

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "TERMINAL.md"
XSD = Path(__file__).parent / "response.xsd"
SECTION = "## What we write, element by element"
XS = "{http://www.w3.org/2001/XMLSchema}"


def _doc() -> str:
    return DOC.read_text("utf-8")


def _section() -> str:
    """The section from its heading up to the next second-level heading."""
    doc = _doc()
    start = doc.index(SECTION)
    rest = doc[start + len(SECTION) :]
    m = re.search(r"^## ", rest, re.M)
    return rest[: m.start()] if m else rest


def _named(name: str, text: str) -> bool:
    """``name`` as a whole element name (InsurerName does not count for Name)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def _xsd_elements() -> set[str]:
    schema = etree.parse(str(XSD))
    return {el.get("name") for el in schema.iter(f"{XS}element") if el.get("name")}


def test_the_section_exists_once_between_the_messages_and_the_code_values():
    doc = _doc()
    assert doc.count(SECTION) == 1
    assert doc.index("## Messages") < doc.index(SECTION) < doc.index("## Code values")


def test_every_element_of_the_strict_schema_is_described_in_the_section():
    names = _xsd_elements()
    assert len(names) > 100  # the schema was read (it declares every element we write)
    section = _section()
    missing = sorted(n for n in names if not _named(n, section))
    assert missing == [], f"elements of response.xsd not described in {SECTION!r}: {missing}"


def test_every_element_the_writers_know_is_described_in_the_section():
    names = {
        *M.HEADER_ORDER,
        *M.BULK_HEADER_ORDER,
        *bulkcheck.HEADER_ORDER,
        *M.SEARCH_ORDER,
        *M.RESULT_ORDER,
        *M.INSURANCE_ORDER,
        *(n for block in M.BLOCK_ORDER.values() for n in block),
        *M.BLOCK_ORDER,
        *M.TICKET_ORDER,
        *M.CONSENT_ORDER,
        *M.NOTICE_ORDER,
    }
    section = _section()
    missing = sorted(n for n in names if not _named(n, section))
    assert missing == [], f"elements written by fujo.terminal not described in {SECTION!r}: {missing}"


def test_every_notice_code_and_error_code_is_documented():
    doc = _doc()
    missing = sorted(c for c in (*NOTICE_CODES, *CODES) if not _named(c, doc))
    assert missing == [], f"codes not in docs/TERMINAL.md: {missing}"


def test_the_shift_jis_fallback_table_is_documented():
    doc = _doc()
    assert "&#39641;" not in doc  # the old character-reference behaviour is gone from the prose
    for char, replacement in SJIS_FALLBACK.items():
        assert f"U+{ord(char):04X}" in doc, f"fallback for {char!r} (U+{ord(char):04X}) not documented"
        assert replacement in doc, f"replacement {replacement!r} not documented"
    assert GETA in doc
