"""``fujo reader``: the card reader on the facility's desk (顔認証付きカードリーダー, simulated).

A small HTTP service on 127.0.0.1 holding a "slot" folder of virtual card files (PKCS#12 sealed
with the PIN). The desk's and the portal's pages (``fujo/web/static/reader.js``) list its cards and
ask it to sign the server's challenge with the PIN typed on the page; the server then receives
only the challenge, the certificate, the signature and the consent bits — never the PIN nor the
card file (:func:`fujo.cards.reader.prove` is what signs, here as in ``fujo check card``).

The PIN lock stays with the card, as on the real 利用者証明用電子証明書: ``<card>.p12.state`` (JSON)
beside the card file counts consecutive wrong PINs; three lock the card, a right PIN resets the
count, and a locked card is refused even with the right PIN until a reset token, issued by the
server for the card's serial and signed by the card authority, is given to the reader
(``POST /cards/{card}/unlock`` or ``fujo reader unlock CARD --token T``); each token is used once.

Only the configured page origins (``--allow-origin``) may call it from a browser (CORS); a request
from any other ``Origin``, or for another ``Host`` than the loopback (DNS rebinding), is refused.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer
from cryptography import x509
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..core.errors import ValidationFailed
from .ca import CARD_NAME_PREFIX, TokenRefused, verify_pin_reset_token
from .reader import ALL_CONSENTS, prove

DEFAULT_PORT = 8766
DEFAULT_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
MAX_TRIES = 3
STATE_SUFFIX = ".state"
MAX_BODY = 16 * 1024
LOCKED_JA = (
    "暗証番号を3回間違えたため、このカードはロックされています。福祉事務所または市区町村の窓口で解除してください。"
)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}

_CARD_NAME = re.compile(r"[^/\\\x00-\x1f]{1,120}\.p12")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{8,128}")
_AUDIENCE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PIN = re.compile(r"[0-9]{4}")
_FRIENDLY_NAME_OID = bytes.fromhex("2a864886f70d010914")  # 1.2.840.113549.1.9.20 (PKCS#9 friendlyName)


class ReaderError(Exception):
    """A refusal of the reader: HTTP status, code, the message for the screen (日本語) and extras."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


# --- what a card file shows without its PIN ---------------------------------------------------


def _tlv(buf: bytes, i: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``i``."""
    if i + 2 > end:
        raise ValueError("truncated")
    tag, n = buf[i], buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if not 1 <= k <= 4 or i + k > end:
            raise ValueError("bad length")
        n = int.from_bytes(buf[i : i + k], "big")
        i += k
    if i + n > end:
        raise ValueError("truncated")
    return tag, i, i + n


def _friendly_names(buf: bytes, start: int, end: int, depth: int, out: list[str]) -> None:
    """Collect the PKCS#12 bag attributes ``friendlyName`` found in clear (outside encrypted data)."""
    i = start
    while i < end:
        tag, s, e = _tlv(buf, i, end)
        if tag == 0x30 and s < e:  # SEQUENCE: an Attribute is (OID friendlyName, SET {BMPString})
            t1, s1, e1 = _tlv(buf, s, e)
            if t1 == 0x06 and buf[s1:e1] == _FRIENDLY_NAME_OID and e1 < e:
                t2, s2, e2 = _tlv(buf, e1, e)
                if t2 == 0x31 and s2 < e2:
                    t3, s3, e3 = _tlv(buf, s2, e2)
                    if t3 == 0x1E:
                        out.append(buf[s3:e3].decode("utf-16-be", "replace"))
        if tag & 0x20 and depth < 12:
            _friendly_names(buf, s, e, depth + 1, out)
        elif tag == 0x04 and depth < 12:  # the PKCS#7 data of the PFX wraps DER in OCTET STRINGs
            with contextlib.suppress(ValueError):  # an octet string that is not DER
                _friendly_names(buf, s, e, depth + 1, out)
        i = e


def public_serial(data: bytes) -> str | None:
    """The serial a card file shows without its PIN (its friendly name ``fujo-card <serial>``), or
    None (a card issued before the name carried it: the reader learns it at the first right PIN)."""
    names: list[str] = []
    try:
        _friendly_names(data, 0, len(data), 0, names)
    except ValueError:
        return None
    for n in names:
        if n.startswith(CARD_NAME_PREFIX) and re.fullmatch(r"[0-9a-f]{1,40}", n[len(CARD_NAME_PREFIX) :]):
            return n[len(CARD_NAME_PREFIX) :]
    return None


def _holder(cert: x509.Certificate) -> str | None:
    """The holder's name as the certificate subject gives it, if it gives one (fujo's cards name
    the holder by an opaque id only: then None)."""
    for oid in (NameOID.PSEUDONYM, NameOID.SURNAME, NameOID.GIVEN_NAME, NameOID.COMMON_NAME):
        for a in cert.subject.get_attributes_for_oid(oid):
            v = a.value if isinstance(a.value, str) else a.value.decode(errors="replace")
            try:
                uuid.UUID(v)
            except ValueError:
                return v
    return None


# --- the slot ----------------------------------------------------------------------------------


class Slot:
    """The folder of card files the reader holds, with each card's PIN-lock state beside it."""

    def __init__(self, folder: Path, ca_cert: x509.Certificate | None = None) -> None:
        self.folder, self.ca_cert = Path(folder), ca_cert
        self._lock = threading.Lock()

    def _path(self, name: Any) -> Path:
        if not isinstance(name, str) or not _CARD_NAME.fullmatch(name) or name.startswith("."):
            raise ReaderError(422, "card", "カードを選んでください（カードリーダーのカード名）。")
        p = self.folder / name
        if not p.is_file():
            raise ReaderError(404, "no_card", f"カードリーダーにカード「{name}」がありません。")
        return p

    @staticmethod
    def _state(p: Path) -> dict[str, Any]:
        sp = p.with_name(p.name + STATE_SUFFIX)
        try:
            st = json.loads(sp.read_text())
        except FileNotFoundError:
            return {"failures": 0}
        except (OSError, ValueError):
            return {"failures": MAX_TRIES, "damaged": True}  # unreadable: locked (fail closed)
        if not isinstance(st, dict) or not isinstance(st.get("failures", 0), int):
            return {"failures": MAX_TRIES, "damaged": True}
        st.setdefault("failures", 0)
        return st

    @staticmethod
    def _save(p: Path, st: dict[str, Any]) -> None:
        sp = p.with_name(p.name + STATE_SUFFIX)
        tmp = sp.with_name(sp.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({k: v for k, v in st.items() if k != "damaged"}, f, ensure_ascii=False)
        os.replace(tmp, sp)

    def cards(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted(self.folder.glob("*.p12")):
            if p.name.startswith(".") or not p.is_file():
                continue
            st = self._state(p)
            failures = min(st["failures"], MAX_TRIES)
            try:
                serial = public_serial(p.read_bytes()) or st.get("serial")
            except OSError:
                continue
            out.append(
                {
                    "card": p.name,
                    "holder": st.get("holder"),
                    "serial": serial,
                    "locked": failures >= MAX_TRIES,
                    "remaining": MAX_TRIES - failures,
                }
            )
        return out

    def sign(self, *, card: Any, pin: Any, challenge: Any, audience: Any, consent: Any) -> dict[str, str]:
        """Sign ``challenge`` for ``audience`` with the card, if the PIN is right and it is not locked."""
        if not isinstance(challenge, str) or not _CHALLENGE.fullmatch(challenge):
            raise ReaderError(422, "challenge", "チャレンジ（サーバーが発行したもの）がありません。")
        if not isinstance(audience, str) or not _AUDIENCE.fullmatch(audience):
            raise ReaderError(422, "audience", "署名の宛先（医療機関コードまたは portal）が正しくありません。")
        given = _consent(consent)
        if not isinstance(pin, str) or not _PIN.fullmatch(pin):
            raise ReaderError(422, "pin_format", "暗証番号は数字4桁です。")
        with self._lock:
            p = self._path(card)
            st = self._state(p)
            if st["failures"] >= MAX_TRIES:
                raise ReaderError(423, "card_locked", LOCKED_JA, remaining=0)
            try:
                proof = prove(p.read_bytes(), pin, challenge, audience, given)
            except ValidationFailed as e:
                if e.problems[0].code != "pin_wrong":
                    raise ReaderError(
                        422, "card_damaged", "カードを読み取れません（カードファイルが壊れています）。"
                    ) from None
                st["failures"] += 1
                self._save(p, st)
                left = MAX_TRIES - st["failures"]
                if left <= 0:
                    raise ReaderError(423, "card_locked", LOCKED_JA, remaining=0) from None
                raise ReaderError(
                    403,
                    "pin_wrong",
                    f"暗証番号が違います。あと{left}回間違えるとカードがロックされます。",
                    remaining=left,
                ) from None
            cert = x509.load_der_x509_certificate(base64.b64decode(proof.certificate))
            st.update(failures=0, serial=format(cert.serial_number, "x"), holder=_holder(cert))
            self._save(p, st)
        return proof.as_dict()

    def unlock(self, *, card: Any, token: Any, now: dt.datetime | None = None) -> dict[str, Any]:
        """Clear the card's PIN lock with a reset token of the card authority for this card's serial."""
        if self.ca_cert is None:
            raise ReaderError(
                503, "no_ca", "認証局の証明書が設定されていないため、ロックを解除できません（--ca-cert）。"
            )
        if not isinstance(token, str) or not token.strip() or len(token) > 4000:
            raise ReaderError(422, "token", "解除コードを入力してください。")
        try:
            claims = verify_pin_reset_token(self.ca_cert, token, now or dt.datetime.now(dt.UTC))
        except TokenRefused as e:
            raise ReaderError(
                403 if e.reason != "malformed" else 422,
                f"token_{e.reason}",
                {
                    "malformed": "解除コードの形式が正しくありません。",
                    "forged": "解除コードを確認できません（認証局の署名がありません）。",
                    "expired": "解除コードの有効期限が切れています。もう一度発行を受けてください。",
                }[e.reason],
            ) from None
        with self._lock:
            p = self._path(card)
            st = self._state(p)
            serial = public_serial(p.read_bytes()) or st.get("serial")
            if serial is None:
                raise ReaderError(409, "no_serial", "このカードのシリアル番号を読み取れないため、解除できません。")
            if claims["serial"] != serial:
                raise ReaderError(403, "token_other_card", "この解除コードは別のカードのものです。")
            resets = st.get("resets")
            used: list[Any] = resets if isinstance(resets, list) else []
            if claims["nonce"] in used:
                raise ReaderError(409, "token_used", "この解除コードは使用済みです。")
            st = {k: v for k, v in st.items() if k in ("serial", "holder")}
            st.update(failures=0, serial=serial, resets=[*used, claims["nonce"]][-50:])
            self._save(p, st)
        return {"card": p.name, "serial": serial, "locked": False, "remaining": MAX_TRIES}


def _consent(consent: Any) -> dict[str, bool]:
    if consent is None:
        return {}
    if not isinstance(consent, dict) or any(not isinstance(v, bool) for v in consent.values()):
        raise ReaderError(422, "consent", "同意は {種類: true/false} で指定してください。")
    unknown = set(consent) - set(ALL_CONSENTS)
    if unknown:
        raise ReaderError(422, "consent", f"同意の種類が不明です: {', '.join(sorted(unknown))}")
    return {k: v for k, v in consent.items() if v}


# --- HTTP --------------------------------------------------------------------------------------


def _error(e: ReaderError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(e.as_dict(), status_code=e.status, headers=headers)


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ReaderError(415, "content_type", "application/json で送ってください。")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ReaderError(413, "too_large", "要求が大きすぎます。")
    try:
        data = json.loads(body)
    except ValueError:
        raise ReaderError(400, "json", "要求を JSON として読めません。") from None
    if not isinstance(data, dict):
        raise ReaderError(400, "json", "要求は JSON のオブジェクトです。")
    return data


def create_reader_app(slot: Slot, origins: Iterable[str] = DEFAULT_ORIGINS) -> Starlette:
    """The reader's HTTP service over ``slot``, callable from pages of ``origins`` only."""

    async def info(request: Request) -> Response:
        return JSONResponse({"reader": "fujo", "max_tries": MAX_TRIES})

    async def list_cards(request: Request) -> Response:
        return JSONResponse({"cards": await run_in_threadpool(slot.cards), "max_tries": MAX_TRIES})

    async def sign(request: Request) -> Response:
        try:
            b = await _json_body(request)
            out = await run_in_threadpool(
                lambda: slot.sign(
                    card=b.get("card"),
                    pin=b.get("pin"),
                    challenge=b.get("challenge"),
                    audience=b.get("audience"),
                    consent=b.get("consent"),
                )
            )
        except ReaderError as e:
            return _error(e)
        return JSONResponse(out)

    async def unlock(request: Request) -> Response:
        try:
            b = await _json_body(request)
            out = await run_in_threadpool(lambda: slot.unlock(card=request.path_params["card"], token=b.get("token")))
        except ReaderError as e:
            return _error(e)
        return JSONResponse(out)

    app = Starlette(
        routes=[
            Route("/", info),
            Route("/cards", list_cards),
            Route("/sign", sign, methods=["POST"]),
            Route("/cards/{card}/unlock", unlock, methods=["POST"]),
        ]
    )
    return _Guard(app, origins)  # type: ignore[return-value]


class _Guard:
    """CORS for the configured origins only, and nothing for any other Origin or Host (plain ASGI)."""

    def __init__(self, app: Starlette, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = {o.rstrip("/") for o in origins}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        origin = headers.get("origin")
        refusal = None
        if hostname not in LOOPBACK:
            refusal = ReaderError(403, "host_refused", "カードリーダーには 127.0.0.1 で接続してください。")
        elif origin is not None and origin not in self.origins:
            refusal = ReaderError(403, "origin_refused", "この画面からはカードリーダーを使えません。")
        if refusal is not None:
            return await _error(refusal, {"Cache-Control": "no-store"})(scope, receive, send)
        cors = {"Vary": "Origin", "Cache-Control": "no-store"}
        if origin is not None:
            cors["Access-Control-Allow-Origin"] = origin
        if scope["method"] == "OPTIONS" and origin is not None:  # preflight
            cors |= {
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            }
            if headers.get("access-control-request-private-network") == "true":
                cors["Access-Control-Allow-Private-Network"] = "true"
            return await Response(status_code=204, headers=cors)(scope, receive, send)

        async def send_with_cors(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in cors.items()
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)


# --- the command -------------------------------------------------------------------------------

cli = typer.Typer(
    help="カードリーダー（模擬）— the card reader on the desk: signs the server's challenge with a card of its slot",
    invoke_without_command=True,
)


def _default_cards() -> Path:
    from ..config import load_settings

    return load_settings().data_dir / "demo-cards"


def _ca_cert(path: Path | None) -> x509.Certificate | None:
    from ..config import load_settings

    p = path or load_settings().ca_dir / "ca.cert.pem"
    if not p.exists():
        if path is not None:
            raise typer.BadParameter(f"{p} がありません", param_hint="--ca-cert")
        return None
    return x509.load_pem_x509_certificate(p.read_bytes())


@cli.callback()
def serve(
    ctx: typer.Context,
    port: int = typer.Option(DEFAULT_PORT, help="port on 127.0.0.1"),
    cards: Path = typer.Option(None, help="the slot: folder of card files (default $FUJO_DATA_DIR/demo-cards)"),
    allow_origin: list[str] = typer.Option(
        None, help="origin of the fujo pages that may use the reader (repeatable; default :8000 on 127.0.0.1/localhost)"
    ),
    ca_cert: Path = typer.Option(None, help="the card authority's certificate (default $FUJO_DATA_DIR/ca/ca.cert.pem)"),
) -> None:
    """Run the reader on 127.0.0.1 (GET /cards, POST /sign, POST /cards/{card}/unlock)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    folder = cards or _default_cards()
    folder.mkdir(parents=True, exist_ok=True)
    origins = allow_origin or list(DEFAULT_ORIGINS)
    app = create_reader_app(Slot(folder, _ca_cert(ca_cert)), origins)
    sys.stderr.write(f"fujo reader: slot {folder}, pages of {', '.join(origins)}\n")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@cli.command("unlock")
def unlock_cmd(
    card: Path = typer.Argument(..., help="the card file (a name in the slot, or its path)"),
    token: str = typer.Option(..., help="the reset token issued by the welfare office or the administrator"),
    cards: Path = typer.Option(None, help="the slot (default: the card's folder, else the demo cards)"),
    ca_cert: Path = typer.Option(None, help="the card authority's certificate (default $FUJO_DATA_DIR/ca/ca.cert.pem)"),
) -> None:
    """Clear a card's PIN lock with a reset token (signed by the card authority for its serial)."""
    folder = cards or (card.parent if card.is_file() else _default_cards())
    try:
        out = Slot(folder, _ca_cert(ca_cert)).unlock(card=card.name, token=token)
    except ReaderError as e:
        sys.stderr.write(f"エラー: {e.message}\n")
        raise typer.Exit(2) from None
    sys.stdout.write(f"カード {out['card']}（シリアル {out['serial']}）のロックを解除しました。\n")


@cli.command("list")
def list_cmd(cards: Path = typer.Option(None, help="the slot (default $FUJO_DATA_DIR/demo-cards)")) -> None:
    """The cards in the slot, with their serial and PIN-lock state."""
    for c in Slot(cards or _default_cards()).cards():
        state = "ロック中" if c["locked"] else f"残り{c['remaining']}回"
        sys.stdout.write(f"{c['card']}\t{c['serial'] or '-'}\t{state}\n")
