"""Recipient portal (マイナポータル-like): sign in by proving the card (the card reader on the desk,
``fujo reader``, signs the challenge with the PIN typed on the page; audience "portal"), then see one's own qualification, this month's 医療券/調剤券 and the access log — which
facility checked or downloaded one's data, when, and with which consent."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from ..accounts import service as accounts
from ..audit.service import access_log
from ..cards.reader import ALL_CONSENTS
from ..cards.service import PORTAL_AUDIENCE, CardProofRefused, create_challenge, verify_proof
from ..core import codes
from ..core.dates import month_of, today_jst
from ..insurance.service import qualifications_of_person
from ..registry import service as registry
from .kit import (
    PRE_COOKIE,
    Recipient,
    Throttle,
    csrf_guard,
    db_of,
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
        reader_url=request.app.state.settings.reader_url,
    )


def _throttle_key(request: Request) -> str:
    return f"portal-ip:{request.client.host if request.client else '-'}"


@router.post("/login/challenge")
def login_challenge(request: Request):
    """A one-time challenge for the card reader (audience "portal"), fetched by static/reader.js
    with the pre-sign-in CSRF token; refused while the address is throttled."""
    throttle: Throttle = request.app.state.web_throttle
    if throttle.blocked(_throttle_key(request)):
        return JSONResponse(
            {"error": {"message": "失敗が続いたため、しばらく（15分）受け付けません。"}},
            status_code=429,
            headers={"Cache-Control": "no-store"},
        )
    ch = create_challenge(db_of(request), None)
    return JSONResponse({**ch, "audience": PORTAL_AUDIENCE}, headers={"Cache-Control": "no-store"})


@router.post("/login")
def login(
    request: Request,
    challenge: str = Form("", max_length=200),
    certificate: str = Form("", max_length=8192),
    signature: str = Form("", max_length=2048),
    consent: str = Form("", max_length=8),
):
    """Sign in with the card reader's proof (challenge, certificate, signature): never a card file
    or a PIN — the page had the reader sign (static/reader.js)."""
    throttle: Throttle = request.app.state.web_throttle
    key = _throttle_key(request)
    errors: dict = {}
    message = None
    if not (challenge and certificate and signature and consent):
        errors["card"] = ["カードリーダーでカードを読み取ってください（暗証番号を入力して「カードでサインイン」）。"]
    elif throttle.blocked(key):
        message = "失敗が続いたため、しばらく（15分）受け付けません。"
    else:
        db = db_of(request)
        try:
            person_id = verify_proof(
                db,
                request.app.state.ca,
                None,
                challenge=challenge,
                certificate=certificate,
                signature=signature,
                consent=consent,
            )
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
        reader_url=request.app.state.settings.reader_url,
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
