"""An account outside every cluster can be flagged on its own evidence: far more values
of one instrument kind than the accounts of the same data hold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linker.scoring.model import instrument_excess, own_risk
from linker.settings import RiskSettings


def _memberships(counts: dict[int, int], kind: str = "wallet") -> pd.DataFrame:
    rows = [(a, kind, i) for a, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["account", "kind", "ident"])


def test_card_tester_stands_out_against_this_datas_accounts() -> None:
    rng = np.random.default_rng(3)
    counts = {a: int(rng.integers(1, 3)) for a in range(500)}
    counts[500] = 40  # 40 instruments where 99% of accounts hold at most 2
    counts[501] = 3  # a little above the bar
    excess, why = instrument_excess(502, _memberships(counts), RiskSettings())
    assert excess[500] == 1.0
    assert 0 < excess[501] < 0.5
    assert (excess[:500] == 0).all()
    assert why[500].startswith("40 distinct wallet values")
    risk = own_risk(np.zeros(502), None, RiskSettings(), excess)
    assert risk[500] >= RiskSettings().threshold  # flagged on its own
    assert risk[501] < RiskSettings().threshold
    assert risk[:500].max() <= RiskSettings().own_risk_cap


def test_the_bar_comes_from_the_data_not_a_constant() -> None:
    """The same 6 devices are ordinary where everyone holds several, not where most
    hold one."""
    many = {a: 5 + a % 3 for a in range(300)} | {300: 6}
    few = {a: 1 for a in range(300)} | {300: 6}
    excess_many, _ = instrument_excess(301, _memberships(many, "device"), RiskSettings())
    excess_few, _ = instrument_excess(301, _memberships(few, "device"), RiskSettings())
    assert excess_many[300] == 0.0
    assert excess_few[300] > 0.9


def test_hosting_and_intent_alone_stay_capped() -> None:
    features = pd.DataFrame({"intent": [1.0, 1.0, 1.0]})
    risk = own_risk(np.ones(3), features, RiskSettings(), np.zeros(3))
    assert np.allclose(risk, RiskSettings().own_risk_cap)
