"""From account-identifier observations to a weighted account-account projection.

The account graph is bipartite (accounts on one side, identifiers on the other).
Each shared identifier contributes an evidence probability ``p`` to the pair of
accounts that share it:

    p = kind_weight(kind) * category_factor(ip category) * specificity(degree)
        * time_factor(pair)                       (ip kinds only)

and a pair's edge weight combines its shared identifiers as a noisy-OR,
``w = 1 - prod(1 - p_i)``, so independent kinds of evidence reinforce each other
while one weak link stays below ``min_edge_weight``. Everything is vectorised over
identifiers grouped by degree; there is no Python loop over pairs or rows.
See docs/linkage.md for the reasoning behind each factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from graph_store.base import MEMBERSHIP_COLUMNS, LinkInput
from linker import normalise
from linker.ingest import Dataset
from linker.ipintel import lookup_ip_info
from linker.settings import LinkageSettings

IP_KINDS = ("ip", "ip_prefix")
NS_PER_S = 1_000_000_000


@dataclass
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


def link_input(
    dataset: Dataset,
    settings: LinkageSettings | None = None,
    extra_memberships: pd.DataFrame | None = None,
    prompt_features: pd.DataFrame | None = None,
    template_examples: dict[str, str] | None = None,
) -> LinkInput:
    """The projection's input for a validated dataset plus prompt-stage results."""
    settings = settings or LinkageSettings()
    memberships = dataset.signals.assign(strength=1.0)[list(MEMBERSHIP_COLUMNS)]
    if extra_memberships is not None and not extra_memberships.empty:
        memberships = pd.concat(
            [memberships, extra_memberships[list(MEMBERSHIP_COLUMNS)]], ignore_index=True
        )
    return LinkInput(
        accounts=dataset.accounts,
        memberships=memberships,
        ip_windows=ip_windows(dataset.observations, settings.sync_window_minutes),
        ip_info=dataset.ip_info,
        prompt_features=prompt_features,
        template_examples=dict(template_examples or {}),
    )


def ip_windows(observations: pd.DataFrame, window_minutes: int) -> pd.DataFrame:
    """Distinct (account_id, value, window) of timed IP observations."""
    obs = observations[(observations["kind"] == "ip") & observations["ts"].notna()]
    window = np.int64(window_minutes * 60 * NS_PER_S)
    ts = obs["ts"].to_numpy("datetime64[ns]").astype(np.int64)
    frame = pd.DataFrame(
        {
            "account_id": obs["account_id"].to_numpy(),
            "value": obs["value"].to_numpy(),
            "window": ts // window,
        }
    )
    return frame.drop_duplicates(ignore_index=True)


def account_memberships(memberships: pd.DataFrame, accounts: pd.Index) -> pd.DataFrame:
    """Memberships with account positions, plus the /24 or /48 prefix of every address
    as a weaker ``ip_prefix`` identifier."""
    base = pd.DataFrame(
        {
            "account": accounts.get_indexer(pd.Index(memberships["account_id"])).astype(np.int32),
            "kind": memberships["kind"].to_numpy(),
            "value": memberships["value"].to_numpy(),
            "n_obs": memberships["n_obs"].to_numpy(np.int64),
            "first_ts": memberships["first_ts"].to_numpy("datetime64[ns]"),
            "last_ts": memberships["last_ts"].to_numpy("datetime64[ns]"),
            "strength": (
                memberships["strength"].fillna(1.0).to_numpy(float)
                if "strength" in memberships
                else 1.0
            ),
        }
    )
    base = base[base["account"] >= 0]
    ips = base[base["kind"] == "ip"]
    if ips.empty:
        return base.reset_index(drop=True)
    prefixes = ips.assign(kind="ip_prefix", value=normalise.ip_prefixes(ips["value"]).to_numpy())
    prefixes = (
        prefixes.groupby(["account", "kind", "value"], sort=False)
        .agg(n_obs=("n_obs", "sum"), first_ts=("first_ts", "min"), last_ts=("last_ts", "max"))
        .reset_index()
        .assign(strength=1.0)
    )
    return pd.concat([base, prefixes], ignore_index=True)


def specificity(
    degree: np.ndarray, exponent: np.ndarray | float, settings: LinkageSettings
) -> np.ndarray:
    """Discount for identifiers shared by many accounts: 1 up to ``specificity_free_degree``,
    then ``(free / degree) ** exponent``, a slow power law so a large ring keeps weight."""
    free = float(settings.specificity_free_degree)
    ratio = free / np.maximum(degree.astype(float), free)
    return np.power(ratio, exponent)


def identifier_table(
    memberships: pd.DataFrame, ip_info: pd.DataFrame | None, settings: LinkageSettings
) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per distinct (kind, value) with its degree, context and evidence ``p``.

    Returns the table and, for each membership row, the index of its identifier.
    """
    keys = memberships["kind"].astype(str) + "\x1f" + memberships["value"].astype(str)
    codes, uniques = pd.factorize(keys, sort=True)
    split = pd.Series(uniques).str.split("\x1f", n=1, expand=True)
    table = pd.DataFrame({"kind": split[0].to_numpy(), "value": split[1].to_numpy()})
    table["degree"] = np.bincount(codes, minlength=len(table)).astype(np.int64)
    table["category"] = None
    table["asn"] = pd.array([None] * len(table), dtype="Int64")
    is_ip = table["kind"].isin(IP_KINDS).to_numpy()
    if is_ip.any():
        # a prefix is looked up by its network address; exact ip_info prefixes match it
        addrs = table.loc[is_ip, "value"].str.split("/").str[0]
        intel = lookup_ip_info(addrs, ip_info)
        table.loc[is_ip, "category"] = intel["category"].to_numpy()
        table.loc[is_ip, "asn"] = intel["asn"].array
    kind_w = table["kind"].map(settings.weight_of).to_numpy(float)
    cat_f = table["category"].map(settings.ip_category_factor).fillna(1.0).to_numpy(float)
    exponent = table["kind"].map(settings.exponent_of).to_numpy(float)
    degree = table["degree"].to_numpy()
    p = kind_w * cat_f * specificity(degree, exponent, settings)
    table["p_corroborated"] = np.clip(p, 0.0, 0.95)
    # an identifier whose sharers have nothing else in common (a fingerprint collision,
    # a card passed around) falls fast with its degree; see corroborate()
    fast = np.where(
        table["kind"].isin(settings.corroborated_kinds).to_numpy(),
        np.maximum(exponent, settings.uncorroborated_exponent),
        exponent,
    )
    table["p_alone"] = np.clip(kind_w * cat_f * specificity(degree, fast, settings), 0.0, 0.95)
    table["p"] = table["p_alone"]
    caps = {kind: settings.supernode_degree(kind) for kind in table["kind"].unique()}
    cap = np.array([caps[kind] for kind in table["kind"]], dtype=np.int64)
    table["supernode"] = table["degree"].to_numpy() > cap
    return table, codes.astype(np.int64)


def _clique_pairs(groups: np.ndarray, members: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """All pairs inside each of ``groups`` (rows of a (n, size) member matrix)."""
    iu, ju = np.triu_indices(size, k=1)
    a = members[:, iu].ravel()
    b = members[:, ju].ravel()
    g = np.repeat(groups, len(iu))
    return a, b, g


def _sparse_pairs(
    group: int, members: np.ndarray, partners: int, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """A random expander over one large identifier's members: the union of
    ``partners // 2`` random Hamiltonian cycles, so every member has ~``partners``
    links and the group stays one well-connected community."""
    a_parts, b_parts = [], []
    for _ in range(max(partners // 2, 1)):
        perm = rng.permutation(members)
        a_parts.append(perm)
        b_parts.append(np.roll(perm, -1))
    a = np.concatenate(a_parts)
    b = np.concatenate(b_parts)
    return a, b, np.full(len(a), group, dtype=np.int64)


def expand_pairs(
    ident: np.ndarray, account: np.ndarray, degree: np.ndarray, settings: LinkageSettings
) -> pd.DataFrame:
    """Pairs of accounts sharing an identifier, as a frame (a < b, ident).

    ``ident``/``account`` are membership rows of identifiers that may make pairs;
    ``degree`` gives each identifier's number of accounts. Identifiers of equal degree
    are expanded together with one index matrix, so the loop runs over distinct
    degrees, not over identifiers or pairs.
    """
    if len(ident) == 0:
        return pd.DataFrame({"a": [], "b": [], "ident": []}, dtype=np.int64)
    order = np.lexsort((account, ident))
    ident, account = ident[order], account[order]
    starts = np.flatnonzero(np.r_[True, ident[1:] != ident[:-1]])
    group_ids = ident[starts]
    sizes = degree[group_ids]
    rng = np.random.default_rng(settings.seed)
    parts: list[tuple[np.ndarray, ...]] = []
    for size in np.unique(sizes):
        if size < 2:
            continue
        sel = np.flatnonzero(sizes == size)
        if size <= settings.dense_limit:
            idx = starts[sel][:, None] + np.arange(size)[None, :]
            parts.append(_clique_pairs(group_ids[sel], account[idx], int(size)))
        else:
            for s in sel:
                members = account[starts[s] : starts[s] + size]
                parts.append(
                    _sparse_pairs(int(group_ids[s]), members, settings.sparse_partners, rng)
                )
    if not parts:
        return pd.DataFrame({"a": [], "b": [], "ident": []}, dtype=np.int64)
    a = np.concatenate([p[0] for p in parts]).astype(np.int64)
    b = np.concatenate([p[1] for p in parts]).astype(np.int64)
    g = np.concatenate([p[2] for p in parts]).astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    frame = pd.DataFrame({"a": lo[keep], "b": hi[keep], "ident": g[keep]})
    return frame.drop_duplicates(ignore_index=True)


def sync_counts(
    windows: pd.DataFrame,
    accounts: pd.Index,
    identifiers: pd.DataFrame,
    eligible: np.ndarray,
    settings: LinkageSettings,
) -> pd.DataFrame:
    """For pairs seen on the same IP in the same ``sync_window_minutes`` slot: how many
    distinct slots they shared. Returns a frame (a, b, ident, n_sync)."""
    empty = pd.DataFrame({"a": [], "b": [], "ident": [], "n_sync": []}, dtype=np.int64)
    ip_rows = np.flatnonzero(identifiers["kind"].to_numpy() == "ip")
    if windows.empty or len(ip_rows) == 0:
        return empty
    found = pd.Index(identifiers["value"].to_numpy()[ip_rows]).get_indexer(windows["value"])
    ident = np.where(found >= 0, ip_rows[np.maximum(found, 0)], -1)
    account = accounts.get_indexer(pd.Index(windows["account_id"]))
    ok = (ident >= 0) & (account >= 0)
    ok[ok] = eligible[ident[ok]]
    if not ok.any():
        return empty
    slot_key, _ = pd.factorize(
        ident[ok].astype(np.int64) * np.int64(1 << 32)
        + (windows["window"].to_numpy(np.int64)[ok] % np.int64(1 << 32))
    )
    slot_degree = np.bincount(slot_key)
    pairs = expand_pairs(
        slot_key.astype(np.int64), account[ok].astype(np.int64), slot_degree, settings
    )
    if pairs.empty:
        return empty
    slot_ident = pd.Series(ident[ok]).groupby(slot_key).first().to_numpy()
    pairs["ident"] = slot_ident[pairs["ident"].to_numpy()]
    return pairs.groupby(["a", "b", "ident"], sort=False).size().rename("n_sync").reset_index()


def _span_lookup(
    pairs: pd.DataFrame, memberships: pd.DataFrame, mem_ident: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """first/last/strength of each pair's two memberships in the pair's identifier."""
    span = pd.DataFrame(
        {
            "first": memberships["first_ts"].to_numpy("datetime64[ns]").astype(np.int64),
            "last": memberships["last_ts"].to_numpy("datetime64[ns]").astype(np.int64),
            "strength": memberships["strength"].to_numpy(float),
        },
        index=pd.MultiIndex.from_arrays([memberships["account"].to_numpy(np.int64), mem_ident]),
    )
    out = []
    for side in ("a", "b"):
        key = pd.MultiIndex.from_arrays([pairs[side].to_numpy(), pairs["ident"].to_numpy()])
        found = span.reindex(key)
        out.append({c: found[c].to_numpy() for c in span.columns})
    return out[0], out[1]


def pair_evidence(
    pairs: pd.DataFrame,
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    sync: pd.DataFrame,
    settings: LinkageSettings,
) -> np.ndarray:
    """Evidence ``p`` of each (a, b, ident) row: the identifier's ``p``, times the
    membership strengths (share of an account's prompts in a template family), times
    the time factors (evidence of an address or a prompt family used months apart
    decays; simultaneous use of an address is boosted)."""
    ident = pairs["ident"].to_numpy()
    p = identifiers["p"].to_numpy()[ident].copy()
    kinds = identifiers["kind"].to_numpy()[ident]
    is_ip = np.isin(kinds, IP_KINDS)
    timed = np.isin(kinds, settings.time_decay_kinds)
    weak = identifiers["has_strength"].to_numpy()[ident]
    need = timed | weak
    if not need.any():
        return p
    sub = pairs[need]
    sa, sb = _span_lookup(sub, memberships, mem_ident)
    factor = np.sqrt(sa["strength"] * sb["strength"])
    nat = np.iinfo(np.int64).min
    known = (sa["first"] != nat) & (sb["first"] != nat)
    gap_ns = np.maximum(
        0, np.maximum(sa["first"], sb["first"]) - np.minimum(sa["last"], sb["last"])
    )
    gap_days = np.where(known, gap_ns / (86_400 * NS_PER_S), 0.0)
    factor = np.where(
        timed[need], factor * np.power(0.5, gap_days / settings.gap_half_life_days), factor
    )
    sub_ip = is_ip[need]
    if not sync.empty and sub_ip.any():
        n_sync = (
            sub[["a", "b", "ident"]]
            .merge(sync, on=["a", "b", "ident"], how="left")["n_sync"]
            .fillna(0)
            .to_numpy()
        )
        boost = settings.sync_boost * np.minimum(n_sync, settings.sync_saturation)
        factor = factor * (1.0 + boost / settings.sync_saturation)
    p[need] = np.clip(p[need] * factor, 0.0, 0.95)
    return p


def _judged(identifiers: pd.DataFrame, settings: LinkageSettings) -> np.ndarray:
    """Instruments whose weight depends on corroboration: corroborated kinds shared by
    more accounts than ``specificity_free_degree``."""
    return identifiers["kind"].isin(settings.corroborated_kinds).to_numpy() & (
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
    judged = _judged(identifiers, settings)
    out = np.ones(len(identifiers))
    rows = judged[mem_ident]
    if not rows.any():
        return out
    acc = memberships["account"].to_numpy(np.int64)[rows]
    lab = labels[acc].astype(np.int64)
    lab = np.where(lab >= 0, lab, -1 - acc)  # singletons are communities of their own
    frame = pd.DataFrame({"ident": mem_ident[rows], "label": lab})
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
    counts = np.zeros((len(pair_keys), len(kind_names)), dtype=np.int32)
    np.add.at(counts, (pair_code, kind_code), 1)
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


def _edges(
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    sync: pd.DataFrame,
    settings: LinkageSettings,
) -> pd.DataFrame:
    eligible = _eligible(identifiers, settings)
    use = eligible[mem_ident]
    pairs = expand_pairs(
        mem_ident[use],
        memberships["account"].to_numpy(np.int64)[use],
        identifiers["degree"].to_numpy(),
        settings,
    )
    p = pair_evidence(pairs, memberships, mem_ident, identifiers, sync, settings)
    strong = p >= settings.min_contribution
    pairs, p = pairs[strong], p[strong]
    kinds = identifiers["kind"].to_numpy()[pairs["ident"].to_numpy()]
    return combine_edges(pairs, p, kinds, settings)


def _eligible(identifiers: pd.DataFrame, settings: LinkageSettings) -> np.ndarray:
    """Identifiers that make pairs: shared, not supernodes, able to reach
    ``min_contribution`` even with the simultaneity boost."""
    return (
        (identifiers["degree"].to_numpy() >= 2)
        & ~identifiers["supernode"].to_numpy()
        & (identifiers["p"].to_numpy() * (1 + settings.sync_boost) >= settings.min_contribution)
    )


def build_projection(inp: LinkInput, settings: LinkageSettings | None = None) -> Projection:
    """Build the weighted account projection of ``inp``. Returns a :class:`Projection`.

    Two passes: the first leaves out cards, devices and other instruments shared by more
    than a handful of accounts and finds communities from the rest; each such instrument
    then gets a weight between its uncorroborated value (fast specificity decay) and its
    full value, in proportion to how much other evidence backs it
    (:func:`corroboration`), and the second pass gives the edges.
    """
    from linker.communities import leiden_labels

    settings = settings or LinkageSettings()
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
    judged = _judged(identifiers, settings)
    identifiers["p"] = np.where(judged, 0.0, identifiers["p_corroborated"].to_numpy())
    # simultaneity is counted on addresses only, whose weights both passes share
    sync = sync_counts(
        inp.ip_windows, accounts, identifiers, _eligible(identifiers, settings), settings
    )
    first = _edges(memberships, mem_ident, identifiers, sync, settings)
    labels = leiden_labels(len(accounts), first, settings.seed)
    coh = corroboration(memberships, mem_ident, identifiers, labels, settings)
    identifiers["corroboration"] = coh
    p_alone, p_full = identifiers["p_alone"].to_numpy(), identifiers["p_corroborated"].to_numpy()
    identifiers["p"] = p_alone + (p_full - p_alone) * coh
    edges = _edges(memberships, mem_ident, identifiers, sync, settings)
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
