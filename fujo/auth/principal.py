"""Who is calling: an organisation acting through one of its credentials."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from ..core.errors import Forbidden

ADMIN, WELFARE_OFFICE, FACILITY, INSURER = "admin", "welfare_office", "facility", "insurer"
KINDS = (ADMIN, WELFARE_OFFICE, FACILITY, INSURER)
KIND_JA = {ADMIN: "運用管理者", WELFARE_OFFICE: "福祉事務所", FACILITY: "医療機関・薬局", INSURER: "保険者"}

# Roles inside an organisation. Every web user and every API token has one.
RECEPTION, CLINICIAN, CASEWORKER, MANAGER = "reception", "clinician", "caseworker", "manager"
# 監査担当 of the operator: exports the audit trail (fujo.audit.export) and nothing else, not even reads;
# API tokens only (a web user cannot have it: the administrator's screens are for managers)
AUDITOR = "auditor"
ROLES = {
    # 受付: checks, 委託先一括取得, 照会番号; 医療職: the same, and (later) medication and clinical information;
    # 管理者: also the settings (「医療扶助」), the organisation's users and its 照会番号 policy
    FACILITY: {RECEPTION: "受付", CLINICIAN: "医師・歯科医師・薬剤師", MANAGER: "管理者"},
    # 担当員: recipients, tickets, imports, 初回ひも付け; 管理者: also the office's users
    WELFARE_OFFICE: {CASEWORKER: "担当員", MANAGER: "管理者"},
    ADMIN: {MANAGER: "運用管理者", AUDITOR: "監査担当"},
    INSURER: {MANAGER: "管理者"},
}
DEFAULT_ROLE = {FACILITY: RECEPTION, WELFARE_OFFICE: CASEWORKER, ADMIN: MANAGER, INSURER: MANAGER}


def role_label(kind: str, role: str | None) -> str:
    return ROLES.get(kind, {}).get(role or "", role or "-")


@dataclass(frozen=True)
class Principal:
    organisation_id: int
    kind: str
    code: str
    name: str
    credential_id: int | None = None
    payer_numbers: frozenset = field(default_factory=frozenset)  # 福祉事務所: its 公費負担者番号
    medical_assistance_enabled: bool = False  # 医療機関: 「医療扶助」 利用する
    role: str = MANAGER  # role inside the organisation (ROLES)
    user_id: int | None = None  # the web user acting, if any
    actor: str = ""  # who, for records: login or token label

    def require(self, *kinds: str) -> None:
        if self.role == AUDITOR:
            raise Forbidden(
                "監査担当は監査記録の出力のみ行えます。", "The auditor role may only export the audit trail."
            )
        if self.kind not in kinds:
            allowed = "・".join(KIND_JA[k] for k in kinds)
            raise Forbidden(
                f"この操作は{allowed}のみ行えます。",
                f"This operation is for {', '.join(kinds)} only (you are {self.kind}).",
            )

    def require_role(self, *roles: str) -> None:
        """The caller's role inside its organisation must be one of ``roles``."""
        if self.role not in roles:
            table = ROLES.get(self.kind, {})
            allowed = "・".join(table.get(r, r) for r in roles if r in table) or "・".join(roles)
            raise Forbidden(
                f"この操作は{allowed}の権限が必要です（現在の権限: {role_label(self.kind, self.role)}）。",
                f"This operation needs the role {' or '.join(roles)} (you are {self.role}).",
            )

    def require_auditor(self) -> None:
        """The audit trail is exported by the operator's 監査担当 (or its 運用管理者)."""
        if self.kind != ADMIN or self.role not in (AUDITOR, MANAGER):
            raise Forbidden(
                "監査記録の出力は運用管理者の監査担当・管理者のみ行えます。",
                "Exporting the audit trail is for the operator's auditor or manager only.",
            )

    def require_payer(self, payer_number: str) -> None:
        """A welfare office writes only under its own 公費負担者番号."""
        if self.kind == ADMIN and self.role != AUDITOR:
            return
        self.require(WELFARE_OFFICE)
        if payer_number not in self.payer_numbers:
            raise Forbidden(
                f"公費負担者番号{payer_number}はこの福祉事務所の番号ではありません。",
                f"Payer number {payer_number} does not belong to this welfare office.",
            )


def new_token() -> str:
    return "fujo_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random, so a fast hash is enough (no dictionary to attack) and keeps
    # authentication cheap on the check hot path.
    return hashlib.sha256(token.encode()).hexdigest()
