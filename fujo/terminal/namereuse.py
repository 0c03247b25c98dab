"""The name-reuse race, as a レセコン at full speed drives it: several clients, each cycling a small
set of request file names, each writing its next request under a name as soon as it has read (and
removed) the previous outcome under that name. Every request written must get exactly one outcome
— an answer, or a ``.err`` (for fujo's agent: FJ1007, the name was already answered) — none may
be lost, and no outcome may be left over.

Each request carries its own ``ArbitraryFileIdentifier``, which an answer echoes, and a ``.err``
names the request's ``RequestSHA256``: so an outcome that belongs to another request (a second
answer to an earlier one) is caught, not just counted. Used by the vendor acceptance-test kit
(case ``name_reuse``) and by the tests.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import requestfiles as rf


@dataclass
class Sent:
    client: int
    seq: int
    name: str  # request id (what follows ``req_``)
    arbitrary_id: str
    sha: str
    written: float  # time.monotonic() when written
    outcome: str = ""  # the outcome file's name
    error_code: str = ""


def _err_fields(text: str) -> dict:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def run_race(
    folder: Path,
    kind: str,
    make_request: Callable[[str], bytes],
    *,
    prefix: str,
    clients: int = 3,
    per_client: int = 10,
    names_per_client: int = 2,
    timeout: float = 15.0,
    idle: Callable[[], bool] | None = None,
) -> tuple[list[Sent], list[str]]:
    """Run the race; returns every request sent and the problems found (empty: passed).

    ``make_request(arbitrary_id)`` builds one request file's bytes. ``timeout`` bounds the wait for
    each outcome; the whole race is bounded by ``timeout`` × requests per name. ``idle``, when
    given, says when the agent has nothing left in hand (checked, bounded, before looking for
    left-over outcomes); otherwise a short pause is left for a late extra outcome to show."""
    folder = Path(folder)
    res = folder / "res"
    sent: list[Sent] = []
    problems: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def problem(text: str) -> None:
        with lock:
            problems.append(text)
        stop.set()

    def outcome_files(rid: str) -> list[Path]:
        stem = f"{kind}res_{rid}"
        return [p for p in (res / f"{stem}.xml", res / f"{stem}.zip", res / f"{stem}.err") if p.exists()]

    def client(c: int) -> None:
        names = [f"{prefix}c{c}n{j}" for j in range(names_per_client)]
        waiting: dict[str, Sent | None] = dict.fromkeys(names)
        seq = 0

        def write(name: str) -> None:
            nonlocal seq
            aid = f"{prefix}-{c}-{seq}"
            data = make_request(aid)
            s = Sent(c, seq, name, aid, hashlib.sha256(data).hexdigest(), time.monotonic())
            seq += 1
            with lock:
                sent.append(s)
            rf.drop(folder, kind, name, data)
            waiting[name] = s

        for name in names:
            if seq < per_client:
                write(name)
        while not stop.is_set() and any(waiting.values()):
            for name, s in list(waiting.items()):
                if s is None:
                    continue
                found = outcome_files(name)
                if not found:
                    if time.monotonic() - s.written > timeout:
                        problem(
                            f"request {s.arbitrary_id} (client {c}, #{s.seq}) written as {kind}req_{name}.xml "
                            f"got no outcome within {timeout:.0f} s: lost"
                        )
                        return
                    continue
                if len(found) > 1:
                    problem(
                        f"request {s.arbitrary_id} under {name}: more than one outcome "
                        f"({', '.join(p.name for p in found)})"
                    )
                    return
                try:
                    a = rf.read_answer(found[0])
                except Exception as e:
                    problem(f"request {s.arbitrary_id}: outcome {found[0].name} unreadable ({type(e).__name__}: {e})")
                    return
                found[0].unlink()
                s.outcome = found[0].name
                if a.err_text is not None:  # an .err answer
                    f = _err_fields(a.err_text)
                    s.error_code = f.get("ErrorCode", "")
                    if f.get("RequestSHA256", s.sha) != s.sha:
                        problem(
                            f"request {s.arbitrary_id}: {s.outcome} is the outcome of another request "
                            "(RequestSHA256 differs): a request answered twice"
                        )
                        return
                else:
                    s.error_code = a.get("MessageHeader/ErrorCode") or ""
                    echo = a.get("MessageHeader/ArbitraryFileIdentifier")
                    if echo != s.arbitrary_id:
                        problem(
                            f"request {s.arbitrary_id}: {s.outcome} answers {echo!r}, another request: "
                            "a request answered twice"
                        )
                        return
                waiting[name] = None
                if seq < per_client:
                    write(name)  # at once, under the name just answered
            time.sleep(0.005)

    threads = [threading.Thread(target=client, args=(c,), daemon=True, name=f"race-client-{c}") for c in range(clients)]
    for t in threads:
        t.start()
    bound = timeout * (per_client + 1)
    for t in threads:
        t.join(timeout=bound)
    if any(t.is_alive() for t in threads):
        stop.set()
        problems.append(f"the race did not finish within {bound:.0f} s")
        return sent, problems
    if not problems:
        if idle is not None:
            deadline = time.monotonic() + timeout
            while not idle() and time.monotonic() < deadline:
                time.sleep(0.02)
        else:
            time.sleep(0.5)
        left = sorted(p.name for p in res.iterdir() if p.name.startswith(f"{kind}res_{prefix}"))
        if left:
            problems.append(
                f"outcomes nobody asked for were left in res/: {', '.join(left)} (a request answered twice)"
            )
        missing = [s.arbitrary_id for s in sent if not s.outcome]
        if missing:
            problems.append(f"requests without an outcome: {', '.join(missing)}")
    return sent, problems
