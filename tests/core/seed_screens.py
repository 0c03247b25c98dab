"""The two front-desk screens of the seed (seeds/000_*.txt, 「医療扶助独自のメリット① 未委託の資格確認の把握」),
copied verbatim, and a parser that turns them into the headline and the ordered (label, value) items.

The seed uses placeholder numbers that fail the check-digit rule (12000001, 1010001) and "XXX" for the
disease names; ``with_valid_numbers`` swaps in the valid numbers used by the demo and the tests."""

from __future__ import annotations

import re

NORMAL = """\
○：この資格は有効です。

照会番号：0000001

公費負担者番号：12000001 福祉事務所名：○○市福祉事務所
受給者番号：1010001

氏名：生保一郎 性別：男 生年月日：平成2年1月15日

医療券/調剤券別：医療券 診療年月：令和6年7月

指定医療機関名：●●医療機関 単独/併用別：単独

有効開始年月日：令和6年7月1日

有効終了年月日：令和6年7月31日

傷病名1：XXX 傷病名2：XXX 傷病名3：XXX
"""

NOT_DESIGNATED = """\
○：この資格は有効です。（医療券/調剤券情報が未登録です。）

照会番号：0000001

公費負担者番号：- 福祉事務所名：○○市福祉事務所
受給者番号：-

氏名：生保一郎 性別：男 生年月日：平成2年1月15日

医療券/調剤券別：- 診療年月：-

指定医療機関名：- 単独/併用別：-

有効開始年月日：-

有効終了年月日：-

傷病名1：- 傷病名2：- 傷病名3：-
"""

SEED_PAYER, SEED_RECIPIENT = "12000001", "1010001"
VALID_PAYER, VALID_RECIPIENT = "12130019", "1010008"
INJURIES = ("高血圧症", "2型糖尿病", "腰痛症")


def parse(screen: str) -> tuple[str, list[tuple[str, str]]]:
    lines = [x.strip() for x in screen.splitlines() if x.strip()]
    headline, rest = lines[0], lines[1:]
    items = []
    for line in rest:
        items += re.findall(r"(\S+?)：(\S+)", line)
    return headline, items


def with_valid_numbers(items, injuries=INJURIES) -> list[tuple[str, str]]:
    out = []
    for label, value in items:
        value = {SEED_PAYER: VALID_PAYER, SEED_RECIPIENT: VALID_RECIPIENT}.get(value, value)
        if label.startswith("傷病名") and value == "XXX":
            value = injuries[int(label[-1]) - 1]
        out.append((label, value))
    return out


def labels(screen: str) -> list[str]:
    """The seed screen's item labels, in the seed's order."""
    return [k for k, _ in parse(screen)[1]]


def withheld(screen: str = NOT_DESIGNATED) -> list[str]:
    """The items the seed's 未委託 screen shows as "-" (numbers and ticket fields)."""
    return [k for k, v in parse(screen)[1] if v == "-" and k != "照会番号"]
