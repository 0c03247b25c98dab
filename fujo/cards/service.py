"""Virtual My Number cards: issue, revoke, challenge, and verification of a card proof.

A card check is challenge → signature → verification. The server hands the facility a one-time
nonce; the card signs nonce + facility code + consent bits; the server verifies, in order, that
the challenge is this facility's, unexpired and unused (it is consumed by the first attempt, so a
replay is refused), that the certificate parses, chains to our CA, is inside its validity period,
is a card we issued and is not revoked, and that the signature verifies with its key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
import uuid
from typing import Any, NotRequired, TypedDict

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import Connection, select, update

from ..auth.principal import ADMIN, FACILITY, WELFARE_OFFICE, Principal
from ..core import codes, numbers
from ..core.errors import Conflict, FieldProblem, Forbidden, FujoError, NotFound, Problems, ValidationFailed
from ..core.fields import Field, check_period, clean_record
from ..core.rows import Record
from ..db import schema as s
from ..db.database import Database, DbRow, aware
from .ca import PIN_RESET_TTL, CardAuthority, proof_message

CHALLENGE_TTL = dt.timedelta(seconds=120)


class CardProof(TypedDict):
    """What a reader sends for a card check: the challenge, the card's certificate and its signature
    (base64), and the consent bits it signed (4 to 6 of "0"/"1")."""

    challenge: str
    certificate: str
    signature: str
    consent: NotRequired[str]


CLEANUP_EVERY = 200


class CardProofRefused(FujoError):
    """The card proof was not accepted; ``reason`` says which test failed."""

    status = 403
    code = "card_proof_refused"

    def __init__(self, reason: str, ja: str, en: str) -> None:
        super().__init__(ja, en)
        self.reason = reason

    def as_dict(self) -> dict[str, Any]:
        d = super().as_dict()
        d["reason"] = self.reason
        return d


REFUSALS = {
    "unknown_challenge": ("チャレンジが不明です。もう一度カードを置いてください。", "Unknown challenge."),
    "challenge_other_facility": (
        "このチャレンジは別の医療機関のものです。",
        "The challenge was issued to another facility.",
    ),
    "challenge_expired": (
        "チャレンジの有効期限が切れました。もう一度カードを置いてください。",
        "The challenge has expired.",
    ),
    "replayed": (
        "このカード認証は既に使用されています（再送は受け付けません）。",
        "The proof was already used (replay refused).",
    ),
    "malformed_proof": ("カード認証データの形式が正しくありません。", "The card proof is malformed."),
    "malformed_certificate": ("電子証明書を読み取れません。", "The certificate cannot be parsed."),
    "untrusted_certificate": (
        "電子証明書の発行者を確認できません（偽造の可能性）。",
        "The certificate was not issued by the card authority.",
    ),
    "certificate_not_yet_valid": ("電子証明書の有効期間開始前です。", "The certificate is not yet valid."),
    "certificate_expired": ("電子証明書の有効期限が切れています。", "The certificate has expired."),
    "unknown_card": ("発行記録のないカードです。", "No such card was issued."),
    "revoked": ("このカードの電子証明書は失効しています。", "The card's certificate has been revoked."),
    "bad_signature": ("署名を検証できません（カードとデータが一致しません）。", "The signature does not verify."),
}


def refuse(reason: str) -> CardProofRefused:
    ja, en = REFUSALS[reason]
    return CardProofRefused(reason, ja, en)


def _person_public_id(conn: Connection, person_id: int) -> str:
    public_id: str = conn.execute(select(s.persons.c.public_id).where(s.persons.c.id == person_id)).scalar_one()
    return public_id


def create_person(
    conn: Connection, now: dt.datetime, number_hash: str | None = None, holder: Record | None = None
) -> int:
    person_id: int = conn.execute(
        s.persons.insert()
        .values(public_id=str(uuid.uuid4()), created_at=now, individual_number_hash=number_hash, **(holder or {}))
        .returning(s.persons.c.id)
    ).scalar_one()
    return person_id


def validate_pin(pin: str) -> None:
    if not pin or not pin.isascii() or not pin.isdigit() or len(pin) != 4:
        raise ValidationFailed(
            problems=[FieldProblem("pin", "pin_format", "暗証番号は数字4桁です。", "The PIN is 4 digits.")]
        )


HOLDER_FIELDS = (  # the 基本4情報 recorded when a card is issued (the certificate itself carries no name)
    Field("name", None, "氏名", "text", True, 60),
    Field("birthdate", None, "生年月日", "date", True),
    Field("sex", None, "性別", "code", True, table=codes.SEX),
    Field("address", None, "住所", "text", True, 200),
)


def clean_holder(individual_number: str | None, holder: Record | None) -> tuple[str, Record]:
    """The 個人番号 (check digit) and the 4 情報, validated; problems never repeat the number."""
    problems = Problems()
    number = (individual_number or "").strip()
    problems.add(numbers.check_individual_number(number))
    rec = clean_record(HOLDER_FIELDS, dict(holder or {}), problems)
    check_period(rec, problems)  # birth date in range
    problems.raise_if_any()
    return number, rec


def issue_card(
    db: Database,
    ca: CardAuthority,
    *,
    pin: str,
    individual_number: str | None = None,
    holder: Record | None = None,
    person_id: int | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> dict[str, Any]:
    """Issue a card to the holder of ``individual_number`` with the 4 情報 ``holder`` (name, birthdate,
    sex, address), as the card issuer does: the holder is known by the keyed hash of the number (a
    new card for a known number updates the recorded 4 情報), never linked to a recipient here — that
    is the welfare office's 初回ひも付け. ``person_id`` instead re-issues for a known holder."""
    validate_pin(pin)
    if person_id is None:
        number, rec = clean_holder(individual_number, holder)
    now = db.now()
    p = s.persons
    with db.write() as conn:
        if person_id is None:
            h = ca.number_hash(number)
            person_id = conn.execute(select(p.c.id).where(p.c.individual_number_hash == h)).scalar()
            if person_id is None:
                person_id = create_person(conn, now, h, rec)
            else:
                conn.execute(update(p).where(p.c.id == person_id).values(**rec))
        elif not conn.execute(select(p.c.id).where(p.c.id == person_id)).first():
            raise NotFound("対象者が見つかりません。", f"No person {person_id}.")
        card = ca.issue(_person_public_id(conn, person_id), pin, not_before, not_after)
        conn.execute(
            s.cards.insert().values(
                person_id=person_id,
                serial=card.serial,
                fingerprint=card.fingerprint,
                not_before=card.not_before.astimezone(now.tzinfo),
                not_after=card.not_after.astimezone(now.tzinfo),
                issued_at=now,
            )
        )
    return {"serial": card.serial, "person_id": person_id, "not_after": card.not_after.isoformat(), "p12": card.p12}


def holder_by_number(conn: Connection, ca: CardAuthority, individual_number: str) -> DbRow | None:
    """The card holder (persons row with the 4 情報) known by this 個人番号, or None."""
    return conn.execute(
        select(s.persons).where(s.persons.c.individual_number_hash == ca.number_hash(individual_number))
    ).first()


def revoke_card(db: Database, *, serial: str, reason: str = "revoked by operator") -> None:
    c = s.cards
    with db.write() as conn:
        row = conn.execute(select(c.c.id, c.c.revoked_at).where(c.c.serial == serial.lower())).first()
        if not row:
            raise NotFound(f"カード{serial}が見つかりません。", f"No card with serial {serial}.")
        if row.revoked_at is not None:
            raise Conflict("このカードは既に失効しています。", "The card is already revoked.")
        conn.execute(update(c).where(c.c.id == row.id).values(revoked_at=db.now(), revocation_reason=reason))


def issue_pin_reset(db: Database, ca: CardAuthority, principal: Principal, *, serial: str) -> dict[str, Any]:
    """A token, signed by the card authority, that clears the PIN lock of card ``serial`` at the
    reader (three wrong PINs lock a card; the count lives with the card, never here). The
    administrator, or the welfare office of a recipient linked to the card's holder, issues it; it
    is recorded in the check log (method ``pin_reset``), so the holder's access log shows it."""
    from ..audit.service import record_check

    principal.require(ADMIN, WELFARE_OFFICE)
    serial = (serial or "").strip().lower()
    if not serial or len(serial) > 40 or set(serial) - set("0123456789abcdef"):
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "serial", "format", "シリアル番号は16進数で入力してください。", "The serial is hexadecimal."
                )
            ]
        )
    c, r = s.cards, s.recipients
    with db.read() as conn:
        card = conn.execute(select(c.c.person_id, c.c.revoked_at).where(c.c.serial == serial)).first()
        if card is None:
            raise NotFound(f"カード{serial}が見つかりません。", f"No card with serial {serial}.")
        if (
            principal.kind == WELFARE_OFFICE
            and not conn.execute(
                select(r.c.id)
                .where(r.c.person_id == card.person_id, r.c.payer_number.in_(sorted(principal.payer_numbers)))
                .limit(1)
            ).first()
        ):
            raise Forbidden(
                "このカードの持ち主はこの福祉事務所の受給者としてひも付いていません。",
                "The card's holder is not linked to a recipient of this welfare office.",
            )
    if card.revoked_at is not None:
        raise Conflict("このカードは失効しています（ロックの解除はできません）。", "The card is revoked.")
    now = db.now()
    token = ca.pin_reset_token(serial, now)
    record_check(db, principal, "pin_reset", "-", person_id=card.person_id, detail=f"card {serial}", at=now)
    return {"serial": serial, "token": token, "expires_at": (now + PIN_RESET_TTL).isoformat()}


def cards_of_recipient(db: Database, principal: Principal, *, payer: str, rn: str) -> list[dict[str, Any]]:
    """The unrevoked cards of the holder linked to this recipient (初回ひも付け), newest first — what
    the welfare office's screen offers a PIN-lock reset for; [] when the recipient is not linked."""
    principal.require_payer(payer)
    c, r = s.cards, s.recipients
    with db.read() as conn:
        rows = conn.execute(
            select(c.c.serial, c.c.issued_at, c.c.not_after)
            .select_from(c.join(r, r.c.person_id == c.c.person_id))
            .where(r.c.payer_number == payer, r.c.recipient_number == rn, c.c.revoked_at.is_(None))
            .order_by(c.c.id.desc())
        ).all()
    return [
        {"serial": x.serial, "issued_at": aware(x.issued_at).isoformat(), "not_after": aware(x.not_after).isoformat()}
        for x in rows
    ]


PORTAL_AUDIENCE = "portal"  # what a recipient's own sign-in binds the proof to, instead of a facility code


def create_challenge(db: Database, principal: Principal | None) -> dict[str, Any]:
    """A one-time nonce for a facility (``principal``) or, with ``None``, for the recipient portal."""
    if principal is not None:
        principal.require(FACILITY)
    nonce = secrets.token_urlsafe(24)
    now = db.now()
    with db.write() as conn:
        conn.execute(
            s.card_challenges.insert().values(
                nonce=nonce,
                organisation_id=principal.organisation_id if principal else None,
                created_at=now,
                expires_at=now + CHALLENGE_TTL,
            )
        )
        if secrets.randbelow(CLEANUP_EVERY) == 0:
            # Spent and expired challenges are worthless after a day (a replay is refused as
            # 'unknown_challenge' then); clearing them now and again keeps the table small.
            conn.execute(s.card_challenges.delete().where(s.card_challenges.c.expires_at < now - dt.timedelta(days=1)))
    return {"challenge": nonce, "expires_at": (now + CHALLENGE_TTL).isoformat()}


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise refuse("malformed_proof") from None


def verify_proof(
    db: Database,
    ca: CardAuthority,
    principal: Principal | None,
    *,
    challenge: str,
    certificate: str,
    signature: str,
    consent: str,
) -> int:
    """Verify a card proof; returns the person id of the card holder or raises CardProofRefused.
    ``principal`` None verifies a recipient's own sign-in (audience :data:`PORTAL_AUDIENCE`)."""
    if principal is not None:
        principal.require(FACILITY)
    audience = principal.code if principal else PORTAL_AUDIENCE
    org_id = principal.organisation_id if principal else None
    # 4 bits, or 5–6 with the optional 限度額/特定疾病 consent (cards/reader.py ALL_CONSENTS)
    if not isinstance(consent, str) or not 4 <= len(consent) <= 6 or set(consent) - {"0", "1"}:
        raise refuse("malformed_proof")
    cert_der, sig = _b64(certificate), _b64(signature)
    now = db.now()
    ch = s.card_challenges
    mine = ch.c.organisation_id == org_id if org_id is not None else ch.c.organisation_id.is_(None)
    with db.write() as conn:
        # Consumed by the first attempt, successful or not: a proof can never be replayed. One statement
        # when the challenge is good (a round trip less on PostgreSQL); why it is not, only when it is not.
        took = conn.execute(
            update(ch)
            .where(ch.c.nonce == challenge, mine, ch.c.used_at.is_(None))
            .values(used_at=now)
            .returning(ch.c.expires_at)
        ).first()
        if took is None:
            row = conn.execute(select(ch.c.organisation_id).where(ch.c.nonce == challenge)).first()
            if not row:
                raise refuse("unknown_challenge")
            if row.organisation_id != org_id:
                raise refuse("challenge_other_facility")
            raise refuse("replayed")
        if aware(took.expires_at) < now:
            raise refuse("challenge_expired")
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError:
        raise refuse("malformed_certificate") from None
    if not ca.verify_chain(cert):
        raise refuse("untrusted_certificate")
    utcnow = now.astimezone(dt.UTC)
    if utcnow < cert.not_valid_before_utc:
        raise refuse("certificate_not_yet_valid")
    if utcnow > cert.not_valid_after_utc:
        raise refuse("certificate_expired")
    with db.read_statements() as conn:  # one statement: no BEGIN/ROLLBACK round trips on PostgreSQL
        card = conn.execute(
            select(s.cards.c.person_id, s.cards.c.revoked_at, s.cards.c.fingerprint).where(
                s.cards.c.serial == format(cert.serial_number, "x")
            )
        ).first()
    if not card or card.fingerprint != cert.fingerprint(hashes.SHA256()).hex():
        raise refuse("unknown_card")
    if card.revoked_at is not None:
        raise refuse("revoked")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):  # our CA issues RSA keys only
        raise refuse("bad_signature")
    try:
        key.verify(sig, proof_message(challenge, audience, consent), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, TypeError, ValueError):
        raise refuse("bad_signature") from None
    person_id: int = card.person_id
    return person_id


def list_cards(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    c = s.cards
    with db.read() as conn:
        rows = conn.execute(select(c).order_by(c.c.id.desc()).limit(limit)).all()
    return [
        {
            "serial": r.serial,
            "person_id": r.person_id,
            "issued_at": aware(r.issued_at).isoformat(),
            "not_after": aware(r.not_after).isoformat(),
            "revoked": r.revoked_at is not None,
            "revocation_reason": r.revocation_reason,
        }
        for r in rows
    ]
