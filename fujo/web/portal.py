"""Recipient portal (マイナポータル-like): sign in by proving the card (virtual card + PIN, audience
"portal"), then see one's own qualification, this month's 医療券/調剤券 and the access log — which
facility checked or downloaded one's data, when, and with which consent."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from ..accounts import service as accounts
from ..audit.service import access_log
from ..cards.reader import ALL_CONSENTS, prove
from ..cards.service import PORTAL_AUDIENCE, CardProofRefused, create_challenge, verify_proof
from ..core import codes
from ..core.dates import month_of, today_jst
from ..core.errors import ValidationFailed
from ..insurance.service import qualifications_of_person
from ..registry import service as registry
from .kit import (
    PRE_COOKIE,
    Recipient,
    Throttle,
    csrf_guard,
    db_of,
    field_errors,
    pre_token,
    redirect,
    render,
    set_session_cookie,
)

router = APIRouter(prefix="/portal", dependencies=[Depends(csrf_guard)], include_in_schema=False)

CONSENT_JA = dict(
    zip(
        ALL_CONSENTS,
        ("薬剤情報", "診療情報", "特定健診情報", "手術情報", "限度額適用認定証情報", "特定疾病療養受療証情報"),
    )
)
OUTCOME_JA = {**codes.VALIDITY_TEXT, "-": "—"}


@router.get("/login")
def login_form(request: Request, out: int = 0):
    cookies: dict = {}
    tok = pre_token(request, cookies)
    return render(
        request,
        "portal/login.html",
        cookies=cookies,
        pre_csrf=tok,
        title="マイページ サインイン",
        notice="サインアウトしました。" if out else None,
    )


@router.post("/login")
async def login(request: Request, card_file: UploadFile | None = File(None), pin: str = Form("", max_length=8)):
    throttle: Throttle = request.app.state.web_throttle
    key = f"portal-ip:{request.client.host if request.client else '-'}"
    errors: dict = {}
    message = None
    data = await card_file.read(64 * 1024 + 1) if card_file is not None and card_file.filename else b""
    if not data:
        errors["card_file"] = ["カードファイル（.p12）を選択してください。"]
    if not re.fullmatch(r"[0-9]{4}", pin or ""):
        errors["pin"] = ["暗証番号は数字4桁です。"]
    if not errors:
        if throttle.blocked(key):
            message = "失敗が続いたため、しばらく（15分）受け付けません。"
        else:
            db = db_of(request)
            try:
                ch = create_challenge(db, None)["challenge"]
                proof = prove(data, pin, ch, PORTAL_AUDIENCE, {})
                person_id = verify_proof(
                    db,
                    request.app.state.ca,
                    None,
                    challenge=proof.challenge,
                    certificate=proof.certificate,
                    signature=proof.signature,
                    consent=proof.consent,
                )
            except ValidationFailed as e:
                throttle.fail(key)
                errors, _ = field_errors(e)
            except CardProofRefused as e:
                throttle.fail(key)
                message = e.message_ja
            else:
                cookie, _sess = accounts.start_session(db, person_id=person_id)
                resp = redirect("/portal")
                set_session_cookie(request, resp, cookie, int(accounts.PORTAL_TTL.total_seconds()))
                resp.delete_cookie(PRE_COOKIE, path="/")
                return resp
    return render(
        request,
        "portal/login.html",
        status=422,
        pre_csrf=request.cookies.get(PRE_COOKIE, ""),
        title="マイページ サインイン",
        errors=errors,
        message=message,
    )


@router.get("")
def home(request: Request, me: Recipient):
    db = db_of(request)
    today = today_jst()
    month = month_of(today)
    person_id = me.person_id
    assert person_id is not None  # recipient_session lets only a card holder's session in
    recs, tickets = registry.records_of_person(db, person_id, month)
    insurance = qualifications_of_person(db, person_id)
    log = access_log(db, person_id, [x.id for x in recs])
    for e in log:
        e["outcome_ja"] = OUTCOME_JA.get(e["outcome"], e["outcome"])
        e["consent_ja"] = (
            "、".join(CONSENT_JA[k] for k, b in zip(ALL_CONSENTS, e["consent"] or "") if b == "1") or "なし"
        )
    return render(
        request,
        "portal/home.html",
        title="わたしの医療扶助の情報",
        recs=recs,
        tickets=tickets,
        insurance=insurance,
        month=month,
        log=log,
        today=today,
    )
