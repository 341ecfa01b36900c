"""One function per job. ``link``: input directory -> clusters and risks in a store."""

from __future__ import annotations

import hashlib
import json
import platform
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from graph_store.base import GraphStore, InputGraphStore, RunTables
from linker import __version__
from linker.clustering import attach, ids
from linker.engines import EmbeddedEngine, Engine, open_engine
from linker.engines.spark.session import require_spark
from linker.errors import LinkerError
from linker.evidence.identifiers import link_input
from linker.evidence.projection import Projection, shared_values
from linker.ingest.dataset import Dataset, absorb_prompt_stream, load_dataset, write_rejected
from linker.learn import Learned, learn
from linker.learn.labels import file_time, gather_labels, label_summary, verdict_counts
from linker.model import LinkInput
from linker.prompts import families
from linker.prompts.encoder import require_extra
from linker.prompts.semantic import FamilyMerger
from linker.scoring.cores import rescore_cores
from linker.scoring.features import cluster_features, family_use
from linker.scoring.model import (
    account_hosting_share,
    account_risk_in_cluster,
    instrument_excess,
    own_risk,
    score_clusters,
)
from linker.settings import (
    LinkSettings,
)

Progress = Callable[[str], None]


def check_settings(settings: LinkSettings) -> None:
    """Raise :class:`LinkerError` for settings that cannot run, before any work: the
    semantic stage without the prompt stage, or without its extra installed
    (:class:`linker.errors.SemanticError`, naming the install command); the Spark
    engine without pyspark or Java."""
    if settings.semantic:
        if not settings.use_prompts:
            raise LinkerError("the semantic stage joins prompt families: it needs prompts")
        require_extra()
    if settings.engine.name == "spark":
        require_spark()


@dataclass
class RunResult:
    """What a link run produced and how long each stage took (``dataset.observations``
    is emptied once the link input is built: the IP windows hold what later stages use)."""

    run: RunTables
    dataset: Dataset
    projection: Projection
    timings: dict[str, float]
    evaluation: dict[str, Any] | None = None
    #: what learning from labels did (an empty report when there was no label)
    learned: Learned | None = None


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(stage)
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)


def _run_id(dataset: Dataset, settings: LinkSettings) -> str:
    digest = hashlib.sha1(json.dumps(settings.to_dict(), sort_keys=True, default=str).encode())
    digest.update(str(len(dataset.accounts)).encode())
    digest.update(str(len(dataset.signals)).encode())
    # the suffix keeps two runs of the same input in one second apart
    return (
        time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        + "-"
        + digest.hexdigest()[:8]
        + "-"
        + secrets.token_hex(2)
    )


def assemble_tables(
    projection: Projection,
    cluster_ids: pd.Series,
    scored: pd.DataFrame,
    own: np.ndarray,
    in_context: pd.Series,
    threshold: float,
    attached: np.ndarray | None = None,
    own_evidence: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The accounts, clusters and edges tables of a run (``attached``: the accounts that
    joined a cluster by a template family alone; ``own_evidence``: per account, why its
    own signals stand out, "" when they do not)."""
    ids = projection.accounts
    risk = own.copy()
    idx = in_context.index.to_numpy()
    # participation can only lower an account below its cluster's risk
    cluster_risk = cluster_ids.iloc[idx].map(scored["risk"]).to_numpy(float)
    risk[idx] = np.maximum(np.minimum(in_context.to_numpy(), cluster_risk), own[idx])
    accounts = pd.DataFrame(
        {
            "account_id": np.asarray(ids),
            "cluster_id": cluster_ids.to_numpy(),
            "risk": risk.round(4),
            "flagged": risk >= threshold,
            "own_risk": own.round(4),
            "attached": attached if attached is not None else np.zeros(len(ids), dtype=bool),
            "own_evidence": own_evidence if own_evidence is not None else [""] * len(ids),
        }
    )
    clusters = scored.reset_index(names="cluster_id")
    clusters["risk"] = clusters["risk"].round(4)
    clusters = clusters.sort_values(["risk", "size"], ascending=False, ignore_index=True)
    edges = projection.edges.copy()
    ev_cols = [c for c in edges.columns if c.startswith("ev_")]
    evidence = pd.Series("", index=edges.index, dtype=object)
    for col in ev_cols:
        part = pd.Series(
            np.where(edges[col].to_numpy() > 0, col[3:] + ":", ""), index=edges.index, dtype=object
        )
        part = part.where(edges[col].to_numpy() == 0, part + edges[col].astype(str) + " ")
        evidence = evidence + part
    edges["evidence"] = evidence.str.strip()
    edges["a"] = np.asarray(ids)[edges["a"].to_numpy()]
    edges["b"] = np.asarray(ids)[edges["b"].to_numpy()]
    edges["weight"] = edges["weight"].round(4)
    return accounts, clusters, edges


def _stream_families(
    stream: Iterable[pd.DataFrame],
    settings: LinkSettings,
    merger: FamilyMerger | None,
    progress: Progress | None,
) -> families.PromptAnalysis:
    """The prompt stage over a streamed table; the accumulator (its gigabytes of
    signatures at a million accounts) is gone once this returns."""
    acc = families.PromptAccumulator(settings.prompt, merger)
    try:
        for batch in stream:
            acc.add(batch)
            if progress:
                progress(f"prompts: {acc.n_prompts:,} read, {acc.n_texts:,} distinct masked texts")
        if progress:
            progress(
                "prompts: template families"
                + (" (semantic stage: embedding family samples)" if merger else "")
            )
        return acc.finish()
    finally:
        acc.close()  # intent scoring's worker, when reading stopped with an error


def build_link_input(
    dataset: Dataset,
    settings: LinkSettings,
    timings: dict[str, float],
    progress: Progress | None,
    reports: dict[str, Any] | None = None,
) -> LinkInput:
    """The projection's input: signals plus, when prompts exist, template memberships
    (families joined by meaning first when ``settings.semantic``; what that stage did
    goes to ``reports["semantic"]``). A streamed prompts table
    (``dataset.prompt_stream``) is read here, batch by batch; its rejected rows and
    counts join the dataset's."""
    stream = dataset.prompt_stream
    has_prompts = stream is not None or (dataset.prompts is not None and not dataset.prompts.empty)
    if not (settings.use_prompts and has_prompts):
        if progress:
            progress("identifiers")
        return link_input(dataset, settings.linkage)
    merger = FamilyMerger(settings.semantic_settings) if settings.semantic else None
    with _timed(timings, "prompts", progress):
        if stream is not None:
            result = _stream_families(stream, settings, merger, progress)
            absorb_prompt_stream(dataset)
        else:
            assert dataset.prompts is not None
            result = families.analyse(dataset.prompts, settings.prompt, merge=merger)
    if merger is not None and reports is not None:
        reports["semantic"] = {"ran": True, **merger.report.to_dict()}
    if progress:
        progress("identifiers")
    return link_input(
        dataset, settings.linkage, result.memberships, result.account_features, result.examples
    )


def score_input(
    inp: LinkInput,
    store: GraphStore,
    settings: LinkSettings,
    timings: dict[str, float],
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> tuple[Projection, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Projection, communities and risk of ``inp`` (projection and communities by
    ``engine``, the embedded one by default); returns the projection and the
    accounts, clusters and edges tables."""
    engine = engine or EmbeddedEngine()
    with _timed(timings, "projection", progress):
        projection = engine.projection(inp, settings.linkage, progress)
    with _timed(timings, "communities", progress):
        found = engine.communities(len(projection.accounts), projection.edges, settings.community)
        # ids follow the linked communities; accounts joined by a family alone take their
        # community's id and do not move it
        cluster_ids = ids.assign_cluster_ids(
            projection.accounts, found, store.previous_assignment(), settings.community.id_overlap
        )
        labels, attached = attach.attach_by_family(
            found,
            projection.memberships,
            settings.community.attach_share,
            len(inp.prompt_features) if inp.prompt_features is not None else None,
            settings.risk,
        )
        if attached.any():
            linked = found >= 0
            id_of = dict(zip(found[linked].tolist(), cluster_ids[linked].tolist(), strict=True))
            cluster_ids[attached] = [id_of[label] for label in labels[attached].tolist()]
    with _timed(timings, "risk", progress):
        member_mask = cluster_ids.notna().to_numpy()
        members = pd.DataFrame(
            {
                "account": np.flatnonzero(member_mask),
                "cluster": cluster_ids[member_mask].to_numpy(),
                "attached": attached[member_mask],
            }
        )
        core = members[~members["attached"].to_numpy()]
        prompt_feats = None
        if inp.prompt_features is not None:
            prompt_feats = inp.prompt_features.set_index(
                projection.accounts.get_indexer(inp.prompt_features.index)
            )
        # members' use of the template families their clusters hold, computed once
        use = (
            family_use(members, projection.memberships, prompt_feats, settings.risk)
            if prompt_feats is not None and not prompt_feats.empty
            else None
        )
        rs = settings.risk

        def features_of(part: pd.DataFrame, part_use: pd.DataFrame | None) -> pd.DataFrame:
            return cluster_features(
                part,
                inp.accounts,
                projection.edges,
                projection.memberships,
                projection.identifiers,
                prompt_feats,
                part_use,
                rs,
            )

        # the cluster is scored on the members the graph linked; the attached are counted
        feats = features_of(core, use[~use["attached"].to_numpy(bool)] if use is not None else None)
        feats["n_attached"] = members.groupby("cluster")["attached"].sum().reindex(feats.index)
        scored = score_clusters(feats, settings.risk, inp.template_examples)
        hosting = account_hosting_share(
            len(projection.accounts), projection.memberships, projection.identifiers, settings.risk
        )
        excess, own_why = instrument_excess(
            len(projection.accounts), projection.memberships, settings.risk
        )
        own = own_risk(hosting, prompt_feats, settings.risk, excess)

        def context_of(
            part: pd.DataFrame, part_scored: pd.DataFrame, part_use: pd.DataFrame | None
        ) -> pd.Series:
            return account_risk_in_cluster(
                part, part_scored, hosting, prompt_feats, rs, projection.memberships, part_use
            )

        in_context = context_of(members, scored, use)
        scored, in_context = rescore_cores(
            core,
            members,
            scored,
            in_context,
            use,
            projection.memberships,
            features_of,
            lambda feats: score_clusters(feats, rs, inp.template_examples),
            context_of,
            rs,
        )
        # the reported size counts every member (the score used the linked core)
        scored["size"] = scored["size"] + scored["n_attached"].fillna(0).astype(int)
        tables = assemble_tables(
            projection,
            cluster_ids,
            scored,
            own,
            in_context,
            settings.risk.threshold,
            attached,
            own_why,
        )
    return (projection, *tables)


#: the fitted risk model of a run with labels, beside run.json (joblib)
MODEL_FILE = "risk_model.joblib"


def _gather(
    data_dir: Path | str,
    dataset: Dataset,
    out_dir: Path | None,
    store: GraphStore,
    labels_file: Path | None,
    settings: LinkSettings,
) -> pd.DataFrame:
    """Every label of the run, the latest per target (:func:`gather_labels`)."""
    table, when = None, None
    if settings.learn.input_labels and dataset.labels is not None:
        table = dataset.labels
        files = sorted(Path(data_dir).glob("labels.*"))
        when = file_time(files[0]) if files else None
    return gather_labels(out_dir, store, labels_file, table, when)


def _previous_baselines(store: GraphStore) -> dict[str, dict[str, Any]]:
    """The latest stored run's verdict baselines (none before the first run)."""
    last = store.latest_run()
    return dict(last.meta.get("verdict_baselines") or {}) if last is not None else {}


def _shared_examples(
    values: dict[str, list[dict[str, object]]], examples: dict[str, str]
) -> dict[str, str]:
    """Template id -> masked example, for the template families in ``values``
    (:func:`shared_values`)."""
    named = {
        str(item["value"])
        for items in values.values()
        for item in items
        if item["kind"] == "prompt_template"
    }
    return {tid: examples[tid] for tid in sorted(named) if tid in examples}


def link(
    data_dir: Path | str,
    store: GraphStore,
    settings: LinkSettings | None = None,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    labels_file: Path | None = None,
) -> RunResult:
    """Run the linkage job on ``data_dir`` and write the run into ``store``.

    Rejected input rows go to ``out_dir/rejected.csv`` when ``out_dir`` is given. A store
    that holds the input graph (Neo4j) is loaded first (the system of record for the
    Browser, the API and later runs); the projection is computed from the input in
    memory, the rows the load wrote, not read back. Labels (the API's
    ``out_dir/labels.jsonl``, the store's verdicts, ``labels_file`` and, with
    ``settings.learn.input_labels``, the input's labels table) are learned from
    (:mod:`linker.learn`).
    Returns a :class:`RunResult`; raises InputError for unusable input and
    :class:`linker.prompts.semantic.SemanticError` (before reading anything) when
    ``settings.semantic`` is set without the extra installed.
    """
    settings = settings or LinkSettings()
    check_settings(settings)
    timings: dict[str, float] = {}
    with _timed(timings, "ingest", progress):
        dataset = load_dataset(data_dir, stream_prompts=settings.use_prompts)
    reports: dict[str, Any] = {"semantic": {"ran": False}}
    inp = build_link_input(dataset, settings, timings, progress, reports)
    # the observations live on in the link input's IP windows: at a million accounts
    # they are gigabytes that no later stage reads
    dataset.observations = dataset.observations.iloc[:0]
    if out_dir is not None:
        write_rejected(dataset.rejected, out_dir)
    kind_roles = inp.kind_roles
    if isinstance(store, InputGraphStore):
        # the load checks that the store took every row; the projection is computed from
        # the same rows in memory, never read back out of the store
        with _timed(timings, "store_load", progress):
            store.load_input(inp.to_tables())
    with open_engine(settings.engine) as engine:
        projection, accounts, clusters, edges = score_input(
            inp, store, settings, timings, progress, engine
        )
    # the reasons' numbers go to run.json; clusters.parquet keeps the texts alone
    detail = clusters.pop("reason_features")
    reason_features = dict(zip(clusters["cluster_id"], detail, strict=True))
    with _timed(timings, "learn", progress):
        verdicts = _gather(data_dir, dataset, out_dir, store, labels_file, settings)
        on_cluster = (verdicts["target_type"] == "cluster").any() if len(verdicts) else False
        previous = _previous_baselines(store) if on_cluster else {}
        learned = learn(projection, accounts, clusters, verdicts, previous, settings.learn)
    with _timed(timings, "shared_values", progress):
        values = shared_values(projection, accounts["cluster_id"])
    run_id = _run_id(dataset, settings)
    meta = {
        "run_id": run_id,
        "input": str(data_dir),
        "version": __version__,
        "python": platform.python_version(),
        "settings": {
            "linkage": settings.linkage.to_dict(),
            "community": settings.community.to_dict(),
            "risk": settings.risk.to_dict(),
            "prompt": settings.prompt.to_dict(),
            "use_prompts": settings.use_prompts,
            "semantic": settings.semantic,
            "semantic_stage": settings.semantic_settings.to_dict() if settings.semantic else None,
            "learn": settings.learn.to_dict(),
            "engine": settings.engine.to_dict(),
        },
        "semantic": reports["semantic"],
        # what the linker made of each identifier kind (addresses are told by their values)
        "kind_roles": kind_roles,
        "counts": {name: vars(c) for name, c in dataset.counts.items()},
        "n_accounts": len(accounts),
        "n_edges": len(edges),
        "n_clusters": len(clusters),
        "n_flagged_clusters": int(clusters["flagged"].sum()),
        "n_flagged_accounts": int(accounts["flagged"].sum()),
        "analyst_verdicts_applied": learned.n_applied,
        "analyst_verdicts": verdict_counts(verdicts, accounts, clusters),
        # every label read, from where and as of when; what learning did with them
        "labels": label_summary(verdicts),
        "learning": learned.report,
        # the members of each cluster verdict when first applied (see linker/learn/sticky)
        "verdict_baselines": learned.baselines,
        "timings_s": timings,
        # the values that hold each cluster together (masked by the API for readers
        # without identifiers:read)
        "cluster_identifiers": values,
        # each reason's text with the features its numbers come from
        "reason_features": reason_features,
        # the masked example of every template family named in cluster_identifiers
        "template_examples": _shared_examples(values, inp.template_examples),
    }
    run = RunTables(run_id=run_id, accounts=accounts, clusters=clusters, edges=edges, meta=meta)
    with _timed(timings, "write", progress):
        store.write_run(run)
    if out_dir is not None and learned.model is not None:
        joblib.dump(learned.model, out_dir / MODEL_FILE)
    return RunResult(
        run=run, dataset=dataset, projection=projection, timings=timings, learned=learned
    )
