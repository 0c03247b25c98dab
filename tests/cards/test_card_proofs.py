"""Check by card: real public-key proof. Every refusal reason is exercised through the HTTP API."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fujo.cards.ca import CardAuthority, proof_message
from fujo.cards.reader import prove
from fujo.core.dates import today_jst
from fujo.db import schema
from tests.helpers import snapshot


def _challenge(client, world, who="clinic") -> str:
    r = client.post("/api/v1/checks/card/challenge", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()["challenge"]


def _check(client, world, proof: dict, who="clinic", **extra):
    return client.post("/api/v1/checks/card", headers=world.auth(who), json={**proof, **extra})


def _refusal(res) -> str:
    assert res.status_code == 403, res.text
    err = res.json()["error"]
    assert err["code"] == "card_proof_refused"
    assert err["message_ja"] and err["message_en"]
    return err["reason"]


@pytest.fixture
def holder(world):
    r = world.recipient()
    world.ticket(r, on=today_jst())
    return r, world.card(r)


def test_a_genuine_card_with_the_right_pin_is_accepted(client, world, holder):
    r, card = holder
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    res = _check(client, world, proof)
    assert res.status_code == 200, res.text
    a1 = res.json()["ResultList"][-1]
    assert a1["InsuredCardClassification"] == "A1"
    assert a1["InsuredIdentificationNumber"] == r["recipient_number"]


def test_replayed_proof_is_refused(client, world, holder):
    _, card = holder
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    assert _check(client, world, proof).status_code == 200
    assert _refusal(_check(client, world, proof)) == "replayed"


def test_forged_certificate_from_another_authority_is_refused(client, world, holder, tmp_path):
    _, card = holder
    rogue = CardAuthority.load_or_create(tmp_path / "rogue-ca")
    forged = rogue.issue("someone", "1234")
    path = tmp_path / "forged.p12"
    path.write_bytes(forged.p12)
    proof = prove(path, "1234", _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof)) == "untrusted_certificate"


def test_signature_by_a_different_key_than_the_certificate_is_refused(client, world, holder):
    _, card = holder
    ch = _challenge(client, world)
    proof = prove(card["path"], card["pin"], ch, world.orgs["clinic"]["code"]).as_dict()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    proof["signature"] = base64.b64encode(
        other.sign(proof_message(ch, world.orgs["clinic"]["code"], "0000"), padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    assert _refusal(_check(client, world, proof)) == "bad_signature"


def test_consent_changed_after_signing_is_refused(client, world, holder):
    """The consent bits are signed by the card: a facility cannot add consent the patient did not give."""
    _, card = holder
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    proof["consent"] = "1111"
    assert _refusal(_check(client, world, proof)) == "bad_signature"


def test_proof_made_for_another_facility_is_refused(client, world, holder):
    _, card = holder
    ch = _challenge(client, world, "other")
    proof = prove(card["path"], card["pin"], ch, world.orgs["other"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof, who="clinic")) == "challenge_other_facility"


def test_unknown_challenge_is_refused(client, world, holder):
    _, card = holder
    proof = prove(card["path"], card["pin"], "made-up-nonce", world.orgs["clinic"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof)) == "unknown_challenge"


def test_expired_challenge_is_refused(client, world, holder, db):
    _, card = holder
    ch = _challenge(client, world)
    with db.write() as conn:
        conn.execute(
            schema.card_challenges.update()
            .where(schema.card_challenges.c.nonce == ch)
            .values(expires_at=db.now() - dt.timedelta(seconds=1))
        )
    proof = prove(card["path"], card["pin"], ch, world.orgs["clinic"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof)) == "challenge_expired"


def test_expired_certificate_is_refused(client, world):
    r = world.recipient()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    card = world.card(r, not_before=past - dt.timedelta(days=365), not_after=past)
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof)) == "certificate_expired"


def test_not_yet_valid_certificate_is_refused(client, world):
    r = world.recipient()
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    card = world.card(r, not_before=future, not_after=future + dt.timedelta(days=30))
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof)) == "certificate_not_yet_valid"


def test_revoked_card_is_refused(client, world, holder):
    _, card = holder
    res = client.post(f"/api/v1/cards/{card['serial']}/revoke", headers=world.auth("admin"), json={"reason": "lost"})
    assert res.status_code == 200, res.text
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof)) == "revoked"


def test_certificate_signed_by_our_ca_but_never_issued_is_refused(client, world, ca, tmp_path):
    """A certificate minted with the CA key outside the issuing process (no record) is not a card."""
    issued = ca.issue("ghost", "1234")  # not recorded in the cards table
    path = tmp_path / "ghost.p12"
    path.write_bytes(issued.p12)
    proof = prove(path, "1234", _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    assert _refusal(_check(client, world, proof)) == "unknown_card"


@pytest.mark.parametrize("field,value", [("certificate", "not base64!!"), ("signature", "%%%"), ("consent", "2x00")])
def test_malformed_proof_is_refused(client, world, holder, field, value):
    _, card = holder
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    proof[field] = value
    assert _refusal(_check(client, world, proof)) == "malformed_proof"


def test_garbage_certificate_is_refused(client, world, holder):
    _, card = holder
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    proof["certificate"] = base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
    assert _refusal(_check(client, world, proof)) == "malformed_certificate"


def test_self_signed_lookalike_with_the_same_subject_is_refused(client, world, holder, ca):
    """A certificate naming our CA as issuer but signed by another key fails the chain check."""
    _, card = holder
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    fake = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(12345)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    ch = _challenge(client, world)
    proof = {
        "challenge": ch,
        "consent": "0000",
        "certificate": base64.b64encode(fake.public_bytes(serialization.Encoding.DER)).decode(),
        "signature": base64.b64encode(
            key.sign(proof_message(ch, world.orgs["clinic"]["code"], "0000"), padding.PKCS1v15(), hashes.SHA256())
        ).decode(),
    }
    assert _refusal(_check(client, world, proof)) == "untrusted_certificate"


def test_wrong_pin_cannot_open_the_card(world, holder):
    from fujo.core.errors import ValidationFailed

    _, card = holder
    with pytest.raises(ValidationFailed) as e:
        prove(card["path"], "9999", "x", world.orgs["clinic"]["code"])
    assert e.value.problems[0].field == "pin"


def test_a_refused_proof_records_no_check(client, world, holder, db):
    _, card = holder
    proof = prove(card["path"], card["pin"], _challenge(client, world), world.orgs["clinic"]["code"]).as_dict()
    proof["consent"] = "1111"
    before = snapshot(db)["check_log"]
    _check(client, world, proof)
    assert snapshot(db)["check_log"] == before


def test_card_file_is_pin_protected_pkcs12_with_rsa_2048(holder):
    from cryptography.hazmat.primitives.serialization import pkcs12

    _, card = holder
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(card["path"].read_bytes(), None)
    key, cert, chain = pkcs12.load_key_and_certificates(card["path"].read_bytes(), card["pin"].encode())
    assert key.key_size == 2048
    assert format(cert.serial_number, "x") == card["serial"]
    assert len(chain) == 1  # the CA certificate travels with the card


def test_old_challenges_are_cleared_now_and_again(world, db, monkeypatch):
    from fujo.cards import service
    from fujo.cards.service import create_challenge

    old = create_challenge(db, world.principal("clinic"))["challenge"]
    with db.write() as conn:
        conn.execute(
            schema.card_challenges.update()
            .where(schema.card_challenges.c.nonce == old)
            .values(expires_at=db.now() - dt.timedelta(days=2))
        )
    monkeypatch.setattr(service, "CLEANUP_EVERY", 1)
    fresh = create_challenge(db, world.principal("clinic"))["challenge"]
    nonces = [row[1] for row in snapshot(db)["card_challenges"]]
    assert nonces == [fresh]
