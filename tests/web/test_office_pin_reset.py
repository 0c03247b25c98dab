"""The welfare office issues a reset code for a locked card of its own recipient's holder (the lock
itself is kept with the card, at the reader); the code verifies against the card authority."""

from __future__ import annotations

import datetime as dt
import html
import re

from fujo.cards.ca import verify_pin_reset_token
from tests.factories import PAYER2
from tests.helpers import snapshot
from tests.web.test_office_screens import _login, _page, _rn


def _reset(client, csrf, r, serial):
    return client.post(f"{_rn(r)}/cards/{serial}/pin-reset", data={"csrf_token": csrf})


def test_the_office_issues_a_reset_code_for_its_recipients_card(client, users, world, ca, db):
    r = world.recipient()
    card = world.card(r)
    csrf = _login(client, users["office"])
    page = _page(client, _rn(r))
    assert card["serial"] in page and "解除コードを発行" in page
    res = _reset(client, csrf, r, card["serial"])
    assert res.status_code == 200, res.text
    token = html.unescape(re.search(r'<textarea id="pin-reset-token"[^>]*>([^<]+)</textarea>', res.text).group(1))
    claims = verify_pin_reset_token(ca.cert, token, dt.datetime.now(dt.UTC))
    assert claims["serial"] == card["serial"]
    log = snapshot(db)["check_log"]
    assert any("pin_reset" in map(str, row) for row in log)  # recorded: the holder's access log shows it


def test_a_card_of_someone_else_gets_no_code(client, users, world, db):
    mine, other = world.recipient(), world.recipient(office="office2", payer_number=PAYER2)
    world.card(mine)
    theirs = world.card(other)
    csrf = _login(client, users["office"])
    before = snapshot(db)
    res = _reset(client, csrf, mine, theirs["serial"])
    assert res.status_code == 404 and "pin-reset-token" not in res.text
    res = _reset(client, csrf, other, theirs["serial"])  # another office's recipient
    assert res.status_code == 403 and "pin-reset-token" not in res.text
    assert snapshot(db) == before


def test_an_unlinked_recipient_shows_no_cards(client, users, world):
    r = world.recipient()
    _login(client, users["office"])
    assert "解除コードを発行" not in _page(client, _rn(r))
