"""The agent's own state, kept in its state directory (never in the shared folder):

- the ledger of answered request files, so that a restart or a re-dropped file never produces a
  second answer to the same request;
- the 受付番号 (ReceptionNumber) handed out by OQSmutic01, so that OQSmutic02 can be answered.

Only file names, hashes, codes and months are stored: no personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from ..core.dates import now_jst
from .xmlio import atomic_write

KEEP_DAYS = 30  # ledger entries older than this are dropped at start
RECEPTION_DAYS = 7  # a ReceptionNumber can be fetched with OQSmutic02 for this long


# Outcomes recorded only so that a crash cannot repeat them (see Ledger): they are not *the*
# answer to a file name, so they never replace the entry a later re-send is judged by.
MARKERS = frozenset(
    {
        "duplicate_request",  # FJ1007 .err for a re-used name
        "repeated",
    }
)  # the same bytes again while their answer was still in res/


@dataclass
class Answered:
    name: str  # request file name
    sha256: str  # of the request bytes
    at: str  # ISO time of the answer
    outcome: str  # "ok", or the error slug (or one of MARKERS)
    answer: str  # the file written in res/ (name only; "" when none was written)
    take: str = ""  # id of the hand-over (in-flight file) this entry settles; "" in old ledgers


class Ledger:
    """Append-only JSON lines, one per request file handled, fsync'd: the commit point of a
    hand-over (see agent.py). Two views of it:

    - per file name, the answer a re-sent name is judged by (the last entry whose outcome is not
      one of MARKERS): FJ1007 unless that answer was TRANSIENT;
    - the set of hand-over ids already settled, so that an in-flight file found after a crash is
      finished (its staged answer published) rather than answered a second time.

    Thread-safe: the agent's workers record concurrently (never two for one file name at once)."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "ledger.jsonl"
        self._lock = threading.Lock()
        self._entries: dict[str, Answered] = {}
        self._takes: dict[str, Answered] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        cutoff = (now_jst() - dt.timedelta(days=KEEP_DAYS)).isoformat()
        kept = []
        for line in self.path.read_text("utf-8").splitlines():
            try:
                e = Answered(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a torn last line after a crash: that hand-over was not settled, it is redone
            if e.at >= cutoff:
                self._index(e)
                kept.append(line)
        atomic_write(self.path, ("\n".join(kept) + "\n" if kept else "").encode())

    def _index(self, e: Answered) -> None:
        if e.outcome not in MARKERS:
            self._entries[e.name] = e
        if e.take:
            self._takes[e.take] = e

    def get(self, name: str) -> Answered | None:
        with self._lock:
            return self._entries.get(name)

    def settled(self, take: str) -> Answered | None:
        """The entry of hand-over ``take`` when it reached its commit point (its line is on disk)."""
        with self._lock:
            return self._takes.get(take)

    def record(self, entry: Answered) -> None:
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry.__dict__, ensure_ascii=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._index(entry)


class Receptions:
    """受付番号 → 診療年月 of a 委託先一括取得 request."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "receptions.json"
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def create(self, month: str) -> str:
        now = now_jst()
        # 14 digits of time + 6 random digits: sortable, unguessable enough, digits only like real ones.
        number = now.strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"
        with self._lock:
            data = {
                k: v
                for k, v in self._read().items()
                if v["at"] >= (now - dt.timedelta(days=RECEPTION_DAYS)).isoformat()
            }
            data[number] = {"month": month, "at": now.isoformat()}
            atomic_write(self.path, json.dumps(data, indent=1).encode())
        return number

    def month_of(self, number: str) -> str | None:
        v = self._read().get(number)
        if not v or v["at"] < (now_jst() - dt.timedelta(days=RECEPTION_DAYS)).isoformat():
            return None
        return v["month"]
