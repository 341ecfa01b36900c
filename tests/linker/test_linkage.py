"""The weighting of the account projection."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linker.evidence.identifiers import link_input, specificity
from linker.evidence.pairs import expand_pairs, expander_order, pair_chunks
from linker.evidence.projection import build_projection
from linker.ingest.dataset import load_dataset
from linker.settings import LinkageSettings
from tests.helpers import ts, write_input


def _project(data: Path, settings: LinkageSettings | None = None):  # type: ignore[no-untyped-def]
    return build_projection(link_input(load_dataset(data), settings), settings)


def _edge_set(proj) -> set[tuple[str, str]]:
    ids = np.asarray(proj.accounts)
    return {(ids[a], ids[b]) for a, b in zip(proj.edges["a"], proj.edges["b"], strict=True)}


def test_cgnat_ip_shared_by_5000_strangers_links_nobody(tmp_path: Path) -> None:
    accounts = [f"u{i:05d}" for i in range(5000)]
    signals = [(a, "ip", "100.64.0.1", ts(i % 600)) for i, a in enumerate(accounts)]
    data = write_input(tmp_path, accounts, signals, ip_info=[("100.64.0.0/16", 64500, "mobile")])
    proj = _project(data)
    assert proj.edges.empty
    assert int(proj.identifiers.loc[proj.identifiers["kind"] == "ip", "degree"].iloc[0]) == 5000


def test_card_shared_by_three_campaign_accounts_links_them(tmp_path: Path) -> None:
    accounts = ["c1", "c2", "c3", "x1"]
    signals = [(a, "payment", "pm_ring", ts(i)) for i, a in enumerate(accounts[:3])]
    signals.append(("x1", "payment", "pm_other", ts(0)))
    proj = _project(write_input(tmp_path, accounts, signals))
    assert _edge_set(proj) == {("c1", "c2"), ("c1", "c3"), ("c2", "c3")}
    assert (proj.edges["weight"] >= 0.8).all()
    assert (proj.edges["ev_payment"] == 1).all()


def test_one_shared_residential_ip_alone_does_not_link(tmp_path: Path) -> None:
    signals = [("a", "ip", "81.2.3.4", ts(0)), ("b", "ip", "81.2.3.4", ts(60 * 24 * 3))]
    data = write_input(
        tmp_path, ["a", "b"], signals, ip_info=[("81.2.3.0/24", 3320, "residential")]
    )
    assert _project(data).edges.empty


def test_independent_weak_evidence_reinforces(tmp_path: Path) -> None:
    # a residential IP used at the same moments, repeatedly, plus a shared device
    signals = []
    for k in range(4):
        signals += [("a", "ip", "81.2.3.4", ts(600 * k)), ("b", "ip", "81.2.3.4", ts(600 * k + 2))]
    info = [("81.2.3.0/24", 3320, "residential")]
    only_ip = _project(write_input(tmp_path / "ip", ["a", "b"], signals, ip_info=info))
    both = _project(
        write_input(
            tmp_path / "both",
            ["a", "b"],
            [*signals, ("a", "device", "d1", None), ("b", "device", "d1", None)],
            ip_info=info,
        )
    )
    assert len(only_ip.edges) == 1
    assert both.edges["weight"].iloc[0] > only_ip.edges["weight"].iloc[0]
    assert both.edges["weight"].iloc[0] > 0.75


def test_same_ip_months_apart_is_weaker_than_simultaneous(tmp_path: Path) -> None:
    info = [("81.2.3.0/24", 3320, "residential")]
    same = [("a", "ip", "81.2.3.4", ts(0)), ("b", "ip", "81.2.3.4", ts(3))]
    apart = [("a", "ip", "81.2.3.4", ts(0)), ("b", "ip", "81.2.3.4", ts(60 * 24 * 120))]
    settings = LinkageSettings(min_edge_weight=0.0, min_contribution=0.0)
    w_same = (
        _project(write_input(tmp_path / "s", ["a", "b"], same, info), settings)
        .edges["weight"]
        .max()
    )
    w_apart = (
        _project(write_input(tmp_path / "p", ["a", "b"], apart, info), settings)
        .edges["weight"]
        .max()
    )
    assert w_same > 3 * w_apart


def test_large_ring_keeps_weight_and_stays_linear(tmp_path: Path) -> None:
    n = 1200  # above dense_limit: sparse expansion
    accounts = [f"r{i}" for i in range(n)]
    # the ring's two devices and two cards corroborate each other: same member set
    signals = [
        (a, kind, f"{kind}_ring{k}", ts(0))
        for a in accounts
        for kind in ("device", "payment")
        for k in range(2)
    ]
    proj = _project(write_input(tmp_path, accounts, signals))
    settings = LinkageSettings()
    assert len(proj.edges) <= 4 * n * settings.sparse_partners // 2  # 4 identifiers
    assert proj.edges["weight"].min() >= settings.min_edge_weight
    degree = np.bincount(np.r_[proj.edges["a"], proj.edges["b"]], minlength=n)
    assert degree.min() >= 2  # every member stays connected to the ring
    assert (proj.identifiers["corroboration"] == 1.0).all()


def test_popular_fingerprint_among_strangers_links_nobody(tmp_path: Path) -> None:
    """A device fingerprint shared by 400 accounts that have nothing else in common is a
    collision (a default browser build), not an operator."""
    accounts = [f"s{i}" for i in range(400)]
    signals = [(a, "device", "fp_default_build", ts(i)) for i, a in enumerate(accounts)]
    signals += [(a, "payment", f"pm_{a}", ts(i)) for i, a in enumerate(accounts)]
    proj = _project(write_input(tmp_path, accounts, signals))
    assert proj.edges.empty
    device = proj.identifiers[proj.identifiers["kind"] == "device"].iloc[0]
    assert device["corroboration"] < 0.05


def test_supernode_makes_no_pairs(tmp_path: Path) -> None:
    accounts = [f"s{i}" for i in range(60)]
    signals = [(a, "payment", "pm_hub", None) for a in accounts]
    settings = LinkageSettings(max_degree=50)
    proj = _project(write_input(tmp_path, accounts, signals), settings)
    assert proj.edges.empty
    assert bool(proj.identifiers["supernode"].iloc[0])


def test_template_family_is_never_a_supernode(tmp_path: Path) -> None:
    # 60 accounts send one template family heavily (a campaign, or several sharing one
    # toolkit's template) and sit behind one address: above max_degree the address makes
    # no pairs, the family still does (weighed by each member's strength)
    accounts = [f"s{i}" for i in range(60)]
    signals = [(a, "ip", "198.51.100.7", ts(i)) for i, a in enumerate(accounts)]
    data = load_dataset(write_input(tmp_path, accounts, signals))
    family = pd.DataFrame(
        {
            "account_id": accounts,
            "kind": "prompt_template",
            "value": "pt_toolkit",
            "n_obs": 20,
            "first_ts": data.signals["first_ts"].min(),
            "last_ts": data.signals["last_ts"].max(),
            "strength": 0.9,
        }
    )
    settings = LinkageSettings(max_degree=50)
    proj = build_projection(link_input(data, settings, extra_memberships=family), settings)
    idents = proj.identifiers.set_index("kind")
    assert bool(idents.loc["ip", "supernode"]) and not bool(
        idents.loc["prompt_template", "supernode"]
    )
    assert len(proj.edges) >= 60 and (proj.edges["ev_prompt_template"] > 0).all()
    assert "ev_ip" not in proj.edges or (proj.edges["ev_ip"] == 0).all()
    capped = LinkageSettings(max_degree=50, max_degree_by_kind={"prompt_template": 50})
    proj = build_projection(link_input(data, capped, extra_memberships=family), capped)
    assert proj.edges.empty  # a cap can still be set per kind


def test_specificity_falls_with_degree_but_not_to_nothing() -> None:
    s = specificity(np.array([2, 4, 40, 400, 4000]), 0.3, LinkageSettings())
    assert s[0] == s[1] == 1.0
    assert np.all(np.diff(s) <= 0)
    assert s[3] > 0.25


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_projection_matches_brute_force_reference(tmp_path: Path, seed: int) -> None:
    """Oracle test: the vectorised projection against an obvious per-pair computation."""
    rng = np.random.default_rng(seed)
    accounts = [f"a{i}" for i in range(40)]
    values = {"payment": [f"pm{j}" for j in range(8)], "device": [f"d{j}" for j in range(10)]}
    signals = []
    for a in accounts:
        for kind, vals in values.items():
            for v in rng.choice(vals, size=rng.integers(0, 3), replace=False):
                signals.append((a, kind, str(v), None))
    # corroboration off: every identifier keeps its full weight, as in the reference
    settings = LinkageSettings(
        min_edge_weight=0.0, min_contribution=0.0, uncorroborated_exponent=0.0
    )
    proj = _project(write_input(tmp_path, accounts, signals), settings)
    got = {
        (a, b): w for (a, b), w in zip(_edge_set_ordered(proj), proj.edges["weight"], strict=True)
    }

    frame = pd.DataFrame(signals, columns=["account_id", "kind", "value", "ts"]).drop_duplicates()
    holders = frame.groupby(["kind", "value"])["account_id"].apply(set)
    expected: dict[tuple[str, str], float] = {}
    for x, y in itertools.combinations(sorted(set(frame["account_id"])), 2):
        miss = 1.0
        for (kind, _), members in holders.items():
            if x in members and y in members:
                p = (
                    settings.weight_of(kind)
                    * specificity(np.array([len(members)]), settings.exponent_of(kind), settings)[0]
                )
                miss *= 1 - p
        if miss < 1.0:
            expected[(x, y)] = 1 - miss
    assert set(got) == set(expected)
    for key, w in expected.items():
        assert got[key] == pytest.approx(w, rel=1e-9)


def _edge_set_ordered(proj) -> list[tuple[str, str]]:
    ids = np.asarray(proj.accounts)
    pairs = [
        tuple(sorted((ids[a], ids[b])))
        for a, b in zip(proj.edges["a"], proj.edges["b"], strict=True)
    ]
    return pairs  # type: ignore[return-value]


def _crew_pairs(settings: LinkageSettings) -> pd.Series:
    """Three large identifiers (1,000 holders each, above ``dense_limit``): a crew of 40
    accounts holds all three, every other holder one. Per crew pair, in how many of the
    identifiers' expanders the two are partners."""
    crew = np.arange(40)
    ident = np.concatenate([np.full(1000, g) for g in range(3)])
    account = np.concatenate([np.r_[crew, 1000 * (g + 1) + np.arange(960)] for g in range(3)])
    degree = np.bincount(ident)
    order = expander_order(account, ident, degree, settings)
    pairs = pd.concat(list(pair_chunks(ident, account, degree, settings, order=order)))
    inside = pairs[(pairs["a"] < 40) & (pairs["b"] < 40)]
    return inside.groupby(["a", "b"]).size()


def test_signature_expanders_partner_accounts_that_share_several_identifiers() -> None:
    """Accounts that hold the same several large identifiers (a campaign sending the
    same template families that other campaigns and strangers also send) are partners
    in each of them, so their evidence adds up; random partners almost never repeat."""
    signature = _crew_pairs(LinkageSettings())
    random = _crew_pairs(LinkageSettings(expander_order="random"))
    assert (signature >= 2).sum() >= 200  # measured 350
    assert (random >= 2).sum() <= 10  # measured 4
    # every crew member has a crew partner it meets in at least two identifiers
    both = signature[signature >= 2].reset_index()
    assert set(both["a"]) | set(both["b"]) == set(range(40))
    with pytest.raises(Exception, match="expander_order"):
        LinkageSettings(expander_order="sorted")


def test_expand_pairs_clique_counts() -> None:
    ident = np.array([0, 0, 0, 1, 1, 2])
    account = np.array([5, 6, 7, 1, 2, 9])
    degree = np.array([3, 2, 1])
    pairs = expand_pairs(ident, account, degree, LinkageSettings())
    assert sorted(map(tuple, pairs[["a", "b"]].to_numpy().tolist())) == [
        (1, 2),
        (5, 6),
        (5, 7),
        (6, 7),
    ]
