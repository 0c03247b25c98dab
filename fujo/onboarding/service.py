"""Each facility's introduction checklist (導入手順, issue 15), after the seed's schedule:
見積り → 発注 → パッケージ適用/設定変更 → 運用テスト → 受付業務の確認 → 補助金申請 → 運用開始.

Steps are done in order, once each; a step done is a row of ``onboarding_steps`` with who and when
(and a note). The 運用テスト step records the summary of a passing ``fujo vendor-test`` report
(:mod:`fujo.onboarding.vendor_report`; a failing or partial one is refused). The last step switches the
facility's 「医療扶助」 to 利用する through :func:`fujo.facility.service.set_medical_assistance` (so
the switch is a ``setting_changes`` row like any other).

Who: a facility sees its own checklist (every role) and its 管理者 advances it; the administrator
(運用管理者) sees every facility's and may advance any."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth.principal import ADMIN, FACILITY, MANAGER, Principal, role_label
from ..core import numbers
from ..core.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from ..db import schema as s
from ..db.database import Database, DbRow, aware
from ..facility.service import set_medical_assistance
from ..orgs.service import principal_for
from .vendor_report import read_report

VENDOR, OWN = "vendor", "facility"
WHO_JA = {VENDOR: "システム事業者に依頼", OWN: "各医療機関・薬局で対応"}
NOTE_MAX = 200


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    who: str  # vendor | facility
    description: str


STEPS = (
    Step(
        "estimate",
        "見積り",
        VENDOR,
        "システム事業者に医療扶助のオンライン資格確認の導入（パッケージソフト適用）の見積りを依頼する。",
    ),
    Step("order", "発注", VENDOR, "見積りを確認してシステム事業者に発注する（運用開始まで約1か月かかる場合がある）。"),
    Step(
        "package",
        "パッケージ適用/設定変更",
        VENDOR,
        "医療扶助対応版パッケージソフトの適用・設定変更（現地作業・立会いの要否をシステム事業者に確認）。",
    ),
    Step(
        "acceptance_test",
        "運用テスト",
        VENDOR,
        "全ての導入作業の完了後、システム事業者が運用テストを行う。fujo vendor-test のレポート（全ケース合格）を登録する。",
    ),
    Step(
        "reception",
        "受付業務の確認",
        OWN,
        "受付業務等の変更点（委託先情報の一括取得、未委託の医療機関での表示など）を確認する。",
    ),
    Step(
        "subsidy",
        "補助金申請",
        OWN,
        "システム事業者から領収書等の必要書類を受領し、補助金を申請する（申請しない場合はその旨をメモに記録）。",
    ),
    Step("go_live", "運用開始", OWN, "「医療扶助」を「利用する」に切り替えて運用を開始する。"),
)
BY_KEY = {st.key: st for st in STEPS}
REPORT_STEP, LAST_STEP = "acceptance_test", STEPS[-1].key
_o, _st = s.organisations, s.onboarding_steps


class StepOutOfOrder(Conflict):
    code = "onboarding_order"


class StepAlreadyDone(Conflict):
    code = "onboarding_done"


# --- who may see and advance whose checklist --------------------------------------------------


def _facility_row(db: Database, principal: Principal, facility_code: str | None, *, advance: bool) -> DbRow:
    principal.require(FACILITY, ADMIN)
    if principal.kind == FACILITY:
        if facility_code not in (None, "", principal.code):
            raise Forbidden(
                "他の医療機関・薬局の導入手順は扱えません。", "A facility sees and advances its own checklist only."
            )
        if advance:
            principal.require_role(MANAGER)
        code = principal.code
    else:
        principal.require_role(MANAGER)
        p = numbers.check_facility_code(facility_code or "", field="facility_code")
        if p:
            raise ValidationFailed(problems=[p])
        code = facility_code or ""
    with db.read() as conn:
        row = conn.execute(
            select(_o.c.id, _o.c.code, _o.c.name, _o.c.medical_assistance_enabled).where(
                _o.c.kind == FACILITY, _o.c.code == code
            )
        ).first()
    if row is None:
        raise NotFound(
            f"医療機関コード{code}の医療機関・薬局はfujoに登録されていません。",
            f"No facility organisation with code {code}.",
        )
    return row


def _can_advance(principal: Principal) -> bool:
    return principal.kind in (FACILITY, ADMIN) and principal.role == MANAGER


# --- reading ------------------------------------------------------------------------------------


def _step_dict(i: int, st: Step, row: DbRow | None) -> dict[str, Any]:
    return {
        "order": i + 1,
        "step": st.key,
        "label": st.label,
        "who": st.who,
        "who_ja": WHO_JA[st.who],
        "description": st.description,
        "done": row is not None,
        "done_at": aware(row.done_at).isoformat() if row is not None else None,
        "done_by": row.done_by if row is not None else None,
        "note": row.note if row is not None else None,
        "report": json.loads(row.report) if row is not None and row.report else None,
    }


def _checklist(db: Database, principal: Principal, org: DbRow) -> dict[str, Any]:
    with db.read() as conn:
        done = {r.step: r for r in conn.execute(select(_st).where(_st.c.organisation_id == org.id))}
        enabled = conn.execute(select(_o.c.medical_assistance_enabled).where(_o.c.id == org.id)).scalar_one()
    nxt = next((st for st in STEPS if st.key not in done), None)
    return {
        "facility_code": org.code,
        "name": org.name,
        "medical_assistance_enabled": bool(enabled),
        "steps": [_step_dict(i, st, done.get(st.key)) for i, st in enumerate(STEPS)],
        "done": sum(st.key in done for st in STEPS),
        "total": len(STEPS),
        "next_step": nxt.key if nxt else None,
        "next_label": nxt.label if nxt else None,
        "completed": nxt is None,
        "can_advance": _can_advance(principal) and nxt is not None,
    }


def get_checklist(db: Database, principal: Principal, facility_code: str | None = None) -> dict[str, Any]:
    """A facility's checklist: its own for a facility (``facility_code`` omitted or its own), any for
    the administrator."""
    return _checklist(db, principal, _facility_row(db, principal, facility_code, advance=False))


def list_facilities(db: Database, principal: Principal) -> list[dict[str, Any]]:
    """Every facility organisation with the step it has reached (administrator)."""
    principal.require(ADMIN)
    principal.require_role(MANAGER)
    with db.read() as conn:
        orgs = conn.execute(
            select(_o.c.id, _o.c.code, _o.c.name, _o.c.medical_assistance_enabled)
            .where(_o.c.kind == FACILITY)
            .order_by(_o.c.code)
        ).all()
        done: dict[int, set[str]] = {}
        last: dict[int, Any] = {}
        for r in conn.execute(select(_st.c.organisation_id, _st.c.step)):
            done.setdefault(r.organisation_id, set()).add(r.step)
        for r in conn.execute(
            select(_st.c.organisation_id, func.max(_st.c.done_at).label("at")).group_by(_st.c.organisation_id)
        ):
            last[r.organisation_id] = r.at
    out = []
    for o in orgs:
        steps = done.get(o.id, set())
        nxt = next((st for st in STEPS if st.key not in steps), None)
        out.append(
            {
                "facility_code": o.code,
                "name": o.name,
                "medical_assistance_enabled": bool(o.medical_assistance_enabled),
                "done": sum(st.key in steps for st in STEPS),
                "total": len(STEPS),
                "next_step": nxt.key if nxt else None,
                "next_label": nxt.label if nxt else None,
                "completed": nxt is None,
                "last_done_at": aware(last[o.id]).isoformat() if o.id in last else None,
            }
        )
    return out


# --- advancing ----------------------------------------------------------------------------------


def _step_of(step: str) -> Step:
    st = BY_KEY.get((step or "").strip())
    if st is None:
        allowed = "、".join(f"{x.key}（{x.label}）" for x in STEPS)
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "step",
                    "code",
                    f"手順は{allowed}のいずれかです。",
                    f"step must be one of {', '.join(BY_KEY)}.",
                )
            ]
        )
    return st


def _clean_note(note: str | None) -> str | None:
    v = unicodedata.normalize("NFC", note or "").strip()
    if not v:
        return None
    if len(v) > NOTE_MAX or any(unicodedata.category(c)[0] == "C" for c in v):
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "note",
                    "format",
                    f"メモは{NOTE_MAX}文字以内で、改行や制御文字を含めずに入力してください。",
                    f"note must be at most {NOTE_MAX} characters, without line breaks or control characters.",
                )
            ]
        )
    return v


def _order_problem(st: Step, done: set[str]) -> None:
    if st.key in done:
        raise StepAlreadyDone(f"「{st.label}」は完了済みです。", f"The step {st.key} is already done.")
    i = STEPS.index(st)
    missing = [x for x in STEPS[:i] if x.key not in done]
    if missing:
        first = missing[0]
        raise StepOutOfOrder(
            f"「{st.label}」はまだ完了にできません。手順は順に進めます。先に「{first.label}」を完了してください"
            + (f"（未完了: {'・'.join(x.label for x in missing)}）。" if len(missing) > 1 else "。"),
            f"Steps are done in order: {first.key} comes before {st.key}.",
        )


def _done_steps(db: Database, org_id: int) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(_st.c.step).where(_st.c.organisation_id == org_id)).scalars())


def _as_facility(db: Database, principal: Principal, code: str) -> Principal:
    """Who switches 「医療扶助」: the facility's 管理者 itself, or the administrator acting for it (recorded
    as the administrator)."""
    if principal.kind == FACILITY:
        return principal
    fp = principal_for(db, kind=FACILITY, code=code, role=MANAGER, user_id=principal.user_id, actor=_actor(principal))
    return dataclasses.replace(fp, credential_id=principal.credential_id)


def _actor(principal: Principal) -> str:
    return (principal.actor or f"{role_label(principal.kind, principal.role)}（CLI）")[:100]


def advance(
    db: Database,
    principal: Principal,
    facility_code: str | None,
    step: str,
    *,
    note: str | None = None,
    report: bytes | None = None,
) -> dict[str, Any]:
    """Mark ``step`` done for the facility: the next step only (refused otherwise, naming the step to
    do first); 運用テスト with a passing vendor-test ``report``; 運用開始 switches 「医療扶助」 on.
    Returns the checklist."""
    st = _step_of(step)
    org = _facility_row(db, principal, facility_code, advance=True)
    text = _clean_note(note)
    summary: dict[str, Any] | None = None
    if st.key == REPORT_STEP:
        summary = read_report(report or b"")
    elif report:
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "report",
                    "not_this_step",
                    "運用テストのレポートは「運用テスト」の手順で登録します。",
                    "The vendor-test report belongs to the acceptance_test step.",
                )
            ]
        )
    _order_problem(st, _done_steps(db, org.id))
    if st.key == LAST_STEP:
        set_medical_assistance(db, _as_facility(db, principal, org.code), True)
    try:
        with db.write() as conn:
            done = set(conn.execute(select(_st.c.step).where(_st.c.organisation_id == org.id)).scalars())
            _order_problem(st, done)  # again, inside the transaction (the unique key catches a race)
            conn.execute(
                _st.insert().values(
                    organisation_id=org.id,
                    step=st.key,
                    done_at=db.now(),
                    done_by=_actor(principal),
                    user_id=principal.user_id,
                    credential_id=principal.credential_id,
                    note=text,
                    report=json.dumps(summary, ensure_ascii=False) if summary else None,
                )
            )
    except IntegrityError:
        raise StepAlreadyDone(f"「{st.label}」は完了済みです。", f"The step {st.key} is already done.") from None
    return _checklist(db, principal, org)
