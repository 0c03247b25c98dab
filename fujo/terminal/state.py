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

KEEP_DAYS = 30          # ledger entries older than this are dropped at start
RECEPTION_DAYS = 7      # a ReceptionNumber can be fetched with OQSmutic02 for this long


@dataclass
class Answered:
    name: str          # request file name
    sha256: str        # of the request bytes
    at: str            # ISO time of the answer
    outcome: str       # "ok", or the error slug
    answer: str        # the file written in res/ (name only)


class Ledger:
    """Append-only JSON lines, one per answered request; fsync'd before the request is removed."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / "ledger.jsonl"
        self._lock = threading.Lock()
        self._entries: dict[str, Answered] = {}
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
                continue  # a torn last line after a crash: that answer will simply be redone
            if e.at >= cutoff:
                self._entries[e.name] = e
                kept.append(line)
        atomic_write(self.path, ("\n".join(kept) + "\n" if kept else "").encode())

    def get(self, name: str) -> Answered | None:
        return self._entries.get(name)

    def record(self, entry: Answered) -> None:
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry.__dict__, ensure_ascii=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._entries[entry.name] = entry


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
            data = {k: v for k, v in self._read().items()
                    if v["at"] >= (now - dt.timedelta(days=RECEPTION_DAYS)).isoformat()}
            data[number] = {"month": month, "at": now.isoformat()}
            atomic_write(self.path, json.dumps(data, indent=1).encode())
        return number

    def month_of(self, number: str) -> str | None:
        v = self._read().get(number)
        if not v or v["at"] < (now_jst() - dt.timedelta(days=RECEPTION_DAYS)).isoformat():
            return None
        return v["month"]
