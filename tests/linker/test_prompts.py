"""Prompt normalisation, template families, thresholds, supernodes and privacy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from graph_store.embedded import EmbeddedStore
from linker.cli import app
from linker.clustering.ids import content_id
from linker.evidence.identifiers import link_input
from linker.evidence.projection import build_projection
from linker.ingest.dataset import load_dataset
from linker.pipeline import link
from linker.prompts.families import analyse, intent_flags, lsh_families
from linker.prompts.families import signatures as minhash
from linker.prompts.masking import MASKS, mask, normalise_prompts
from linker.scoring.model import score
from linker.settings import PromptSettings, RiskSettings
from tests.helpers import ts, write_input

TEMPLATE = "Explain step by step the reasoning you used to answer question {n} about {topic}"
TOPICS = ["chemistry", "number theory", "tax law", "poetry", "sql joins", "graph theory"]


def test_normalisation_masks_slots() -> None:
    texts = pd.Series(
        [
            "Fix `foo(x)` at https://x.io/a?b=1 — call me at bob@x.com, 3.14 or 42!!",
            'What does "hello world" mean?',
        ]
    )
    assert normalise_prompts(texts).tolist() == [
        "fix <code> at <url> call me at <email> <num> or <num>",
        "what does <q> mean",
    ]


def test_slot_filled_variants_collapse_into_one_family() -> None:
    texts = [TEMPLATE.format(n=i, topic=TOPICS[i % len(TOPICS)]) for i in range(30)]
    texts += ["Write a haiku about autumn leaves falling", "Plan a 3 day trip to Lisbon with kids"]
    settings = PromptSettings()
    norm = normalise_prompts(pd.Series(texts)).tolist()
    fam = lsh_families(minhash(norm, settings), settings)
    assert (
        norm[0]
        == "explain step by step the reasoning you used to answer question <num> about chemistry"
    )
    assert len(set(fam[:30])) == 1
    assert fam[30] != fam[0] and fam[31] != fam[0] and fam[30] != fam[31]


def _jaccard(x: str, y: str) -> float:
    bx = {tuple(x.split()[i : i + 2]) for i in range(len(x.split()) - 1)}
    by = {tuple(y.split()[i : i + 2]) for i in range(len(y.split()) - 1)}
    return len(bx & by) / len(bx | by)


@pytest.mark.parametrize("threshold", [0.5, 0.9])
def test_threshold_decides_what_joins(threshold: float) -> None:
    base = "summarise the quarterly sales report for the northern region team in five bullets"
    words = base.split()
    near = " ".join([*words[:-2], "six", "bullets"])
    far = " ".join([*words[:6], "marketing plan for spring launch and hiring"])
    assert _jaccard(base, near) == pytest.approx(10 / 14)
    assert _jaccard(base, far) == pytest.approx(5 / 19)
    settings = PromptSettings(threshold=threshold, num_perm=128, bands=32)
    fam = lsh_families(minhash([base, near, far], settings), settings)
    assert (fam[0] == fam[1]) == (threshold < 10 / 14)
    assert fam[0] != fam[2]


def test_intent_is_counted_once_per_masked_text() -> None:
    # the learned model (tests/linker/test_intent.py) scores each distinct masked text
    # once, on its first raw text; every prompt of that text counts its flag
    texts = [
        f"Summarise report {k} of the northern region in {k % 5 + 2} bullets" for k in range(9)
    ]
    prompts = pd.DataFrame(
        {
            "account_id": [f"a{k % 3}" for k in range(9)],
            "ts": [ts(k) for k in range(9)],
            "text": texts,
        }
    )
    flag = bool(
        intent_flags(pd.Series(texts[:1]), PromptSettings().intent_threshold)["any"].iloc[0]
    )
    both = [PromptSettings(intent_threshold=t) for t in (0.0, 1.01)]
    assert [analyse(prompts, s).account_features["intent"].tolist() for s in both] == [
        [1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0],
    ]
    assert analyse(prompts).account_features["intent"].tolist() == [float(flag)] * 3


def _prompt_world(tmp_path: Path) -> Path:
    """Ring of 6 sending one template family repeatedly; 40 students pasting one homework
    prompt once each; 300 developers sending the SDK sample prompt 5 times each."""
    ring = [f"ring{i}" for i in range(6)]
    students = [f"stu{i}" for i in range(40)]
    devs = [f"dev{i}" for i in range(300)]
    prompts = []
    for i, a in enumerate(ring):
        for k in range(12):
            prompts.append((a, ts(k * 7 + i), TEMPLATE.format(n=k * 10 + i, topic=TOPICS[k % 6])))
    for i, a in enumerate(students):
        prompts.append((a, ts(i), "Prove that the square root of 2 is irrational, homework 3"))
        prompts.append(
            (a, ts(i + 50), f"help me write a cover letter for job number {i} at a bakery")
        )
    for i, a in enumerate(devs):
        prompts += [(a, ts(i + k), "Hello, Claude") for k in range(5)]
    accounts = ring + students + devs
    signals = [(a, "device", f"dev-{a}", None) for a in accounts]
    return write_input(tmp_path, accounts, signals, prompts=prompts)


def test_template_links_a_ring_but_not_homework_or_sdk_samples(tmp_path: Path) -> None:
    data = load_dataset(_prompt_world(tmp_path))
    result = analyse(data.prompts)
    members = result.memberships
    assert set(members["account_id"]) >= {f"ring{i}" for i in range(6)}
    assert not members["account_id"].str.startswith("stu").any()  # pasted once: no membership
    proj = build_projection(link_input(data, extra_memberships=members))
    ids = np.asarray(proj.accounts)
    linked = set(ids[proj.edges["a"]]) | set(ids[proj.edges["b"]])
    assert linked == {f"ring{i}" for i in range(6)}  # 300 SDK-sample senders link nobody
    sdk = proj.identifiers[proj.identifiers["kind"] == "prompt_template"]
    assert sdk["degree"].max() == 300


def _ring_world(tmp_path: Path, ring: list[str], others: list[tuple[str, list[str]]]) -> Path:
    """``ring`` accounts send six variants each of one template family; each account of
    ``others`` sends its texts. Every account has a device of its own."""
    prompts = [
        (a, ts(i * 10 + k), TEMPLATE.format(n=k, topic=TOPICS[k % len(TOPICS)]))
        for i, a in enumerate(ring)
        for k in range(6)
    ]
    for j, (account, texts) in enumerate(others):
        prompts += [(account, ts(500 + 10 * j + k), text) for k, text in enumerate(texts)]
    accounts = [*ring, *(account for account, _ in others)]
    signals = [(a, "device", f"dev-{a}", None) for a in accounts]
    return write_input(tmp_path, accounts, signals, prompts=prompts)


RING = [f"ring{i}" for i in range(6)]
VARIANT = TEMPLATE.format(n=77, topic="tax law")
COOKING = [f"what should I cook with {k} eggs and rice" for k in range(4)]


def test_a_family_sent_once_is_kept_as_participation_that_links_nobody(tmp_path: Path) -> None:
    # 'once' sends one variant among everyday questions: it takes part, it links nobody
    data = load_dataset(_ring_world(tmp_path, RING, [("once", [VARIANT, *COOKING])]))
    members = analyse(data.prompts).memberships
    once = members[members["account_id"] == "once"]
    assert len(once) == 1 and once["strength"].iloc[0] == 0.0 and once["n_obs"].iloc[0] == 1
    assert (members.loc[members["account_id"] != "once", "strength"] > 0).all()
    proj = build_projection(link_input(data, extra_memberships=members))
    template = proj.identifiers.index[proj.identifiers["kind"] == "prompt_template"]
    assert int(proj.identifiers.loc[template, "degree"].iloc[0]) == 6  # uses that link only
    position = proj.accounts.get_loc("once")
    mem = proj.memberships
    kept = mem[(mem["account"] == position) & (mem["kind"] == "prompt_template")]
    assert kept["ident"].tolist() == template.tolist()  # kept for risk, with its identifier
    assert not ((proj.edges["a"] == position) | (proj.edges["b"] == position)).any()


def test_light_sender_of_a_held_family_joins_the_cluster(tmp_path: Path) -> None:
    # 'light' sends one variant among everyday questions; 'stranger' everyday ones only
    trips = [f"plan a {k} day trip to the lakes" for k in range(4)]
    data_dir = _ring_world(
        tmp_path / "in", RING, [("light", [VARIANT, *COOKING]), ("stranger", trips)]
    )
    result = link(data_dir, EmbeddedStore(tmp_path / "out"))
    acc = result.run.accounts.set_index("account_id")
    ring = acc.loc[RING, "cluster_id"]
    assert ring.nunique() == 1 and ring.notna().all()
    assert acc.loc["light", "cluster_id"] == ring.iloc[0]  # shares no edge, sends the family
    assert pd.isna(acc.loc["stranger", "cluster_id"])
    cluster = result.run.clusters.set_index("cluster_id").loc[ring.iloc[0]]
    assert cluster["size"] == 7 and cluster["n_attached"] == 1
    assert any(
        "1 more account joined only by sending its template families" in r
        for r in cluster["reasons"]
    )
    # off from the command line: recorded in run.json, and 'light' stays in no cluster
    off = tmp_path / "off"
    res = CliRunner().invoke(app, ["link", str(data_dir), "--out", str(off), "--attach-share", "0"])
    assert res.exit_code == 0, res.output
    meta = json.loads((off / "run.json").read_text())
    assert meta["settings"]["community"]["attach_share"] == 0.0
    acc = pd.read_parquet(off / "accounts.parquet").set_index("account_id")
    assert pd.isna(acc.loc["light", "cluster_id"])  # no edge of its own: in no cluster


def test_attached_accounts_do_not_move_cluster_ids(tmp_path: Path) -> None:
    light = [f"light{i}" for i in range(6)]
    sent = [(a, [TEMPLATE.format(n=70 + i, topic="tax law")]) for i, a in enumerate(light)]
    store = EmbeddedStore(tmp_path / "out")
    first = link(_ring_world(tmp_path / "a", RING, sent), store).run.accounts
    first = first.set_index("account_id")
    assert first.loc[light, "attached"].all() and not first.loc[RING, "attached"].any()
    ring_id = first.loc["ring0", "cluster_id"]
    assert (first.loc[light, "cluster_id"] == ring_id).all()
    assert ring_id == content_id(RING)  # the id is the linked core's, not the 12 members'
    # next run: the light senders are gone and one ring member left; 5 of the 6 linked
    # members remain, a majority of the old cluster as linked (not of its 12 members)
    second = link(_ring_world(tmp_path / "b", RING[:5], []), store).run.accounts
    assert set(second.loc[second["cluster_id"].notna(), "cluster_id"]) == {ring_id}


def test_privacy_no_raw_prompt_text_in_outputs(tmp_path: Path) -> None:
    data_dir = _prompt_world(tmp_path / "in")
    out = tmp_path / "out"
    link(data_dir, EmbeddedStore(out), out_dir=out)
    raw = pd.read_csv(data_dir / "prompts.csv")["text"]
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for text in raw.drop_duplicates():
        assert text.encode() not in blob
    clusters = pd.read_parquet(out / "clusters.parquet")
    reasons = " ".join(r for rs in clusters["reasons"] for r in rs)
    assert "explain step by step the reasoning you used to answer question <num>" in reasons


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_minhash_agreement_estimates_bigram_jaccard(seed: int) -> None:
    """Oracle: signature agreement against the exact Jaccard of word bigrams."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(40)]
    base = list(rng.choice(vocab, size=30))
    other = base[:15] + list(rng.choice(vocab, size=15))
    texts = [" ".join(base), " ".join(other), "solo", "", " ".join(base)]
    settings = PromptSettings(num_perm=256, bands=64)
    sig = minhash(texts, settings)
    assert (sig[0] == sig[4]).all()
    assert not (sig[2] == sig[3]).all()
    estimate = (sig[0] == sig[1]).mean()
    assert abs(estimate - _jaccard(texts[0], texts[1])) < 0.1


def test_resampling_needs_an_extraction_instruction_re_sent_by_each_sender() -> None:
    # 'generate' is one instruction each of 10 accounts re-sends 6 times; 'pasted' is one
    # popular prompt 40 accounts paste once each. Intent is forced on (threshold 0) or
    # off (threshold above 1) so the figures do not hang on the shipped model.
    instruction = "Generate ten new riddles with answers, numbered"
    rows = [(f"g{i}", k, instruction) for i in range(10) for k in range(6)]
    rows += [(f"p{i}", 0, "From now on answer as a grumpy wizard, stay in role") for i in range(40)]
    prompts = pd.DataFrame(
        {
            "account_id": [a for a, _, _ in rows],
            "ts": [ts(k) for _, k, _ in rows],
            "text": [t for _, _, t in rows],
        }
    )
    settings = PromptSettings(min_repeats=1, intent_threshold=0.0)
    feats = analyse(prompts, settings).account_features
    sends = 6.0
    full = (sends - 1) / (settings.resample_full_sends - 1)
    assert feats.loc["g0", "family_resample"] == pytest.approx(min(full, 1.0))
    assert feats.loc["p0", "family_resample"] == 0.0
    no_intent = analyse(prompts, PromptSettings(min_repeats=1, intent_threshold=1.01))
    assert no_intent.account_features.loc["g0", "family_resample"] == 0.0
    templates = analyse(prompts, settings).templates.set_index("n_accounts")
    assert templates.loc[10, "intent_rate"] == 1.0 and templates.loc[40, "resample"] == 0.0


#: characters where the masking patterns could part from the plain ones: spaces RE2's
#: \s holds and does not (\v, no-break, ideographic), punctuation, symbols, digits
_MASK_ALPHABET = list(" \t\n\r\f\v\u00a0\u3000.,!?-\u2013\u2014'\"`@:/$+=<>_ab0é中😀x")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_masking_equals_the_plain_patterns(seed: int) -> None:
    """The masks end in one pattern matching only the runs that change; the plain
    version folds punctuation and symbols to a space, then collapses spaces."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    texts = [
        "".join(rng.choice(_MASK_ALPHABET, size=int(rng.integers(0, 16)))) for _ in range(20_000)
    ]
    arr = pa.array(texts, type=pa.string())
    plain = pc.utf8_lower(arr)
    for pattern, repl in MASKS[:-1]:
        plain = pc.replace_substring_regex(plain, pattern, repl)
    plain = pc.replace_substring_regex(plain, r"[\p{P}\p{S}]+", " ")
    plain = pc.utf8_trim_whitespace(pc.replace_substring_regex(plain, r"\s+", " "))
    assert mask(arr).to_pylist() == plain.to_pylist()


def _frame(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [a for a, _, _ in rows],
            "ts": [ts(k) for _, k, _ in rows],
            "text": [t for _, _, t in rows],
        }
    )


_TEMPLATE = 'Given the categories company, artist, village, film, album, which one is "{}"?'


def test_a_template_run_over_one_data_set_counts_its_shared_fills() -> None:
    # 'run': 6 accounts each send the same 30 quoted titles (one data set); 'own': 30
    # strangers fill the same template with a title of their own, 4 times each (a
    # lower-cased paste is the same fill). Both are one masked text; only the run's
    # instances are distinct texts shared by accounts.
    titles = [f"Title number {i:02d} of the set" for i in range(30)]
    run = [(f"r{i}", k, _TEMPLATE.format(titles[k])) for i in range(6) for k in range(30)]
    own = [
        (f"o{i}", k, (str.lower if k % 2 else str)(_TEMPLATE.format(f"private thing {i:02d}")))
        for i in range(30)
        for k in range(4)
    ]
    settings = PromptSettings(min_repeats=1)
    for rows, variants in ((run, 30), (own, 1)):
        templates = analyse(_frame(rows), settings).templates
        assert len(templates) == 1
        assert templates["n_variants"].iloc[0] == variants
        assert templates["variety"].iloc[0] == pytest.approx(variants / len(rows))
    both = analyse(_frame(run + own), settings).templates
    assert both["n_variants"].iloc[0] == 30
    # the variety decides the strength: the run links, the strangers' one text hardly
    strength = {
        who: analyse(_frame(rows), settings)
        .memberships.set_index("account_id")
        .loc[who, "strength"]
        for who, rows in (("r0", run), ("o0", own))
    }
    assert strength["r0"] > 10 * strength["o0"] > 0


@pytest.mark.parametrize("senders", [30, 600])
def test_a_data_set_spread_over_many_accounts_keeps_its_variety_as_they_grow(senders: int) -> None:
    # a campaign runs one template over a data set of 60 titles, each account sending 4
    # of them: with 30 or 600 accounts, every account still sends titles it has not
    # sent and two accounts rarely send the same one. A class pasting one question (each
    # student twice) is repetition at every size.
    rng = np.random.default_rng(senders)
    titles = [f"Title number {i:02d} of the set" for i in range(60)]
    run = [
        (f"r{i}", k, _TEMPLATE.format(titles[t]))
        for i in range(senders)
        for k, t in enumerate(rng.choice(60, 4, replace=False))
    ]
    pasted = [
        (f"s{i}", k, "What is the derivative of x squared times sin x?")
        for i in range(senders)
        for k in range(2)
    ]
    settings = PromptSettings(min_repeats=1)
    run_t = analyse(_frame(run), settings).templates.iloc[0]
    # distinct texts per prompt falls with the senders (60 / 2,400 with 600 of them) ...
    assert run_t["n_variants"] / run_t["n_prompts"] <= 60 / (4 * senders)
    # ... the variety does not: each account's 4 of 60 titles overlap another's by ~1/15
    assert run_t["variety"] == pytest.approx(1 - 4 / 60, abs=0.05)
    assert analyse(_frame(pasted), settings).templates["variety"].iloc[0] <= 1 / senders
    linked = analyse(_frame(run), settings).memberships
    assert linked["strength"].min() > 0.5


@pytest.mark.parametrize("batch_rows", [7, 50, 10_000])
def test_shared_fills_do_not_depend_on_batches(batch_rows: int) -> None:
    rng = np.random.default_rng(batch_rows)
    rows = [
        (f"a{int(rng.integers(12))}", k, _TEMPLATE.format(f"item {int(rng.integers(40))}"))
        for k in range(300)
    ]
    frame = _frame(rows)
    settings = PromptSettings(min_repeats=1)
    expected = analyse(frame, settings, batch_rows=10_000).templates
    # a fill shared by two accounts counts once, however the rows are batched
    pairs = frame.assign(fill=frame["text"]).drop_duplicates(["account_id", "fill"])
    shared = int((pairs.groupby("fill")["account_id"].nunique() >= 2).sum())
    got = analyse(frame, settings, batch_rows=batch_rows).templates
    assert got["n_variants"].tolist() == expected["n_variants"].tolist() == [shared]


def _pasters_world(tmp_path: Path) -> Path:
    """30 accounts each send 8 of 60 instances of one reasoning-trace template (a data
    set, or a catalogue of a popular template's fills) among 4 questions of their own;
    each has a device and a home address of its own. 90 others ask questions of their
    own."""
    rng = np.random.default_rng(3)
    accounts = [f"p{i}" for i in range(30)]
    others = [f"o{i}" for i in range(90)]
    prompts = [
        (a, ts(i), f"{COOKING[k]} for party {i}") for i, a in enumerate(others) for k in range(4)
    ]
    for i, a in enumerate(accounts):
        picks = rng.choice(60, 8, replace=False)
        prompts += [
            (a, ts(i * 50 + k), TEMPLATE.format(n=int(q), topic=TOPICS[int(q) % 6]))
            for k, q in enumerate(picks)
        ]
        prompts += [(a, ts(i * 50 + 20 + k), f"{COOKING[k]} for guest {i}") for k in range(4)]
    signals = [(a, "device", f"dev-{a}", None) for a in accounts + others]
    signals += [(a, "ip", f"10.{i}.0.1", ts(i)) for i, a in enumerate(accounts)]
    return write_input(tmp_path, accounts + others, signals, prompts=prompts)


def test_accounts_linked_by_text_alone_are_not_scored_on_that_text(tmp_path: Path) -> None:
    # 30 accounts linked by one template's texts alone, as strangers pasting a popular
    # template are: a cluster that holds the family, whose template evidence does not
    # count (its risk is what the same cluster scores without it)
    world = _pasters_world(tmp_path / "in")
    clusters = link(world, EmbeddedStore(tmp_path / "out"), out_dir=tmp_path / "out").run.clusters
    assert clusters["size"].tolist() == [30]
    assert clusters["template_share"].iloc[0] > 0.9
    assert clusters["corroborated_links"].iloc[0] == 0
    unlinked = clusters.assign(template_share=0.0)
    assert clusters["risk"].iloc[0] == pytest.approx(
        score(unlinked, RiskSettings()).iloc[0], abs=1e-3
    )
    corroborated = clusters.assign(corroborated_links=1.0)
    assert score(corroborated, RiskSettings()).iloc[0] > clusters["risk"].iloc[0] + 0.1
