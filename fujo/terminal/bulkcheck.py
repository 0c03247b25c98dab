"""資格確認一括照会 (bulk insurance check): ``OQSmuquc01`` uploads many check requests and is
answered at once with a ``ReceptionNumber``; ``OQSmuquc02`` fetches the results by that number.
Receipt computers use it for the month-start re-check of all their patients.

Layout (docs/TERMINAL.md names the published clients each part follows)::

  OQSmuquc01req  MessageHeader/{MedicalInstitutionCode, ArbitraryFileIdentifier, QualificationConfirmationDate?}
                 MessageBody/QualificationConfirmSearchInfo*   one per person, each with ArbitraryIdentifier
  OQSmuquc01res  MessageBody/{ProcessingResultStatus, ReceptionNumber, ReceptionDateTime}
  OQSmuquc02req  MessageHeader/MedicalInstitutionCode, MessageBody/ReceptionNumber
  OQSmuquc02res  MessageHeader/{…, ReceptionNumber, SegmentOfResult, NumberOfProcessingResult,
                 NumberOfNormalProcessing, NumberOfError, …}
                 MessageBody/ProcessingResultStatus, MessageBody/BulkConfirmUnit*   in request order: QualificationConfirmSearchInfo (echoed as
                 sent), ProcessingResultStatus, ProcessingResultCode?, ProcessingResultMessage?,
                 QualificationValidity?, ResultOfQualificationConfirmation*, ReferenceNumber?

**When the checks run: when OQSmuquc01 is answered**, in one call of the server's batch check. The
check is then made (and recorded in the server's check log) once, on the day the receipt computer
asked; a server that cannot be reached is reported in OQSmuquc01res itself (FJ9001), while the
client still holds its file; and OQSmuquc02 is a local read that cannot fail half-way. The results
wait in the agent's state directory (``bulkcheck/<ReceptionNumber>.json``, mode 0600, never in the
shared folder or the logs) until fetched — **deleted as soon as OQSmuquc02 has been answered** — or
for at most :data:`RESULT_HOURS` hours.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from pathlib import Path

from lxml import etree

from ..core.dates import now_jst, wire_time
from . import messages as M
from .errors import SLUG_TO_CODE, TerminalError
from .xmlio import atomic_write, sub

log = logging.getLogger("fujo.terminal")

MAX_ITEMS = 1000  # QualificationConfirmSearchInfo per OQSmuquc01 file: the server's batch limit
RESULT_HOURS = 24  # results not fetched by then are deleted (personal data does not linger)
# a check answer's header with the batch's ReceptionNumber and counts (M.BULK_HEADER_ORDER)
_AT_SEGMENT = M.BULK_HEADER_ORDER.index("SegmentOfResult")
HEADER_ORDER = (*M.BULK_HEADER_ORDER[:_AT_SEGMENT], "ReceptionNumber", *M.BULK_HEADER_ORDER[_AT_SEGMENT:])
NOTICE = ("ProcessingResultCode", "ProcessingResultMessage")
# what a per-item refusal of the server becomes in the file (FJ codes: terminal/errors.py)
_SERVER_ITEM_ERRORS = {
    "medical_assistance_disabled": "medical_assistance_disabled",
    "validation_error": "invalid_value",
}


# --- OQSmuquc01req -----------------------------------------------------------------------------


def read_upload(req: M.Request, body) -> None:
    """Every QualificationConfirmSearchInfo, each read as OQSsiquc01 reads its one: a bad item is
    kept with its error (answered in its BulkConfirmUnit), it does not refuse the file."""
    infos = body.findall("QualificationConfirmSearchInfo") or list(body.iter("QualificationConfirmSearchInfo"))
    if not infos:
        raise TerminalError(
            "missing_element",
            "必須の要素 MessageBody/QualificationConfirmSearchInfo がありません。",
            "Required element MessageBody/QualificationConfirmSearchInfo is missing.",
        )
    if len(infos) > MAX_ITEMS:
        raise TerminalError(
            "invalid_value",
            f"QualificationConfirmSearchInfo: 1ファイル{MAX_ITEMS:,}件までです（{len(infos):,}件）。"
            "ファイルを分けて要求してください。",
            f"QualificationConfirmSearchInfo: at most {MAX_ITEMS:,} per file ({len(infos):,}); split the request.",
        )
    units = []
    for info in infos:
        one = M.Request(req.kind, req.id, req.encoding, req.facility_code, req.arbitrary_id)
        unit = {"echo": M._raw_search_info(info)}
        try:
            M._read_numbers(one, info)
        except TerminalError as e:
            unit["error"] = {"code": e.code, "message": e.message_ja}
        else:
            unit["fields"] = one.fields
        units.append(unit)
    req.fields["units"] = units


# --- the handlers (registered in agent._HANDLERS) ----------------------------------------------


def start(agent, req: M.Request) -> etree._Element:
    """OQSmuquc01: check every readable item now (one batch call), keep the results, answer with
    the ReceptionNumber."""
    units = req.fields["units"]
    readable = [u for u in units if "fields" in u]
    date = req.fields.get("confirmation_date")
    answers: list[dict] = []
    if readable:
        items = [dict(u["fields"], confirmation_date=date) if date else u["fields"] for u in readable]
        answers = agent.client.check_numbers_batch(items).get("Results") or []
        if [a.get("Index") for a in answers] != list(range(len(readable))):
            raise TerminalError(
                "server_error",
                "資格確認サーバーの応答が要求と対応しません。",
                f"The server's answer does not match the {len(readable)} items sent.",
            )
    got = iter(answers)
    stored = []
    for u in units:
        if "fields" not in u:
            stored.append({"echo": u["echo"], "error": u["error"]})
            continue
        a = next(got)
        if "Check" in a:
            stored.append({"echo": u["echo"], "check": a["Check"]})
        else:
            err = a.get("Error") or {}
            slug = _SERVER_ITEM_ERRORS.get(err.get("code") or "", "server_refused")
            stored.append(
                {
                    "echo": u["echo"],
                    "error": {"code": SLUG_TO_CODE[slug], "message": err.get("message_ja") or "照会できませんでした。"},
                }
            )
    now = now_jst()
    results = Results(agent.state_dir)
    number = results.save(
        {
            "at": now.isoformat(),
            "date": date or now.strftime("%Y%m%d"),
            "arbitrary_file_identifier": req.arbitrary_id,
            "units": stored,
        }
    )
    refused = sum("error" in u for u in stored)
    log.info("bulk check %s: %d items, %d refused", number, len(stored), refused)
    root = M.reception_response(req, number)
    sub(root.find("MessageBody"), "ReceptionDateTime", wire_time(now))
    return root


def fetch(agent, req: M.Request) -> etree._Element:
    """OQSmuquc02: the results kept for this ReceptionNumber, which are then deleted."""
    number = req.fields["reception_number"]
    results = Results(agent.state_dir)
    record = results.load(number)
    if record is None:
        raise TerminalError(
            "unknown_reception",
            f"受付番号 {number[:40]} は見つからないか、取得済みまたは期限切れです。",
            f"Reception number {number[:40]} is unknown, already fetched or expired.",
        )
    root = fetch_response(req, number, record)
    # The personal data need not stay once the answer is committed — not before: a crash between
    # would leave a redone OQSmuquc02 without its results.
    req.after_commit.append(lambda: results.delete(number))
    log.info("bulk check %s fetched", number)
    return root


# --- OQSmuquc02res -----------------------------------------------------------------------------


def fetch_response(req: M.Request, number: str, record: dict) -> etree._Element:
    units = record["units"]
    normal = sum("check" in u for u in units)
    root = etree.Element("XmlMsg")
    M._ordered(
        sub(root, "MessageHeader"),
        {
            "ProcessExecutionTime": wire_time(now_jst()),
            "QualificationConfirmationDate": record["date"],
            "MedicalInstitutionCode": req.facility_code,
            "ArbitraryFileIdentifier": req.arbitrary_id or record.get("arbitrary_file_identifier"),
            "ReferenceClassification": "2",
            "ReceptionNumber": number,
            "SegmentOfResult": M.SEGMENT_OK,
            "NumberOfProcessingResult": len(units),
            "NumberOfNormalProcessing": normal,
            "NumberOfError": len(units) - normal,
            "CharacterCodeIdentifier": req.encoding,
        },
        HEADER_ORDER,
    )
    body = sub(root, "MessageBody")
    sub(body, "ProcessingResultStatus", M.STATUS_OK)  # the file as a whole; each unit has its own
    for u in units:
        _unit(body, u)
    return root


def _unit(body, u: dict) -> None:
    el = sub(body, "BulkConfirmUnit")
    M._ordered(sub(el, "QualificationConfirmSearchInfo"), u["echo"], M.SEARCH_ORDER)
    check = u.get("check")
    if check is None:
        sub(el, "ProcessingResultStatus", M.STATUS_ERROR)
        sub(el, "ProcessingResultCode", u["error"]["code"])
        sub(el, "ProcessingResultMessage", u["error"]["message"])
        return
    sub(el, "ProcessingResultStatus", M.STATUS_OK)
    M._ordered(el, check, NOTICE)
    sub(el, "QualificationValidity", check["QualificationValidity"])
    results = check.get("ResultList") or []
    for res in results:
        M.result_element(el, res)
    ref = next((r["ReferenceNumber"] for r in results if r.get("ReferenceNumber")), None)
    if ref:  # also per unit: the published clients read the 照会番号 here
        sub(el, "ReferenceNumber", ref)


# --- the results kept between OQSmuquc01 and OQSmuquc02 ------------------------------------------


class Results:
    """``<state>/bulkcheck/<ReceptionNumber>.json``, one file per upload, readable by the agent's user only."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir) / "bulkcheck"
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.purge()

    def _path(self, number: str) -> Path | None:
        # 20 digits, as handed out: never a path built from whatever a request file says
        return self.dir / f"{number}.json" if len(number) == 20 and number.isascii() and number.isdigit() else None

    def save(self, record: dict) -> str:
        """Keep ``record`` under a new ReceptionNumber (14 digits of time + 6 random, like OQSmutic01)."""
        while True:
            number = now_jst().strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"
            path = self._path(number)
            assert path is not None  # 20 digits by construction
            if not path.exists():
                break
        atomic_write(path, json.dumps(record, ensure_ascii=False).encode("utf-8"))  # temp file is 0600
        return number

    def load(self, number: str) -> dict | None:
        path = self._path(number)
        if path is None:
            return None
        try:
            record = json.loads(path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        if dt.datetime.fromisoformat(record["at"]) < now_jst() - dt.timedelta(hours=RESULT_HOURS):
            path.unlink(missing_ok=True)
            return None
        return record

    def delete(self, number: str) -> None:
        path = self._path(number)
        if path is not None:
            path.unlink(missing_ok=True)

    def purge(self) -> None:
        """Delete results older than RESULT_HOURS (run whenever OQSmuquc01/02 is answered)."""
        cutoff = (now_jst() - dt.timedelta(hours=RESULT_HOURS)).timestamp()
        for path in self.dir.glob("*.json"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                continue
