"""All Cypher of the Neo4j store. Values are always parameters; the only text put
together here is labels and relationship types from the fixed table below."""

from __future__ import annotations

#: identifier kind -> (node label, relationship type from Account)
KIND_LABELS: dict[str, tuple[str, str]] = {
    "payment": ("PaymentInstrument", "PAID_WITH"),
    "ip": ("IP", "USED_IP"),
    "device": ("Device", "USED_DEVICE"),
    "prompt_template": ("PromptTemplate", "SENT_TEMPLATE"),
}
GENERIC = ("Identifier", "HAS_IDENTIFIER")

CONSTRAINTS: tuple[str, ...] = (
    "CREATE CONSTRAINT account_id IF NOT EXISTS FOR (n:Account) REQUIRE n.account_id IS UNIQUE",
    *(
        f"CREATE CONSTRAINT {label.lower()}_value IF NOT EXISTS "
        f"FOR (n:{label}) REQUIRE n.value IS UNIQUE"
        for label, _ in KIND_LABELS.values()
    ),
    "CREATE CONSTRAINT identifier_key IF NOT EXISTS FOR (n:Identifier) "
    "REQUIRE (n.kind, n.value) IS UNIQUE",
    "CREATE CONSTRAINT ip_range IF NOT EXISTS FOR (n:IPRange) REQUIRE n.cidr IS UNIQUE",
    "CREATE CONSTRAINT run_id IF NOT EXISTS FOR (n:Run) REQUIRE n.run_id IS UNIQUE",
    "CREATE CONSTRAINT cluster_key IF NOT EXISTS FOR (n:Cluster) "
    "REQUIRE (n.run_id, n.cluster_id) IS UNIQUE",
    "CREATE CONSTRAINT pointer_name IF NOT EXISTS FOR (n:RunPointer) REQUIRE n.name IS UNIQUE",
)
INDEXES: tuple[str, ...] = (
    "CREATE INDEX cluster_id IF NOT EXISTS FOR (n:Cluster) ON (n.cluster_id)",
    "CREATE INDEX cluster_risk IF NOT EXISTS FOR (n:Cluster) ON (n.risk)",
    "CREATE INDEX ip_prefix IF NOT EXISTS FOR (n:IP) ON (n.prefix)",
    "CREATE INDEX account_cluster IF NOT EXISTS FOR (n:Account) ON (n.cluster_id)",
)

MERGE_ACCOUNTS = """
UNWIND $rows AS row
MERGE (a:Account {account_id: row.account_id})
SET a.created_at = row.created_at, a.email_domain = row.email_domain,
    a.country = row.country, a.org_id = row.org_id, a.attributes = row.attributes,
    a.prompt_n = row.prompt_n, a.prompt_templates = row.prompt_templates,
    a.prompt_intent = row.prompt_intent, a.prompt_top_share = row.prompt_top_share,
    a.prompt_top_template = row.prompt_top_template, a.prompt_top_variety = row.prompt_top_variety
"""

MERGE_IP_RANGES = """
UNWIND $rows AS row
MERGE (r:IPRange {cidr: row.cidr})
SET r.asn = row.asn, r.category = row.category
"""


def merge_identifiers(kind: str) -> str:
    """Nodes of one identifier kind (generic kinds share the Identifier label)."""
    label, _ = KIND_LABELS.get(kind, GENERIC)
    if label == "Identifier":
        return "UNWIND $rows AS row MERGE (n:Identifier {kind: row.kind, value: row.value})"
    extra = ", n.prefix = row.prefix" if kind == "ip" else ", n.example = row.example"
    return (
        f"UNWIND $rows AS row MERGE (n:{label} {{value: row.value}}) SET n.kind = row.kind{extra}"
    )


def merge_memberships(kind: str) -> str:
    """Account -> identifier relationships with counts, first/last seen and IP windows."""
    label, rel = KIND_LABELS.get(kind, GENERIC)
    match = (
        "MATCH (n:Identifier {kind: row.kind, value: row.value})"
        if label == "Identifier"
        else f"MATCH (n:{label} {{value: row.value}})"
    )
    return f"""
UNWIND $rows AS row
MATCH (a:Account {{account_id: row.account_id}})
{match}
MERGE (a)-[r:{rel}]->(n)
SET r.n_obs = row.n_obs, r.first_seen = row.first_ts, r.last_seen = row.last_ts,
    r.strength = row.strength, r.windows = row.windows
"""


READ_ACCOUNTS = """
MATCH (a:Account)
RETURN a.account_id AS account_id, a.created_at AS created_at, a.email_domain AS email_domain,
       a.country AS country, a.org_id AS org_id, a.prompt_n AS prompt_n,
       a.prompt_templates AS prompt_templates, a.prompt_intent AS prompt_intent,
       a.prompt_top_share AS prompt_top_share, a.prompt_top_template AS prompt_top_template,
       a.prompt_top_variety AS prompt_top_variety
"""

READ_MEMBERSHIPS = """
MATCH (a:Account)-[r:PAID_WITH|USED_IP|USED_DEVICE|SENT_TEMPLATE|HAS_IDENTIFIER]->(n)
RETURN a.account_id AS account_id, n.kind AS kind, n.value AS value, r.n_obs AS n_obs,
       r.first_seen AS first_ts, r.last_seen AS last_ts, r.strength AS strength,
       r.windows AS windows
"""

READ_IP_RANGES = "MATCH (r:IPRange) RETURN r.cidr AS ip, r.asn AS asn, r.category AS category"

READ_TEMPLATES = "MATCH (t:PromptTemplate) RETURN t.value AS value, t.example AS example"

# --- runs ---------------------------------------------------------------------------
CREATE_RUN = """
MERGE (r:Run {run_id: $run_id})
SET r.status = 'writing', r.started_at = datetime(), r.meta = $meta
"""

CREATE_CLUSTERS = """
UNWIND $rows AS row
MERGE (c:Cluster {run_id: $run_id, cluster_id: row.cluster_id})
SET c += row.props, c.reasons = row.reasons
WITH c
MATCH (r:Run {run_id: $run_id})
MERGE (c)-[:IN_RUN]->(r)
"""

CREATE_SCORES = """
UNWIND $rows AS row
MATCH (a:Account {account_id: row.account_id})
MATCH (r:Run {run_id: $run_id})
MERGE (a)-[s:SCORED]->(r)
SET s.risk = row.risk, s.own_risk = row.own_risk, s.flagged = row.flagged,
    s.cluster_id = row.cluster_id
WITH a, row
WHERE row.cluster_id IS NOT NULL
MATCH (c:Cluster {run_id: $run_id, cluster_id: row.cluster_id})
MERGE (a)-[:MEMBER_OF]->(c)
"""

CREATE_LINKS = """
UNWIND $rows AS row
MATCH (a:Account {account_id: row.a})
MATCH (b:Account {account_id: row.b})
MERGE (a)-[l:LINKED {run_id: $run_id}]->(b)
SET l.weight = row.weight, l.evidence = row.evidence, l.n_shared = row.n_shared
"""

# the switch: one small transaction makes the new run the one readers see
PUBLISH_RUN = """
MATCH (r:Run {run_id: $run_id})
SET r.status = 'complete', r.completed_at = datetime()
MERGE (p:RunPointer {name: 'latest'})
SET p.previous = p.run_id, p.run_id = $run_id
WITH r
MATCH (a:Account)-[s:SCORED]->(r)
SET a.cluster_id = s.cluster_id, a.risk = s.risk, a.flagged = s.flagged
"""

LATEST_RUN_ID = (
    "MATCH (p:RunPointer {name: 'latest'}) RETURN p.run_id AS run_id, p.previous AS previous"
)

# runs other than the latest and the one before it are deleted in batches
STALE_RUNS = """
MATCH (p:RunPointer {name: 'latest'})
MATCH (r:Run) WHERE NOT r.run_id IN [p.run_id, p.previous]
RETURN r.run_id AS run_id
"""

DELETE_RUN_BATCH = """
MATCH (r:Run {run_id: $run_id})
OPTIONAL MATCH (c:Cluster {run_id: $run_id})
WITH r, c LIMIT $batch
DETACH DELETE c
RETURN count(c) AS deleted
"""

DELETE_SCORES_BATCH = """
MATCH (:Account)-[s:SCORED]->(:Run {run_id: $run_id})
WITH s LIMIT $batch
DELETE s
RETURN count(s) AS deleted
"""

DELETE_LINKS_BATCH = """
MATCH (:Account)-[l:LINKED {run_id: $run_id}]->(:Account)
WITH l LIMIT $batch
DELETE l
RETURN count(l) AS deleted
"""

DELETE_RUN_NODE = "MATCH (r:Run {run_id: $run_id}) DETACH DELETE r"

READ_RUN = "MATCH (r:Run {run_id: $run_id}) RETURN r.meta AS meta"

READ_RUN_ACCOUNTS = """
MATCH (a:Account)-[s:SCORED]->(:Run {run_id: $run_id})
RETURN a.account_id AS account_id, s.cluster_id AS cluster_id, s.risk AS risk,
       s.flagged AS flagged, s.own_risk AS own_risk
"""

READ_RUN_CLUSTERS = """
MATCH (c:Cluster {run_id: $run_id})
RETURN c.cluster_id AS cluster_id, c.reasons AS reasons, properties(c) AS props
"""

READ_RUN_LINKS = """
MATCH (a:Account)-[l:LINKED {run_id: $run_id}]->(b:Account)
RETURN a.account_id AS a, b.account_id AS b, l.weight AS weight, l.n_shared AS n_shared,
       l.evidence AS evidence
"""

COUNT_NODES = "MATCH (n) RETURN labels(n)[0] AS label, count(*) AS n"
COUNT_RELS = "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n"
