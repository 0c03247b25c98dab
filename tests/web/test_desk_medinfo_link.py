"""After a card check with consent, the result screen leads a 医師・歯科医師・薬剤師 to the patient's
薬剤情報等; reception sees no such link, and a check without consent offers none."""

from __future__ import annotations

import pytest

from fujo.accounts.service import create_user
from fujo.cards.reader import prove
from fujo.core.dates import today_jst
from tests.factories import CLINIC
from tests.web.conftest import csrf_of


def _signed_in(client, world, role: str) -> str:
    login = f"clinic-{role}"
    create_user(
        world.db, world.orgs["clinic"]["id"], login=login, password="role-pass-1234", display_name=login, role=role
    )
    tok = csrf_of(client.get("/login").text)
    client.post("/login", data={"csrf_token": tok, "org_code": CLINIC, "login": login, "password": "role-pass-1234"})
    return csrf_of(client.get("/desk").text)


def _card_check(client, csrf, card, consent: dict) -> str:
    ch = client.post("/desk/check/card/challenge", headers={"X-CSRF-Token": csrf}).json()["challenge"]
    proof = prove(card["path"].read_bytes(), card["pin"], ch, CLINIC, consent).as_dict()
    res = client.post("/desk/check/card", data={"csrf_token": csrf, **proof})
    assert res.status_code == 200, res.text
    return res.text


@pytest.mark.parametrize(("role", "shown"), [("clinician", True), ("reception", False)])
def test_the_link_to_medication_information_follows_consent_and_role(client, world, role, shown):
    r = world.recipient()
    world.ticket(r, on=today_jst(), facility=CLINIC)
    card = world.card(r)
    csrf = _signed_in(client, world, role)
    page = _card_check(client, csrf, card, {"PharmacistsInfo": True})
    assert ('id="medinfo-link"' in page) is shown
    if shown:
        assert "/desk/medinfo/medication?check_id=" in page
    page = _card_check(client, csrf, card, {})
    assert 'id="medinfo-link"' not in page
