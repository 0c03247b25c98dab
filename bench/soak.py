"""The mixed soak: `fujo serve` under a steady mix of the day's work for some minutes, to show that
it neither fails nor grows (docs/RELIABILITY.md).

    .venv/bin/python bench/soak.py                       # 10 minutes on SQLite (a fresh file)
    .venv/bin/python bench/soak.py --minutes 1 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/soak

Loads a synthetic data set with `fujo synth` (an empty database: a fresh SQLite file by default;
a PostgreSQL URL must name an empty database, which synth migrates), serves it with `fujo serve` in
its own process, and drives for ``--minutes``:
  * ``--check-threads`` threads checking by numbers (the synth's sample people of its facility
    organisations, each checked by its own facility's token);
  * one thread checking by My Number card (the synth's real cards: challenge, signature, check);
  * one thread downloading a facility's month (委託先資格情報一括取得), one every ``--bulk-every`` s;
  * one thread registering a recipient and a 医療券 for it (caseworker token, Idempotency-Key);
  * one CSV import of ``--import-rows`` recipients, half-way through (an import job: polled until done).
Every minute it prints the requests, the errors by status, p50/p99 and the server's RSS; at the end
the totals, RSS at start and end, and what the database holds: every check answered 200 in
``check_log``, every registration answered 201 in the registry, the audit chain verified.
Rate limits are lifted (one token per facility makes all of its checks). Exit code 1 on any error
or anything lost.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_bench import server_processes, status_kib  # noqa: E402

from fujo import outbound  # noqa: E402
from fujo.audit.verify import verify  # noqa: E402
from fujo.cards.ca import proof_message, sign  # noqa: E402
from fujo.cards.reader import open_card  # noqa: E402
from fujo.core.numbers import with_check_digit  # noqa: E402
from fujo.db import schema as s  # noqa: E402
from fujo.db.database import Database  # noqa: E402

FUJO = Path(sys.executable).parent / "fujo"
CLIENT_TIMEOUT = 60.0


@dataclass
class Stats:
    """What the load threads saw; ``take()`` hands over the minute's and starts a new one."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    minute: list[tuple[str, int, float]] = field(default_factory=list)  # kind, status (0: no answer), seconds
    total: Counter = field(default_factory=Counter)  # (kind, status) → count
    check_ids: list[int] = field(default_factory=list)
    registered: list[tuple[str, str]] = field(default_factory=list)  # (payer, recipient) answered 201
    tickets: list[str] = field(default_factory=list)  # ticket keys answered 201
    imported: list[tuple[str, str]] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # exception class → count
    wrong: int = 0  # checks by numbers answered 200 with another validity than the synth's expected one

    def add(self, kind: str, status: int, took: float) -> None:
        with self.lock:
            self.minute.append((kind, status, took))
            self.total[(kind, status)] += 1

    def take(self) -> list[tuple[str, int, float]]:
        with self.lock:
            out, self.minute = self.minute, []
        return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident set of the process and its children (``--workers`` N forks them), KiB."""
    return sum(status_kib(p, "VmRSS") for p in server_processes(pid))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def synth(url: str, datadir: Path, recipients: int, *, real_cards: int = 10, history_months: int = 3) -> dict:
    """`fujo synth` of ``recipients`` into ``url`` (its card CA in ``datadir``); its tokens, samples and cards."""
    tokens = datadir / "tokens.json"
    env = {**os.environ, "FUJO_DATABASE_URL": url, "FUJO_DATA_DIR": str(datadir)}
    offices = max(3, recipients // 2000)
    cmd = [str(FUJO), "synth", "--recipients", str(recipients), "--offices", str(offices)]
    cmd += ["--facilities", str(max(200, recipients // 10)), "--history-months", str(history_months)]
    cmd += ["--real-cards", str(real_cards)]
    subprocess.run([*cmd, "--database-url", url, "--tokens-out", str(tokens)], env=env, check=True, capture_output=True)
    return json.loads(tokens.read_text())


class Load:
    def __init__(self, base: str, data: dict, db: Database, stats: Stats, stop: threading.Event):
        self.base, self.data, self.db, self.stats, self.stop = base, data, db, stats, stop
        self.facilities = [f for f in data["facilities"] if f["samples"]]
        self.office = data["offices"][0]
        self.month = data["month"]
        self.taken = self._numbers_in_use(self.office["payer_number"])
        self.next_number = iter(n for n in range(100000, 1000000) if with_check_digit(f"{n:06d}") not in self.taken)
        self.number_lock = threading.Lock()

    def _numbers_in_use(self, payer: str) -> set[str]:
        r = s.recipients
        with self.db.engine.connect() as conn:
            return set(conn.execute(select(r.c.recipient_number).where(r.c.payer_number == payer)).scalars())

    def fresh_number(self) -> str:
        with self.number_lock:
            return with_check_digit(f"{next(self.next_number):06d}")

    def call(self, c: httpx.Client, kind: str, method: str, url: str, **kw) -> httpx.Response | None:
        sent = time.monotonic()
        try:
            res = c.request(method, url, **kw)
        except httpx.HTTPError as e:
            self.stats.add(kind, 0, time.monotonic() - sent)
            with self.stats.lock:
                self.stats.failures[type(e).__name__] += 1
            time.sleep(0.5)
            return None
        self.stats.add(kind, res.status_code, time.monotonic() - sent)
        return res

    def client(self, token: str | None = None) -> httpx.Client:
        return outbound.client(base_url=self.base, headers=auth(token) if token else {}, timeout=CLIENT_TIMEOUT)

    def checks(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.client() as c:
            while not self.stop.is_set():
                f = rng.choice(self.facilities)
                sample = rng.choice(f["samples"])
                body = {k: sample[k] for k in ("insurer_number", "identification_number", "birthdate")}
                body["confirmation_date"] = sample["confirmation_date"]
                res = self.call(c, "numbers", "POST", "/api/v1/checks/numbers", json=body, headers=auth(f["token"]))
                if res is not None and res.status_code == 200:
                    answer = res.json()
                    with self.stats.lock:
                        self.stats.check_ids.append(answer["CheckId"])
                        if answer["QualificationValidity"] != sample["expected_validity"]:
                            self.stats.wrong += 1

    def cards(self) -> None:
        tokens = {f["code"]: f["token"] for f in self.data["facilities"]}
        cards = []
        for card in self.data["cards"]:
            key, cert = open_card(Path(card["file"]).read_bytes(), card["pin"])
            der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            cards.append((card, key, der))
        rng = random.Random(7)
        with self.client() as c:
            while cards and not self.stop.is_set():
                card, key, der = rng.choice(cards)
                code = card["designated_facility_code"]
                res = self.call(
                    c, "card_challenge", "POST", "/api/v1/checks/card/challenge", headers=auth(tokens[code])
                )
                if res is None or res.status_code != 200:
                    continue
                challenge = res.json()["challenge"]
                body = {
                    "challenge": challenge,
                    "certificate": der,
                    "signature": base64.b64encode(sign(key, proof_message(challenge, code, "0000"))).decode(),
                    "consent": "0000",
                    "confirmation_date": card["confirmation_date"],
                }
                res = self.call(c, "card", "POST", "/api/v1/checks/card", json=body, headers=auth(tokens[code]))
                if res is not None and res.status_code == 200:
                    with self.stats.lock:
                        self.stats.check_ids.append(res.json()["CheckId"])

    def bulk(self, every: float) -> None:
        rng = random.Random(11)
        with self.client() as c:
            while not self.stop.wait(every):
                f = rng.choice(self.facilities)
                params = {"month": self.month}
                self.call(c, "bulk", "GET", "/api/v1/facility/tickets", params=params, headers=auth(f["token"]))

    def registrations(self, every: float) -> None:
        payer = self.office["payer_number"]
        facility = self.facilities[0]["code"]
        first = f"{self.month}-01"
        last = self._month_last()
        with self.client(self.office["token"]) as c:
            while not self.stop.wait(every):
                number = self.fresh_number()
                recipient = {
                    "payer_number": payer,
                    "recipient_number": number,
                    "name": "耐久太郎",
                    "name_kana": "ﾀｲｷｭｳ ﾀﾛｳ",
                    "sex": "1",
                    "birthdate": "1960-04-01",
                    "qualification_date": "2020-04-01",
                }
                res = self.call(
                    c,
                    "register",
                    "POST",
                    "/api/v1/recipients",
                    json=recipient,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                if res is None or res.status_code != 201:
                    continue
                with self.stats.lock:
                    self.stats.registered.append((payer, number))
                ticket = {
                    "payer_number": payer,
                    "recipient_number": number,
                    "ticket_type": "01",
                    "treatment_month": self.month,
                    "valid_from": first,
                    "valid_to": last,
                    "designated_facility_code": facility,
                    "treatment_type": "02",
                    "single_or_combined": "01",
                    "injury_name1": "高血圧症",
                }
                res = self.call(
                    c,
                    "register",
                    "POST",
                    "/api/v1/tickets",
                    json=ticket,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                if res is not None and res.status_code == 201:
                    with self.stats.lock:
                        self.stats.tickets.append(res.json()["ticket_key"])

    def csv_import(self, rows: int) -> None:
        payer = self.office["payer_number"]
        numbers = [self.fresh_number() for _ in range(rows)]
        lines = ["payer_number,recipient_number,name,name_kana,sex,birthdate,qualification_date"]
        lines += [f"{payer},{n},耐久花子{i},ﾀｲｷｭｳ ﾊﾅｺ,2,1970-01-01,2021-04-01" for i, n in enumerate(numbers)]
        files = {"file": ("recipients.csv", "\n".join(lines).encode(), "text/csv")}
        with self.client(self.office["token"]) as c:
            res = self.call(c, "import", "POST", "/api/v1/imports/recipients", files=files)
            done = res is not None and res.status_code in (200, 201)  # a synchronous import
            if res is not None and res.status_code == 202:  # an import job: poll it until it has ended
                job, deadline = res.json(), time.monotonic() + CLIENT_TIMEOUT
                while job["state"] in ("queued", "running") and time.monotonic() < deadline:
                    time.sleep(0.5)
                    polled = self.call(c, "job", "GET", res.headers["Location"])
                    if polled is None or polled.status_code != 200:
                        break
                    job = polled.json()
                done = job["state"] == "done"
                if not done:
                    print(f"  import job {job['state']}: {json.dumps(job.get('error'))[:300]}", flush=True)
            elif not done and res is not None:
                print(f"  import answered {res.status_code}: {res.text[:300]}", flush=True)
        if done:
            with self.stats.lock:
                self.stats.imported.extend((payer, n) for n in numbers)

    def _month_last(self) -> str:
        y, m = (int(x) for x in self.month.split("-"))
        return f"{self.month}-{calendar.monthrange(y, m)[1]:02d}"


def minute_line(at: float, rows: list[tuple[str, int, float]], rss: int) -> str:
    by_status = Counter(st for _, st, _ in rows)
    errors = {st: k for st, k in sorted(by_status.items()) if st == 0 or st >= 400}
    kinds = Counter(k for k, _, _ in rows)
    lat = [t for _, st, t in rows]
    checks = [t for k, st, t in rows if k == "numbers" and st == 200]
    return (
        f"{int(at // 60):>3}:{int(at % 60):02d} {len(rows):>7,} requests ({', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))}); "
        f"errors {sum(errors.values())} {dict(errors) or ''}; all p50 {pct(lat, 0.5) * 1000:.1f} ms "
        f"p99 {pct(lat, 0.99) * 1000:.1f} ms; numbers check p50 {pct(checks, 0.5) * 1000:.1f} ms "
        f"p99 {pct(checks, 0.99) * 1000:.1f} ms; server RSS {rss / 1024:.1f} MiB"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--database-url", default=None, help="an empty database (default: a fresh SQLite file)")
    ap.add_argument("--recipients", type=int, default=50_000, help="fujo synth's size")
    ap.add_argument("--workers", type=int, default=1, help="fujo serve --workers")
    ap.add_argument("--check-threads", type=int, default=3)
    ap.add_argument("--bulk-every", type=float, default=2.0, help="seconds between month downloads")
    ap.add_argument("--register-every", type=float, default=0.2, help="seconds between registrations")
    ap.add_argument("--import-rows", type=int, default=2000)
    ap.add_argument("--report-every", type=float, default=60.0, help="seconds per report line")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (database, server log)")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fujo-soak-"))
    url = a.database_url or f"sqlite:///{work / 'soak.db'}"
    t0 = time.monotonic()
    data = synth(url, work, a.recipients)
    print(
        f"synth: {a.recipients:,} recipients for {data['month']} in {time.monotonic() - t0:.1f} s → {work}", flush=True
    )

    port = free_port()
    env = {
        **os.environ,
        "FUJO_DATABASE_URL": url,
        "FUJO_DATA_DIR": str(work),
        "FUJO_RATE_LIMITS": "checks=1000000000,bulk=1000000000,imports=1000000000",
    }
    log = (work / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(FUJO), "serve", "--port", str(port), "--workers", str(a.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
    )
    base = f"http://127.0.0.1:{port}"
    db = Database(url)
    stats, stop = Stats(), threading.Event()
    ok = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if outbound.get(f"{base}/api/v1/ready", timeout=2).status_code == 200:
                    break
            if server.poll() is not None:
                raise SystemExit("fujo serve ended: see " + str(work / "serve.log"))
            time.sleep(0.1)
        rss_start = rss_kib(server.pid)
        load = Load(base, data, db, stats, stop)
        threads = [threading.Thread(target=load.checks, args=(i,), daemon=True) for i in range(a.check_threads)]
        threads += [
            threading.Thread(target=load.cards, daemon=True),
            threading.Thread(target=load.bulk, args=(a.bulk_every,), daemon=True),
            threading.Thread(target=load.registrations, args=(a.register_every,), daemon=True),
        ]
        print(
            f"fujo serve --workers {a.workers} on {url.split(':', 1)[0]}; {a.check_threads} threads checking by"
            f" numbers, 1 by card, 1 month download every {a.bulk_every:g} s, 1 registering (recipient + 医療券)"
            f" every {a.register_every:g} s, one import of {a.import_rows:,} recipients half-way;"
            f" {a.minutes:g} min; server RSS at start {rss_start / 1024:.1f} MiB",
            flush=True,
        )
        started = time.monotonic()
        end = started + a.minutes * 60
        for t in threads:
            t.start()
        importer = threading.Timer(a.minutes * 30, load.csv_import, args=(a.import_rows,))
        importer.daemon = True
        importer.start()
        rss = rss_start
        while (now := time.monotonic()) < end:
            time.sleep(min(a.report_every, end - now))
            rss = rss_kib(server.pid)
            print(minute_line(time.monotonic() - started, stats.take(), rss), flush=True)
        stop.set()
        importer.join(CLIENT_TIMEOUT)
        for t in threads:
            t.join(CLIENT_TIMEOUT + 5)
        rest = stats.take()
        if rest:
            at = time.monotonic() - started
            print(minute_line(at, rest, rss_kib(server.pid)) + " (the requests in flight at the end)", flush=True)
        rss_end = rss_kib(server.pid)
        elapsed = time.monotonic() - started
        alive = server.poll() is None
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    # what the database holds
    with db.engine.connect() as conn:
        logged = set(conn.execute(select(s.check_log.c.id)).scalars())
        r = s.recipients
        present = {
            (row.payer_number, row.recipient_number)
            for row in conn.execute(select(r.c.payer_number, r.c.recipient_number).where(r.c.name.like("耐久%")))
        }
        keys = set(conn.execute(select(s.tickets.c.ticket_key)).scalars())
    lost_checks = len(set(stats.check_ids) - logged)
    lost_regs = len(set(stats.registered) - present) + len(set(stats.tickets) - keys)
    lost_import = len(set(stats.imported) - present)
    report = verify(db)
    db.dispose()
    levels: Counter = Counter()
    with (work / "serve.log").open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"fujo.access"' in line:
                continue
            with contextlib.suppress(ValueError):
                levels[json.loads(line).get("level", "?")] += 1

    requests = sum(stats.total.values())
    errors = Counter({k: v for k, v in stats.total.items() if k[1] == 0 or k[1] >= 400})
    by_kind: Counter = Counter()
    for (kind, _), v in stats.total.items():
        by_kind[kind] += v
    print(
        f"\ntotal: {requests:,} requests in {elapsed / 60:.1f} min ({requests / elapsed:.0f}/s): "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(by_kind.items()))
        + f"\nerrors: {sum(errors.values())} {dict(errors) or ''}; client failures {dict(stats.failures) or 0};"
        f" checks by numbers with another validity than expected: {stats.wrong}"
        + f"\nserver RSS: start {rss_start / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB; alive at the end: {alive}"
        + f"\nlost: checks {lost_checks} of {len(stats.check_ids):,}, registrations {lost_regs} of"
        f" {len(stats.registered):,} recipients + {len(stats.tickets):,} tickets, imported {lost_import} of"
        f" {len(stats.imported):,}; audit chain: {report.problem or 'verifies'}"
        + f"\nserver log lines other than access: {dict(levels) or 0}",
        flush=True,
    )
    ok = (
        alive
        and not errors
        and not stats.wrong
        and not (lost_checks or lost_regs or lost_import)
        and report.problem is None
    )
    ok = ok and len(stats.imported) == a.import_rows
    if a.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
