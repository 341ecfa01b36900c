"""Constraints and indexes of the Neo4j graph. Created before any load, idempotently
(``IF NOT EXISTS``); the names are fixed so tests and operators can look them up with
``SHOW CONSTRAINTS`` / ``SHOW INDEXES``."""

from __future__ import annotations

#: identifier kind -> (node label, relationship type from Account)
KIND_LABELS: dict[str, tuple[str, str]] = {
    "payment": ("PaymentInstrument", "PAID_WITH"),
    "ip": ("IP", "USED_IP"),
    "device": ("Device", "USED_DEVICE"),
    "prompt_template": ("PromptTemplate", "SENT_TEMPLATE"),
}
#: every other kind (email, phone, ...) shares one label, keyed by (kind, value)
GENERIC = ("Identifier", "HAS_IDENTIFIER")

#: constraint name -> statement; uniqueness constraints also give the lookup index
CONSTRAINTS: dict[str, str] = {
    "account_id": "CREATE CONSTRAINT account_id IF NOT EXISTS "
    "FOR (n:Account) REQUIRE n.account_id IS UNIQUE",
    **{
        f"{label.lower()}_value": f"CREATE CONSTRAINT {label.lower()}_value IF NOT EXISTS "
        f"FOR (n:{label}) REQUIRE n.value IS UNIQUE"
        for label, _ in KIND_LABELS.values()
    },
    "identifier_key": "CREATE CONSTRAINT identifier_key IF NOT EXISTS "
    "FOR (n:Identifier) REQUIRE (n.kind, n.value) IS UNIQUE",
    "ip_range": "CREATE CONSTRAINT ip_range IF NOT EXISTS FOR (n:IPRange) REQUIRE n.cidr IS UNIQUE",
    "run_id": "CREATE CONSTRAINT run_id IF NOT EXISTS FOR (n:Run) REQUIRE n.run_id IS UNIQUE",
    "cluster_key": "CREATE CONSTRAINT cluster_key IF NOT EXISTS "
    "FOR (n:Cluster) REQUIRE (n.run_id, n.cluster_id) IS UNIQUE",
    "pointer_name": "CREATE CONSTRAINT pointer_name IF NOT EXISTS "
    "FOR (n:RunPointer) REQUIRE n.name IS UNIQUE",
}

#: index name -> statement (range indexes for analysts' lookups and run deletion)
INDEXES: dict[str, str] = {
    "cluster_id": "CREATE INDEX cluster_id IF NOT EXISTS FOR (n:Cluster) ON (n.cluster_id)",
    "cluster_risk": "CREATE INDEX cluster_risk IF NOT EXISTS FOR (n:Cluster) ON (n.risk)",
    "ip_prefix": "CREATE INDEX ip_prefix IF NOT EXISTS FOR (n:IP) ON (n.prefix)",
    "account_cluster": "CREATE INDEX account_cluster IF NOT EXISTS "
    "FOR (n:Account) ON (n.cluster_id)",
    # accounts by the analyst's verdict of the published run (copied with its results)
    "account_analyst_label": "CREATE INDEX account_analyst_label IF NOT EXISTS "
    "FOR (n:Account) ON (n.analyst_label)",
    # LINKED relationships of a run are found (and deleted) by their run_id
    "linked_run": "CREATE INDEX linked_run IF NOT EXISTS FOR ()-[r:LINKED]-() ON (r.run_id)",
}


def statements() -> list[str]:
    """All schema statements, constraints first."""
    return [*CONSTRAINTS.values(), *INDEXES.values()]
