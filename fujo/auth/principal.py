"""Who is calling: an organisation acting through one of its credentials."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from ..core.errors import Forbidden

ADMIN, WELFARE_OFFICE, FACILITY, INSURER = "admin", "welfare_office", "facility", "insurer"
KINDS = (ADMIN, WELFARE_OFFICE, FACILITY, INSURER)
KIND_JA = {ADMIN: "運用管理者", WELFARE_OFFICE: "福祉事務所", FACILITY: "医療機関・薬局", INSURER: "保険者"}


@dataclass(frozen=True)
class Principal:
    organisation_id: int
    kind: str
    code: str
    name: str
    credential_id: int | None = None
    payer_numbers: frozenset = field(default_factory=frozenset)  # 福祉事務所: its 公費負担者番号
    medical_assistance_enabled: bool = True                        # 医療機関: 「医療扶助」 利用する

    def require(self, *kinds: str) -> None:
        if self.kind not in kinds:
            allowed = "・".join(KIND_JA[k] for k in kinds)
            raise Forbidden(f"この操作は{allowed}のみ行えます。",
                            f"This operation is for {', '.join(kinds)} only (you are {self.kind}).")

    def require_payer(self, payer_number: str) -> None:
        """A welfare office writes only under its own 公費負担者番号."""
        if self.kind == ADMIN:
            return
        self.require(WELFARE_OFFICE)
        if payer_number not in self.payer_numbers:
            raise Forbidden(f"公費負担者番号{payer_number}はこの福祉事務所の番号ではありません。",
                            f"Payer number {payer_number} does not belong to this welfare office.")


def new_token() -> str:
    return "fujo_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random, so a fast hash is enough (no dictionary to attack) and keeps
    # authentication cheap on the check hot path.
    return hashlib.sha256(token.encode()).hexdigest()
