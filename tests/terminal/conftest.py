"""Fixtures for the terminal agent: a real HTTP server (uvicorn on a free port), a real shared
folder under tmp_path, and the agent running in a background thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fujo.terminal.agent import Agent
from fujo.terminal.client import ServerClient
from fujo.terminal.localserver import LocalServer


@pytest.fixture
def server(app):
    with LocalServer(app) as s:
        yield s


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / "oqs"


class RunningAgent:
    def __init__(self, agent: Agent):
        self.agent = agent
        self.stop = threading.Event()
        self.thread = threading.Thread(target=agent.run, args=(self.stop,), daemon=True)

    @property
    def folder(self):
        return self.agent.folder


@pytest.fixture
def make_agent(server, folder, world, tmp_path):
    """Start an agent for a facility of the world (default: the clinic) on ``folder``."""
    running = []

    def start(key: str = "clinic", url: str | None = None, **kw) -> RunningAgent:
        client = ServerClient(url or server.url, world.tokens[key], timeout=5)
        kw.setdefault("grace", 1.0)
        r = RunningAgent(Agent(folder, client, tmp_path / f"state-{key}", **kw))
        r.thread.start()
        running.append(r)
        return r

    yield start
    for r in running:
        r.stop.set()
        r.thread.join(timeout=10)
        r.agent.client.close()


@pytest.fixture
def agent(make_agent) -> RunningAgent:
    return make_agent()


def wait_for(path_or_fn, timeout: float = 15.0):
    """Poll until a file exists (returns its Path) or a function returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(path_or_fn):
            v = path_or_fn()
            if v:
                return v
        elif Path(path_or_fn).exists():
            return Path(path_or_fn)
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {path_or_fn}")
