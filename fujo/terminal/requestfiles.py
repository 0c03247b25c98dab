"""The レセコン's side of the folder: build request files, drop them into ``req/`` and collect the
answers from ``res/``. Used by the vendor acceptance-test kit and the tests; also a reference for
integrators of what a well-formed request looks like."""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from . import messages as M
from .xmlio import UTF8, atomic_write, parse, sub, to_bytes


def _envelope(facility_code: str, arbitrary_id: str | None, encoding: str | None):
    root = etree.Element("XmlMsg")
    head = sub(root, "MessageHeader")
    sub(head, "MedicalInstitutionCode", facility_code)
    if arbitrary_id:
        sub(head, "ArbitraryFileIdentifier", arbitrary_id)
    if encoding is not None:
        sub(head, "CharacterCodeIdentifier", encoding)
    return root, head, sub(root, "MessageBody")


def single_check(
    facility_code: str,
    insurer_number: str,
    identification_number: str,
    birthdate: str | None = None,
    card_symbol: str | None = None,
    branch_number: str | None = None,
    encoding: str = UTF8,
    arbitrary_id: str | None = None,
    confirmation_date: str | None = None,
    limit_consent: str | None = None,
    arbitrary_identifier: str | None = None,
) -> bytes:
    """OQSsiquc01req: 資格確認 by 保険者番号/公費負担者番号 + 記号・番号・枝番 + 生年月日 (yyyyMMdd),
    with the 限度額適用認定証 consent flag (0/1) and the client's own ArbitraryIdentifier if given.

    ``birthdate`` is required by the terminal (without it the answer is FJ2001 naming Birthdate);
    it may be left out here only to build such a request on purpose."""
    root, head, body = _envelope(facility_code, arbitrary_id, encoding)
    if confirmation_date:
        sub(head, "QualificationConfirmationDate", confirmation_date)
    info = _search_info(body, insurer_number, identification_number, birthdate, card_symbol, branch_number)
    if limit_consent is not None:
        sub(info, "LimitApplicationCertificateRelatedConsFlg", limit_consent)
    if arbitrary_identifier is not None:
        sub(info, "ArbitraryIdentifier", arbitrary_identifier)
    return to_bytes(root, encoding)


def _search_info(body, insurer_number, identification_number, birthdate, card_symbol, branch_number):
    """QualificationConfirmSearchInfo: the numbers and 生年月日 that identify a qualification."""
    info = sub(body, "QualificationConfirmSearchInfo")
    sub(info, "InsurerNumber", insurer_number)
    if card_symbol:
        sub(info, "InsuredCardSymbol", card_symbol)
    sub(info, "InsuredIdentificationNumber", identification_number)
    if branch_number:
        sub(info, "InsuredBranchNumber", branch_number)
    if birthdate:
        sub(info, "Birthdate", birthdate)
    return info


def bulk_start(facility_code: str, month: str, encoding: str = UTF8, arbitrary_id: str | None = None) -> bytes:
    """OQSmutic01req: 委託先一括取得 for MedicalTreatmentMonth (yyyyMM)."""
    root, _, body = _envelope(facility_code, arbitrary_id, encoding)
    sub(sub(body, "QualificationConfirmSearchInfo"), "MedicalTreatmentMonth", month)
    return to_bytes(root, encoding)


def bulk_fetch(facility_code: str, reception_number: str, encoding: str = UTF8) -> bytes:
    """OQSmutic02req: fetch the result of a 委託先一括取得 by its ReceptionNumber."""
    root, _, body = _envelope(facility_code, None, encoding)
    sub(body, "ReceptionNumber", reception_number)
    return to_bytes(root, encoding)


def bulk_check(
    facility_code: str,
    items: list[dict],
    encoding: str = UTF8,
    arbitrary_id: str | None = None,
    confirmation_date: str | None = None,
) -> bytes:
    """OQSmuquc01req: 資格確認一括照会 — one QualificationConfirmSearchInfo per item, an item being
    ``{insurer_number, identification_number, birthdate, card_symbol?, branch_number?,
    arbitrary_identifier?}``. The results are fetched with OQSmuquc02 (:func:`bulk_fetch`'s body)."""
    root, head, body = _envelope(facility_code, arbitrary_id, encoding)
    if confirmation_date:
        sub(head, "QualificationConfirmationDate", confirmation_date)
    for it in items:
        info = _search_info(
            body,
            it.get("insurer_number"),
            it.get("identification_number"),
            it.get("birthdate"),
            it.get("card_symbol"),
            it.get("branch_number"),
        )
        if it.get("arbitrary_identifier") is not None:
            sub(info, "ArbitraryIdentifier", it["arbitrary_identifier"])
    return to_bytes(root, encoding)


def reference(
    facility_code: str,
    reference_number: str,
    insurer_number: str,
    identification_number: str,
    birthdate: str | None = None,
    branch_number: str | None = None,
    encoding: str = UTF8,
) -> bytes:
    """OQSsiimm01req: register the facility's 照会番号 for the holder of these numbers + 生年月日
    (yyyyMMdd; required, as for a check) and, for insurance shared by a family, the 枝番."""
    root, _, body = _envelope(facility_code, None, encoding)
    _search_info(body, insurer_number, identification_number, birthdate, None, branch_number)
    sub(body, "ReferenceNumber", reference_number)
    return to_bytes(root, encoding)


def drop(folder: Path, kind: str, rid: str, data: bytes) -> Path:
    """Put a request into ``req/`` the safe way (temp file + rename)."""
    path = Path(folder) / "req" / f"{kind}req_{rid}.xml"
    atomic_write(path, data)
    return path


@dataclass
class Answer:
    path: Path
    root: etree._Element | None = None  # parsed XML (None for a .err)
    err_text: str | None = None
    raw: bytes = b""

    @property
    def is_err(self) -> bool:
        return self.err_text is not None

    def get(self, xpath: str) -> str | None:
        el = self.root.find(xpath) if self.root is not None else None
        return None if el is None else (el.text or "")

    def all(self, xpath: str) -> list[etree._Element]:
        return self.root.findall(xpath) if self.root is not None else []


def wait_answer(folder: Path, kind: str, rid: str, timeout: float = 15.0) -> Answer:
    """Wait for ``res/<kind>res_<rid>`` as .xml, .zip or .err and read it strictly."""
    stem = Path(folder) / "res" / f"{kind}res_{rid}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ext in (".xml", ".zip", ".err"):
            p = stem.with_name(stem.name + ext)
            if p.exists():
                return read_answer(p)
        time.sleep(0.05)
    raise TimeoutError(f"no answer {stem.name}.* within {timeout:.0f} s")


def read_answer(path: Path) -> Answer:
    raw = path.read_bytes()
    if path.suffix == ".err":
        return Answer(path, err_text=raw.decode("utf-8"), raw=raw)
    if path.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            names = z.namelist()
            if len(names) != 1 or names[0] != path.stem + ".xml":
                raise ValueError(f"{path.name} should hold exactly {path.stem}.xml, holds {names}")
            raw = z.read(names[0])
    return Answer(path, root=parse(raw, max_bytes=1 << 30).root, raw=raw)


def face_files(folder: Path) -> list[Path]:
    return sorted((Path(folder) / "face").glob(f"{M.SINGLE_CHECK}res_face_*.xml"))
