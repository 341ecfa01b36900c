"""The Spark engine (real Spark, local mode) against the embedded one: the same pairs,
the same noisy-OR weights, the same projection and, on a 20k world, the same flagged
accounts; the components stand-in against igraph."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import igraph as ig
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from graph_store.embedded import EmbeddedStore
from linker.cli import app
from linker.errors import LinkerError
from linker.evidence.identifiers import link_input
from linker.evidence.pairs import PairEvidence, expander_order, pair_chunks
from linker.evidence.projection import build_projection, eligible_identifiers, pass_edges
from linker.ingest.dataset import load_dataset
from linker.model import LinkInput
from linker.pipeline import link
from linker.settings import LinkageSettings, LinkSettings
from linker.settings.engine import EngineSettings
from synth import generate_world, write_world

# one Spark session (one JVM) for the module, so its tests share one pytest-xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

PARTITIONS = 4
SEEDS = [1, 2, 3]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session for the module (the engine uses it rather than its own)."""
    from linker.engines.spark import spark_session

    with spark_session(EngineSettings(spark_master="local[2]", spark_partitions=PARTITIONS)) as s:
        yield s


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world of 1,500 accounts."""
    root = tmp_path_factory.mktemp("spark-small")
    write_world(generate_world(1500, seed=4), root)
    return root


@pytest.fixture(scope="module")
def small_input(small_world: Path) -> LinkInput:
    """The projection input of the small world (prompts left out: the prompt stage is
    the same code in both engines)."""
    return link_input(load_dataset(small_world))


#: small caps, so the small world has identifiers above ``dense_limit`` (expanders,
#: ordered by account signatures) and pairs on both sides of each threshold
SMALL = LinkageSettings(dense_limit=8, sparse_partners=4)


def _pass_inputs(inp: LinkInput, settings: LinkageSettings) -> list[tuple[Any, ...]]:
    """The arguments of each pass of the embedded projection."""
    seen: list[tuple[Any, ...]] = []

    def record(*args: Any) -> pd.DataFrame:
        seen.append(args)
        return pass_edges(*args)

    build_projection(inp, settings, edges_of=record)
    return seen


def _embedded_pairs(args: tuple[Any, ...]) -> pd.DataFrame:
    """(a, b, ident, p) of the rows the embedded pass keeps."""
    memberships, mem_ident, identifiers, sync, settings, _ = args
    use = eligible_identifiers(identifiers, settings)[mem_ident]
    evidence = PairEvidence(memberships, mem_ident, identifiers, sync, settings)
    account = memberships["account"].to_numpy(np.int64)[use]
    degree = identifiers["degree"].to_numpy()
    order = expander_order(account, mem_ident[use], degree, settings)
    frames = []
    for chunk in pair_chunks(mem_ident[use], account, degree, settings, order=order):
        p = evidence(chunk)
        frames.append(chunk.assign(p=p)[p >= settings.min_contribution])
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("order", ["signature", "random"])
def test_spark_pairs_equal_the_embedded_pairs(
    spark: Any, small_input: LinkInput, order: str
) -> None:
    from linker.engines.spark.projection import spark_pairs

    passes = _pass_inputs(small_input, replace(SMALL, expander_order=order))
    assert len(passes) == 2
    memberships, mem_ident, identifiers, sync, settings, _ = passes[1]
    expanded = identifiers["degree"].to_numpy() > settings.dense_limit
    assert (expanded & eligible_identifiers(identifiers, settings)).any()
    assert len(sync)  # simultaneity counts reach the partitions
    expected = _embedded_pairs(passes[1]).sort_values(["a", "b", "ident"], ignore_index=True)
    found = (
        spark_pairs(spark, memberships, mem_ident, identifiers, sync, settings, PARTITIONS)
        .toPandas()
        .sort_values(["a", "b", "ident"], ignore_index=True)
    )
    assert len(found) == len(expected) > 0
    pd.testing.assert_frame_equal(found[["a", "b", "ident"]], expected[["a", "b", "ident"]])
    p = -np.expm1(found["log_miss"].to_numpy())
    np.testing.assert_allclose(p, np.minimum(expected["p"].to_numpy(), 0.999), rtol=0, atol=1e-12)


def test_spark_projection_equals_the_embedded_one(spark: Any, small_input: LinkInput) -> None:
    """Both passes and the corroboration measures on Spark: the same edges, weights and
    corroboration equal to the bit."""
    from linker.engines.spark import SparkEngine

    embedded = build_projection(small_input, SMALL)
    engine = SparkEngine(spark, EngineSettings(name="spark", spark_partitions=PARTITIONS))
    found = engine.projection(small_input, SMALL, None)
    assert len(embedded.edges) > 100
    corroboration = embedded.identifiers["corroboration"].to_numpy()
    assert ((corroboration > 0) & (corroboration < 1)).any()  # judged instruments
    pd.testing.assert_frame_equal(found.edges, embedded.edges, check_exact=True)
    pd.testing.assert_frame_equal(found.identifiers, embedded.identifiers, check_exact=True)
    pd.testing.assert_frame_equal(found.memberships, embedded.memberships, check_exact=True)


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_spark_components_equal_igraph(spark: Any, seed: int) -> None:
    from linker.engines.spark.components import component_labels

    rng = np.random.default_rng(seed)
    n = 400
    # chains (long diameters) and random sparse links, some accounts isolated
    chain = np.arange(0, 120)
    a = np.r_[chain[:-1], rng.integers(150, 400, 200)]
    b = np.r_[chain[1:], rng.integers(150, 400, 200)]
    keep = a != b
    edges = pd.DataFrame({"a": np.minimum(a, b)[keep], "b": np.maximum(a, b)[keep]})
    edges = edges.drop_duplicates(ignore_index=True)
    labels = component_labels(spark, n, edges)
    graph = ig.Graph(n=n, edges=edges[["a", "b"]].to_numpy().tolist())
    reference = np.asarray(graph.connected_components().membership)
    # the same partition: each igraph component has one Spark label, and the reverse
    pairs = pd.DataFrame({"spark": labels, "igraph": reference}).drop_duplicates()
    assert pairs["spark"].is_unique and pairs["igraph"].is_unique
    assert labels[chain].tolist() == [0] * len(chain)  # labelled by the smallest member


def test_spark_engine_agrees_on_a_20k_world(spark: Any, tmp_path: Path) -> None:
    """``--engine spark`` flags the same accounts as the embedded engine, with the same
    clusters and the same edges."""
    world = tmp_path / "world"
    write_world(generate_world(20_000, seed=1), world)
    embedded = link(world, EmbeddedStore(tmp_path / "embedded"))
    settings = LinkSettings(engine=EngineSettings(name="spark", spark_partitions=PARTITIONS))
    found = link(world, EmbeddedStore(tmp_path / "spark"), settings)
    flagged = embedded.run.accounts["flagged"].to_numpy()
    assert flagged.sum() > 1000
    pd.testing.assert_frame_equal(found.run.accounts, embedded.run.accounts)
    pd.testing.assert_frame_equal(found.run.clusters, embedded.run.clusters)
    pd.testing.assert_frame_equal(found.projection.edges, embedded.projection.edges)
    assert found.run.meta["settings"]["engine"]["name"] == "spark"
    assert embedded.run.meta["settings"]["engine"]["name"] == "embedded"


def test_link_command_with_engine_spark(spark: Any, small_world: Path, tmp_path: Path) -> None:
    """``sybil-linker link --engine spark`` writes what ``--engine embedded`` writes and
    records the engine in run.json."""
    outs = {}
    for engine in ("embedded", "spark"):
        outs[engine] = tmp_path / engine
        args = ["link", str(small_world), "--out", str(outs[engine]), "--engine", engine]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    accounts = {e: pd.read_parquet(out / "accounts.parquet") for e, out in outs.items()}
    assert accounts["embedded"]["flagged"].any()
    pd.testing.assert_frame_equal(accounts["spark"], accounts["embedded"])
    meta = json.loads((outs["spark"] / "run.json").read_text())
    assert meta["settings"]["engine"]["name"] == "spark"


def test_spark_engine_without_pyspark_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from linker.engines.spark.session import require_spark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(LinkerError, match=r"pip install 'sybil-linker\[spark\]'"):
        require_spark()
