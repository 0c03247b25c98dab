"""Two `fujo serve` processes on one PostgreSQL behave as one (issue 12, "no per-process state"): a token
revoked through one is refused by the other at once — though each keeps tokens for an hour here
(FUJO_AUTH_CACHE_SECONDS=3600), so only the announcement (fujo.orgs.auth_listener) can explain it —,
and failed sign-ins counted on both lock the login on both."""

from __future__ import annotations

import re

import httpx
import pytest

from fujo import outbound
from fujo.accounts.service import create_user
from tests.conftest import _empty
from tests.db.throwaway_pg import fujo_serve, poll, wait_ready
from tests.factories import World

PASSWORD = "correct-horse-battery"


@pytest.fixture
def pair(postgresql_database, ca, tmp_path, monkeypatch):
    """The world on the test's PostgreSQL database, served by two processes: (world, base A, base B)."""
    db = postgresql_database
    _empty(db)
    world = World(db, ca, tmp_path)
    monkeypatch.setenv("FUJO_AUTH_CACHE_SECONDS", "3600")
    with fujo_serve(db.url, tmp_path) as (a, base_a):
        wait_ready(a, base_a)  # the first creates the data folder's card CA; the second finds it
        with fujo_serve(db.url, tmp_path) as (b, base_b):
            wait_ready(b, base_b)
            yield world, base_a, base_b


def sign_in(base: str, login: str, password: str) -> httpx.Response:
    with outbound.client(base_url=base, timeout=30) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        return c.post(
            "/login",
            data={"csrf_token": token.group(1), "org_code": "13001", "login": login, "password": password},
        )


def test_a_revocation_and_the_sign_in_throttle_hold_across_two_server_processes(pair):
    world, base_a, base_b = pair
    manager = world.auth("admin")
    reception = world.role_auth("clinic", "reception")
    whoami = "/api/v1/facility/settings"
    for base in (base_a, base_b):  # both processes have authenticated (and keep) the token
        assert outbound.get(base + whoami, headers=reception, timeout=30).status_code == 200
    creds = outbound.get(
        f"{base_a}/api/v1/organisations/{world.orgs['clinic']['id']}/credentials", headers=manager, timeout=30
    )
    cid = next(c["id"] for c in creds.json() if c["role"] == "reception" and not c["revoked"])
    revoked = outbound.delete(
        f"{base_a}/api/v1/organisations/{world.orgs['clinic']['id']}/credentials/{cid}", headers=manager
    )
    assert revoked.status_code == 204
    assert outbound.get(base_a + whoami, headers=reception, timeout=30).status_code == 401
    # the other process: refused within the time a notification takes (its cache would keep it an hour)
    assert poll(lambda: outbound.get(base_b + whoami, headers=reception, timeout=30).status_code == 401, 30)

    create_user(
        world.db, world.orgs["office"]["id"], login="clerk", password=PASSWORD, display_name="担当", role="manager"
    )
    for i in range(5):  # five failures, alternating between the two processes
        r = sign_in(base_a if i % 2 else base_b, "clerk", "wrong-password")
        assert r.status_code == 401 and "正しくありません" in r.text
    for base in (base_a, base_b):  # locked on both, even with the right password
        r = sign_in(base, "clerk", PASSWORD)
        assert r.status_code == 401 and "しばらく（15分）受け付けません" in r.text
