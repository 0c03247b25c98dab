"""A generated month of claims with matching registry CSVs (tests and the timing in docs/PERFORMANCE.md).

    .venv/bin/python -m tests.claims.generate OUT_DIR [N]

writes ``recipients.csv`` and ``tickets.csv`` (for ``fujo import``, office 13001, payer 12130019)
and ``RECEIPTC.UKE`` (N claims of 令和6年7月 by facility 1311234569, cp932 + CRLF, an SY and two SI
records each). Claim i: i % 10 in 0–6 has its July ticket (ok), 7 has none (not_designated),
8 has a June ticket only (outside_validity), 9 carries a wrong 検証番号 (check_digit)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from fujo.core.numbers import check_digit, with_check_digit

PAYER, FACILITY = "12130019", "1311234569"
EXPECTED = {"ok": 7, "not_designated": 1, "outside_validity": 1, "check_digit": 1}  # per 10 claims


def _rn(i: int) -> str:
    return with_check_digit(str(200000 + i))


def registry_csv(n: int) -> tuple[bytes, bytes]:
    rbuf, tbuf = io.StringIO(), io.StringIO()
    rw, tw = csv.writer(rbuf, lineterminator="\r\n"), csv.writer(tbuf, lineterminator="\r\n")
    rw.writerow(["payer_number", "recipient_number", "name", "name_kana", "sex", "birthdate", "qualification_date"])
    tw.writerow(
        [
            "payer_number",
            "recipient_number",
            "ticket_type",
            "treatment_month",
            "valid_from",
            "valid_to",
            "designated_facility_code",
            "treatment_type",
            "single_or_combined",
            "issue_number",
        ]
    )
    for i in range(n):
        rw.writerow([PAYER, _rn(i), f"生保 太郎{i}", "ｾｲﾎ ﾀﾛｳ", "1", "1990-01-15", "2020-04-01"])
        kind = i % 10
        if kind == 7:
            continue
        month, first, last = (
            ("2024-06", "2024-06-01", "2024-06-30") if kind == 8 else ("2024-07", "2024-07-01", "2024-07-31")
        )
        tw.writerow([PAYER, _rn(i), "01", month, first, last, FACILITY, "02", "01", str(70_000_000 + i)])
    return rbuf.getvalue().encode(), tbuf.getvalue().encode()


def uke_lines(n: int):
    """The file's records one at a time (cp932 bytes with CR LF)."""
    yield f"IR,1,13,1,{FACILITY[3:]},,●●医療機関,50608,00,03-0000-0000\r\n".encode("cp932")
    for i in range(n):
        rn = _rn(i)
        if i % 10 == 9:  # a wrong 検証番号
            rn = rn[:-1] + str((check_digit(rn[:-1]) + 1) % 10)
        yield f"RE,{i + 1},1212,50607,生保 太郎{i},1,4020115,,,,,,,{i:06d},,,,,,,,,,\r\n".encode("cp932")
        yield f"KO,{PAYER},{rn},,2,516,,,,,,\r\n".encode("cp932")
        yield b"SY,8833421,5060701,1,,,01,,\r\n"
        yield b"SI,11,1,111000110,,291,1" + b"," * 36 + b"\r\n"
        yield b"SI,13,1,113001810,,225,1" + b"," * 36 + b"\r\n"
    yield f"GO,{n},{516 * n},99\r\n".encode("cp932")


def main() -> None:
    out, n = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    out.mkdir(parents=True, exist_ok=True)
    recipients, tickets = registry_csv(n)
    (out / "recipients.csv").write_bytes(recipients)
    (out / "tickets.csv").write_bytes(tickets)
    with (out / "RECEIPTC.UKE").open("wb") as f:
        f.writelines(uke_lines(n))


if __name__ == "__main__":
    main()
