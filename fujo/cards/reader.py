"""The simulated face-recognition card reader (顔認証付きカードリーダー): opens a virtual card
file with its PIN and signs the facility's challenge. Runs on the facility side (CLI, terminal,
browser-backed screen); the server only ever sees the certificate and the signature."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ..core.errors import FieldProblem, ValidationFailed
from .ca import proof_message, sign

CONSENT_ORDER = ("PharmacistsInfo", "DiagnosisInfo", "SpecificHealthCheckupsInfo", "OperationInfo")
# Optional 5th and 6th bits (issue 7): consent to give the 限度額適用認定証 and the 特定疾病療養受療証
# information. They are written only up to the last one given, so a proof without them is exactly
# the 4-bit proof of before, and 4-bit proofs signed by older readers still verify.
LIMIT_CONSENT, SPECIFIC_DISEASES_CONSENT = "LimitApplicationCertificateRelated", "SpecificDiseasesCertificateRelated"
ALL_CONSENTS = (*CONSENT_ORDER, LIMIT_CONSENT, SPECIFIC_DISEASES_CONSENT)
# the --consent names of the command lines (`fujo check card`, the terminal's face) → the kinds above
CONSENT_NAMES = dict(zip(("medication", "diagnosis", "checkups", "surgery", "limit", "diseases"), ALL_CONSENTS))


def consent_bits(consent: dict[str, bool]) -> str:
    bits = "".join("1" if consent.get(k) else "0" for k in ALL_CONSENTS)
    return bits[: len(CONSENT_ORDER)] + bits[len(CONSENT_ORDER) :].rstrip("0")


def consent_from_bits(bits: str) -> dict[str, bool]:
    """Every kind of :data:`ALL_CONSENTS`; bits a shorter string does not have are 'no consent'."""
    return {k: i < len(bits) and bits[i] == "1" for i, k in enumerate(ALL_CONSENTS)}


@dataclass
class CardProof:
    challenge: str
    certificate: str  # base64 DER
    signature: str  # base64
    consent: str  # 4 to 6 bits, see ALL_CONSENTS

    def as_dict(self) -> dict:
        return {
            "challenge": self.challenge,
            "certificate": self.certificate,
            "signature": self.signature,
            "consent": self.consent,
        }


def open_card(data: bytes, pin: str):
    """(key, certificate) from a PKCS#12 card file; a wrong PIN is a clear refusal."""
    if not pin or not pin.isdigit() or len(pin) != 4:
        raise ValidationFailed(
            problems=[FieldProblem("pin", "pin_format", "暗証番号は数字4桁です。", "The PIN is 4 digits.")]
        )
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, pin.encode())
    except ValueError:
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "pin",
                    "pin_wrong",
                    "暗証番号が違うか、カードファイルが壊れています。",
                    "Wrong PIN or damaged card file.",
                )
            ]
        ) from None
    if key is None or cert is None:
        raise ValidationFailed(
            problems=[
                FieldProblem("card_file", "no_key", "カードファイルに鍵がありません。", "The card file holds no key.")
            ]
        )
    return key, cert


def prove(
    card_file: bytes | Path, pin: str, challenge: str, facility_code: str, consent: dict[str, bool] | None = None
) -> CardProof:
    data = card_file.read_bytes() if isinstance(card_file, Path) else card_file
    key, cert = open_card(data, pin)
    bits = consent_bits(consent or {})
    sig = sign(key, proof_message(challenge, facility_code, bits))
    return CardProof(
        challenge,
        base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        base64.b64encode(sig).decode(),
        bits,
    )
