"""One terminal agent per folder: a second one refuses to start and names the process that holds
the folder (two agents answered the same request files twice)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from fujo.terminal.agent import LOCK_FILE, Agent, FolderProblem
from fujo.terminal.client import ServerClient

from .conftest import wait_for


def test_a_second_agent_on_the_same_folder_refuses_to_start(world, make_agent, server, folder, tmp_path, db):
    first = make_agent()
    wait_for(lambda: first.agent.polls > 0)
    client = ServerClient(server.url, world.tokens["clinic"], timeout=5)
    second = Agent(folder, client, tmp_path / "state-second")
    with pytest.raises(FolderProblem) as e:
        second.run(once=True)
    client.close()
    assert f"process {os.getpid()}" in str(e.value)
    assert "one agent per folder" in str(e.value)
    assert (folder / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_the_folder_is_free_again_once_the_agent_stops(world, make_agent, server, folder, tmp_path):
    first = make_agent()
    wait_for(lambda: first.agent.polls > 0)
    first.stop.set()
    first.thread.join(10)
    client = ServerClient(server.url, world.tokens["clinic"], timeout=5)
    second = Agent(folder, client, tmp_path / "state-second", grace=0.2)
    done = threading.Event()
    second.run(stop=done, once=True)  # starts, finds nothing to answer, returns
    client.close()
    assert second.polls > 0


def test_the_command_line_says_which_process_holds_the_folder(world, make_agent, server, folder):
    first = make_agent()
    wait_for(lambda: first.agent.polls > 0)
    fujo = os.path.join(os.path.dirname(sys.executable), "fujo")
    out = subprocess.run(
        [fujo, "terminal", "run", "--dir", str(folder), "--server", server.url, "--once"],
        env={**os.environ, "FUJO_TERMINAL_TOKEN": world.tokens["clinic"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert f"already served by another terminal agent (process {os.getpid()})" in out.stderr
