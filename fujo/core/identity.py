"""初回ひも付け: does a recipient of the registry and a card holder (as the card issuer knows them,
by the 4 情報 recorded when the card was issued) describe the same person? Pure.

Names are compared after normalisation, so that writing differences do not block a link while a
different person still cannot be linked: Unicode NFKC (full/half width, compatibility ideographs),
no spaces of any width, カタカナ for ひらがな, and 旧字/異体字 mapped to 新字 (髙→高, 﨑→崎, 邊/邉→辺 …).
"""

from __future__ import annotations

import unicodedata

import jaconv

from .errors import FieldProblem
from .rows import Identity

# 旧字・異体字 → 新字 as they occur in names (a selection of the common ones; the CJK compatibility
# ideographs that have a decomposition, such as 塚 U+FA10, are handled by NFKC first).
_OLD_TO_NEW = {
    "髙": "高",
    "﨑": "崎",
    "嵜": "崎",
    "邊": "辺",
    "邉": "辺",
    "齋": "斎",
    "齊": "斉",
    "澤": "沢",
    "濱": "浜",
    "濵": "浜",
    "國": "国",
    "廣": "広",
    "櫻": "桜",
    "藝": "芸",
    "眞": "真",
    "德": "徳",
    "惠": "恵",
    "龍": "竜",
    "瀧": "滝",
    "嶋": "島",
    "嶌": "島",
    "壽": "寿",
    "實": "実",
    "與": "与",
    "豐": "豊",
    "圓": "円",
    "淺": "浅",
    "學": "学",
    "榮": "栄",
    "氣": "気",
    "繪": "絵",
    "會": "会",
    "來": "来",
    "禮": "礼",
    "驛": "駅",
    "萬": "万",
    "寳": "宝",
    "寶": "宝",
    "冨": "富",
    "莊": "荘",
    "傳": "伝",
    "團": "団",
    "條": "条",
    "黑": "黒",
    "戶": "戸",
    "舘": "館",
    "槇": "槙",
    "晉": "晋",
    "聰": "聡",
    "藏": "蔵",
    "靜": "静",
    "淸": "清",
    "緖": "緒",
    "彌": "弥",
    "兒": "児",
    "峯": "峰",
    "桒": "桑",
    "籠": "篭",
    "檜": "桧",
    "曾": "曽",
    "增": "増",
}
_SPACES = {" ", "\u3000", "\t"}


def normalize_name(name: str | None) -> str:
    """The comparable form of a name: NFKC, no spaces, カタカナ, 新字."""
    s = unicodedata.normalize("NFKC", name or "")
    s = jaconv.hira2kata(s)
    s = "".join(_OLD_TO_NEW.get(c, c) for c in s if c not in _SPACES and not c.isspace())
    return s


COMPARED = ("name", "birthdate", "sex")  # the items of the 4 情報 compared, in the order screens show them
_KNOWN_SEX = ("1", "2")  # 3 未設定 (or none recorded) is not compared


def identity_differences(recipient: Identity, holder: Identity) -> list[FieldProblem]:
    """What differs between a recipient (name, birthdate, sex) and a card holder's 4 情報; empty when
    they describe the same person. Sex is compared only when both say 男 or 女. Messages name the
    items, never the values (no personal data in logs or in answers beyond what the office typed)."""
    out = []
    if normalize_name(recipient.name) != normalize_name(holder.name):
        out.append(
            FieldProblem(
                "name",
                "identity_mismatch",
                "氏名がカードの基本4情報と一致しません。",
                "The name differs from the card holder's recorded name.",
            )
        )
    if recipient.birthdate != holder.birthdate:
        out.append(
            FieldProblem(
                "birthdate",
                "identity_mismatch",
                "生年月日がカードの基本4情報と一致しません。",
                "The birth date differs from the card holder's recorded birth date.",
            )
        )
    rs, hs = getattr(recipient, "sex", None), getattr(holder, "sex", None)
    if rs in _KNOWN_SEX and hs in _KNOWN_SEX and rs != hs:
        out.append(
            FieldProblem(
                "sex",
                "identity_mismatch",
                "性別がカードの基本4情報と一致しません。",
                "The sex differs from the card holder's recorded sex.",
            )
        )
    return out
