"""The one schema (SQLAlchemy Core), shared by SQLite and PostgreSQL. Alembic migrations are
written against these definitions (``fujo/migrations``).

Design for the hot path (a check): every lookup a check makes is one indexed equality lookup —
credential by token hash, recipient by (payer, recipient) numbers or by person, current tickets
by (recipient, month), reference number by (facility, person) — and one insert into check_log.
Tickets are append-only revisions: the current one has ``superseded_by`` NULL; ``seq`` is a
gap-free, commit-ordered change counter so a facility can fetch "what changed since" safely.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite rowid aliases need INTEGER

organisations = Table(
    "organisations",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # admin | welfare_office | facility | insurer
    Column("code", String(20), nullable=False),  # 医療機関コード / 保険者番号 / office code
    Column("name", String(100), nullable=False),
    Column("phone", String(30)),
    Column("address", String(200)),
    # 医療機関・薬局 setting 「医療扶助」 利用する/利用しない (facilities only): starts as 利用しない (issue 8,
    # migration 0003); each change is recorded in setting_changes with who and when
    Column("medical_assistance_enabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "code"),
)

office_payers = Table(  # the 公費負担者番号 a 福祉事務所 writes under
    "office_payers",
    metadata,
    Column("payer_number", String(8), primary_key=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the bearer token
    Column("label", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    # role inside the organisation (fujo.auth.principal.ROLES); rows from before roles existed keep the
    # full rights they had (manager)
    Column("role", String(20), nullable=False, server_default="manager"),
)

persons = Table(  # a card holder (the individual behind 個人番号; the number itself is never stored)
    "persons",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("public_id", String(36), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # as the card issuer knows the holder (0003): HMAC-SHA256 of the 個人番号 under the server's key, and
    # the 基本4情報 recorded when the card was issued; 初回ひも付け cross-checks against them
    Column("individual_number_hash", String(64)),
    Column("name", String(60)),
    Column("birthdate", Date),
    Column("sex", String(1)),
    Column("address", String(200)),
)
Index("ix_persons_individual_number_hash", persons.c.individual_number_hash, unique=True)

cards = Table(  # virtual My Number card: its 利用者証明用電子証明書
    "cards",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("serial", String(40), nullable=False, unique=True),  # certificate serial, hex
    Column("fingerprint", String(64), nullable=False),  # sha256 of the DER certificate
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("not_after", DateTime(timezone=True), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revocation_reason", String(100)),
)

card_challenges = Table(
    "card_challenges",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("nonce", String(64), nullable=False, unique=True),
    Column("organisation_id", ID, ForeignKey("organisations.id")),  # NULL: the recipient portal
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)


def _holder_columns() -> list[Column]:
    """The person and the qualification's period, as a 福祉事務所 registers a recipient and an
    insurer an insured person (new Column objects for each table)."""
    return [
        Column("name", String(60), nullable=False),
        Column("name_kana", String(60), nullable=False),
        Column("sex", String(1), nullable=False),
        Column("birthdate", Date, nullable=False),
        Column("address", String(200)),
        Column("post_number", String(8)),
        Column("qualification_date", Date, nullable=False),  # from this day
        Column("disqualification_date", Date),  # up to, not including, this day
    ]


recipients = Table(  # 被保護者 as registered by the 福祉事務所
    "recipients",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("payer_number", String(8), nullable=False),  # 公費負担者番号
    Column("recipient_number", String(7), nullable=False),  # 受給者番号
    Column("person_id", ID, ForeignKey("persons.id"), index=True),  # 初回ひも付け
    *_holder_columns(),  # qualification_date: 保護開始・再開日, disqualification_date: 保護停止・廃止日
    Column("disqualification_kind", String(1)),  # 1 停止, 2 廃止 (codes.DISQUALIFICATION_KINDS)
    Column("disqualification_reason", String(200)),  # the office's reason text
    Column("version", Integer, nullable=False, server_default="1"),
    # 閲覧制限 (DV・虐待の被害者, issue 11, migration 0005): no address to any facility, name and birth date only
    # to the designated one, no 薬剤情報等 at all; the recipient's own portal still shows everything
    Column("restricted", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("payer_number", "recipient_number"),
)

recipient_history = Table(  # every earlier state of a recipient (nothing is overwritten unseen)
    "recipient_history",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("recipient_id", ID, ForeignKey("recipients.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("snapshot", Text, nullable=False),  # JSON of the row before the change
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", ID, ForeignKey("organisations.id")),
)

_ticket_cols: list[Column[Any]] = [
    Column("ticket_type", String(2), nullable=False),
    Column("treatment_month", String(6), nullable=False),  # 診療年月 yyyyMM
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("issue_number", String(20)),
    Column("designated_facility_code", String(10), nullable=False),
    Column("designated_facility_name", String(80), nullable=False),
    Column("prescription_issuer_code", String(10)),
    Column("prescription_issuer_name", String(80)),
    Column("injury_name1", String(80)),
    Column("injury_name2", String(80)),
    Column("injury_name3", String(80)),
    Column("treatment_type", String(2), nullable=False),
    Column("self_pay_amount", Integer),
    Column("district_contact_name", String(40)),
    Column("handling_contact_name", String(40)),
    Column("single_or_combined", String(2), nullable=False),
    Column("social_insurance", String(2)),
    Column("consistency_flag", String(1)),
    Column("infection_status", String(2)),
    Column("elderly_care_status", String(2)),
    Column("prefectural_expense_status", String(2)),
    Column("remarks1", String(200)),
    Column("remarks2", String(200)),
    Column("remarks3", String(200)),
]

tickets = Table(  # 医療券/調剤券, one row per revision
    "tickets",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("ticket_key", String(36), nullable=False, index=True),  # stable id across revisions
    Column("revision", Integer, nullable=False),
    Column("recipient_id", ID, ForeignKey("recipients.id"), nullable=False),
    Column("status", String(10), nullable=False),  # active | cancelled
    *_ticket_cols,
    Column("previous_facility_code", String(10)),  # when an amendment moved the ticket elsewhere
    Column("superseded_by", ID),  # NULL = current revision
    Column("seq", BigInteger, nullable=False),  # commit-ordered change counter (the ticket_seq counter)
    Column("registered_at", DateTime(timezone=True), nullable=False),  # first registration
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", ID, ForeignKey("organisations.id")),
    Column("change_reason", String(200)),
    # with treatment_month: on PostgreSQL tickets are partitioned by it (fujo.db.partitions, migration
    # 0014), and a partitioned table's unique keys must hold it — on SQLite too, one schema
    UniqueConstraint("ticket_key", "revision", "treatment_month"),
    UniqueConstraint("seq", "treatment_month"),
)
Index("ix_tickets_current_by_recipient", tickets.c.recipient_id, tickets.c.treatment_month, tickets.c.superseded_by)
Index(
    "ix_tickets_current_by_facility",
    tickets.c.designated_facility_code,
    tickets.c.treatment_month,
    tickets.c.superseded_by,
)
Index("ix_tickets_changes_by_facility", tickets.c.designated_facility_code, tickets.c.seq)
Index("ix_tickets_changes_by_previous", tickets.c.previous_facility_code, tickets.c.seq)
Index("ix_tickets_issue_number", tickets.c.issue_number, tickets.c.treatment_month)  # duplicate 交付番号

facilities = Table(  # the facility registry: every 医療機関・薬局 a ticket may name, fujo user or not
    "facilities",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("code", String(10), nullable=False, unique=True),  # 医療機関コード
    Column("name", String(80), nullable=False),  # 指定医療機関名 on tickets
    Column("score_table", String(1), nullable=False),  # 点数表 (from the code): 1 医科 3 歯科 4 調剤 6 訪問看護
    Column("prefecture", String(2), nullable=False),  # 都道府県番号 (from the code)
    Column("address", String(200)),
    Column("phone", String(30)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

installation = Table(  # facts every server host of one database must share (fujo.cards.host_secrets)
    "installation",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

counters = Table(  # row-locked counters: the lock orders commits, so cursors never skip a change
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

insurance_qualifications = Table(  # 医療保険の資格 (the 併用 case)
    "insurance_qualifications",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("person_id", ID, ForeignKey("persons.id"), index=True),
    Column("registered_by", ID, ForeignKey("organisations.id"), nullable=False),
    Column("insurer_number", String(8), nullable=False),
    Column("insurer_name", String(80), nullable=False),
    Column("insured_card_classification", String(2), nullable=False),
    Column("card_symbol", String(40)),
    Column("card_number", String(40), nullable=False),
    Column("branch_number", String(2)),
    Column("personal_family", String(1)),
    *_holder_columns(),  # qualification_date: 資格取得日, disqualification_date: 資格喪失日
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # issue 7 (migration 0002): what clinics import from an insurance result
    Column("insured_name", String(60)),  # 被保険者氏名（世帯主氏名）
    Column("name_of_other", String(60)),  # 氏名（その他）
    Column("name_of_other_kana", String(60)),
    Column("card_issuance_date", Date),  # 被保険者証交付年月日
    Column("card_valid_from", Date),  # 被保険者証有効開始年月日
    Column("card_valid_to", Date),  # 被保険者証有効終了年月日
    Column("contribution_ratio", String(3)),  # 一部負担金割合 010/020/030
    Column("preschool", String(1)),  # 未就学区分
    Column("elderly_certificate_date", Date),  # 高齢受給者証
    Column("elderly_valid_from", Date),
    Column("elderly_valid_to", Date),
    Column("elderly_contribution_ratio", String(3)),
    Column("limit_classification", String(2)),  # 限度額適用認定証
    Column("limit_bracket", String(3)),  # 適用区分 A01… / B01…
    Column("limit_certificate_date", Date),
    Column("limit_valid_from", Date),
    Column("limit_valid_to", Date),
    Column("limit_long_term_date", Date),
    # 特定疾病療養受療証: one per qualification, as columns (a second certificate would need a table)
    Column("specific_disease_category", String(1)),
    Column("specific_disease_certificate_date", Date),
    Column("specific_disease_valid_from", Date),
    Column("specific_disease_valid_to", Date),
    Column("specific_disease_self_pay", Integer),  # 自己負担限度額 (円)
)
Index("ix_insurance_by_numbers", insurance_qualifications.c.insurer_number, insurance_qualifications.c.card_number)

reference_numbers = Table(  # 照会番号: a facility's own patient number (診察券 use)
    "reference_numbers",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("facility_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False),
    Column("reference_number", String(20), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("facility_id", "person_id"),
)

check_log = Table(  # every check and every download: who asked, about whom, when, how, outcome
    "check_log",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("organisation_id", ID, nullable=False),
    Column("credential_id", ID),
    Column("method", String(10), nullable=False),  # card | numbers | bulk
    Column("person_id", ID),
    Column("recipient_id", ID),
    Column("outcome", String(2), nullable=False),  # QualificationValidity (or '-' for bulk)
    Column("reason", String(20)),
    # consent bits given at the reader (medication, diagnosis, checkups, surgery[, 限度額, 特定疾病]); 8 wide since 0002
    Column("consent", String(8)),
    Column("detail", String(200)),
    # the hash chain (issue 11, migration 0004; fujo.audit.chain): position, the previous entry's hash and
    # SHA-256 over this entry's fields + prev_hash. Nullable only so that old rows could migrate.
    Column("seq", BigInteger),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Column("user_id", ID),  # the signed-in user (web screens), if any
    Column("role", String(20)),  # their role in the organisation (or the credential's)
    Column("category", String(20)),  # medication | diagnosis | checkups | surgery | registry | …
    Column("channel", String(10)),  # web | api | terminal | fhir | cli
    Column("flags", String(40)),  # e.g. 'disaster'
)
Index("ix_check_log_person", check_log.c.person_id, check_log.c.at)
Index("ix_check_log_recipient", check_log.c.recipient_id, check_log.c.at)
Index("ix_check_log_org_at", check_log.c.organisation_id, check_log.c.at)
# with ``at``: on PostgreSQL check_log is partitioned by month of ``at`` (fujo.db.partitions), and a
# partitioned table's unique indexes must hold its partition key
Index("ix_check_log_seq", check_log.c.seq, check_log.c.at, unique=True)

audit_archive = Table(  # months of check_log detached (fujo db maintain --detach-before): the chain starts after them
    "audit_archive",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("up_to_seq", BigInteger, nullable=False),  # the last detached entry's position
    Column("last_hash", String(64), nullable=False),  # and its hash: the next entry's prev_hash
    Column("before_month", String(6), nullable=False),  # yyyyMM: every month before it was detached
    Column("tables", Text, nullable=False),  # the detached partitions (tables of their own), comma-separated
    Column("detached_at", DateTime(timezone=True), nullable=False),
)

audit_pending = Table(  # entries written with a bulk change, waiting to be appended to the chain (fujo.audit.chain)
    "audit_pending",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("entry", Text, nullable=False),  # the entry's hashed fields as JSON (chain.stage), seq not yet given
)

audit_head = Table(  # the head of the check_log hash chain: one row (id 1), row-locked by every appender
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("at", DateTime(timezone=True)),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("organisation_id", ID, primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(  # people who sign in to the web screens, each acting for one organisation
    "users",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("login", String(60), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),  # scrypt, with its salt and parameters
    Column("display_name", String(60), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
    Column("role", String(20), nullable=False, server_default="manager"),  # as credentials.role
)

setting_changes = Table(  # who changed an organisation's setting (「医療扶助」 …), and when
    "setting_changes",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("setting", String(40), nullable=False),
    Column("value", String(20), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("user_id", ID, ForeignKey("users.id")),  # on the screens …
    Column("credential_id", ID),  # … or through the API
    Column("actor", String(100), nullable=False),  # login or token label, with the role
)
Index("ix_setting_changes_org", setting_changes.c.organisation_id, setting_changes.c.changed_at)

web_sessions = Table(  # server-side sessions: logout and expiry take effect at once
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the random cookie value
    Column("user_id", ID, ForeignKey("users.id")),  # staff session, or …
    Column("person_id", ID, ForeignKey("persons.id")),  # … a recipient proven by card
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

medinfo_records = Table(  # 薬剤情報・診療情報・特定健診情報・手術情報 (issue 11), fed by the welfare office
    "medinfo_records",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    # tied to the recipient the office registered (its payer scope); served for the person behind it
    Column("recipient_id", ID, ForeignKey("recipients.id"), nullable=False),
    Column("category", String(12), nullable=False),  # medication | clinical | checkups | operations
    Column("on_date", Date, nullable=False),  # 調剤・処方日 / 診療日 / 健診日 / 手術日
    Column("facility_code", String(10)),
    Column("facility_name", String(80)),
    Column("code", String(12)),  # 薬剤コード (YJ / レセ電) / 診療行為コード / 健診項目コード / 手術コード
    Column("name", String(100), nullable=False),  # 薬剤名 / 診療行為名 / 健診項目名 / 術式
    Column("ingredient", String(100)),  # 一般名 (medication)
    Column("dose", String(100)),  # 用法・用量 (medication)
    Column("days", Integer),  # 日数 (medication)
    Column("quantity", String(20)),  # 数量 (medication)
    Column("disease_name", String(100)),  # 傷病名 (clinical)
    Column("icd10", String(8)),  # ICD-10 (clinical)
    Column("value", String(40)),  # 結果 (checkups)
    Column("unit", String(20)),  # 単位 (checkups)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", ID, ForeignKey("organisations.id")),
)
Index(
    "ix_medinfo_records_recipient",
    medinfo_records.c.recipient_id,
    medinfo_records.c.category,
    medinfo_records.c.on_date,
)

disaster_openings = Table(  # 災害時の薬剤情報等の閲覧: opened by the administrator for an area and a period
    "disaster_openings",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("reason", String(200), nullable=False),
    Column("prefectures", String(200), nullable=False),  # 都道府県番号, comma-separated
    Column("municipalities", Text, nullable=False),  # 「石川県輪島市」…, newline-separated
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("opened_by", String(100), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", String(100)),
)

rate_windows = Table(  # shared counters of fixed time windows: rate limits and the sign-in throttle (issue 13)
    "rate_windows",
    metadata,
    Column("key", String(120), primary_key=True),  # e.g. "api:15:checks", "signin-login:13001:clerk"
    Column("window_start", BigInteger, primary_key=True),  # epoch seconds, a multiple of the window
    Column("count", Integer, nullable=False),
)

# --- webhooks (issue 15, migration 0007; fujo.webhooks): late tickets pushed to the facility -------
webhook_endpoints = Table(  # a facility's receiver URL; the worker's position in the change feed
    "webhook_endpoints",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("url", String(500), nullable=False),
    Column("secret", String(200), nullable=False),  # the HMAC key: needed to sign, so kept as given
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100), nullable=False),  # login or token label, with the role
    Column("deleted_at", DateTime(timezone=True)),  # deleted: nothing more is sent, the log stays
    Column("fetched_cursor", BigInteger, nullable=False),  # change feed read up to here (into the outbox)
    Column("delivered_cursor", BigInteger, nullable=False),  # … and delivered (2xx) up to here
    Column("failures", Integer, nullable=False, server_default="0"),  # consecutive failed attempts
    Column("next_attempt_at", DateTime(timezone=True)),  # backoff: not before this time
    Column("lease_owner", String(64)),  # the worker delivering now (one at a time: order per facility)
    Column("lease_until", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),
    Column("last_error", String(200)),  # outcome of the last failed attempt (never personal data)
)

webhook_events = Table(  # the outbox: events taken from the change feed, each sent until a 2xx
    "webhook_events",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),  # delivery order within an endpoint
    Column("endpoint_id", ID, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(80), nullable=False),  # evt_<facility code>_<seq>: stable across retries
    Column("event_type", String(30), nullable=False),  # ticket.registered|amended|cancelled|removed, webhook.test
    Column("seq", BigInteger),  # the ticket revision's change counter (none for a test event)
    Column("ticket_key", String(36)),
    Column("body", Text),  # the signed JSON; emptied once delivered or when the endpoint is deleted
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    UniqueConstraint("endpoint_id", "event_id"),
)
Index("ix_webhook_events_pending", webhook_events.c.endpoint_id, webhook_events.c.delivered_at, webhook_events.c.id)

webhook_deliveries = Table(  # the delivery log: one row per attempt (no URL, no body, no personal data)
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("endpoint_id", ID, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(80), nullable=False),
    Column("event_type", String(30), nullable=False),
    Column("attempt", Integer, nullable=False),  # 1, 2, … for this event
    Column("at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer),  # the receiver's HTTP status, if it answered
    Column("outcome", String(12), nullable=False),  # delivered | http_error | timeout | error
    Column("error", String(200)),
)
Index("ix_webhook_deliveries_endpoint", webhook_deliveries.c.endpoint_id, webhook_deliveries.c.id)

# --- onboarding (issue 15, migration 0008; fujo.onboarding): each facility's introduction checklist ---
onboarding_steps = Table(  # one row per step done (見積り … 運用開始), in order: fujo.onboarding.service.STEPS
    "onboarding_steps",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("step", String(20), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=False),
    Column("done_by", String(100), nullable=False),  # login or token label, with the role
    Column("user_id", ID, ForeignKey("users.id")),  # on the screens …
    Column("credential_id", ID),  # … or through the API
    Column("note", String(200)),
    Column("report", Text),  # 運用テスト: the summary of the passing `fujo vendor-test` report (JSON)
    UniqueConstraint("organisation_id", "step"),
)

# --- jobs (issue 13, migration 0009; fujo.jobs): CSV imports over HTTP, run outside the request ------
jobs = Table(  # one row a job: who may see it, where it is, and — when it ended — its answer
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),  # opaque and not guessable (secrets.token_urlsafe)
    Column("kind", String(30), nullable=False),  # import.recipients | import.tickets | import.insurance | …
    # the owner: only this organisation's same credential (API) or web user sees the job
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("credential_id", ID),
    Column("user_id", ID, ForeignKey("users.id")),
    Column("role", String(20), nullable=False),  # the owner's role when it asked (the job acts with it)
    Column("actor", String(100), nullable=False),  # login or token label, as in the audit trail
    Column("state", String(10), nullable=False),  # queued | running | done | failed
    Column("rows_done", Integer, nullable=False, server_default="0"),
    Column("rows_total", Integer),  # known once the file is read
    Column("attempts", Integer, nullable=False, server_default="0"),  # runs started (a dead runner's is redone)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("lease_owner", String(64)),  # the runner working on it now (fujo.jobs.runner)
    Column("lease_until", DateTime(timezone=True)),
    Column("spool_path", String(500)),  # the upload on disk; removed (and emptied here) when the job ends
    Column("result", Text),  # JSON once ended: {"report": …} or {"error": …} — what the owner is answered
)
Index("ix_jobs_state_created_at", jobs.c.state, jobs.c.created_at)
Index("ix_jobs_organisation_id", jobs.c.organisation_id)

# --- claims pre-check reports of the screens (issue 12, migration 0010; fujo.claims.reports) -------
claims_reports = Table(  # an upload's report for its page and downloads: any server process serves it
    "claims_reports",
    metadata,
    Column("id", String(40), primary_key=True),  # opaque and not guessable (secrets.token_urlsafe)
    # the owner: only this web user of this organisation reads the report
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("mode", String(10), nullable=False),  # facility | office: the screen that asked
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # 30 minutes; then not served, deleted
    Column("report", Text, nullable=False),  # JSON: the report exactly as the owner was shown it
)
Index("ix_claims_reports_expires_at", claims_reports.c.expires_at)
Index("ix_claims_reports_user_id_created_at", claims_reports.c.user_id, claims_reports.c.created_at)

ALL_TABLES = [t.name for t in metadata.sorted_tables]
