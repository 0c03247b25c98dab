"""Test fixtures: every test that takes ``db`` runs on SQLite and on PostgreSQL.

PostgreSQL is required: if it cannot be reached the run fails (it is never skipped). Each xdist
worker gets its own PostgreSQL database and SQLite file, migrated once with Alembic (so the
migrations themselves are tested), and every test starts from empty tables.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn
from fastapi.dependencies import models as fastapi_dependency_models
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from fujo.cards.ca import CardAuthority
from fujo.config import Settings
from fujo.db import schema
from fujo.db.database import Database
from fujo.db.migrate import upgrade

# Hypothesis's per-example deadline (200 ms) is a timing assertion: on these shared 2-core machines a
# date parse has taken 277 ms under load. Examples are bounded by the suite's own timeouts instead.
hypothesis_settings.register_profile("fujo", deadline=None)
hypothesis_settings.load_profile("fujo")

PG_ADMIN_URL = os.environ.get("FUJO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_url(tmp_name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{tmp_name}"


@pytest.fixture(scope="session")
def postgresql_database():
    name = f"fujo_test_{_worker()}_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # pragma: no cover - the point is to fail loudly
        pytest.fail(f"PostgreSQL is required for the test suite and is not reachable at {PG_ADMIN_URL}: {e}")
    db = Database(_pg_url(name))
    upgrade(db)
    yield db
    db.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "fujo.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    yield db
    db.dispose()


def _empty(db: Database) -> None:
    """Empty every table, children first. DELETE rather than PostgreSQL's TRUNCATE … RESTART
    IDENTITY CASCADE: on these small tables it is several times faster (TRUNCATE rewrites every
    table's files), and no test may depend on ids starting at 1."""
    statements = [f"DELETE FROM {t.name}" for t in reversed(schema.metadata.sorted_tables)]
    statements.append("INSERT INTO counters (name, value) VALUES ('ticket_seq', 0)")
    with db.engine.begin() as c:
        if c.dialect.name == "postgresql":  # one round trip, not one a table (11 → 5 ms a test, measured)
            c.exec_driver_sql("; ".join(statements))
        else:  # sqlite3 runs one statement an execute; in-process, each costs microseconds
            for st in statements:
                c.exec_driver_sql(st)


@pytest.fixture(params=BACKENDS)
def db(request) -> Database:
    """An empty, migrated database — once on SQLite, once on PostgreSQL."""
    d = request.getfixturevalue(f"{request.param}_database")
    _empty(d)
    return d


@pytest.fixture(scope="session")
def ca(tmp_path_factory) -> CardAuthority:
    return CardAuthority.load_or_create(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def settings(tmp_path, db) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path)


@pytest.fixture
def app(settings, db, ca):
    from fujo.api.app import create_app

    return create_app(settings, db, ca)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


# The world's rows, made once a process for each database and card CA, then copied back into the
# emptied tables before each test: making it (seven organisations, their tokens, three settings) took
# 70 ms a test on PostgreSQL and 24 ms on SQLite, copying it back a few.
_WORLDS: dict[tuple[str, int], tuple[dict, dict, list[tuple[Any, list[dict]]]]] = {}


# Rows a server writes when it starts (the host's fingerprints, fujo.cards.host_secrets), not the world's:
# a test that starts its client before asking for the world has them already.
_NOT_THE_WORLDS = (schema.installation,)


def _world_rows(db: Database) -> list[tuple[Any, list[dict]]]:
    tables = [t for t in schema.metadata.sorted_tables if t not in _NOT_THE_WORLDS]
    with db.read() as conn:
        found = [(t, [dict(r._mapping) for r in conn.execute(t.select())]) for t in tables]
    return [(t, rows) for t, rows in found if rows]


@pytest.fixture
def world(db, ca, tmp_path):
    """A small populated world (see tests/factories.py): offices, facilities, an insurer, tokens —
    the same rows and tokens in every test of a process (the tables are emptied before each)."""
    from fujo.orgs.service import clear_auth_cache
    from tests.factories import World

    key = (db.url, id(ca))
    if key not in _WORLDS:
        # only a world made in empty tables is kept (an earlier fixture of this test may have written)
        alone = all(t is schema.counters for t, _ in _world_rows(db))
        w = World(db, ca, tmp_path)
        if alone:
            _WORLDS[key] = (dict(w.tokens), dict(w.orgs), _world_rows(db))
        return w
    tokens, orgs, tables = _WORLDS[key]
    try:
        with db.engine.begin() as conn:
            conn.execute(schema.counters.delete())  # _empty's ticket_seq row is among the world's rows
            for table, rows in tables:
                conn.execute(table.insert(), rows)
    except IntegrityError:  # an earlier fixture of this test wrote rows in the way: make the world anew
        return World(db, ca, tmp_path)
    clear_auth_cache()  # a principal an earlier test cached under the same token may have changed since
    w = World.__new__(World)
    w.db, w.ca, w.tmp = db, ca, tmp_path
    w.tokens, w.orgs, w.numbers = dict(tokens), {k: dict(v) for k, v in orgs.items()}, {}
    return w


def _how_included(include_context) -> str:
    """How a router was included (prefix, tags, dependencies …), whatever the app it was included in."""
    import dataclasses

    return repr(dataclasses.replace(include_context, dependency_overrides_provider=None))


@pytest.fixture(scope="session", autouse=True)
def _routes_built_once_a_process():
    """FastAPI (0.165) builds each included route's request and answer handling (a pydantic adapter
    for every parameter and model) anew for every app, on the app's first request: 0.6–1.2 s here,
    in a suite where nearly every test makes its own app (its own settings and database). The build
    depends only on the route and how its router was included, so the suite keeps it for the
    process. Production makes one app a process and is not concerned. The build also remembers
    the app for ``dependency_overrides``, which no test uses. A FastAPI without this internal
    runs the suite as it is, only slower."""
    from fastapi import routing

    cls = getattr(routing, "_EffectiveRouteContext", None)
    build = getattr(cls, "from_api_route", None)
    if build is None:
        yield
        return
    built: dict = {}

    def once(*, original_route, include_context):
        how = _how_included(include_context)
        key = (id(original_route), how)  # the route is kept with its build: its id is never reused
        if key not in built:
            built[key] = (original_route, build(original_route=original_route, include_context=include_context))
        return built[key][1]

    cls.from_api_route = once
    yield
    cls.from_api_route = build


# --- the interpreter's heap ---------------------------------------------------------------------
# FastAPI keeps, per process, which dependency callables are generators or coroutines, in caches of
# 4,096 entries keyed by the callable (fastapi.dependencies.models): a dependency that closes over its
# app (as fujo's do) keeps that app alive. Production makes one app a process; the suite makes one a
# test, and each worker held 230–580 apps (0.7–1.1 million objects) by the end, which every full
# collection of the cyclic garbage collector walked: 4–9 s a worker, and a longer run for everything
# else. The caches are emptied after each test, so a test's app goes with it.
# (A FastAPI without these internals has nothing to empty: the suite runs as it is.)
_FASTAPI_CALL_CACHES = [
    cache
    for name in ("_is_gen_callable_cached", "_is_async_gen_callable_cached", "_is_coroutine_callable_cached")
    if hasattr(cache := getattr(fastapi_dependency_models, name, None), "cache_clear")
]


@pytest.fixture(autouse=True)
def _apps_let_go():
    yield
    for cache in _FASTAPI_CALL_CACHES:
        cache.cache_clear()


_TESTS_RUN = itertools.count(1)


def pytest_collection_finish(session):
    """What every test needs and nothing frees (the modules, their classes and functions: 180,000
    objects) is moved out of the collector's sight once collected; again every 100 tests, for what
    the process keeps for good by then (built routes, OpenAPI documents, worlds). The collector then
    walks what tests make, not the whole program: full collections over tests/api and tests/registry in
    one process took 4.1 s, 3.7 s with the caches above emptied, 3.3 s with the heap frozen after
    collection and 2.2 s frozen again every 100 tests (``gc.callbacks``; the whole suite's A/B is in
    docs/PERFORMANCE.md). Nothing is leaked: frozen objects are still freed when their last reference
    goes (only cycles among them are not)."""
    gc.collect()
    gc.freeze()


def pytest_runtest_teardown(item, nextitem):
    if next(_TESTS_RUN) % 100 == 0:
        gc.collect()
        gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def _openapi_built_once_a_process():
    """The OpenAPI document takes 2–4 s to generate here and every app of the suite publishes the
    same one (the same routes, whatever its database or settings): it is generated once a process
    for each set of routes, and each app gets its own copy. Production generates it once anyway."""
    import copy

    from fujo.api.app import App

    made: dict = {}
    generate = App.openapi

    def routes_of(app) -> tuple:
        out = []
        for r in app.router.routes:
            inc = getattr(r, "include_context", None)
            if inc is not None:  # an included router: itself and how it was included
                out.append((id(r.original_router), _how_included(inc)))
            else:  # a route of the app's own (made anew with each app): what it is, not which object
                fn = getattr(r, "endpoint", None)
                what = (getattr(fn, "__module__", None), getattr(fn, "__qualname__", None))
                out.append((type(r).__name__, r.path, tuple(sorted(getattr(r, "methods", None) or ())), what))
        return tuple(out)

    def openapi(self):
        if self.openapi_schema is None:
            key = routes_of(self)
            if key not in made:
                made[key] = (list(self.router.routes), generate(self))  # the routers kept: ids never reused
            self.openapi_schema = copy.deepcopy(made[key][1])
        return self.openapi_schema

    App.openapi = openapi
    yield
    App.openapi = generate


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashing():
    """Production scrypt (n=2**14) is slow on purpose; the suite hashes thousands of passwords.
    Hash them at n=2**10 here — a stored hash names its own parameters, so verifying is the same
    code either way (tests/accounts checks the production cost)."""
    from fujo.accounts import service

    saved = service._SCRYPT
    service._SCRYPT = (2**10, 8, 1)
    yield
    service._SCRYPT = saved


@pytest.fixture(scope="session", autouse=True)
def _cli_built_once_a_process():
    """typer's test runner turns the ``fujo`` app into its click command anew on every invoke
    (4 % of the suite's time); the command depends only on the app, and the real CLI builds it once
    a process too. Kept for the process, by app."""
    from typer import testing

    build = testing._get_command
    built: dict = {}

    def once(app):
        if id(app) not in built:
            built[id(app)] = (app, build(app))  # the app kept with its command: its id is never reused
        return built[id(app)][1]

    testing._get_command = once
    yield
    testing._get_command = build


@pytest.fixture(scope="session", autouse=True)
def _card_keys_from_a_pool():
    """A card's RSA-2048 key takes 95 ms to make here and the suite issues cards by the hundred: each
    process makes 32 and hands them out in turn, so the cards a test issues (far fewer than 32) never
    share a key. The keys are made as production makes them (tests/cards checks a card's key)."""
    from fujo.cards import ca

    make = ca._new_card_key
    pool: list = []
    turn = itertools.count()

    def from_the_pool():
        i = next(turn) % 32
        if i == len(pool):
            pool.append(make())
        return pool[i]

    ca._new_card_key = from_the_pool
    yield
    ca._new_card_key = make


@pytest.fixture(scope="session", autouse=True)
def _card_files_opened_once():
    """Opening a card file (PKCS#12, its PIN stretched by PBKDF2) takes 80 ms here, and the suite's
    checks by card open the same few files again and again: a file opened with its right PIN is
    kept for the process. A wrong PIN, a damaged file or a PIN that is not 4 digits is refused
    by the real ``open_card`` every time (the reader counts those)."""
    from fujo.cards import reader

    real = reader.open_card
    opened: dict = {}

    def open_card(data: bytes, pin: str):
        if (data, pin) not in opened:
            opened[(data, pin)] = real(data, pin)
        return opened[(data, pin)]

    reader.open_card = open_card
    yield
    reader.open_card = real


# --- real servers and the browser (tests/web, tests/medinfo …) ---------------------------------

# Debian's Chromium in two builds of the same version: the headless shell (package
# chromium-headless-shell, what Playwright itself runs for headless tests) for every browser test, and
# the full browser (/usr/bin/chromium) only where a test needs what the shell lacks — its PDF viewer
# (the ``full_chromium`` mark). The shell renders with the same Blink at under half the CPU of the full
# browser's headless mode (measured: 6.9 vs 15.8 CPU-s for the screens × roles tests), and the suite is
# CPU-bound on two cores.
CHROMIUM = "/usr/bin/chromium"
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"


@contextlib.contextmanager
def serving(app, port: int | None = None, what: str = "uvicorn"):
    """``app`` served by uvicorn in a background thread on 127.0.0.1 (``port`` or a free one); its URL."""
    if port is None:
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
    assert server.started, f"{what} did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        th.join(10)


@pytest.fixture
def live(app):
    """Base URL of the app served by uvicorn in a background thread."""
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def _playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def _headless_shell(_playwright):
    b = _playwright.chromium.launch(executable_path=HEADLESS_SHELL, args=["--no-sandbox"])
    yield b
    b.close()


@pytest.fixture(scope="session")
def _full_chromium(_playwright):
    b = _playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield b
    b.close()


@pytest.fixture
def browser(request):
    """The worker's Chromium: the headless shell, or the full browser for a test marked ``full_chromium``
    (each started once a worker, when first asked for)."""
    full = request.node.get_closest_marker("full_chromium") is not None
    return request.getfixturevalue("_full_chromium" if full else "_headless_shell")


@contextlib.contextmanager
def browser_page(browser, width: int = 1100, height: int = 900):
    """A page of its own (a fresh browser context) with the suite's bounds, for every browser test."""
    from playwright.sync_api import expect

    ctx = browser.new_context(locale="ja-JP", viewport={"width": width, "height": height}, accept_downloads=True)
    p = ctx.new_page()
    p.set_default_timeout(10_000)
    # A page load is bounded more loosely: the suite's four workers and their browsers share two cores,
    # and a first navigation has been seen to take over 10 s there (a bound, not a timing assertion).
    p.set_default_navigation_timeout(30_000)
    # expect() waits as long as an action does (its own default is 5 s): a form sent while the other
    # workers load both cores has been seen to answer after more than 5 s. The setting is the module's,
    # so every page sets it, whichever a worker makes first.
    expect.set_options(timeout=10_000)
    try:
        yield p
    finally:
        ctx.close()


@pytest.fixture
def page(browser):
    with browser_page(browser) as p:
        yield p
