"""The signals coded once (``linker.ingest.coded``) against the plain reference: each row
checked against the accounts, canonicalised on its own (``canonical_values`` of a
one-row column) and aggregated by a pandas groupby on the text columns
(``aggregate_signals``). Seeded random tables (the seed in the test id) and hypothesis
examples, with unknown accounts, kinds in several spellings, invalid values, missing
times and the ``ts`` column absent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linker.ingest import normalise
from linker.ingest.coded import code_signals, sorted_codes
from linker.ingest.dataset import aggregate_signals

SEEDS = [1, 2, 3, 4]
ACCOUNTS = [f"acc_{i:03d}" for i in range(40)] + ["Acc_b", "acc é", "acc_z"]
KINDS = ["ip", " IP ", "Ip", "device", "DEVICE ", "email", "phone", "payment", "Email"]
VALUES = {
    "ip": ["10.0.0.1", "10.0.0.01", "::ffff:10.0.0.1", "2001:DB8::1", "2001:db8:0::1", "nope"],
    "email": ["A@x.com", "a@x.com ", "b@Y.org", "é@x.com", "É@x.com"],
    "phone": ["+1 (555) 010-9999", "+15550109999", "12", "555.010.9999"],
    "other": ["dev-1", "DEV-1", " dev-1 ", "card 9", "card\u00a09", "x"],
}


def _str(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _random_frame(rng: np.random.Generator, n: int, with_ts: bool = True) -> pd.DataFrame:
    kinds = rng.choice(KINDS, size=n)
    values = []
    for kind in kinds:
        pool = VALUES.get(kind.strip().lower(), VALUES["other"])
        values.append(str(rng.choice(pool)))
    accounts = [*ACCOUNTS, "unknown_1", "unknown_2"]
    frame = pd.DataFrame(
        {
            "account_id": _str(list(rng.choice(accounts, size=n))),
            "kind": _str(list(kinds)),
            "value": _str(values),
        }
    )
    if with_ts:
        seconds = rng.integers(0, 10_000, size=n).astype("datetime64[s]").astype("datetime64[ns]")
        ts = pd.Series(seconds).dt.tz_localize("UTC")
        ts[rng.random(n) < 0.2] = pd.NaT
        frame["ts"] = ts
    frame.index = pd.RangeIndex(1, n + 1)  # row numbers, as the readers give them
    return frame


def _reference(frame: pd.DataFrame, known: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Observations, aggregated signals and the rejected rows, one row at a time."""
    kept, rejected = [], []
    for row, record in frame.iterrows():
        if record["account_id"] not in set(known):
            rejected.append((row, "account_id", "account_id not in accounts table"))
            continue
        kind = record["kind"].strip().lower()
        value = normalise.canonical_values(pd.Series([kind]), _str([record["value"]])).iloc[0]
        if pd.isna(value):
            reason = "not an IP address" if kind == "ip" else "value empty after normalisation"
            rejected.append((row, "value", reason))
            continue
        ts = record["ts"] if "ts" in frame else pd.NaT
        kept.append((record["account_id"], kind, value, ts))
    obs = pd.DataFrame(kept, columns=["account_id", "kind", "value", "ts"])
    obs = obs.astype({c: pd.StringDtype("pyarrow", na_value=np.nan) for c in obs.columns[:3]})
    obs["ts"] = pd.to_datetime(obs["ts"], utc=True).astype("datetime64[ns, UTC]")
    # all unknown accounts first, then the invalid values (ingest's order of checks)
    rejected.sort(key=lambda r: r[1] != "account_id")
    return obs, aggregate_signals(obs), rejected


def _check(frame: pd.DataFrame) -> None:
    known = pd.Index(_str(ACCOUNTS))
    coded, rejects = code_signals(frame, known, "signals.parquet")
    obs, signals, rejected = _reference(frame, known)
    pd.testing.assert_frame_equal(coded.observations(), obs, check_exact=True)
    pd.testing.assert_frame_equal(coded.aggregate(), signals, check_exact=True)
    got = pd.concat(rejects, ignore_index=True)
    assert list(zip(got["row"], got["column"], got["reason"], strict=True)) == rejected
    raw = frame.loc[[r for r, _, _ in rejected]]
    shown = [raw.at[r, c] for r, c, _ in rejected]
    assert got["value"].tolist() == shown


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_coded_signals_match_the_row_by_row_reference(seed: int) -> None:
    _check(_random_frame(np.random.default_rng(seed), 400))


def test_coded_signals_without_the_ts_column_have_no_times() -> None:
    frame = _random_frame(np.random.default_rng(9), 200, with_ts=False)
    _check(frame)
    coded, _ = code_signals(frame, pd.Index(_str(ACCOUNTS)), "signals.parquet")
    assert coded.aggregate()["first_ts"].isna().all()


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([*ACCOUNTS[:3], "unknown"]),
            st.sampled_from(KINDS),
            st.sampled_from([v for pool in VALUES.values() for v in pool]),
            st.one_of(st.none(), st.integers(0, 50)),
        ),
        max_size=30,
    )
)
def test_coded_signals_match_the_reference_on_examples(
    rows: list[tuple[str, str, str, int | None]],
) -> None:
    frame = pd.DataFrame(
        {
            "account_id": _str([r[0] for r in rows]).array,
            "kind": _str([r[1] for r in rows]).array,
            "value": _str([r[2] for r in rows]).array,
            "ts": pd.to_datetime([r[3] for r in rows], unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
        },
        index=pd.RangeIndex(1, len(rows) + 1),
    )
    _check(frame)


def test_sorted_codes_are_ranks_in_text_order() -> None:
    uniques = pd.Index(_str(["b", "a", "é", "B", "ab"]))
    codes, ordered = sorted_codes(np.array([0, 1, 2, 3, 4, 0]), uniques)
    assert ordered.tolist() == ["B", "a", "ab", "b", "é"]
    assert ordered.take(codes).tolist() == ["b", "a", "é", "B", "ab", "b"]


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_id_lookup_agrees_with_isin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    known = pd.Index(_str(ACCOUNTS))
    asked = _str([*rng.choice([*ACCOUNTS, "nobody", "ACC_000", "acc_000 ", ""], size=200), None])
    lookup = normalise.IdLookup(known)
    expected = np.array([v in set(ACCOUNTS) for v in asked.tolist()])
    assert lookup.contains(asked).tolist() == expected.tolist()
    assert lookup.contains(asked.astype(object)).tolist() == expected.tolist()


def test_id_lookup_confirms_a_hash_match_by_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    lookup = normalise.IdLookup(pd.Index(_str(["a", "b"])))
    # every text hashes alike for the asked values: only the comparison of texts can tell
    monkeypatch.setattr(normalise, "_hashes", lambda values: np.zeros(len(values), np.uint64))
    lookup._index = pd.Index(np.array([0, 1], dtype=np.uint64))
    assert lookup.contains(_str(["a", "b", "z"])).tolist() == [True, False, False]
