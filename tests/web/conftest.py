"""The screens' fixtures. The HTTP tests of the screens (TestClient) run on SQLite and on PostgreSQL,
as every test that takes ``db`` (unless its module pins it). The browser tests (``*_browser.py``, and tests/medinfo/test_browser.py)
drive Debian's Chromium (its headless shell) through Playwright against a real uvicorn server on a free 127.0.0.1 port (in
a thread; ``live`` in tests/conftest.py) serving the app of the parametrised ``db``, and each of their
modules pins ``db`` to PostgreSQL (``pytestmark``): they run once, on the production database."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

# the browser, page, live server and `serving` are in tests/conftest.py: one Chromium headless shell per
# test worker (and the full Chromium for tests marked `full_chromium`), shared by every package's browser tests
from tests.conftest import serving

# The README's screenshots are refreshed only when asked (FUJO_UPDATE_SCREENSHOTS=1); otherwise the
# tests still take them, into a temporary folder, so that `make test` leaves the work tree clean.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("FUJO_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="fujo-screenshots-"))
)
if SCREENSHOTS.name.startswith("fujo-screenshots-"):  # a temporary folder: gone with the test process
    atexit.register(shutil.rmtree, SCREENSHOTS, True)

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
    管理者. Users of the other roles are made by the tests that need them (``signed_in`` below,
    ``web_user`` in tests/api/test_authorisation.py, used by tests/web/test_screens_by_role_browser.py)."""
    from fujo.accounts.service import create_user

    for key, pw in PASSWORDS.items():
        create_user(world.db, world.orgs[key]["id"], login=key, password=pw, display_name=f"{key}担当", role="manager")
    return {k: (world.orgs[k]["code"], k, pw) for k, pw in PASSWORDS.items()}


def sign_in(page, live: str, creds: tuple[str, str, str]):
    org_code, login, password = creds
    page.goto(f"{live}/login")
    page.get_by_label("組織コード").fill(org_code)
    page.get_by_label("ログインID").fill(login)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="サインイン").click()


def signed_in(app, db, org: dict, login: str, role: str = "manager"):
    """A new web user of ``org`` with ``role``, signed in over HTTP: (TestClient, the CSRF token of
    the page the sign-in led to)."""
    from fastapi.testclient import TestClient

    from fujo.accounts.service import create_user

    create_user(db, org["id"], login=login, password="role-pass-1234", display_name=login, role=role)
    c = TestClient(app)
    tok = csrf_of(c.get("/login").text)
    res = c.post(
        "/login",
        data={"csrf_token": tok, "org_code": org["code"], "login": login, "password": "role-pass-1234"},
        follow_redirects=False,
    )
    assert res.status_code == 303
    return c, csrf_of(c.get(res.headers["location"]).text)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def reader_port() -> int:
    """A free 127.0.0.1 port for the test's card reader (``reader`` starts it there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(tmp_path, db, reader_port):
    """The app's settings, pointing the pages (and their CSP) at the test's card reader."""
    from fujo.config import Settings

    return Settings(database_url=db.url, data_dir=tmp_path, reader_url=f"http://127.0.0.1:{reader_port}")


@pytest.fixture
def reader(reader_port, live, world):
    """The card reader on the desk (`fujo reader`) in a background thread: its slot is the world's card
    folder, and only the pages of ``live`` may use it. Its base URL."""
    from fujo.cards.reader_app import Slot, create_reader_app

    app = create_reader_app(Slot(world.tmp, world.ca.cert), [live])
    with serving(app, reader_port, "the reader") as url:
        yield url
