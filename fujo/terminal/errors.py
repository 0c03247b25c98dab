"""Error codes of the terminal file interface.

The official 処理結果コード (別紙6-1) are not public, so these are fujo's own, stable codes. Every
problem a request file can have maps to one of them; the agent writes the code and the Japanese
message into the answer (ErrorCode / ErrorMessage) or into the ``.err`` file.
"""

from __future__ import annotations

# code: (slug, meaning). The slug is what logs and tests use; the code is what goes on the wire.
CODES = {
    "FJ1001": ("malformed_xml", "XMLとして読めない（整形式でない）"),
    "FJ1002": ("encoding", "文字コードが宣言・CharacterCodeIdentifierと合わない、または未対応"),
    "FJ1003": ("doctype_forbidden", "DOCTYPE・実体宣言は使えない"),
    "FJ1004": ("too_large", "ファイルが大きすぎる"),
    "FJ1005": ("unknown_file", "ファイル名（接頭辞）が要求電文のものでない"),
    "FJ1006": ("envelope", "XmlMsg/MessageHeader/MessageBody の構造でない"),
    "FJ1007": ("duplicate_request", "同じファイル名の要求に回答済み"),
    "FJ2001": ("missing_element", "必須の要素がない"),
    "FJ2002": ("invalid_value", "値が正しくない（桁数・法別番号・検証番号・日付など）"),
    "FJ2003": ("facility_mismatch", "MedicalInstitutionCode がこの端末の医療機関コードと違う"),
    "FJ2004": ("unknown_reception", "受付番号（ReceptionNumber）が見つからない・期限切れ"),
    "FJ3001": ("medical_assistance_disabled", "「医療扶助」が「利用しない」設定"),
    "FJ3002": ("not_found", "該当する資格がない"),
    "FJ3003": ("refused", "サーバーが認証・権限で拒否した"),
    "FJ3004": ("server_refused", "サーバーが要求を受け付けなかった"),
    "FJ9001": ("server_unreachable", "サーバーに接続できない"),
    "FJ9002": ("server_error", "サーバー内部エラー・応答なし"),
    "FJ9003": ("internal_error", "端末（エージェント）内部エラー"),
}
SLUG_TO_CODE = {slug: code for code, (slug, _) in CODES.items()}

# Problems that may go away by themselves: a request answered with one of these may be sent
# again under the same file name and is then processed again (see agent ledger).
TRANSIENT = frozenset({"server_unreachable", "server_error", "internal_error"})


class TerminalError(Exception):
    """A problem with one request: answered, never fatal to the agent."""

    def __init__(self, slug: str, message_ja: str, message_en: str):
        super().__init__(message_en)
        if slug not in SLUG_TO_CODE:
            raise ValueError(f"unknown terminal error {slug}")
        self.slug, self.message_ja, self.message_en = slug, message_ja, message_en

    @property
    def code(self) -> str:
        return SLUG_TO_CODE[self.slug]

    @property
    def transient(self) -> bool:
        return self.slug in TRANSIENT


class FileRejected(TerminalError):
    """The file cannot be read as a request at all: answered with a ``.err`` file."""
