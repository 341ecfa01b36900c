"""All Cypher of the Neo4j store. Values are always parameters; the only text put
together here is labels and relationship types from the fixed table in ``schema``."""

from __future__ import annotations

from graph_store.base import LEARNED_ACCOUNT_COLUMNS
from graph_store.neo4j.schema import CONSTRAINTS, GENERIC, INDEXES, KIND_LABELS

__all__ = ["CONSTRAINTS", "GENERIC", "INDEXES", "KIND_LABELS"]


def label_of(kind: str) -> tuple[str, str]:
    """(node label, relationship type) of an identifier kind."""
    return KIND_LABELS.get(kind, GENERIC)


# --- captions ------------------------------------------------------------------------
# Nodes carry a short ``caption`` that the Browser's style shows: an account id's tail,
# an identifier's kind and masked value (the API's rule, api/masking.py: an e-mail's
# domain, an address's first half, a phone's last 2 and anything else's last 4
# characters), a template family's example. Computed from the row in WITH clauses
# before the MERGE.

#: ids up to this length are shown whole, longer ones as '…' and their last ID_TAIL
SHORT_ID = 8
ID_TAIL = 6
#: a template family's caption shows this much of its (masked) example
EXAMPLE_CHARS = 24

ACCOUNT_CAPTION = f"""WITH row, CASE WHEN size(row.account_id) <= {SHORT_ID} THEN row.account_id
  ELSE '…' + right(row.account_id, {ID_TAIL}) END AS caption"""

_IP_CAPTION = """WITH row, split(row.value, '/') AS cidr
WITH row, cidr, split(toLower(cidr[0]), ':') AS v6, split(cidr[0], '.') AS v4
WITH row, row.kind + ' ' + CASE
  WHEN size(v6) > 1 THEN right('0000' + v6[0], 4) + ':' + right('0000' + v6[1], 4)
    + ':x:x:x:x:x:x'
  ELSE v4[0] + '.' + v4[1] + '.x.x' END
  + CASE WHEN size(cidr) > 1 THEN '/' + cidr[1] ELSE '' END AS caption"""

_TEMPLATE_CAPTION = f"""WITH row, 'template ' + CASE
  WHEN row.example IS NULL THEN row.value
  WHEN size(row.example) <= {EXAMPLE_CHARS} THEN row.example
  ELSE left(row.example, {EXAMPLE_CHARS}) + '…' END AS caption"""

_OTHER_CAPTION = """WITH row, last(split(row.value, '@')) AS domain
WITH row, domain, CASE WHEN row.value CONTAINS '@'
  THEN left(row.value, size(row.value) - size(domain) - 1) ELSE '' END AS local
WITH row, row.kind + ' ' + CASE
  WHEN row.kind = 'email' AND row.value CONTAINS '@'
    THEN left(local, 1) + '***@' + domain
  WHEN row.kind = 'phone' AND size(row.value) > 4 THEN '***' + right(row.value, 2)
  WHEN row.kind <> 'phone' AND size(row.value) > 8 THEN '***' + right(row.value, 4)
  ELSE '***' END AS caption"""


def identifier_caption(kind: str) -> str:
    """WITH clauses that add ``caption`` for an identifier of ``kind`` from ``row.kind``,
    ``row.value`` (and ``row.example`` for template families)."""
    if kind == "ip":
        return _IP_CAPTION
    if kind == "prompt_template":
        return _TEMPLATE_CAPTION
    return _OTHER_CAPTION


# --- the input graph -----------------------------------------------------------------
# Nodes are MERGEd on their key and return their id, so the membership batches that
# follow find both ends by id instead of two index seeks per row. The integer ``id()``,
# not ``elementId()``: an element id is a ~45-character string that the client packs and
# the server parses twice per membership (measured: benchmarks/neo4j_scale.py); ids
# are stable while the load runs, as a load deletes nothing. ``first_load``
# records the load that created a node: a node created by this very load has no
# relationships yet, so its memberships can be CREATEd (see ``membership_query``).


def _node_write(pattern: str, props: dict[str, str], create: bool) -> str:
    """``MERGE pattern`` tagging a node it creates with the load, then ``SET props``
    (property -> expression); or (``create``: a label that held no node when the load
    began, so every key is new) one ``CREATE`` with every property in its map, which
    skips MERGE's lookup and locking and writes each node's properties at once (a
    ``SET`` after a ``CREATE`` is a second change to the node, and makes the planner
    buffer the batch)."""
    if create:
        body = ", ".join(f"{k}: {v}" for k, v in props.items())
        return f"CREATE {pattern[:-2]}, first_load: $load, {body}}})"
    sets = ", ".join(f"n.{k} = {v}" for k, v in props.items())
    return f"MERGE {pattern}\nON CREATE SET n.first_load = $load\nSET {sets}"


def _node_answer(key: str, create: bool) -> str:
    """The node write's answer: each row's key, node id and whether this load created
    the node (always, for a CREATE)."""
    fresh = "true" if create else "n.first_load = $load"
    return f"RETURN collect({key}) AS key, collect(id(n)) AS node, collect({fresh}) AS fresh"


#: Account property -> the row's field it is set from (besides the key)
ACCOUNT_PROPS = {
    "caption": "caption",
    **{
        prop: f"row.{prop}"
        for prop in (
            "created_at",
            "email_domain",
            "country",
            "org_id",
            "attributes",
            "prompt_n",
            "prompt_templates",
            "prompt_intent",
            "prompt_top_share",
            "prompt_top_template",
            "prompt_top_variety",
            "prompt_family",
            "prompt_family_share",
            "prompt_family_variety",
            "prompt_family_resample",
            "prompt_family_intent",
        )
    },
}


def account_query(*, create: bool = False) -> str:
    """Account nodes from account rows; returns each id's node id and whether this load
    created it."""
    return f"""
UNWIND $rows AS row
{ACCOUNT_CAPTION}
{_node_write("(n:Account {account_id: row.account_id})", ACCOUNT_PROPS, create)}
{_node_answer("row.account_id", create)}
"""


MERGE_ACCOUNTS = account_query()

#: the labels of the input graph's keyed nodes
INPUT_LABELS = (
    "Account",
    *(label for label, _ in KIND_LABELS.values()),
    GENERIC[0],
    "IPRange",
)


def label_count(label: str) -> str:
    """How many nodes have ``label`` (one of INPUT_LABELS; from the count store)."""
    return f"MATCH (n:{label}) RETURN count(n) AS n"


def ip_range_query(*, create: bool = False) -> str:
    """IPRange nodes from rows ``{cidr, asn, category}`` (``create``: the label held no
    node when the load began; the rows' cidrs must then be distinct)."""
    if create:
        return """
UNWIND $rows AS row
CREATE (:IPRange {cidr: row.cidr, asn: row.asn, category: row.category})
"""
    return """
UNWIND $rows AS row
MERGE (r:IPRange {cidr: row.cidr})
SET r.asn = row.asn, r.category = row.category
"""


def merge_identifiers(kind: str, *, create: bool = False) -> str:
    """Nodes of one identifier kind (other kinds share the Identifier label); returns
    each value's node id and whether this load created it (``create``: see
    ``_node_write``)."""
    label, _ = label_of(kind)
    if label == GENERIC[0]:
        pattern = "(n:Identifier {kind: row.kind, value: row.value})"
        props = {"caption": "caption"}
    else:
        pattern = f"(n:{label} {{value: row.value}})"
        extra = "prefix" if kind == "ip" else "example"
        props = {"kind": "row.kind", extra: f"row.{extra}", "caption": "caption"}
    return f"""
UNWIND $rows AS row
{identifier_caption(kind)}
{_node_write(pattern, props, create)}
{_node_answer("row.value", create)}
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
MATCH (a:Account) WHERE id(a) = row[0]
MATCH (n:{label}) WHERE id(n) = row[1]
"""
    # the count lets the load check that every row found both of its ends
    if fresh:
        body = ", ".join(f"{p}: row[{i + 2}]" for i, p in enumerate(props))
        return head + f"CREATE (a)-[r:{rel} {{{body}}}]->(n)\nRETURN count(r) AS written\n"
    sets = ", ".join(f"r.{p} = row[{i + 2}]" for i, p in enumerate(props))
    return head + f"MERGE (a)-[r:{rel}]->(n)\nSET {sets}\nRETURN count(r) AS written\n"


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


def caption_queries(rows_per_transaction: int) -> list[str]:
    """Queries that set the ``caption`` of every Account and identifier node from its
    properties, with the load's own caption clauses (a node stands in for ``row``):
    for a graph written by ``neo4j-admin database import``. Auto-commit only
    (``IN TRANSACTIONS``)."""
    kinds = {KIND_LABELS[k][0]: k for k in KIND_LABELS} | {GENERIC[0]: "other"}
    parts = [("Account", ACCOUNT_CAPTION)]
    parts += [(label, identifier_caption(kind)) for label, kind in kinds.items()]
    return [
        f"MATCH (row:{label})\nCALL (row) {{\n{caption}\nSET row.caption = caption\n}}"
        f" IN TRANSACTIONS OF {int(rows_per_transaction)} ROWS"
        for label, caption in parts
    ]


# the input the graph holds whole, as of its last bulk import (``InputLoad`` node): a
# load of the same input (the same fingerprint) has nothing to write
READ_INPUT_MARK = "MATCH (l:InputLoad {name: 'last'}) RETURN l.fingerprint AS fingerprint"
DELETE_INPUT_MARK = "MATCH (l:InputLoad {name: 'last'}) DELETE l"
SET_INPUT_MARK = """
MERGE (l:InputLoad {name: 'last'})
SET l.fingerprint = $fingerprint, l.accounts = $accounts, l.memberships = $memberships,
    l.loaded_at = datetime(), l.by = $by
"""

READ_ACCOUNTS = """
MATCH (a:Account)
RETURN a.account_id AS account_id, a.created_at AS created_at, a.email_domain AS email_domain,
       a.country AS country, a.org_id AS org_id, a.attributes AS attributes,
       a.prompt_n AS prompt_n, a.prompt_templates AS prompt_templates,
       a.prompt_intent AS prompt_intent, a.prompt_top_share AS prompt_top_share,
       a.prompt_top_template AS prompt_top_template, a.prompt_top_variety AS prompt_top_variety,
       a.prompt_family AS prompt_family, a.prompt_family_share AS prompt_family_share,
       a.prompt_family_variety AS prompt_family_variety,
       a.prompt_family_resample AS prompt_family_resample,
       a.prompt_family_intent AS prompt_family_intent
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

# ``learned_accounts`` / ``learned_clusters``: the optional columns of a run that learned
# from labels (graph_store.base) that this run has, so that it is read back with exactly
# those, even one that is null everywhere (a property is never null in Neo4j)
CREATE_RUN = """
CREATE (r:Run {run_id: $run_id, status: 'writing', started_at: datetime(), meta: $meta,
               lease_until: datetime() + duration({seconds: $lease}),
               learned_accounts: $learned_accounts, learned_clusters: $learned_clusters})
"""

# the writer renews its lease while it writes; a 'writing' run whose lease ran out was
# left by a dead writer (or one cut off from the server) and is deleted as stale
RENEW_LEASE = """
MATCH (r:Run {run_id: $run_id, status: 'writing'})
SET r.lease_until = datetime() + duration({seconds: $lease})
"""

MARK_RUN_FAILED = "MATCH (r:Run {run_id: $run_id, status: 'writing'}) SET r.status = 'failed'"

CREATE_CLUSTERS = """
MATCH (r:Run {run_id: $run_id})
UNWIND $rows AS row
CREATE (c:Cluster {run_id: $run_id, cluster_id: row.cluster_id})
SET c += row.props, c.reasons = row.reasons
CREATE (c)-[:IN_RUN]->(r)
"""


def _copy_learned(target: str, source: str) -> str:
    """The learned account columns as ``SET`` items from ``source`` to ``target``."""
    return ", ".join(f"{target}.{c} = {source}.{c}" for c in LEARNED_ACCOUNT_COLUMNS)


# accounts are MERGEd so that a run can be written into a store that holds no input; the
# learned columns a run lacks are missing from its rows, so they are null: not set
CREATE_SCORES = f"""
UNWIND $rows AS row
{ACCOUNT_CAPTION}
MATCH (r:Run {{run_id: $run_id}})
MERGE (a:Account {{account_id: row.account_id}})
ON CREATE SET a.caption = caption
CREATE (a)-[s:SCORED {{risk: row.risk, own_risk: row.own_risk, flagged: row.flagged,
                      cluster_id: row.cluster_id, attached: row.attached}}]->(r)
SET {_copy_learned("s", "row")}
WITH a, row
WHERE row.cluster_id IS NOT NULL
MATCH (c:Cluster {{run_id: $run_id, cluster_id: row.cluster_id}})
CREATE (a)-[:MEMBER_OF]->(c)
"""

CREATE_LINKS = """
UNWIND $rows AS row
MATCH (a:Account {account_id: row.a})
MATCH (b:Account {account_id: row.b})
CREATE (a)-[:LINKED {run_id: $run_id, weight: row.weight, evidence: row.evidence,
                     n_shared: row.n_shared}]->(b)
"""

# what a run holds before it is published: it must be exactly what was written
COUNT_RUN_PARTS = """
MATCH (r:Run {run_id: $run_id})
CALL (r) { MATCH (c:Cluster {run_id: r.run_id}) RETURN count(c) AS clusters }
CALL (r) { MATCH ()-[s:SCORED]->(r) RETURN count(s) AS scores }
CALL (r) { MATCH ()-[l:LINKED {run_id: r.run_id}]->() RETURN count(l) AS links }
RETURN clusters, scores, links
"""

# the switch: one transaction makes the new run the one readers see (the pointer) and
# copies its results onto the accounts (a learned column the run lacks is removed from
# them: SET to null)
PUBLISH_RUN = f"""
MATCH (r:Run {{run_id: $run_id, status: 'writing'}})
SET r.status = 'complete', r.completed_at = datetime()
MERGE (p:RunPointer {{name: 'latest'}})
SET p.previous = p.run_id, p.run_id = $run_id, p.published_at = datetime()
WITH r
OPTIONAL MATCH (a:Account)-[s:SCORED]->(r)
SET a.cluster_id = s.cluster_id, a.risk = s.risk, a.flagged = s.flagged,
    {_copy_learned("a", "s")}
RETURN r.run_id AS run_id, count(s) AS accounts
"""

LATEST_RUN_ID = (
    "MATCH (p:RunPointer {name: 'latest'}) RETURN p.run_id AS run_id, p.previous AS previous"
)

# runs other than the latest and the one before it are deleted in batches; a run still
# being written is left alone while its writer's lease runs (runs written before leases:
# an hour from their start)
STALE_RUNS = """
OPTIONAL MATCH (p:RunPointer {name: 'latest'})
MATCH (r:Run)
WHERE NOT r.run_id IN [coalesce(p.run_id, ''), coalesce(p.previous, p.run_id, '')]
  AND (r.status <> 'writing'
       OR coalesce(r.lease_until, r.started_at + duration('PT1H')) < datetime())
RETURN r.run_id AS run_id
"""

# before its parts go, a run is marked: a reader that read parts of it sees the mark and
# reads again; the published run is never marked
MARK_RUN_DELETING = """
MATCH (r:Run {run_id: $run_id})
OPTIONAL MATCH (p:RunPointer {name: 'latest'})
WITH r, p WHERE p IS NULL OR p.run_id <> r.run_id
SET r.status = 'deleting'
RETURN count(r) AS marked
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

READ_RUN = """
MATCH (r:Run {run_id: $run_id})
RETURN r.meta AS meta, r.status AS status, coalesce(r.learned_accounts, []) AS learned_accounts,
       coalesce(r.learned_clusters, []) AS learned_clusters
"""

READ_RUN_ACCOUNTS = f"""
MATCH (a:Account)-[s:SCORED]->(:Run {{run_id: $run_id}})
RETURN a.account_id AS account_id, s.cluster_id AS cluster_id, s.risk AS risk,
       s.flagged AS flagged, s.own_risk AS own_risk, coalesce(s.attached, false) AS attached,
       {", ".join(f"s.{c} AS {c}" for c in LEARNED_ACCOUNT_COLUMNS)}
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

COUNT_ALL_NODES = "MATCH (n) RETURN count(n) AS n"
COUNT_NODES = "MATCH (n) RETURN labels(n)[0] AS label, count(*) AS n"
COUNT_RELS = "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n"

# --- analyst verdicts ---------------------------------------------------------------
# A verdict is recorded in the Browser (the guide's last step runs these queries with
# ``:param`` values): a Verdict node (who, when, why) ABOUT the cluster of the latest run
# or the account. Verdict nodes are never deleted with a run; the next link reads them
# all (``Neo4jStore.read_verdicts``) like the API's labels.jsonl, the latest per target
# winning. The query always answers one row: 'recorded', or what was wrong.

VERDICT_LABELS = ("sybil", "benign")


def record_verdict(target_type: str) -> str:
    """The query recording ``$verdict`` ({label, author, reason}) on the cluster
    ``$cluster_id`` of the latest run (``target_type`` 'cluster') or on the account
    ``$account_id`` ('account')."""
    if target_type == "cluster":
        target = "(t:Cluster {run_id: p.run_id, cluster_id: $cluster_id})"
        key, wanted = "t.cluster_id", "'no cluster ' + $cluster_id + ' in the latest run'"
    elif target_type == "account":
        target = "(t:Account {account_id: $account_id})"
        key, wanted = "t.account_id", "'no account ' + $account_id"
    else:
        raise ValueError(f"a verdict is on an account or a cluster, not {target_type!r}")
    return f"""MATCH (p:RunPointer {{name: 'latest'}})
OPTIONAL MATCH {target}
WITH p, t, CASE
  WHEN t IS NULL THEN {wanted}
  WHEN NOT $verdict.label IN {list(VERDICT_LABELS)} THEN 'label must be sybil or benign'
  WHEN trim(coalesce($verdict.author, '')) = '' THEN 'author is empty: who decides?'
END AS problem
FOREACH (_ IN CASE WHEN problem IS NULL THEN [1] ELSE [] END |
  CREATE (v:Verdict {{target_type: '{target_type}', target_id: {key}, label: $verdict.label,
                     author: trim($verdict.author), reason: coalesce($verdict.reason, ''),
                     created_at: datetime(), run_id: p.run_id,
                     caption: $verdict.label + ' by ' + trim($verdict.author)}})
  CREATE (v)-[:ABOUT]->(t))
RETURN coalesce(problem, 'recorded') AS result, {key} AS target, $verdict.label AS label,
       $verdict.author AS author
"""


RECORD_CLUSTER_VERDICT = record_verdict("cluster")
RECORD_ACCOUNT_VERDICT = record_verdict("account")

READ_VERDICTS = """
MATCH (v:Verdict)
RETURN v.target_type AS target_type, v.target_id AS target_id, v.label AS label,
       v.author AS author, v.reason AS reason, toString(v.created_at) AS created_at
ORDER BY v.created_at, elementId(v)
"""
