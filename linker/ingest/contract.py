"""The input data contract: which tables, which columns, which types and values.

The contract is data, not code: ``ingest`` walks these specs to validate any table,
and ``docs/data-contract.md`` documents the same specs for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["id", "text", "timestamp", "int", "category", "ip", "ip_or_cidr"]

IP_CATEGORIES: tuple[str, ...] = (
    "residential",
    "mobile",
    "datacenter",
    "vpn",
    "proxy",
    "education",
    "corporate",
    "unknown",
)
LABELS: tuple[str, ...] = ("sybil", "benign")
FORMATS: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz")


@dataclass(frozen=True)
class Column:
    """One column of an input table."""

    name: str
    type: ColumnType
    required: bool = True
    allowed: tuple[str, ...] = ()
    description: str = ""
    #: the largest value of an ``int`` column (None: any that a float holds exactly)
    maximum: int | None = None


@dataclass(frozen=True)
class TableSpec:
    """One input table: its columns, whether the table must exist, and its key (a later
    row with the key of an earlier valid row is rejected)."""

    name: str
    columns: tuple[Column, ...]
    required: bool = True
    unique: tuple[str, ...] = ()
    keep_extra: bool = False
    description: str = ""
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Names of the columns a file of this table must have."""
        return tuple(c.name for c in self.columns if c.required)


ACCOUNTS = TableSpec(
    "accounts",
    (
        Column("account_id", "id", description="Non-empty, unique account identifier."),
        Column("created_at", "timestamp", description="Signup time, ISO-8601; no offset = UTC."),
        Column("email_domain", "text", required=False, description="Domain of the email."),
        Column("country", "text", required=False, description="Country code."),
        Column("org_id", "text", required=False, description="Organisation the account is in."),
    ),
    unique=("account_id",),
    keep_extra=True,
    description="One row per account. Extra columns are kept as attributes.",
)

SIGNALS = TableSpec(
    "signals",
    (
        Column("account_id", "id", description="Account that was observed."),
        Column(
            "kind",
            "text",
            description="payment | ip | device, or any other kind (email, phone, ...).",
        ),
        Column("value", "text", description="Identifier value (fingerprint, address, ...)."),
        Column("ts", "timestamp", required=False, description="Observation time."),
    ),
    description="One row per observation of an identifier on an account.",
)

PROMPTS = TableSpec(
    "prompts",
    (
        Column("account_id", "id"),
        Column("ts", "timestamp"),
        Column("text", "text", description="Prompt text; used in memory only."),
    ),
    required=False,
    description="Prompts sent by accounts.",
)

IP_INFO = TableSpec(
    "ip_info",
    (
        Column("ip", "ip_or_cidr", description="Address or CIDR prefix."),
        Column("asn", "int", description="Autonomous system number.", maximum=2**32 - 1),
        Column("category", "category", allowed=IP_CATEGORIES),
    ),
    required=False,
    unique=("ip",),
    description="IP intelligence: ASN and category per address or prefix.",
)

LABELS_TABLE = TableSpec(
    "labels",
    (
        Column("account_id", "id"),
        Column("label", "category", allowed=LABELS),
        Column("campaign_id", "text", required=False),
    ),
    required=False,
    unique=("account_id",),
    keep_extra=True,
    description="Known verdicts, for evaluation and calibration only.",
)

TABLES: tuple[TableSpec, ...] = (ACCOUNTS, SIGNALS, PROMPTS, IP_INFO, LABELS_TABLE)
TABLES_BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}
