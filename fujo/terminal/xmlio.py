"""Safe reading and writing of the XML files of the terminal interface.

Reading never expands entities, never loads a DTD, never touches the network, and refuses a
DOCTYPE outright (billion laughs, XXE). The encoding is taken from the XML declaration; a file
without one is read as ``CharacterCodeIdentifier`` says (0 UTF-8, 1 Shift_JIS), else as UTF-8.
Shift_JIS is decoded as CP932 (its Windows superset, which is what レセコン on Windows write).
"""

from __future__ import annotations

import codecs
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from .errors import FileRejected

UTF8, SJIS = "0", "1"  # CharacterCodeIdentifier
_SJIS_NAMES = {"shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "cp932", "windows-31j", "ms932"}
_UTF8_NAMES = {"utf-8", "utf8"}
_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)[\"']", re.S)
_CCI = re.compile(rb"<CharacterCodeIdentifier>\s*([0-9])\s*</CharacterCodeIdentifier>")
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)

MAX_REQUEST_BYTES = 1024 * 1024  # requests are a few hundred bytes; anything near this is not one


def _parser(encoding: str | None) -> etree.XMLParser:
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


@dataclass
class Parsed:
    root: etree._Element
    encoding: str  # CharacterCodeIdentifier the file was read with: "0" or "1"
    declared: bool  # whether the file said so itself (BOM or XML declaration)


def read_encoding(data: bytes) -> tuple[str, bool]:
    """Which encoding ("0"/"1") to read ``data`` with — the BOM or declaration, else
    CharacterCodeIdentifier — and whether the file declared it itself."""
    if data.startswith(b"\xef\xbb\xbf"):
        return UTF8, True
    m = _DECL.match(data[:200])
    if m:
        name = m.group(1).decode("ascii").lower()
        if name in _SJIS_NAMES:
            return SJIS, True
        if name in _UTF8_NAMES:
            return UTF8, True
        raise FileRejected(
            "encoding",
            f"未対応の文字コード「{name}」です。UTF-8かShift_JISで作成してください。",
            f"Unsupported encoding '{name}': use UTF-8 or Shift_JIS.",
        )
    m = _CCI.search(data[:4096])
    return (SJIS if m and m.group(1) == b"1" else UTF8), False


def parse(data: bytes, max_bytes: int = MAX_REQUEST_BYTES) -> Parsed:
    """Parse a request strictly; every refusal is a :class:`FileRejected` naming the problem."""
    if len(data) > max_bytes:
        raise FileRejected(
            "too_large",
            f"ファイルが大きすぎます（{len(data)}バイト、上限{max_bytes}バイト）。",
            f"File too large ({len(data)} bytes, limit {max_bytes}).",
        )
    if not data.strip():
        raise FileRejected("malformed_xml", "ファイルが空です。", "The file is empty.")
    if _DTD.search(data):
        raise FileRejected(
            "doctype_forbidden",
            "DOCTYPE・ENTITY宣言を含むファイルは受け付けません。",
            "Files with a DOCTYPE or ENTITY declaration are refused.",
        )
    enc, declared = read_encoding(data)
    try:
        root = etree.fromstring(data, _parser("cp932" if enc == SJIS else "utf-8"))
    except etree.XMLSyntaxError as e:
        msg = str(e)
        if "encoding" in msg.lower() or "bytes" in msg.lower():
            label = "Shift_JIS" if enc == SJIS else "UTF-8"
            raise FileRejected(
                "encoding", f"{label}として読めない文字があります（{msg}）。", f"Not valid {label}: {msg}"
            ) from None
        raise FileRejected(
            "malformed_xml", f"XMLの形式が正しくありません（{msg}）。", f"Not well-formed XML: {msg}"
        ) from None
    if root.getroottree().docinfo.doctype:  # belt and braces: the byte scan above should catch it
        raise FileRejected("doctype_forbidden", "DOCTYPE宣言は使えません。", "DOCTYPE is not allowed.")
    return Parsed(root, enc, declared)


# The declaration is written as a fixed line so it reads exactly like the real terminal's files
# (double quotes, standalone="no"); the document itself is always serialised by lxml.
_DECLARATIONS = {
    UTF8: b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n',
    SJIS: b'<?xml version="1.0" encoding="Shift_JIS" standalone="no"?>\n',
}


# Characters outside Windows-31J that appear in names, and the character a 外字-less system prints
# for them (their common 異体字). Anything else outside cp932 becomes 〓 (ゲタ), the customary mark
# for a character that cannot be shown — never a `&#…;` reference, which common clients do not decode.
SJIS_FALLBACK = {
    "𠮷": "吉",
    "𡈽": "土",
    "𣘺": "橋",
    "𤊮": "煕",
    "𥔎": "崎",
    "𦚰": "脇",
    "𩸽": "ほっけ",
    "〜": "～",
    "−": "－",
    "‖": "∥",
    "¢": "￠",
    "£": "￡",
    "¬": "￢",
}
GETA = "〓"


def _cp932_fallback(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):  # registered for encoding only
        raise err
    bad = err.object[err.start : err.end]
    return "".join(SJIS_FALLBACK.get(c, GETA) for c in bad), err.end


codecs.register_error("fujo-cp932", _cp932_fallback)


def sjis_safe(text: str) -> str:
    """``text`` as it will read after a trip through Windows-31J (what a Shift_JIS answer says)."""
    return text.encode("cp932", "fujo-cp932").decode("cp932")


def to_bytes(root: etree._Element, encoding: str = UTF8) -> bytes:
    """Serialise ``root`` in UTF-8 ("0") or Shift_JIS ("1"). "Shift_JIS" is Windows-31J (cp932) in
    practice: 髙, ①, ㈱ are written as characters; only characters outside cp932 are replaced
    (:data:`SJIS_FALLBACK`, else 〓). The declaration still says Shift_JIS, as the real files do."""
    if encoding != SJIS:
        return _DECLARATIONS[UTF8] + etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    text = etree.tostring(root, encoding="unicode", pretty_print=True)
    return _DECLARATIONS[SJIS] + text.encode("cp932", "fujo-cp932")


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder + rename, so a reader never sees half a file.
    The temp name starts with a dot and does not end in .xml, so no watcher mistakes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def text_of(scope: etree._Element | None, name: str) -> str | None:
    """Text of the first descendant ``name`` of ``scope`` (None when absent; '' when empty)."""
    if scope is None:
        return None
    el = scope.find(f".//{name}")
    if el is None:
        return None
    return el.text or ""
