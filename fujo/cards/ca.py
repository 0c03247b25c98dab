"""The test certificate authority behind the virtual My Number cards (利用者証明用電子証明書).

Each virtual card gets an RSA-2048 key and an X.509 certificate signed by this CA, stored in a
PIN-protected PKCS#12 file. Everything cryptographic is done by the ``cryptography`` package.

The card issuer knows each holder by 個人番号 and the 基本4情報; fujo keeps only a keyed hash of the
個人番号 (HMAC-SHA256 under a secret of 32 random bytes in ``number.key`` beside the CA key), so
the number cannot be recovered from the database, nor found by trying every 12-digit number
without the key.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

CARD_VALIDITY_DAYS = 5 * 365  # 利用者証明用電子証明書: 5 years (発行から5回目の誕生日)
CARD_NAME_PREFIX = "fujo-card "  # + the serial (hex): the PKCS#12 friendly name of a card file
PIN_RESET_TTL = dt.timedelta(days=7)  # a PIN-lock reset token is valid for a week


@dataclass
class IssuedCard:
    serial: str
    fingerprint: str
    not_before: dt.datetime
    not_after: dt.datetime
    p12: bytes


def _new_card_key() -> rsa.RSAPrivateKey:
    """A card's own key: RSA-2048, as the 利用者証明用電子証明書's. (The test suite, which issues
    hundreds of cards, hands out keys from a pool here instead: tests/conftest.py.)"""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """A KeyUsage extension allowing only the usages named (every other one False)."""
    usages: tuple[str, ...] = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
    )
    usages += ("key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{u: allowed.get(u, False) for u in usages})


def _number_key(ca_dir: Path) -> bytes:
    """The server secret for hashing 個人番号 (created once, mode 600)."""
    p = ca_dir / "number.key"
    if p.exists():
        return p.read_bytes()
    ca_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return p.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class CardAuthority:
    def __init__(self, key: rsa.RSAPrivateKey, cert: x509.Certificate, number_key: bytes | None = None):
        self.key = key
        self.cert = cert
        self._number_key = number_key or secrets.token_bytes(32)

    def fingerprints(self) -> dict[str, str]:
        """What identifies this CA and this 個人番号 key (SHA-256, hex; the key itself is not derivable
        from its fingerprint): every server host of one database must show the same
        (fujo.cards.host_secrets)."""
        return {
            "card_ca": hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
            "number_key": hashlib.sha256(b"fujo number key\n" + self._number_key).hexdigest(),
        }

    def number_hash(self, individual_number: str) -> str:
        """Keyed hash (HMAC-SHA256, hex) of a 個人番号: what is stored instead of the number."""
        return hmac.new(self._number_key, individual_number.encode(), hashlib.sha256).hexdigest()

    @classmethod
    def load_or_create(cls, ca_dir: Path) -> CardAuthority:
        """The card authority of ``ca_dir``, made there on first use. Under a lock on the folder: the
        workers of `fujo serve --workers N` start at once on a fresh data folder, and each making its
        own authority (the last one's files winning) left the others with keys that no longer match
        the files — the database's host-secrets check then stopped the server."""
        ca_dir.mkdir(parents=True, exist_ok=True)
        with open(ca_dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            return cls._load_or_create(ca_dir)

    @classmethod
    def _load_or_create(cls, ca_dir: Path) -> CardAuthority:
        key_p, cert_p = ca_dir / "ca.key.pem", ca_dir / "ca.cert.pem"
        if key_p.exists() and cert_p.exists():
            loaded = serialization.load_pem_private_key(key_p.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):  # the CA signs with RSA (PKCS#1 v1.5) only
                raise ValueError(f"{key_p} does not hold an RSA key")
            cert = x509.load_pem_x509_certificate(cert_p.read_bytes())
            return cls(loaded, cert, _number_key(ca_dir))
        ca_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fujo test card authority"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"fujo Test JPKI CA {uuid.uuid4().hex[:8]}"),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=20 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                _key_usage(key_cert_sign=True, crl_sign=True),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        fd = os.open(key_p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        cert_p.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(key, cert, _number_key(ca_dir))

    def issue(
        self, subject_id: str, pin: str, not_before: dt.datetime | None = None, not_after: dt.datetime | None = None
    ) -> IssuedCard:
        """A new card: fresh RSA-2048 key, certificate for ``subject_id``, PKCS#12 sealed with ``pin``."""
        key = _new_card_key()
        now = dt.datetime.now(dt.UTC)
        nb = not_before or now - dt.timedelta(minutes=5)
        na = not_after or now + dt.timedelta(days=CARD_VALIDITY_DAYS)
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                        x509.NameAttribute(NameOID.COMMON_NAME, subject_id),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(nb)
            .not_valid_after(na)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(digital_signature=True),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        # The friendly name (readable without the PIN, as a real card's 利用者証明用 certificate is)
        # carries the serial: the reader on the desk lists the card and checks a PIN-lock reset by it.
        p12 = pkcs12.serialize_key_and_certificates(
            f"{CARD_NAME_PREFIX}{cert.serial_number:x}".encode(),
            key,
            cert,
            [self.cert],
            serialization.BestAvailableEncryption(pin.encode()),
        )
        return IssuedCard(
            serial=format(cert.serial_number, "x"),
            fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            not_before=nb,
            not_after=na,
            p12=p12,
        )

    def pin_reset_token(self, serial: str, now: dt.datetime, ttl: dt.timedelta = PIN_RESET_TTL) -> str:
        """A token clearing the PIN lock of the card ``serial`` at the reader (single use there): its
        claims, signed with the CA key; the reader checks it with the CA certificate alone."""
        claims = {
            "serial": serial.lower(),
            "expires_at": int((now + ttl).timestamp()),
            "nonce": secrets.token_urlsafe(12),
        }
        body = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64url(body)}.{_b64url(sign(self.key, PIN_RESET_CONTEXT + body))}"

    def verify_chain(self, cert: x509.Certificate) -> bool:
        try:
            cert.verify_directly_issued_by(self.cert)
            return True
        except (ValueError, TypeError, Exception):  # InvalidSignature included
            return False


def proof_message(nonce: str, facility_code: str, consent_bits: str) -> bytes:
    """What the card signs: the challenge, bound to the facility and the consent given at the reader."""
    return f"fujo-card-proof/v1\n{nonce}\n{facility_code}\n{consent_bits}".encode()


def sign(key, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


PIN_RESET_CONTEXT = b"fujo-pin-reset/v1\n"  # what a reset token signs: this, then its claims (JSON)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TokenRefused(ValueError):
    """A PIN-lock reset token that does not verify; ``reason``: malformed, forged, expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def verify_pin_reset_token(ca_cert: x509.Certificate, token: str, now: dt.datetime) -> dict[str, Any]:
    """The claims (serial, expires_at, nonce) of a reset token signed by this CA, unexpired."""
    try:
        body_b64, sig_b64 = token.strip().split(".")
        body, sig = (base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)) for x in (body_b64, sig_b64))
        claims = json.loads(body)
        ok = isinstance(claims, dict) and {"serial", "expires_at", "nonce"} <= set(claims)
        ok = ok and isinstance(claims["serial"], str) and isinstance(claims["expires_at"], int)
    except (ValueError, TypeError, AttributeError):
        raise TokenRefused("malformed") from None
    if not ok:
        raise TokenRefused("malformed")
    key = ca_cert.public_key()
    try:
        if not isinstance(key, rsa.RSAPublicKey):
            raise TypeError("not RSA")
        key.verify(sig, PIN_RESET_CONTEXT + body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, TypeError, ValueError):
        raise TokenRefused("forged") from None
    if now.timestamp() > claims["expires_at"]:
        raise TokenRefused("expired")
    return claims
