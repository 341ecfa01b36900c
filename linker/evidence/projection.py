"""The weighted account projection: identifiers judged by corroboration, pair evidence
combined into edges (``build_projection``), and the values each cluster shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linker.evidence.identifiers import account_memberships, identifier_table
from linker.evidence.pairs import PairEvidence, expander_order, pair_chunks, sync_counts
from linker.graph import leiden_labels
from linker.model import LinkInput, require_columns
from linker.settings import LinkageSettings, is_instrument

#: columns each table of a Projection must have (others may follow)
IDENTIFIER_COLUMNS = ("kind", "value", "degree", "p", "supernode")
PROJECTED_MEMBERSHIP_COLUMNS = ("account", "ident", "strength")
EDGE_COLUMNS = ("a", "b", "weight")

#: called with the name of each sub-stage as it starts ("projection: pair expansion")
Progress = Callable[[str], None]


def _noop(stage: str) -> None:
    """The progress callback that says nothing."""


#: the edges of one pass from (memberships, their identifier numbers, the identifier
#: table with this pass's ``p``, simultaneity counts, settings, progress): the embedded
#: :func:`pass_edges`, or an engine's (linker/engines/spark) that must give the same
PassEdges = Callable[
    [pd.DataFrame, np.ndarray, pd.DataFrame, pd.DataFrame, LinkageSettings, Progress],
    pd.DataFrame,
]
#: each identifier's corroboration from (memberships, their identifier numbers, the
#: identifier table, first-pass community labels, settings): :func:`corroboration`, or
#: an engine's that gives the same numbers
Corroborate = Callable[
    [pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, LinkageSettings], np.ndarray
]


@dataclass(frozen=True)
class Projection:
    """The linkage graph of one run.

    - ``accounts``: account ids; an account's position is its integer index;
    - ``identifiers``: one row per identifier (``kind``, ``value``, ``category``,
      ``asn``, ``degree``, ``p``, ``supernode``);
    - ``memberships``: one row per (account index, identifier index) with
      ``n_obs``, ``first_ts``, ``last_ts``, ``strength``; rows of strength 0 (a
      template family used too little to link) make no pairs and no degree;
    - ``edges``: one row per linked pair (``a`` < ``b``, account indexes), with
      ``weight``, ``n_shared`` and one ``ev_<kind>`` count column per kind.
    """

    accounts: pd.Index
    identifiers: pd.DataFrame
    memberships: pd.DataFrame
    edges: pd.DataFrame

    def __post_init__(self) -> None:
        require_columns(self.identifiers, IDENTIFIER_COLUMNS, "projection: identifiers")
        require_columns(self.memberships, PROJECTED_MEMBERSHIP_COLUMNS, "projection: memberships")
        require_columns(self.edges, EDGE_COLUMNS, "projection: edges")


def judged_identifiers(identifiers: pd.DataFrame, settings: LinkageSettings) -> np.ndarray:
    """Instruments (every kind but the linker's own roles) whose weight depends on
    corroboration: shared by more accounts than ``specificity_free_degree``."""
    return is_instrument(identifiers["kind"]) & (
        identifiers["degree"].to_numpy() > settings.specificity_free_degree
    )


def _co_membership(
    memberships: pd.DataFrame, mem_ident: np.ndarray, judged: np.ndarray, n_idents: int
) -> np.ndarray:
    """Per judged identifier, its largest Jaccard overlap with another judged
    identifier's accounts (a ring's cards and devices share one member set; popular
    fingerprints and unrelated cards do not)."""
    out = np.zeros(n_idents)
    rows = judged[mem_ident]
    if rows.sum() < 2:
        return out
    frame = pd.DataFrame(
        {"account": memberships["account"].to_numpy(np.int64)[rows], "ident": mem_ident[rows]}
    )
    pairs = frame.merge(frame, on="account")
    pairs = pairs[pairs["ident_x"] < pairs["ident_y"]]
    if pairs.empty:
        return out
    shared = pairs.groupby(["ident_x", "ident_y"]).size().reset_index(name="n")
    deg = np.bincount(frame["ident"].to_numpy(), minlength=n_idents)
    jac = shared["n"] / (deg[shared["ident_x"]] + deg[shared["ident_y"]] - shared["n"])
    np.maximum.at(out, shared["ident_x"].to_numpy(), jac.to_numpy())
    np.maximum.at(out, shared["ident_y"].to_numpy(), jac.to_numpy())
    return out


def judged_memberships(
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    labels: np.ndarray,
    settings: LinkageSettings,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The judged instruments (a mask over ``identifiers``) and their membership rows as
    (ident, account, label): each account's first-pass community, an account in none
    being a community of its own (``-1 - account``). Both engines' corroboration start
    here."""
    judged = judged_identifiers(identifiers, settings)
    rows = judged[mem_ident]
    acc = memberships["account"].to_numpy(np.int64)[rows]
    lab = labels[acc].astype(np.int64)
    frame = pd.DataFrame(
        {
            "ident": mem_ident[rows].astype(np.int64),
            "account": acc,
            "label": np.where(lab >= 0, lab, -1 - acc),
        }
    )
    return judged, frame


def corroboration(
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    labels: np.ndarray,
    settings: LinkageSettings,
) -> np.ndarray:
    """How much other evidence backs each shared instrument, in [0, 1] (1 for the
    identifiers not judged).

    Two measures, the larger wins: the largest share of the instrument's accounts that
    fall in one community of a first pass built *without* the judged instruments (so an
    instrument is judged by other evidence only: a ring's accounts are linked by their
    addresses, prompts and small shared instruments; strangers on a popular device
    fingerprint scatter), and the largest Jaccard overlap with another judged
    instrument's accounts (six cards and devices all shared by the same ring)."""
    judged, frame = judged_memberships(memberships, mem_ident, identifiers, labels, settings)
    out = np.ones(len(identifiers))
    if frame.empty:
        return out
    best = frame.groupby(["ident", "label"]).size().groupby(level=0).max()
    deg = identifiers["degree"].to_numpy()
    share = np.zeros(len(identifiers))
    share[best.index.to_numpy()] = best.to_numpy() / deg[best.index.to_numpy()]
    co = _co_membership(memberships, mem_ident, judged, len(identifiers))
    out[judged] = np.maximum(share, co)[judged]
    return out


def combine_edges(
    pairs: pd.DataFrame, p: np.ndarray, kinds: np.ndarray, settings: LinkageSettings
) -> pd.DataFrame:
    """Noisy-OR of each pair's evidence; keeps pairs at or above ``min_edge_weight``.

    Returns (a, b, weight, n_shared, ev_<kind>...) where ``ev_<kind>`` counts the shared
    identifiers of each kind.
    """
    key = pairs["a"].to_numpy(np.int64) * np.int64(1 << 32) + pairs["b"].to_numpy(np.int64)
    pair_code, pair_keys = pd.factorize(key)
    log_miss = np.bincount(pair_code, weights=np.log1p(-np.minimum(p, 0.999)))
    weight = 1.0 - np.exp(log_miss)
    kind_names, kind_code = np.unique(kinds, return_inverse=True)
    cells = pair_code.astype(np.int64) * len(kind_names) + kind_code
    counts = (
        np.bincount(cells, minlength=len(pair_keys) * len(kind_names))
        .astype(np.int32)
        .reshape(len(pair_keys), len(kind_names))
    )
    edges = pd.DataFrame(
        {
            "a": (pair_keys >> 32).astype(np.int64),
            "b": (pair_keys & ((1 << 32) - 1)).astype(np.int64),
            "weight": weight,
            "n_shared": counts.sum(axis=1),
        }
    )
    for i, name in enumerate(kind_names):
        edges[f"ev_{name}"] = counts[:, i]
    edges = edges[edges["weight"] >= settings.min_edge_weight]
    return edges.sort_values(["a", "b"], ignore_index=True)


def pass_edges(
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    sync: pd.DataFrame,
    settings: LinkageSettings,
    progress: Progress = _noop,
) -> pd.DataFrame:
    """The edges of one pass. Pairs are expanded and judged chunk by chunk (only the
    rows reaching ``min_contribution`` are kept), so memory follows the strong pairs,
    not every pair the identifiers make; rows keep their order, so the sums are the
    same as over one whole frame."""
    eligible = eligible_identifiers(identifiers, settings)
    use = eligible[mem_ident]
    evidence = PairEvidence(memberships, mem_ident, identifiers, sync, settings)
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    account = memberships["account"].to_numpy(np.int64)[use]
    degree = identifiers["degree"].to_numpy()
    order = expander_order(account, mem_ident[use], degree, settings)
    chunks = pair_chunks(mem_ident[use], account, degree, settings, order=order)
    while True:
        progress("projection: pair expansion")
        chunk = next(chunks, None)
        if chunk is None:
            break
        progress("projection: time evidence")
        p = evidence(chunk)
        strong = p >= settings.min_contribution
        kept.append((chunk[["a", "b", "ident"]].to_numpy()[strong], p[strong]))
    progress("projection: edges")
    rows = np.concatenate([k[0] for k in kept]) if kept else np.zeros((0, 3), np.int64)
    pairs = pd.DataFrame(rows, columns=["a", "b", "ident"])
    p = np.concatenate([k[1] for k in kept]) if kept else np.zeros(0)
    kinds = identifiers["kind"].to_numpy()[pairs["ident"].to_numpy()]
    return combine_edges(pairs, p, kinds, settings)


def eligible_identifiers(identifiers: pd.DataFrame, settings: LinkageSettings) -> np.ndarray:
    """Identifiers that make pairs: shared, not supernodes, able to reach
    ``min_contribution`` even with the simultaneity boost."""
    eligible: np.ndarray = (
        (identifiers["degree"].to_numpy() >= 2)
        & ~identifiers["supernode"].to_numpy()
        & (identifiers["p"].to_numpy() * (1 + settings.sync_boost) >= settings.min_contribution)
    )
    return eligible


def build_projection(
    inp: LinkInput,
    settings: LinkageSettings | None = None,
    progress: Progress | None = None,
    edges_of: PassEdges | None = None,
    corroborate: Corroborate | None = None,
) -> Projection:
    """Build the weighted account projection of ``inp``. Returns a :class:`Projection`.

    Two passes: the first leaves out cards, devices and other instruments shared by more
    than a handful of accounts and finds communities from the rest; each such instrument
    then gets a weight between its uncorroborated value (fast specificity decay) and its
    full value, in proportion to how much other evidence backs it
    (:func:`corroboration`), and the second pass gives the edges. ``progress`` is told
    each sub-stage as it starts (identifier table, pair expansion, time evidence, edges,
    corroboration; a pass repeats them). ``edges_of`` makes each pass's edges
    (:func:`pass_edges` by default) and ``corroborate`` measures corroboration
    (:func:`corroboration` by default); the Spark engine's run on a cluster.
    """
    settings = settings or LinkageSettings()
    edges_of = edges_of or pass_edges
    corroborate = corroborate or corroboration
    progress = progress or _noop
    progress("projection: identifier table")
    accounts = pd.Index(inp.accounts["account_id"])
    memberships = account_memberships(inp.memberships, accounts)
    # strength 0: a use that links nobody (a template family sent once); kept for risk
    feature_only = memberships[memberships["strength"].to_numpy() <= 0]
    memberships = memberships[memberships["strength"].to_numpy() > 0].reset_index(drop=True)
    identifiers, mem_ident = identifier_table(memberships, inp.ip_info, settings)
    identifiers["has_strength"] = (
        pd.Series(memberships["strength"].to_numpy() < 1.0)
        .groupby(mem_ident)
        .any()
        .reindex(range(len(identifiers)), fill_value=False)
        .to_numpy()
    )
    judged = judged_identifiers(identifiers, settings)
    identifiers["p"] = np.where(judged, 0.0, identifiers["p_corroborated"].to_numpy())
    # simultaneity is counted on addresses only, whose weights both passes share
    progress("projection: time evidence")
    sync = sync_counts(
        inp.ip_windows, accounts, identifiers, eligible_identifiers(identifiers, settings), settings
    )
    first = edges_of(memberships, mem_ident, identifiers, sync, settings, progress)
    progress("projection: corroboration")
    labels = leiden_labels(len(accounts), first, settings.seed)
    coh = corroborate(memberships, mem_ident, identifiers, labels, settings)
    identifiers["corroboration"] = coh
    p_alone, p_full = identifiers["p_alone"].to_numpy(), identifiers["p_corroborated"].to_numpy()
    identifiers["p"] = p_alone + (p_full - p_alone) * coh
    edges = edges_of(memberships, mem_ident, identifiers, sync, settings, progress)
    progress("projection: edges")
    memberships = memberships.assign(ident=mem_ident)
    if len(feature_only):
        keys = pd.MultiIndex.from_frame(identifiers[["kind", "value"]])
        ident = keys.get_indexer(pd.MultiIndex.from_frame(feature_only[["kind", "value"]]))
        feature_only = feature_only.assign(ident=ident)[ident >= 0]
        memberships = pd.concat([memberships, feature_only], ignore_index=True)
    return Projection(accounts, identifiers, memberships, edges)


def shared_values(
    projection: Projection, cluster_ids: pd.Series, top: int = 3
) -> dict[str, list[dict[str, object]]]:
    """The identifier values each cluster's members share, for review: per cluster and
    kind, the ``top`` values used by the most members (at least two), as
    ``{cluster_id: [{"kind", "value", "accounts"}]}`` (``cluster_ids`` indexed like
    ``projection.accounts``). Template families appear by id, never by text."""
    mem = projection.memberships
    codes, names = pd.factorize(cluster_ids.to_numpy(dtype=object)[mem["account"].to_numpy()])
    inside = codes >= 0
    if not inside.any():
        return {}
    # one membership row per (account, identifier): a row count is an account count
    n_idents = len(projection.identifiers)
    key = codes[inside].astype(np.int64) * n_idents + mem["ident"].to_numpy(np.int64)[inside]
    keys, accounts = np.unique(key, return_counts=True)
    shared = accounts >= 2
    ident = keys[shared] % n_idents
    counts = pd.DataFrame(
        {
            "cluster": np.asarray(names, dtype=object)[keys[shared] // n_idents],
            "kind": projection.identifiers["kind"].to_numpy()[ident],
            "value": projection.identifiers["value"].to_numpy()[ident].astype(str),
            "accounts": accounts[shared].astype(int),
        }
    )
    counts = counts.sort_values(
        ["cluster", "kind", "accounts", "value"], ascending=[True, True, False, True]
    )
    best = counts.groupby(["cluster", "kind"], sort=False).head(top)
    out: dict[str, list[dict[str, object]]] = {}
    for cid, kind, value, n in best.itertuples(index=False, name=None):
        out.setdefault(str(cid), []).append({"kind": kind, "value": value, "accounts": int(n)})
    return out
