"""The identifier table: memberships of accounts in identifiers (signals and prompt
families), IP use windows, and how specific each identifier is in this data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph_store.base import MEMBERSHIP_COLUMNS
from linker.ingest import normalise
from linker.ingest.dataset import Dataset
from linker.ingest.ipintel import lookup_ip_info
from linker.model import LinkInput
from linker.settings import LINKER_KINDS, LinkageSettings, is_instrument

IP_KINDS = ("ip", "ip_prefix")


NS_PER_S = 1_000_000_000


def link_input(
    dataset: Dataset,
    settings: LinkageSettings | None = None,
    extra_memberships: pd.DataFrame | None = None,
    prompt_features: pd.DataFrame | None = None,
    template_examples: dict[str, str] | None = None,
) -> LinkInput:
    """The projection's input for a validated dataset plus prompt-stage results. Kinds
    whose values are IP addresses are linked as addresses whatever their name
    (:func:`address_kinds`); ``LinkInput.kind_roles`` says which."""
    settings = settings or LinkageSettings()
    aliases = address_kinds(dataset.signals, settings.address_share)
    shaped = shaped_kinds(dataset.signals, settings.address_share)
    signals, reshaped = _by_shape(_as_addresses(dataset.signals, aliases), shaped)
    # ingest's signals are distinct and sorted: they need grouping again only when a
    # value changed (a kind named ``phone`` or ``email`` is canonical already)
    if aliases or reshaped:
        signals = (
            signals.groupby(["account_id", "kind", "value"], sort=True, observed=True)
            .agg(n_obs=("n_obs", "sum"), first_ts=("first_ts", "min"), last_ts=("last_ts", "max"))
            .reset_index()
        )
    memberships = signals.assign(strength=1.0)[list(MEMBERSHIP_COLUMNS)]
    if extra_memberships is not None and not extra_memberships.empty:
        memberships = pd.concat(
            [memberships, extra_memberships[list(MEMBERSHIP_COLUMNS)]], ignore_index=True
        )
    return LinkInput(
        accounts=dataset.accounts,
        memberships=memberships,
        ip_windows=ip_windows(
            _as_addresses(dataset.observations, aliases), settings.sync_window_minutes
        ),
        ip_info=dataset.ip_info,
        prompt_features=prompt_features,
        template_examples=dict(template_examples or {}),
        kind_roles={
            **{k: "instrument" for k in dataset.signals["kind"].unique() if k not in LINKER_KINDS},
            **{k: "address" for k in aliases},
            **({"ip": "address"} if (dataset.signals["kind"] == "ip").any() else {}),
        },
    )


#: distinct values of a kind looked at to tell whether it holds addresses
ADDRESS_SAMPLE = 2000


def address_kinds(signals: pd.DataFrame, share: float) -> list[str]:
    """Kinds other than ``ip`` at least ``share`` of whose distinct values (a seeded
    sample of :data:`ADDRESS_SAMPLE`) are IP addresses: an export may call its
    addresses anything."""
    out = []
    for kind, values in signals.groupby("kind", observed=True)["value"]:
        if kind in LINKER_KINDS:
            continue
        distinct = pd.Series(values.unique())
        if len(distinct) > ADDRESS_SAMPLE:
            distinct = distinct.sample(ADDRESS_SAMPLE, random_state=0)
        if normalise.canonical_ips(distinct).notna().mean() >= share:
            out.append(str(kind))
    return out


#: value shapes whose spelling varies for one identifier: phone numbers ("+1 (555)
#: 010-9999" is "+15550109999") and e-mail addresses (case-insensitive)
_PHONE_SHAPE = r"^\s*\+?[\d\s().\-/]{7,}\s*$"
_EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def shaped_kinds(signals: pd.DataFrame, share: float) -> dict[str, str]:
    """Instrument kinds at least ``share`` of whose distinct values (a seeded sample) are
    phone numbers or e-mail addresses, whatever the kind is called: kind -> shape."""
    out: dict[str, str] = {}
    for kind, values in signals.groupby("kind", observed=True)["value"]:
        if kind in LINKER_KINDS:
            continue
        distinct = pd.Series(values.unique()).astype(str)
        if len(distinct) > ADDRESS_SAMPLE:
            distinct = distinct.sample(ADDRESS_SAMPLE, random_state=0)
        for shape, pattern in (("phone", _PHONE_SHAPE), ("email", _EMAIL_SHAPE)):
            if distinct.str.match(pattern).mean() >= share:
                out[str(kind)] = shape
    return out


def _by_shape(frame: pd.DataFrame, shaped: dict[str, str]) -> tuple[pd.DataFrame, bool]:
    """Values of phone-shaped kinds reduced to digits and a leading +, of e-mail-shaped
    kinds lower-cased (the rules ingest applies to kinds named phone and email).
    Returns the frame and whether any value changed or was dropped (when none did,
    the frame is ``frame`` itself)."""
    if not shaped:
        return frame, False
    values = frame["value"].astype(object).copy()
    kinds = frame["kind"].to_numpy()
    changed = False
    for kind, shape in shaped.items():
        rows = kinds == kind
        before = values[rows]
        if shape == "phone":
            after = normalise.canonical_values(
                pd.Series("phone", index=before.index), before
            ).to_numpy()
        else:
            after = before.astype(str).str.strip().str.lower().to_numpy()
        changed = changed or not np.array_equal(after, before.to_numpy(), equal_nan=False)
        values[rows] = after
    if not changed:
        return frame, False
    out = frame.assign(value=values)
    return out[out["value"].notna().to_numpy()].reset_index(drop=True), True


def _as_addresses(frame: pd.DataFrame, kinds: list[str]) -> pd.DataFrame:
    """``frame`` with the rows of ``kinds`` relabelled ``ip`` and their values made
    canonical addresses (a value that is not one is dropped)."""
    if not kinds:
        return frame
    rows = frame["kind"].isin(kinds).to_numpy()
    values = frame["value"].astype(object).copy()
    values[rows] = normalise.canonical_ips(frame.loc[rows, "value"]).to_numpy()
    out = frame.assign(kind=np.where(rows, "ip", frame["kind"].astype(object)), value=values)
    return out[out["value"].notna().to_numpy()].reset_index(drop=True)


def ip_windows(observations: pd.DataFrame, window_minutes: int) -> pd.DataFrame:
    """Distinct (account_id, value, window) of timed IP observations."""
    obs = observations[(observations["kind"] == "ip") & observations["ts"].notna()]
    window = np.int64(window_minutes * 60 * NS_PER_S)
    ts = obs["ts"].to_numpy("datetime64[ns]").astype(np.int64)
    frame = pd.DataFrame(
        {
            "account_id": obs["account_id"].array,
            "value": obs["value"].array,
            "window": ts // window,
        }
    )
    return frame.drop_duplicates(ignore_index=True)


def _utc_naive(times: pd.Series) -> np.ndarray:
    """Timestamps as UTC datetime64[ns] without a zone; NaT where unknown (the optional
    ``ts`` column absent: an all-null column of any dtype)."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")


def account_memberships(memberships: pd.DataFrame, accounts: pd.Index) -> pd.DataFrame:
    """Memberships with account positions, plus the /24 or /48 prefix of every address
    as a weaker ``ip_prefix`` identifier."""
    base = pd.DataFrame(
        {
            "account": normalise.positions(accounts, memberships["account_id"]).astype(np.int32),
            # the columns' own arrays: text stays in pyarrow, no Python string per row
            "kind": memberships["kind"].array,
            "value": memberships["value"].array,
            "n_obs": memberships["n_obs"].to_numpy(np.int64),
            "first_ts": _utc_naive(memberships["first_ts"]),
            "last_ts": _utc_naive(memberships["last_ts"]),
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
    discount: np.ndarray = np.power(ratio, exponent)
    return discount


def number_identifiers(memberships: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Number the distinct (kind, value) of ``memberships``. Returns each row's
    identifier number and, per identifier, its kind and value (object arrays).

    Identifiers are numbered in the order of ``role, value, kind`` joined by a unit
    separator (code point order), so the order, and with it the random expanders of
    large identifiers and every sum over pairs, does not depend on what the input calls
    its kinds (renaming kinds changes no cluster). Rows are factorised as integers; the
    sort keys are built once per identifier, not per row."""
    kind_codes, kind_names = pd.factorize(memberships["kind"].astype(str))
    value_codes, value_names = pd.factorize(memberships["value"].astype(str))
    n_kinds = max(len(kind_names), 1)
    pair_codes, pairs = pd.factorize(value_codes.astype(np.int64) * n_kinds + kind_codes)
    kinds = np.asarray(kind_names, dtype=object)[pairs % n_kinds]
    values = np.asarray(value_names, dtype=object)[pairs // n_kinds]
    roles = np.where(is_instrument(kinds), "instrument", kinds)
    try:
        keys = pc.binary_join_element_wise(
            pa.array(roles, pa.string()),
            pa.array(values, pa.string()),
            pa.array(kinds, pa.string()),
            "\x1f",
        )
        # UTF-8 byte order is code point order, Python's order of str
        order = pc.sort_indices(keys).to_numpy()
    except pa.ArrowException:  # text arrow cannot hold (a lone surrogate): sort in Python
        order = np.argsort(roles + "\x1f" + values + "\x1f" + kinds, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[pair_codes], kinds[order], values[order]


def _per_kind(kinds: pd.Series, func: Callable[[str], float]) -> np.ndarray:
    """``func`` of each row's kind, called once per distinct kind."""
    codes, distinct = pd.factorize(kinds)
    return np.asarray([func(k) for k in distinct])[codes]


def identifier_table(
    memberships: pd.DataFrame, ip_info: pd.DataFrame | None, settings: LinkageSettings
) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per distinct (kind, value) with its degree, context and evidence ``p``.

    Returns the table and, for each membership row, the index of its identifier.
    """
    codes, kinds, values = number_identifiers(memberships)
    table = pd.DataFrame({"kind": kinds, "value": values})
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
    kind_w = _per_kind(table["kind"], settings.weight_of).astype(float)
    cat_f = table["category"].map(settings.ip_category_factor).fillna(1.0).to_numpy(float)
    exponent = _per_kind(table["kind"], settings.exponent_of).astype(float)
    degree = table["degree"].to_numpy()
    p = kind_w * cat_f * specificity(degree, exponent, settings)
    table["p_corroborated"] = np.clip(p, 0.0, 0.95)
    # an identifier whose sharers have nothing else in common (a fingerprint collision,
    # a card passed around) falls fast with its degree; see corroborate()
    fast = np.where(
        is_instrument(table["kind"]),
        np.maximum(exponent, settings.uncorroborated_exponent),
        exponent,
    )
    table["p_alone"] = np.clip(kind_w * cat_f * specificity(degree, fast, settings), 0.0, 0.95)
    table["p"] = table["p_alone"]
    cap = _per_kind(table["kind"], settings.supernode_degree).astype(np.int64)
    table["supernode"] = table["degree"].to_numpy() > cap
    return table, codes.astype(np.int64)
