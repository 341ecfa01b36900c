"""Kinds whose values are phone numbers or e-mail addresses, whatever their name: their
values are reduced to one spelling and the signals grouped again, and only then (ingest's
signals are distinct and sorted; a kind named ``phone`` or ``email`` is canonical from
ingest already). Checked against the regrouping done every time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from linker.evidence import identifiers
from linker.evidence.identifiers import link_input
from linker.ingest.dataset import load_dataset
from linker.settings import LinkageSettings
from tests.helpers import ts, write_input

ACCOUNTS = ["a1", "a2", "a3"]


def _dataset(tmp_path: Path, kind: str, values: list[str]):  # type: ignore[no-untyped-def]
    signals = [(ACCOUNTS[i % 3], kind, v, ts(i)) for i, v in enumerate(values)]
    signals += [(a, "device", "d1", ts(0)) for a in ACCOUNTS]
    write_input(tmp_path, ACCOUNTS, signals)
    return load_dataset(tmp_path)


def _always_regrouped(dataset, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    plain = identifiers._by_shape

    def changed_always(frame: pd.DataFrame, shaped: dict[str, str]) -> tuple[pd.DataFrame, bool]:
        out, _ = plain(frame, shaped)
        return out, True

    with monkeypatch.context() as patch:
        patch.setattr(identifiers, "_by_shape", changed_always)
        return link_input(dataset, LinkageSettings()).memberships


PHONES = ["+1 (555) 010-9999", "+15550109999", "+1 555 010 9999", "+44 20 7946 0000"] * 3
EMAILS = ["Ann@Example.com", "ann@example.com", " ANN@example.com", "bob@example.org"] * 3


@pytest.mark.parametrize(
    "kind,values,merged",
    [
        ("phone", PHONES, False),
        ("email", EMAILS, False),
        ("tel", PHONES, True),
        ("contact_mail", EMAILS, True),
    ],
)
def test_shaped_kinds_regroup_only_when_a_value_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, values: list[str], merged: bool
) -> None:
    dataset = _dataset(tmp_path, kind, values)
    shaped = identifiers.shaped_kinds(dataset.signals, LinkageSettings().address_share)
    assert kind in shaped
    _, changed = identifiers._by_shape(dataset.signals, shaped)
    assert changed is merged
    got = link_input(dataset, LinkageSettings()).memberships
    expected = _always_regrouped(dataset, monkeypatch)
    pd.testing.assert_frame_equal(got.astype({"value": object}), expected.astype({"value": object}))
    mine = got[got["kind"] == kind]
    # one row per account and spelling-free value: 3 accounts, two numbers or addresses
    assert len(mine) == 6
    assert mine["n_obs"].sum() == len(values)
