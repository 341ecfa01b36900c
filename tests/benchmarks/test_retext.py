"""World family (b): generated worlds re-texted with the real corpora (benchmarks/families).

The corpora are read from ../shared/corpora beside the repository; without them the
module is skipped.
"""

from __future__ import annotations

import filecmp
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchmarks.families.corpora import CORPORA_DIR, PLACEHOLDER, fill, load_corpora
from benchmarks.families.retext import retext_world
from synth import generate_world, write_world

pytestmark = pytest.mark.skipif(not CORPORA_DIR.is_dir(), reason=f"no corpora at {CORPORA_DIR}")

ACCOUNTS, SEED = 1500, 3
#: scripts of MultiJail's other languages, told apart by Unicode block
SCRIPTS = {
    "han": r"[\u4e00-\u9fff]",
    "hangul": r"[\uac00-\ud7af]",
    "thai": r"[\u0e00-\u0e7f]",
    "arabic": r"[\u0600-\u06ff]",
    "bengali": r"[\u0980-\u09ff]",
    "vietnamese": r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]",
}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("family_b")
    src, dst = root / "original", root / "retexted"
    write_world(generate_world(ACCOUNTS, seed=SEED), src)
    return src, dst, retext_world(src, dst, seed=SEED)


@pytest.fixture(scope="module")
def texts(worlds: tuple[Path, Path, dict[str, Any]]) -> pd.DataFrame:
    """The re-texted prompts with each account's labels."""
    src, dst, _ = worlds
    labels = pd.read_parquet(src / "labels.parquet")
    return pd.read_parquet(dst / "prompts.parquet").merge(labels, on="account_id")


def test_keeps_rows_accounts_and_timestamps(worlds: tuple[Path, Path, dict[str, Any]]) -> None:
    src, dst, summary = worlds
    old, new = pd.read_parquet(src / "prompts.parquet"), pd.read_parquet(dst / "prompts.parquet")
    assert list(new.columns) == list(old.columns)
    pd.testing.assert_frame_equal(new[["account_id", "ts"]], old[["account_id", "ts"]])
    assert new["text"].notna().all() and (new["text"].str.strip() != "").all()
    assert summary["rows"] == len(old) == sum(summary["rows_by_source"].values())
    for name in ("accounts", "signals", "ip_info", "labels"):
        assert filecmp.cmp(src / f"{name}.parquet", dst / f"{name}.parquet", shallow=False)


def test_no_generator_text_survives(worlds: tuple[Path, Path, dict[str, Any]]) -> None:
    src, dst, _ = worlds
    old = set(pd.read_parquet(src / "prompts.parquet")["text"])
    new = set(pd.read_parquet(dst / "prompts.parquet")["text"])
    assert not old & new


def test_same_seed_same_texts_other_seed_other_texts(
    worlds: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    src, dst, summary = worlds
    assert retext_world(src, tmp_path / "again", seed=SEED) == summary
    first = pd.read_parquet(dst / "prompts.parquet")["text"]
    again = pd.read_parquet(tmp_path / "again" / "prompts.parquet")["text"]
    assert first.equals(again)
    retext_world(src, tmp_path / "other", seed=SEED + 1)
    other = pd.read_parquet(tmp_path / "other" / "prompts.parquet")["text"]
    assert (first != other).mean() > 0.5


def test_benign_accounts_write_in_several_languages(
    worlds: tuple[Path, Path, dict[str, Any]], texts: pd.DataFrame
) -> None:
    benign = texts[texts["label"] == "benign"]
    accounts_by_script = {
        name: benign.loc[benign["text"].str.contains(pattern), "account_id"].nunique()
        for name, pattern in SCRIPTS.items()
    }
    assert all(n >= 3 for n in accounts_by_script.values()), accounts_by_script
    languages = worlds[2]["languages"]["accounts"]
    share = sum(languages.values()) / benign["account_id"].nunique()
    assert len(languages) >= 6 and 0.12 < share < 0.35, (languages, share)


def test_campaign_accounts_share_their_campaigns_templates(
    worlds: tuple[Path, Path, dict[str, Any]], texts: pd.DataFrame
) -> None:
    corpora, campaigns = load_corpora(), worlds[2]["campaigns"]
    assert len(campaigns) == texts.loc[texts["label"] == "sybil", "campaign_id"].nunique()
    for cid, plan in campaigns.items():
        rows = texts[texts["campaign_id"] == cid]
        instances = {t for name in plan["t0_templates"] for t in corpora.t0[name]}
        sends = rows["text"].isin(instances)
        senders = rows.loc[sends, "account_id"].nunique()
        assert senders >= min(3, rows["account_id"].nunique() - 1), (cid, plan)
        share = sends.groupby(rows["account_id"]).mean().median()
        low, high = (0.2, 0.8) if plan["tier"] == "hydra" else (0.45, 1.0)
        if not (plan["airoboros"] or plan["seed_tasks"]):
            assert low <= share <= high, (cid, plan["tier"], share)


def test_university_developer_and_viral_confounders(texts: pd.DataFrame) -> None:
    uni = texts[texts["group"] == "university"]
    students = uni.groupby(["group_id", "text"])["account_id"].nunique()
    assert students.max() >= 10  # homework pasted verbatim across one campus
    dev = texts[texts["group"] == "developer"]
    spread = dev.groupby("text").agg(
        accounts=("account_id", "nunique"), groups=("group_id", "nunique")
    )
    assert ((spread["accounts"] >= 10) & (spread["groups"] >= 2)).sum() >= 2  # SDK samples
    corpora, viral = load_corpora(), texts[texts["group"] == "viral"]
    pasted = 0
    for template in corpora.flan.values():
        literal = max(PLACEHOLDER.split(template)[::2], key=len).strip()
        if len(literal.split()) < 5:
            continue
        hits = viral[viral["text"].str.contains(literal, regex=False)]
        if hits["account_id"].nunique() >= 3 and hits["text"].nunique() == len(hits):
            pasted += 1  # strangers paste one template, each with their own fillers
    assert pasted >= 2


def test_reads_and_writes_csv_worlds_unchanged_but_for_text(tmp_path: Path) -> None:
    src = tmp_path / "csv"
    write_world(generate_world(400, seed=7), src, fmt="csv")
    retext_world(src, tmp_path / "out", seed=7)
    old = pd.read_csv(src / "prompts.csv", dtype=str, keep_default_na=False)
    new = pd.read_csv(tmp_path / "out" / "prompts.csv", dtype=str, keep_default_na=False)
    assert new[["account_id", "ts"]].equals(old[["account_id", "ts"]])
    assert not set(old["text"]) & set(new["text"])


def test_refuses_a_missing_table_and_its_own_source(tmp_path: Path) -> None:
    (tmp_path / "prompts.parquet").touch()
    with pytest.raises(ValueError, match=r"expected one accounts\.parquet\|csv\|jsonl"):
        retext_world(tmp_path, tmp_path / "out", seed=1)
    with pytest.raises(ValueError, match="dst must differ"):
        retext_world(tmp_path, tmp_path, seed=1)


def test_flan_templates_are_parsed_from_source_and_filled() -> None:
    flan = load_corpora().flan
    assert len(flan) > 900 and len({name.split("/")[0] for name in flan}) > 90
    filled = {name: fill(t, lambda key: f"<{key}>") for name, t in flan.items()}
    assert not any(PLACEHOLDER.search(t) for t in filled.values())
    assert re.search(r"<premise>", filled["rte/0"])


def test_link_runs_on_the_retexted_world(
    worlds: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    from graph_store.embedded import EmbeddedStore
    from linker.pipeline import link
    from linker.scoring.evaluate import evaluate

    _, dst, summary = worlds
    result = link(dst, EmbeddedStore(tmp_path), out_dir=tmp_path)
    assert result.dataset.labels is not None
    ev = evaluate(result.run.accounts, result.dataset.labels)
    assert ev["labelled_accounts"] == ACCOUNTS
    prompts = result.dataset.counts["prompts"]
    assert prompts.kept == summary["rows"] and prompts.rejected == 0
    # family (b) floors on a world no constant was read from (seed 3; the session-7
    # rules were read off seed 1 at 20k). Measured 1.000 / 0.336 / 0.943, no benign
    # group flagged: the recall floor records how much the real templates still miss
    # (docs/quality.md, "Where the linker still fails")
    assert ev["precision"] >= 0.95
    assert ev["recall"] >= 0.3
    assert ev["average_precision"] >= 0.9
    worst = max(v["flagged_share"] for v in ev["flagged_by_group"].values())
    assert worst <= 0.02, ev["flagged_by_group"]
