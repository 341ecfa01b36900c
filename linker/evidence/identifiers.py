"""The identifier table: memberships of accounts in identifiers (signals and prompt
families), IP use windows, and how specific each identifier is in this data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph_store.base import MEMBERSHIP_COLUMNS
from linker.ingest import normalise
from linker.ingest.dataset import Dataset
from linker.ingest.ipintel import lookup_ip_info
from linker.model import LinkInput
from linker.settings import LinkageSettings

IP_KINDS = ("ip", "ip_prefix")


NS_PER_S = 1_000_000_000


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


def _utc_naive(times: pd.Series) -> np.ndarray:
    """Timestamps as UTC datetime64[ns] without a zone; NaT where unknown (the optional
    ``ts`` column absent: an all-null column of any dtype)."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")


def account_memberships(memberships: pd.DataFrame, accounts: pd.Index) -> pd.DataFrame:
    """Memberships with account positions, plus the /24 or /48 prefix of every address
    as a weaker ``ip_prefix`` identifier."""
    base = pd.DataFrame(
        {
            "account": accounts.get_indexer(pd.Index(memberships["account_id"])).astype(np.int32),
            "kind": memberships["kind"].to_numpy(),
            "value": memberships["value"].to_numpy(),
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
