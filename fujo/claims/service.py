"""レセプト資格過誤の事前点検 (issue 15): a month's claims checked against the registry before submission.

A facility checks its own claims (UKE file or the simple CSV) against *its own* tickets: for every
medical-assistance claim (a KO record of 法別 12, or a 公費単独 RE without one) the report says what
would make the claim come back (返戻) and what to do — 未委託, numbers that are not registered, a
診療年月 outside the ticket's validity, 保護 停止・廃止, a ticket cancelled or amended since, a wrong
検証番号. A recipient is identified as in a check by numbers: 公費負担者番号 + 受給者番号 + 生年月日;
whether another facility holds a ticket is never told (the 未委託 rule). Each recipient the report
reveals something about is recorded in the audit trail (method ``claims``) in one transaction at the
end, so a file that turns out broken half-way writes nothing.

A welfare office checks the claims it receives from the 審査支払機関 (several facilities in one file)
against all its tickets: claims without a matching ticket, and its tickets of those months never billed.

The input is read claim by claim and looked up :data:`BATCH` claims at a time; only the report
grows with the file."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

from ..audit.service import record_many
from ..auth.principal import FACILITY, WELFARE_OFFICE, Principal
from ..core import monthly, numbers
from ..core.dates import JST, month_bounds, parse_moment
from ..core.era import wareki_date, wareki_month
from ..core.errors import FieldProblem, ValidationFailed
from ..core.fields import TICKET_FIELDS
from ..core.identity import normalize_name
from ..db.database import Database, aware
from ..facility.service import require_assistance
from . import queries
from .csvformat import read_csv
from .uke import Claim, Payer, read_uke

BATCH = 500
_UKE_START = re.compile(rb"^[A-Z]{2},")
FORMATS = ("uke", "csv")
METHOD = "claims"  # check_log.method of the entries this check writes
ERROR, WARNING, OK = "error", "warning", "ok"
INFO = "info"  # a finding for reference only: never changes a claim's status

# every finding code with its severity and what it means (docs/API.md lists the same table)
CODES = {
    "malformed": (ERROR, "レセプトの項目が読めない"),
    "ko_missing": (ERROR, "公費単独のレセプトに公費レコード（KO）がない"),
    "number_format": (ERROR, "公費負担者番号・受給者番号の桁数・文字の誤り"),
    "check_digit": (ERROR, "検証番号の誤り"),
    "payer_unknown": (ERROR, "公費負担者番号が登録されていない"),
    "recipient_unknown": (ERROR, "番号・生年月日に一致する受給者がいない"),
    "not_designated": (ERROR, "この医療機関への医療券がない（未委託）"),
    "outside_validity": (ERROR, "診療年月・実日数が医療券の有効期間外"),
    "qualification_lost": (ERROR, "保護の停止・廃止（または開始前）"),
    "ticket_cancelled": (ERROR, "医療券が取り消された（レセプトの作成後か前かを表示）"),
    "ticket_moved": (ERROR, "医療券が他の医療機関に変更された（レセプトの作成後か前かを表示）"),
    "no_ticket": (ERROR, "（福祉事務所）この医療機関・診療年月の医療券がない"),
    "other_facility": (ERROR, "（福祉事務所）医療券は別の医療機関を指定している"),
    "qualification_ends": (WARNING, "月の途中で保護が停止・廃止された"),
    "partial_validity": (WARNING, "医療券の有効期間が月の一部"),
    "ticket_amended": (WARNING, "レセプトの作成後に医療券が変更された"),
    "single_combined": (WARNING, "単独/併用の別が医療券と異なる"),
    "name_mismatch": (WARNING, "氏名が登録と異なる"),
    "duplicate": (WARNING, "同じ受給者・診療年月のレセプトが複数ある"),
    "other_office": (WARNING, "（福祉事務所）他の福祉事務所の公費負担者番号"),
    "ticket_revised": (INFO, "医療券に変更履歴がある（レセプトの作成前の変更、または作成日時の指定なし）"),
}
SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}


def _wm(month: str) -> str:
    return wareki_month(int(month[:4]), int(month[4:]))


def _jst(t: dt.datetime) -> str:
    a = aware(t).astimezone(dt.timezone(dt.timedelta(hours=9)))
    return f"{wareki_date(a.date())} {a:%H:%M}"


# --- when the claims were written (the time "cancelled or amended since" is judged against) -------

WRITTEN_AT = "written_at"


def parse_written_at(
    value: object, field: str = WRITTEN_AT, label_ja: str = "レセプトの作成日時", now: dt.datetime | None = None
) -> dt.datetime | None:
    """When the claims were written, as the facility says it: a date (ISO, yyyyMMdd or 和暦, as every
    date entry), a date and a time ``HH:MM[:SS]`` separated by a space, or an ISO 8601 date-time
    (offset optional): :func:`fujo.core.dates.parse_moment`, the reader of every date-time entry. Times without an offset are JST; a date alone
    is its first moment (0:00 JST), so a change made later that day counts as made after the claims
    were written — one check too many rather than a missed amendment. None when nothing is given.
    A time in the future is refused (a typo: claims are checked after they are written).
    :class:`ValidationFailed` naming ``field`` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=JST)
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time(), JST)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if not text:
            return None
        moment, problem = parse_moment(text, field, label_ja)
        if problem is not None or moment is None:
            raise ValidationFailed(problems=[problem] if problem else [])
        when = moment
    if when > (now or dt.datetime.now(JST)):
        shown = _jst(when)
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    field,
                    "future",
                    f"{label_ja}（{shown}）が未来の日時です。レセプトを作成した日（時刻）を入力してください。",
                    f"{field} ({when.isoformat()}) is in the future: give when the claims were written.",
                )
            ]
        )
    return when


@dataclass
class ClaimReport:
    claim: Claim
    payer: Payer | None
    findings: list[dict[str, Any]] = field(default_factory=list)
    office: tuple[str, str | None] | None = None  # whom to call
    revealed: queries.RecipientRow | None = None

    def add(self, code: str, ja: str, en: str, **extra: Any) -> None:
        severity = CODES[code][0]
        self.findings.append({"code": code, "severity": severity, "message_ja": ja, "message_en": en, **extra})

    @property
    def status(self) -> str:
        sev = {f["severity"] for f in self.findings}
        return ERROR if ERROR in sev else WARNING if WARNING in sev else OK

    def as_dict(self) -> dict[str, Any]:
        c, p = self.claim, self.payer
        d: dict[str, Any] = {
            "line": c.line,
            "receipt_number": c.receipt_number or None,
            "facility_code": c.facility_code or None,
            "treatment_month": c.month,
            "name": c.name,
            "payer_number": p.payer_number if p else None,
            "recipient_number": p.recipient_number if p else None,
            "status": self.status,
            "findings": self.findings,
        }
        if self.office and self.status != OK:
            d["office_name"], d["office_phone"] = self.office
        return d


@dataclass
class Report:
    mode: str  # facility | office
    fmt: str
    principal_code: str
    claims: int = 0  # every claim (RE) read
    results: list[ClaimReport] = field(default_factory=list)  # the medical-assistance claims
    unbilled: list[dict[str, Any]] = field(default_factory=list)
    months: set[str] = field(default_factory=set)
    written_at: dt.datetime | None = None  # when the claims were written, as given (None: not said)

    def as_dict(self) -> dict[str, Any]:
        by_status = {ERROR: 0, WARNING: 0, OK: 0}
        by_code: dict[str, int] = {}
        for r in self.results:
            by_status[r.status] += 1
            for f in r.findings:
                by_code[f["code"]] = by_code.get(f["code"], 0) + 1
        d: dict[str, Any] = {
            "mode": self.mode,
            "format": self.fmt,
            "organisation_code": self.principal_code,
            "months": sorted(self.months),
            "written_at": self.written_at.isoformat() if self.written_at else None,
            "counts": {
                "claims": self.claims,
                "assistance": len(self.results),
                "other": self.claims - len(self.results),
                **by_status,
            },
            "by_code": dict(sorted(by_code.items())),
            "claims": [r.as_dict() for r in self.results],
        }
        if self.mode == "office":
            d["counts"]["unbilled"] = len(self.unbilled)
            d["unbilled"] = self.unbilled
        return d


def _claims(source: Iterable[bytes], fmt: str, facility_code: str | None, multi: bool) -> Iterator[Claim]:
    if fmt not in FORMATS:
        raise ValidationFailed(
            problems=[FieldProblem("format", "code", "形式はukeまたはcsvです。", "format must be uke or csv.")]
        )
    if fmt == "csv":
        return read_csv(source, facility_code=facility_code)
    return read_uke(source, multi=multi)


def sniff(source: Iterable[bytes], fmt: str | None) -> tuple[str, Iterator[bytes]]:
    """The input format (``uke`` when the first line starts with a record identifier, else ``csv``) unless given, and the
    lines again from the first (one line is read ahead)."""
    lines = iter(source)
    first = next(lines, b"")
    if fmt is None:
        fmt = "uke" if _UKE_START.match(first.lstrip(b"\xef\xbb\xbf")) else "csv"
        if not first.strip():
            fmt = "uke"  # an empty file is named as such by the UKE reader
    return fmt, chain([first] if first else [], lines)


def _batches(claims: Iterator[Claim]) -> Iterator[list[Claim]]:
    while batch := list(islice(claims, BATCH)):
        yield batch


def _assistance(c: Claim, fmt: str) -> ClaimReport | None:
    """The report of a medical-assistance claim (None for other claims); the problems found in the
    claim itself, before any lookup."""
    payer = c.payers[0] if fmt == "csv" else c.assistance
    if payer is None and not (c.public_only and not c.payers):
        return None
    rep = ClaimReport(c, payer)
    for p in c.problems:
        rep.add("malformed", f"{p.field}: {p.message_ja}", f"{p.field}: {p.message_en}", field=p.field)
    if payer is None:
        rep.add(
            "ko_missing",
            f"{c.line}行目: 公費単独のレセプトに公費レコード（KO）がありません。公費負担者番号と受給者番号を記録してください。",
            f"line {c.line}: a 公費単独 claim without a KO record.",
            field=f"{c.line}行目 KO",
        )
        return rep
    where = f"{payer.line}行目 {'KO.' if fmt == 'uke' else ''}"
    for prob in (
        numbers.check_payer_number(payer.payer_number, field=where + "公費負担者番号"),
        numbers.check_recipient_number(payer.recipient_number, field=where + "受給者番号"),
    ):
        if prob:
            code = "check_digit" if prob.code == "check_digit" else "number_format"
            fix = "医療券に記載の番号と照合して修正してください。"
            rep.add(code, f"{prob.field}: {prob.message_ja}{fix}", f"{prob.field}: {prob.message_en}", field=prob.field)
    return rep


def _checkable(rep: ClaimReport) -> bool:
    return not rep.findings and rep.payer is not None and rep.claim.month is not None


def _start(
    principal: Principal, mode: str, source: Iterable[bytes], fmt: str | None, written_at: object
) -> tuple[Report, Iterator[bytes]]:
    """Who may check and when the claims were written (both before a byte is read), and the input format."""
    if mode == "facility":
        principal.require(FACILITY)
        require_assistance(principal)
    else:
        principal.require(WELFARE_OFFICE)
    when = parse_written_at(written_at)
    fmt, lines = sniff(source, fmt)
    return Report(mode=mode, fmt=fmt, principal_code=principal.code, written_at=when), lines


# --- the facility's check ----------------------------------------------------------------------


def check_claims(
    db: Database,
    principal: Principal,
    *,
    source: Iterable[bytes],
    fmt: str | None = None,
    written_at: object = None,
) -> dict[str, Any]:
    """A facility's claims against its own tickets (see the module's docstring). ``written_at``: when
    the claims were written (:func:`parse_written_at`); a ticket cancelled, moved or amended after it
    is what made the claim wrong since. Raises :class:`ValidationFailed` (line and field named) for a
    file that cannot be read, or naming ``written_at``; nothing is written then."""
    report, lines = _start(principal, "facility", source, fmt, written_at)
    seen: set[tuple[str, str, str]] = set()
    for batch in _batches(_claims(lines, report.fmt, principal.code, multi=False)):
        report.claims += len(batch)
        reps = [rep for c in batch if (rep := _assistance(c, report.fmt)) is not None]
        wrong = next((c for c in batch if c.facility_code != principal.code), None)
        if wrong is not None:
            raise ValidationFailed(
                problems=[
                    FieldProblem(
                        "IR.医療機関コード",
                        "facility_code",
                        f"ファイルの医療機関コード{wrong.facility_code}はこの医療機関（{principal.code}）"
                        "のものではありません。自院のレセプトファイルを指定してください。",
                        f"The file is facility {wrong.facility_code}'s, not {principal.code}'s.",
                    )
                ]
            )
        with db.read() as conn:
            _facility_batch(conn, principal, reps, seen, report.written_at)
        report.results.extend(reps)
        report.months.update(r.claim.month for r in reps if r.claim.month)
    revealed = {r.revealed.id: r.revealed for r in report.results if r.revealed is not None}
    now = db.now()
    with db.write() as conn:
        summary = (
            f"claims-check n={report.claims} assistance={len(report.results)} months={','.join(sorted(report.months))}"
        )
        rows: list[dict[str, Any]] = [{"detail": summary[:200]}]
        rows += [{"person_id": x.person_id, "recipient_id": x.id, "detail": "claims-check"} for x in revealed.values()]
        record_many(conn, principal, METHOD, rows, now)
    return report.as_dict()


def _facility_batch(
    conn: Any,
    principal: Principal,
    reps: list[ClaimReport],
    seen: set[tuple[str, str, str]],
    written_at: dt.datetime | None,
) -> None:
    todo = [r for r in reps if _checkable(r)]
    payers = queries.known_payers(conn, (r.payer.payer_number for r in todo if r.payer))
    people = queries.recipients_by_numbers(
        conn, ((r.payer.payer_number, r.payer.recipient_number) for r in todo if r.payer)
    )
    matched: dict[int, queries.RecipientRow] = {}
    for rep in todo:
        assert rep.payer is not None
        rec = people.get((rep.payer.payer_number, rep.payer.recipient_number))
        if rec is not None and rec.birthdate == rep.claim.birthdate:
            rep.revealed = matched[rec.id] = rec
    tickets: dict[int, list[queries.TicketRow]] = {}
    for x in queries.facility_tickets(conn, principal.code, matched):
        tickets.setdefault(x.recipient_id, []).append(x)
    # the history of the amended ones only (most tickets have one revision)
    history = queries.ticket_revisions(conn, (x.ticket_key for xs in tickets.values() for x in xs if x.revision > 1))
    for rep in todo:
        assert rep.payer is not None and rep.claim.month is not None
        c, p, m = rep.claim, rep.payer, rep.claim.month
        key = (p.payer_number, p.recipient_number, m)
        if key in seen:
            rep.add(
                "duplicate",
                f"{c.line}行目: 同じ受給者・診療年月（{_wm(m)}）のレセプトがファイル内に複数あります。1件にまとめてください。",
                f"line {c.line}: another claim for the same recipient and month is in the file.",
            )
        seen.add(key)
        office = payers.get(p.payer_number)
        rep.office = office
        if office is None:
            rep.add(
                "payer_unknown",
                f"公費負担者番号{p.payer_number}は登録されていません。医療券の公費負担者番号と照合してください。",
                f"Payer number {p.payer_number} is not registered to any welfare office.",
                field=f"{p.line}行目 公費負担者番号",
            )
            continue
        rec = rep.revealed
        call = f"{office[0]}" + (f"（{office[1]}）" if office[1] else "")
        if rec is None:
            rep.add(
                "recipient_unknown",
                "公費負担者番号・受給者番号・生年月日に一致する受給者が登録されていません。"
                f"医療券の受給者番号と生年月日を確認し、違いがなければ{call}に確認してください。",
                "No recipient is registered with these numbers and this birth date.",
                field=f"{p.line}行目 受給者番号",
            )
            continue
        _qualification(rep, rec, m, call)
        _tickets(rep, principal.code, tickets.get(rec.id, []), rec, call, history, written_at)


def _qualification(rep: ClaimReport, rec: queries.RecipientRow, month: str, call: str) -> None:
    status, when = monthly.month_status(rec, month)
    if status == monthly.VALID or when is None:
        return
    first, _last = month_bounds(month)
    word = monthly.STATUS_JA[status]
    if status == monthly.NOT_STARTED:
        rep.add(
            "qualification_lost",
            f"保護の開始は{wareki_date(when)}です。{_wm(month)}の診療は医療扶助で請求できません。{call}に確認してください。",
            f"Assistance starts on {when.isoformat()}, after the month billed.",
            date=when.isoformat(),
        )
    elif when <= first:
        rep.add(
            "qualification_lost",
            f"保護は{wareki_date(when)}に{word}されています。{_wm(month)}の診療は医療扶助で請求できません。"
            f"{call}に確認してください。",
            f"Assistance was {status} on {when.isoformat()}: the month cannot be billed to medical assistance.",
            date=when.isoformat(),
        )
    else:
        rep.add(
            "qualification_ends",
            f"保護は{wareki_date(when)}に{word}されています。{wareki_date(when)}以降の診療を請求していないか確認してください。",
            f"Assistance was {status} on {when.isoformat()}: bill only the days before it.",
            date=when.isoformat(),
        )


def _billable_days(rec: queries.RecipientRow, x: queries.TicketRow) -> int:
    start = max(x.valid_from, rec.qualification_date)
    end = (
        x.valid_to
        if rec.disqualification_date is None
        else min(x.valid_to, rec.disqualification_date - dt.timedelta(1))
    )
    return max(0, (end - start).days + 1)


def _revision(x: queries.TicketRow) -> dict[str, Any]:
    """The ticket revision a finding speaks of: its key, its revision and when it was written."""
    return {"ticket_key": x.ticket_key, "revision": x.revision, "changed_at": aware(x.changed_at).isoformat()}


def _latest(tickets: list[queries.TicketRow]) -> queries.TicketRow:
    return max(tickets, key=lambda t: t.changed_at)


def _after(x: queries.TicketRow | queries.Revision, written_at: dt.datetime | None) -> bool | None:
    """Was this revision written after the claims were (None: the time of the claims is not known)?"""
    return None if written_at is None else aware(x.changed_at) > written_at


def _when_said(x: queries.TicketRow, written_at: dt.datetime | None, verb: str) -> str:
    """「…は{時}に{verb}」 said against the time the claims were written: after it (what made the claim
    wrong since), before it (the claim was written against it), or plainly when that time is unknown."""
    at = _jst(x.changed_at)
    after = _after(x, written_at)
    if written_at is None:
        return f"{at}に{verb}"
    if after:
        return f"レセプトの作成（{_jst(written_at)}）の後、{at}に{verb}"
    return f"レセプトの作成（{_jst(written_at)}）より前の{at}に{verb}"


def _since(x: queries.TicketRow, written_at: dt.datetime | None) -> dict[str, Any]:
    after = _after(x, written_at)
    return {} if after is None else {"since_written": after}


def _ticket_cancelled(
    rep: ClaimReport, x: queries.TicketRow, written_at: dt.datetime | None, subject: str, ja: str
) -> None:
    """The claim's ticket was cancelled (``x``: its latest revision) — an error whenever it was: a claim
    on a cancelled ticket comes back; ``since_written`` says whether it happened after the claims
    were written. ``subject`` names the ticket, ``ja`` ends the message (what to do)."""
    after = _after(x, written_at)
    en_when = {None: "", True: " (after the claims were written)", False: " (before the claims were written)"}[after]
    rep.add(
        "ticket_cancelled",
        f"{subject}は" + _when_said(x, written_at, "取り消されています") + f"（第{x.revision}版）。" + ja,
        f"The ticket was cancelled at {aware(x.changed_at).isoformat()}{en_when} (revision {x.revision}).",
        **_revision(x),
        **_since(x, written_at),
    )


# the fields of a ticket an amendment may change, in the order of the ticket (labels for the message)
_LABELS = {
    f.name: f.label_ja for f in TICKET_FIELDS if f.name not in ("designated_facility_name", "prescription_issuer_name")
}


def _changed(before: queries.Revision, now: queries.Revision) -> list[str]:
    return [label for name, label in _LABELS.items() if before.values.get(name) != now.values.get(name)]


def _amendments(
    rep: ClaimReport,
    x: queries.TicketRow,
    revisions: list[queries.Revision],
    written_at: dt.datetime | None,
) -> None:
    """An amended ticket in force here: amendments after the claims were written are ``ticket_amended``
    (warning: the claim was written from an earlier revision — which fields changed is said); older
    ones, or any when that time is not given, only ``ticket_revised`` (info)."""
    if x.revision <= 1:
        return
    current = revisions[-1] if revisions and revisions[-1].revision == x.revision else None
    later = [v for v in revisions if v.revision > 1 and written_at is not None and aware(v.changed_at) > written_at]
    if written_at is not None and later and current is not None:
        base = next((v for v in reversed(revisions) if aware(v.changed_at) <= written_at), None)
        fields = _changed(base or revisions[0], current)
        what = f"変更された項目: {'・'.join(fields)}" if fields else "項目の変更なし"
        if base is None:
            ja = (
                f"医療券はレセプトの作成（{_jst(written_at)}）の後に登録され、{_jst(x.changed_at)}に変更されています"
                f"（第{x.revision}版、{what}）。"
            )
        else:
            ja = (
                f"医療券はレセプトの作成（{_jst(written_at)}）の後、{_jst(x.changed_at)}に変更されています"
                f"（第{base.revision}版→第{x.revision}版、{what}）。"
            )
        rep.add(
            "ticket_amended",
            ja + "委託先一括取得で最新の内容を取り込み、レセプトを確認・修正してください。",
            f"The ticket was amended after the claims were written ({written_at.isoformat()}): revision "
            f"{base.revision if base else '-'} → {x.revision} at {aware(x.changed_at).isoformat()}; changed: "
            f"{', '.join(fields) or 'nothing'}.",
            **_revision(x),
            since_written=True,
            written_revision=base.revision if base else None,
            changed_fields=fields,
        )
        return
    if written_at is None:
        ja = (
            f"医療券は{_jst(x.changed_at)}に変更されています（第{x.revision}版）。レセプトの作成後の変更なら、"
            "最新の内容でレセプトを確認してください（作成日時を指定すると、作成後の変更を「要確認」として表示します）。"
        )
        en = f"The ticket was amended at {aware(x.changed_at).isoformat()} (revision {x.revision}); "
        en += "give written_at to tell amendments made after the claims were written."
    else:
        ja = (
            f"医療券の変更（第{x.revision}版、{_jst(x.changed_at)}）はレセプトの作成（{_jst(written_at)}）より前です。"
            "レセプトがこの版の内容で作成されていれば対応は不要です。"
        )
        en = f"The ticket's last amendment ({aware(x.changed_at).isoformat()}, revision {x.revision}) "
        en += "is older than the claims."
    rep.add("ticket_revised", ja, en, **_revision(x), **_since(x, written_at))


def _tickets(
    rep: ClaimReport,
    me: str,
    mine: list[queries.TicketRow],
    rec: queries.RecipientRow,
    call: str,
    history: dict[str, list[queries.Revision]],
    written_at: dt.datetime | None,
) -> None:
    c, p = rep.claim, rep.payer
    assert c.month is not None and p is not None
    m = c.month
    month = [x for x in mine if x.treatment_month == m]
    here = [x for x in month if x.active and x.designated_facility_code == me]
    if here:
        x = max(here, key=lambda t: (t.valid_to - t.valid_from, t.revision))
        extra = _revision(x)
        first, last = month_bounds(m)
        days = _billable_days(rec, x)
        period = f"{wareki_date(x.valid_from)}〜{wareki_date(x.valid_to)}"
        if p.days is not None and p.days > days:
            rep.add(
                "outside_validity",
                f"診療実日数{p.days}日が医療券の有効期間（{period}、請求できる日は{days}日）を超えています。"
                f"有効期間外の診療日を除くか、{call}に有効期間の変更を依頼してください。",
                f"{p.days} treatment days exceed the ticket's validity ({days} billable days).",
                **extra,
            )
        elif x.valid_from > first or x.valid_to < last:
            rep.add(
                "partial_validity",
                f"医療券の有効期間は{period}です。有効期間外の診療日を請求していないか確認してください。",
                f"The ticket is valid {x.valid_from.isoformat()} to {x.valid_to.isoformat()} only.",
                **extra,
            )
        _amendments(rep, x, history.get(x.ticket_key, []), written_at)
        combined = c.insurer_number is not None
        if x.single_or_combined == "01" and combined:
            rep.add(
                "single_combined",
                "医療券は単独ですが、レセプトは医療保険と併用（保険者レコードあり）です。"
                f"保険の資格を確認し、誤りがあれば{call}に医療券の訂正を依頼してください。",
                "The ticket says 単独 but the claim carries a health insurer (併用).",
                **extra,
            )
        elif x.single_or_combined == "02" and not combined and c.receipt_type:
            rep.add(
                "single_combined",
                "医療券は併用ですが、レセプトに保険者レコード（HO）がありません。医療保険の資格を確認してください。",
                "The ticket says 併用 but the claim has no health insurer.",
                **extra,
            )
        if c.name and normalize_name(c.name) != normalize_name(rec.name):
            rep.add(
                "name_mismatch",
                "氏名が福祉事務所の登録と一致しません。医療券の氏名と照合してください。",
                "The name differs from the registered one.",
            )
        return
    cancelled = [x for x in month if x.status != "active" and x.designated_facility_code == me]
    moved = [x for x in month if x.designated_facility_code != me]
    if cancelled:
        x = _latest(cancelled)
        _ticket_cancelled(
            rep, x, written_at, f"{_wm(m)}の医療券", f"この医療券では請求できません。{call}に確認してください。"
        )
    elif moved:
        x = _latest(moved)
        rep.add(
            "ticket_moved",
            f"{_wm(m)}の医療券は"
            + _when_said(x, written_at, "変更され")
            + f"、この医療機関への委託ではなくなりました（第{x.revision}版）。{call}に確認してください。",
            f"The ticket was amended away from this facility at {aware(x.changed_at).isoformat()}"
            + {None: "", True: ", after the claims were written", False: ", before the claims were written"}[
                _after(x, written_at)
            ]
            + ".",
            **_revision(x),
            **_since(x, written_at),
        )
    else:
        other = sorted({x.treatment_month for x in mine if x.active and x.designated_facility_code == me})
        if other:
            shown = "・".join(_wm(o) for o in other[-3:])
            rep.add(
                "outside_validity",
                f"診療年月（{_wm(m)}）は医療券の有効期間外です（この医療機関の医療券: {shown}）。"
                f"診療年月を確認し、誤りがなければ{call}に{_wm(m)}の医療券の発行を依頼してください。",
                f"No ticket of {m} at this facility (tickets of {', '.join(other[-3:])}).",
                months=other,
            )
        else:
            rep.add(
                "not_designated",
                f"{_wm(m)}の医療券がこの医療機関に発行されていません（未委託）。"
                f"{call}に医療券の発行を依頼してください。",
                f"No ticket of {m} designates this facility (未委託): ask the welfare office to issue one.",
            )


# --- the welfare office's check ----------------------------------------------------------------


def check_office_claims(
    db: Database,
    principal: Principal,
    *,
    source: Iterable[bytes],
    fmt: str | None = None,
    written_at: object = None,
) -> dict[str, Any]:
    """A welfare office's check of the claims received from the 審査支払機関 (one IR … GO block per
    facility): which claims under its 公費負担者番号 have no ticket for that facility and month, and
    which of its tickets of the months billed were never billed. Reads only the office's own data.
    ``written_at`` (when the claims were written, as for the facility) says of a cancelled ticket
    whether it was cancelled after the claim was written."""
    report, lines = _start(principal, "office", source, fmt, written_at)
    billed: set[tuple[int, str, str]] = set()  # (recipient id, month, facility code)
    seen: set[tuple[str, str, str, str]] = set()
    for batch in _batches(_claims(lines, report.fmt, None, multi=True)):
        report.claims += len(batch)
        reps = [rep for c in batch if (rep := _assistance(c, report.fmt)) is not None]
        with db.read() as conn:
            _office_batch(conn, principal, reps, billed, seen, report.written_at)
        report.results.extend(reps)
        report.months.update(r.claim.month for r in reps if r.claim.month)
    if report.months and principal.payer_numbers:
        with db.read() as conn:
            for u in queries.office_month_tickets(conn, principal.payer_numbers, report.months):
                if (u.recipient_id, u.treatment_month, u.designated_facility_code) in billed:
                    continue
                report.unbilled.append(
                    {
                        "ticket_key": u.ticket_key,
                        "revision": u.revision,
                        "treatment_month": u.treatment_month,
                        "payer_number": u.payer_number,
                        "recipient_number": u.recipient_number,
                        "name": u.name,
                        "designated_facility_code": u.designated_facility_code,
                        "designated_facility_name": u.designated_facility_name,
                        "message_ja": f"{_wm(u.treatment_month)}の医療券（{u.designated_facility_name}）に対する"
                        "請求がありません。受診の有無を医療機関に確認し、不要なら医療券を取り消してください。",
                    }
                )
    with db.write() as conn:
        detail = f"claims-office-check n={report.claims} months={','.join(sorted(report.months))}"
        record_many(conn, principal, METHOD, [{"detail": detail[:200]}], db.now())
    return report.as_dict()


def _office_batch(
    conn: Any,
    principal: Principal,
    reps: list[ClaimReport],
    billed: set[tuple[int, str, str]],
    seen: set[tuple[str, str, str, str]],
    written_at: dt.datetime | None,
) -> None:
    todo = []
    for rep in reps:
        if not _checkable(rep):
            continue
        assert rep.payer is not None
        if rep.payer.payer_number not in principal.payer_numbers:
            rep.add(
                "other_office",
                f"公費負担者番号{rep.payer.payer_number}はこの福祉事務所の番号ではありません。点検の対象外です。",
                f"Payer number {rep.payer.payer_number} is not this office's; not checked.",
            )
            continue
        todo.append(rep)
    people = queries.recipients_by_numbers(
        conn, ((r.payer.payer_number, r.payer.recipient_number) for r in todo if r.payer)
    )
    found = [x.id for x in people.values()]
    tickets: dict[tuple[int, str], list[queries.TicketRow]] = {}
    months = {r.claim.month for r in todo if r.claim.month}
    for x in queries.office_tickets(conn, found, months) if found and months else []:
        tickets.setdefault((x.recipient_id, x.treatment_month), []).append(x)
    for rep in todo:
        assert rep.payer is not None and rep.claim.month is not None
        c, p, m = rep.claim, rep.payer, rep.claim.month
        key = (p.payer_number, p.recipient_number, m, c.facility_code)
        if key in seen:
            rep.add(
                "duplicate",
                f"{c.line}行目: 同じ医療機関・受給者・診療年月のレセプトが複数あります。",
                f"line {c.line}: another claim of this facility for the same recipient and month.",
            )
        seen.add(key)
        rec = people.get((p.payer_number, p.recipient_number))
        if rec is None:
            rep.add(
                "recipient_unknown",
                f"受給者番号{p.recipient_number}は登録されていません。医療機関に番号を確認してください。",
                "No recipient is registered with these numbers.",
            )
            continue
        if rep.claim.birthdate is not None and rec.birthdate != rep.claim.birthdate:
            rep.add(
                "recipient_unknown",
                "生年月日が受給者の登録と一致しません。医療機関に確認してください。",
                "The birth date differs from the recipient's.",
            )
        _qualification(rep, rec, m, "受給者の保護記録")
        billed.add((rec.id, m, c.facility_code))
        month = tickets.get((rec.id, m), [])
        here = [x for x in month if x.active and x.designated_facility_code == c.facility_code]
        if here:
            continue
        elsewhere = [x for x in month if x.active]
        gone = [x for x in month if not x.active]
        if elsewhere:
            x = elsewhere[0]
            rep.add(
                "other_facility",
                f"{_wm(m)}の医療券は{x.designated_facility_name}（{x.designated_facility_code}）を指定しています。"
                f"医療機関{c.facility_code}への委託が必要なら医療券を発行してください。",
                f"The ticket of {m} designates {x.designated_facility_code}, not {c.facility_code}.",
                ticket_key=x.ticket_key,
                revision=x.revision,
            )
        elif gone:
            x = _latest(gone)
            _ticket_cancelled(
                rep,
                x,
                written_at,
                f"{_wm(m)}の医療券（{x.designated_facility_name}）",
                "請求を返戻するか、必要なら医療券を発行してください。",
            )
        else:
            rep.add(
                "no_ticket",
                f"医療機関{c.facility_code}の{_wm(m)}の医療券がありません。委託の有無を確認し、"
                "必要なら医療券を発行してください。",
                f"No ticket of {m} designates facility {c.facility_code}.",
            )


# --- output -------------------------------------------------------------------------------------

CSV_HEADER = [
    "行",
    "レセプト番号",
    "医療機関コード",
    "診療年月",
    "公費負担者番号",
    "受給者番号",
    "氏名",
    "判定",
    "コード",
    "内容",
    "医療券の版",
    "変更日時",
]
STATUS_JA = {ERROR: "要修正", WARNING: "要確認", INFO: "参考", OK: "問題なし"}


def report_csv(report: dict[str, Any], *, problems_only: bool = False) -> str:
    """The report as CSV (UTF-8 with a BOM for Excel, CRLF): one row per finding, one row for a
    claim without any; then, for the office, the tickets never billed (判定 未請求)."""
    import csv

    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for c in report["claims"]:
        if problems_only and c["status"] == OK:
            continue
        lead = [
            c["line"],
            c["receipt_number"] or "",
            c["facility_code"] or "",
            c["treatment_month"] or "",
            c["payer_number"] or "",
            c["recipient_number"] or "",
            c["name"],
        ]
        for f in c["findings"] or [{"severity": OK, "code": "", "message_ja": ""}]:
            w.writerow(
                [
                    *lead,
                    STATUS_JA[f["severity"]],
                    f["code"],
                    f["message_ja"],
                    f.get("revision", ""),
                    f.get("changed_at", ""),
                ]
            )
    for u in report.get("unbilled", []):
        w.writerow(
            [
                "",
                "",
                u["designated_facility_code"],
                u["treatment_month"],
                u["payer_number"],
                u["recipient_number"],
                u["name"],
                "未請求",
                "unbilled",
                u["message_ja"],
                u["revision"],
                "",
            ]
        )
    return buf.getvalue()


def progress_lines(source: Iterable[bytes], step: Callable[[int], None], every: int = 2000) -> Iterator[bytes]:
    """The lines of ``source`` unchanged, calling ``step(bytes read)`` every ``every`` lines (a progress bar)."""
    done = 0
    for i, line in enumerate(source, 1):
        done += len(line)
        if i % every == 0:
            step(done)
        yield line
    step(done)
