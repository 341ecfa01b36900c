"""Reasons that read well: number agreement, units, examples cut at word boundaries,
and every number traceable to the feature it came from."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from linker.scoring.reasons import (
    ELLIPSIS,
    Reason,
    cluster_reasons,
    count,
    kind_nouns,
    percent,
    reasons_for,
    shorten,
)

BASE = {
    "size": 40,
    "mean_weight": 0.5,
    "hosting_share": 0.0,
    "template_share": 0.0,
    "intent_share": 0.0,
    "org_share": 0.0,
    "benign_infra_share": 0.0,
    "burst_2h": 0.0,
    "n_attached": 0,
}


def _row(**changes: object) -> pd.Series:
    return pd.Series({**BASE, **changes})


def _traceable(reason: Reason) -> None:
    """Every number in the text is a feature value, a share of one times the linked
    members, or a share of one as a percentage."""
    f = reason.features
    n = f.get("linked_members")
    allowed: set[str] = set()
    for value in f.values():
        if isinstance(value, str):
            continue
        allowed.add(f"{int(value):,}" if float(value).is_integer() else "")
        allowed.add(percent(float(value)).strip("<>%"))
        if n is not None:
            allowed.add(f"{round(float(value) * int(n)):,}")
    text = reason.text.split("'")[0]
    if " share 1 " in text:  # all sharers on one value: the most on a value is all of them
        (kind,) = [k[: -len("_shared_accounts")] for k in f if k.endswith("_shared_accounts")]
        assert f[f"{kind}_max_accounts"] == f[f"{kind}_shared_accounts"], reason
        text = text.replace(" share 1 ", " share one ")
    numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", text)
    for number in numbers:
        if number == "2" and "2 hours" in reason.text:
            continue  # the window's length, a unit
        assert number in allowed, (number, reason)


@pytest.mark.parametrize(
    ("n", "word", "want"),
    [(1, "account", "1 account"), (2, "account", "2 accounts"), (1_200, "ASN", "1,200 ASNs")],
)
def test_count_agrees_in_number(n: int, word: str, want: str) -> None:
    assert count(n, word) == want


def test_kind_nouns() -> None:
    assert kind_nouns("payment") == ("payment instrument", "payment instruments")
    assert kind_nouns("device") == ("device", "devices")
    assert kind_nouns("crypto_address") == ("crypto address", "crypto addresses")


def test_percent_never_rounds_to_all_or_nothing() -> None:
    assert (percent(0.996), percent(0.004), percent(1.0), percent(0.0)) == (
        ">99%",
        "<1%",
        "100%",
        "0%",
    )


def test_shorten_cuts_at_a_word_boundary() -> None:
    # the prompt stage cuts examples at 80 characters, inside a word
    cut = "answer the question below and do not skip any step of the derivation please do not sk"
    short = shorten(cut[:80])
    assert short.endswith(ELLIPSIS) and len(short) <= 80
    assert not short.removesuffix(ELLIPSIS).endswith(" sk")
    assert cut.startswith(short.removesuffix(ELLIPSIS))
    assert cut[len(short.removesuffix(ELLIPSIS))] == " "  # ends where a word ended
    assert shorten("hello claude") == "hello claude"
    assert shorten("x" * 100, 20) == "x" * 19 + ELLIPSIS


def test_every_reason_with_its_numbers() -> None:
    row = _row(
        size=41,
        template_share=0.5,
        top_template="pt_1",
        intent_share=0.46,
        payment_shared_accounts=41,
        n_payment=3,
        payment_max_accounts=30,
        device_shared_accounts=30,
        n_device=4,
        device_max_accounts=30,
        hosting_share=0.86,
        hosting_asns=1,
        burst_2h=0.85,
        org_share=0.9,
        benign_infra_share=0.6,
    )
    reasons = cluster_reasons(row, {"pt_1": "explain step by step the reasoning behind <num>"})
    assert [r.text for r in reasons] == [
        "20 of 41 accounts send the prompt templates the cluster shares, most often "
        "'explain step by step the reasoning behind <num>'",
        "on average 46% of a member's prompts ask for reasoning traces, grading, rewrites, "
        "training data or tool use (distillation intent)",
        "all 41 accounts share payment instruments (up to 30 on one)",
        "30 accounts share 1 device",
        "86% of IP traffic from datacenter or proxy networks, in 1 ASN",
        "35 of 41 accounts signed up within 2 hours",
        "90% of the accounts belong to one organisation",
        "60% of IP traffic from corporate, education or mobile networks",
    ]
    assert reasons[0].features == {
        "template_share": 0.5,
        "top_template": "pt_1",
        "linked_members": 41,
    }
    for reason in reasons:
        _traceable(reason)
    assert reasons_for(row, {"pt_1": "x"})[1:] == [r.text for r in reasons[1:]]


@pytest.mark.parametrize(
    ("shared", "n_values", "most", "size", "want"),
    [
        (5, 1, 5, 12, "5 accounts share 1 payment instrument"),
        (
            30,
            840,
            12,
            30,
            "840 payment instruments over 30 accounts; all 30 accounts share "
            "payment instruments (up to 12 on one)",
        ),
        (12, 9, 4, 40, "12 of 40 accounts share payment instruments (up to 4 on one)"),
        (
            2,
            3,
            2,
            2,
            "3 payment instruments over 2 accounts; 2 accounts share 1 payment instrument",
        ),
    ],
)
def test_reuse_in_sensible_units(
    shared: int, n_values: int, most: int, size: int, want: str
) -> None:
    row = _row(
        size=size,
        payment_shared_accounts=shared,
        n_payment=n_values,
        payment_max_accounts=most,
    )
    (reason,) = cluster_reasons(row)
    assert reason.text == want
    _traceable(reason)


def test_any_kind_gets_a_reason_by_its_own_name() -> None:
    row = _row(size=9, wallet_shared_accounts=9, n_wallet=1, wallet_max_accounts=9)
    assert reasons_for(row) == ["9 accounts share 1 wallet"]


def test_one_of_many_agrees_and_attached_members_are_counted_apart() -> None:
    row = _row(size=20, template_share=0.05, n_attached=1, top_template="t")
    reasons = reasons_for(row, {"t": "hello"})
    assert reasons == [
        "1 more account joined only by sending its template families (no card, device or "
        "address linked them)"
    ]
    row = _row(size=3, template_share=0.34, n_attached=2, top_template="t")
    assert reasons_for(row, {"t": "hello"})[0] == (
        "1 of the 3 linked accounts sends the prompt templates the cluster shares, most "
        "often 'hello'"
    )


def test_fallback_reason() -> None:
    (reason,) = cluster_reasons(_row(size=3, mean_weight=0.42))
    assert reason.text == "3 accounts linked by shared identifiers (mean link weight 0.42)"
    assert reason.to_dict() == {
        "text": reason.text,
        "features": {"linked_members": 3, "mean_weight": 0.42},
    }
