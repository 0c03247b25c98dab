"""Browser tests: a real uvicorn server on a free 127.0.0.1 port (in a thread) serving the app of
the parametrised ``db`` fixture (so every browser test runs on SQLite and on PostgreSQL), driven by
Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"
# The README's screenshots are refreshed only when asked (FUJO_UPDATE_SCREENSHOTS=1); otherwise the
# tests still take them, into a temporary folder, so that `make test` leaves the work tree clean.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("FUJO_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="fujo-screenshots-"))
)

PASSWORDS = {
    "clinic": "clinic-pass-123",
    "other": "other-pass-123",
    "pharmacy": "pharm-pass-123",
    "office": "office-pass-123",
    "admin": "admin-pass-123",
}


@pytest.fixture
def users(world):
    """One web user per organisation of the test world: login = world key, each its organisation's
    管理者 (role tests add users of the other roles: see tests/web/test_roles.py)."""
    from fujo.accounts.service import create_user

    for key, pw in PASSWORDS.items():
        create_user(world.db, world.orgs[key]["id"], login=key, password=pw, display_name=f"{key}担当", role="manager")
    return {k: (world.orgs[k]["code"], k, pw) for k, pw in PASSWORDS.items()}


@pytest.fixture
def live(app):
    """Base URL of the app served by uvicorn in a background thread."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    th.join(10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 900}, accept_downloads=True)
    p = ctx.new_page()
    p.set_default_timeout(10_000)
    yield p
    ctx.close()


def sign_in(page, live: str, creds: tuple[str, str, str]):
    org_code, login, password = creds
    page.goto(f"{live}/login")
    page.get_by_label("組織コード").fill(org_code)
    page.get_by_label("ログインID").fill(login)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="サインイン").click()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
