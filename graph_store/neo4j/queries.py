"""All Cypher of the Neo4j store. Values are always parameters; the only text put
together here is labels and relationship types from the fixed table in ``schema``."""

from __future__ import annotations

from graph_store.neo4j.schema import CONSTRAINTS, GENERIC, INDEXES, KIND_LABELS

__all__ = ["CONSTRAINTS", "GENERIC", "INDEXES", "KIND_LABELS"]


def label_of(kind: str) -> tuple[str, str]:
    """(node label, relationship type) of an identifier kind."""
    return KIND_LABELS.get(kind, GENERIC)


# --- the input graph -----------------------------------------------------------------
# Nodes are MERGEd on their key and return their element id, so the membership batches
# that follow find both ends by id instead of two index seeks per row. ``first_load``
# records the load that created a node: a node created by this very load has no
# relationships yet, so its memberships can be CREATEd (see ``membership_query``).

MERGE_ACCOUNTS = """
UNWIND $rows AS row
MERGE (a:Account {account_id: row.account_id})
ON CREATE SET a.first_load = $load
SET a.created_at = row.created_at, a.email_domain = row.email_domain,
    a.country = row.country, a.org_id = row.org_id, a.attributes = row.attributes,
    a.prompt_n = row.prompt_n, a.prompt_templates = row.prompt_templates,
    a.prompt_intent = row.prompt_intent, a.prompt_top_share = row.prompt_top_share,
    a.prompt_top_template = row.prompt_top_template, a.prompt_top_variety = row.prompt_top_variety,
    a.prompt_family = row.prompt_family, a.prompt_family_share = row.prompt_family_share,
    a.prompt_family_variety = row.prompt_family_variety
RETURN collect(row.account_id) AS key, collect(elementId(a)) AS node,
       collect(a.first_load = $load) AS fresh
"""

MERGE_IP_RANGES = """
UNWIND $rows AS row
MERGE (r:IPRange {cidr: row.cidr})
SET r.asn = row.asn, r.category = row.category
"""


def merge_identifiers(kind: str) -> str:
    """Nodes of one identifier kind (other kinds share the Identifier label); returns
    each value's element id and whether this load created it."""
    label, _ = label_of(kind)
    if label == GENERIC[0]:
        merge = "MERGE (n:Identifier {kind: row.kind, value: row.value})"
        sets = ""
    else:
        merge = f"MERGE (n:{label} {{value: row.value}})"
        extra = ", n.prefix = row.prefix" if kind == "ip" else ", n.example = row.example"
        sets = f"SET n.kind = row.kind{extra}"
    return f"""
UNWIND $rows AS row
{merge}
ON CREATE SET n.first_load = $load
{sets}
RETURN collect(row.value) AS key, collect(elementId(n)) AS node,
       collect(n.first_load = $load) AS fresh
"""


def membership_query(kind: str, *, fresh: bool) -> str:
    """Account -> identifier relationships from rows ``[account node, identifier node,
    n_obs, first_seen, last_seen, strength(, windows for IPs)]``.

    ``fresh=False`` MERGEs (a re-load changes nothing). ``fresh=True`` CREATEs and is
    only used for rows where the account or the identifier was created by the same
    load, so no such relationship can exist yet.
    """
    label, rel = label_of(kind)
    props = ["n_obs", "first_seen", "last_seen", "strength"] + (["windows"] if kind == "ip" else [])
    head = f"""
UNWIND $rows AS row
MATCH (a:Account) WHERE elementId(a) = row[0]
MATCH (n:{label}) WHERE elementId(n) = row[1]
"""
    if fresh:
        body = ", ".join(f"{p}: row[{i + 2}]" for i, p in enumerate(props))
        return head + f"CREATE (a)-[r:{rel} {{{body}}}]->(n)\n"
    sets = ", ".join(f"r.{p} = row[{i + 2}]" for i, p in enumerate(props))
    return head + f"MERGE (a)-[r:{rel}]->(n)\nSET {sets}\n"


def membership_by_key(kind: str) -> str:
    """One membership by account id and identifier value (the one-row-per-transaction
    baseline of the load benchmark)."""
    label, rel = label_of(kind)
    match = (
        "MATCH (n:Identifier {kind: $kind, value: $value})"
        if label == GENERIC[0]
        else f"MATCH (n:{label} {{value: $value}})"
    )
    return f"""
MATCH (a:Account {{account_id: $account_id}})
{match}
MERGE (a)-[r:{rel}]->(n)
SET r.n_obs = $n_obs, r.first_seen = $first_seen, r.last_seen = $last_seen,
    r.strength = $strength, r.windows = $windows
"""


READ_ACCOUNTS = """
MATCH (a:Account)
RETURN a.account_id AS account_id, a.created_at AS created_at, a.email_domain AS email_domain,
       a.country AS country, a.org_id AS org_id, a.attributes AS attributes,
       a.prompt_n AS prompt_n, a.prompt_templates AS prompt_templates,
       a.prompt_intent AS prompt_intent, a.prompt_top_share AS prompt_top_share,
       a.prompt_top_template AS prompt_top_template, a.prompt_top_variety AS prompt_top_variety,
       a.prompt_family AS prompt_family, a.prompt_family_share AS prompt_family_share,
       a.prompt_family_variety AS prompt_family_variety
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
# A run is written under a run id that no other Run node has (the store deletes a
# failed or superseded run of the same id first), so its parts are CREATEd.

RUN_STATUS = """
OPTIONAL MATCH (r:Run {run_id: $run_id})
OPTIONAL MATCH (p:RunPointer {name: 'latest'})
RETURN r.status AS status, p.run_id AS latest
"""

CREATE_RUN = """
CREATE (r:Run {run_id: $run_id, status: 'writing', started_at: datetime(), meta: $meta})
"""

MARK_RUN_FAILED = "MATCH (r:Run {run_id: $run_id, status: 'writing'}) SET r.status = 'failed'"

CREATE_CLUSTERS = """
MATCH (r:Run {run_id: $run_id})
UNWIND $rows AS row
CREATE (c:Cluster {run_id: $run_id, cluster_id: row.cluster_id})
SET c += row.props, c.reasons = row.reasons
CREATE (c)-[:IN_RUN]->(r)
"""

# accounts are MERGEd so that a run can be written into a store that holds no input
CREATE_SCORES = """
MATCH (r:Run {run_id: $run_id})
UNWIND $rows AS row
MERGE (a:Account {account_id: row.account_id})
CREATE (a)-[:SCORED {risk: row.risk, own_risk: row.own_risk, flagged: row.flagged,
                     cluster_id: row.cluster_id, attached: row.attached}]->(r)
WITH a, row
WHERE row.cluster_id IS NOT NULL
MATCH (c:Cluster {run_id: $run_id, cluster_id: row.cluster_id})
CREATE (a)-[:MEMBER_OF]->(c)
"""

CREATE_LINKS = """
UNWIND $rows AS row
MATCH (a:Account {account_id: row.a})
MATCH (b:Account {account_id: row.b})
CREATE (a)-[:LINKED {run_id: $run_id, weight: row.weight, evidence: row.evidence,
                     n_shared: row.n_shared}]->(b)
"""

# the switch: one transaction makes the new run the one readers see (the pointer) and
# copies its results onto the accounts
PUBLISH_RUN = """
MATCH (r:Run {run_id: $run_id, status: 'writing'})
SET r.status = 'complete', r.completed_at = datetime()
MERGE (p:RunPointer {name: 'latest'})
SET p.previous = p.run_id, p.run_id = $run_id, p.published_at = datetime()
WITH r
OPTIONAL MATCH (a:Account)-[s:SCORED]->(r)
SET a.cluster_id = s.cluster_id, a.risk = s.risk, a.flagged = s.flagged
RETURN r.run_id AS run_id, count(s) AS accounts
"""

LATEST_RUN_ID = (
    "MATCH (p:RunPointer {name: 'latest'}) RETURN p.run_id AS run_id, p.previous AS previous"
)

# runs other than the latest and the one before it are deleted in batches; a run still
# being written is left alone unless it was started over an hour ago (a dead writer)
STALE_RUNS = """
MATCH (p:RunPointer {name: 'latest'})
MATCH (r:Run)
WHERE NOT r.run_id IN [p.run_id, coalesce(p.previous, p.run_id)]
  AND (r.status <> 'writing' OR r.started_at < datetime() - duration('PT1H'))
RETURN r.run_id AS run_id
"""

DELETE_CLUSTERS_BATCH = """
MATCH (c:Cluster {run_id: $run_id})
WITH c LIMIT $batch
DETACH DELETE c
RETURN count(*) AS deleted
"""

DELETE_SCORES_BATCH = """
MATCH (:Run {run_id: $run_id})<-[s:SCORED]-()
WITH s LIMIT $batch
DELETE s
RETURN count(*) AS deleted
"""

DELETE_LINKS_BATCH = """
MATCH ()-[l:LINKED {run_id: $run_id}]->()
WITH l LIMIT $batch
DELETE l
RETURN count(*) AS deleted
"""

DELETE_RUN_NODE = "MATCH (r:Run {run_id: $run_id}) DETACH DELETE r"

READ_RUN = "MATCH (r:Run {run_id: $run_id}) RETURN r.meta AS meta, r.status AS status"

READ_RUN_ACCOUNTS = """
MATCH (a:Account)-[s:SCORED]->(:Run {run_id: $run_id})
RETURN a.account_id AS account_id, s.cluster_id AS cluster_id, s.risk AS risk,
       s.flagged AS flagged, s.own_risk AS own_risk, coalesce(s.attached, false) AS attached
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
