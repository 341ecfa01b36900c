"""``sybil-linker evaluate``: a stored run against a labels file, side by side with the
baselines on the same input, as evaluation.json, a table and two pictures."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graph_store.base import GraphStore, RunTables
from linker.errors import LinkerError
from linker.ingest.dataset import load_dataset
from linker.learn.labels import read_labels
from linker.scoring.baselines import BASELINES
from linker.scoring.evaluate import evaluate

#: files this module writes into the output folder (replaced on every evaluation)
OUTPUTS = ("evaluation.json", "evaluation-pr.png", "evaluation-risk.png")


@dataclass
class Evaluation:
    """The linker's figures and each baseline's, on the same labelled accounts."""

    run_id: str
    labels_file: str
    methods: dict[str, dict[str, Any]]
    #: per method: account_id, risk, flagged, label (for the pictures)
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for evaluation.json."""
        return {"run_id": self.run_id, "labels": self.labels_file, "methods": self.methods}


def evaluate_run(
    run: RunTables,
    labels: pd.DataFrame,
    labels_file: str,
    data_dir: Path | None = None,
) -> Evaluation:
    """The run's figures and, when ``data_dir`` (the run's input) is given, the
    baselines' on the same input and labels."""
    accounts = run.accounts
    methods = {"sybil-linker": evaluate(accounts, labels)}
    scores = {"sybil-linker": accounts[["account_id", "risk", "flagged"]]}
    if data_dir is not None:
        dataset = load_dataset(data_dir, stream_prompts=False)
        index = pd.Index(dataset.accounts["account_id"])
        for name, baseline in BASELINES.items():
            result = baseline(index, dataset.signals)
            methods[name] = evaluate(result, labels)
            scores[name] = result[["account_id", "risk", "flagged"]]
    labelled = {
        name: frame.merge(labels[["account_id", "label"]], on="account_id")
        for name, frame in scores.items()
    }
    return Evaluation(run.run_id, labels_file, methods, labelled)


def evaluate_stored(
    source: GraphStore, labels: Path, baselines: bool, data: Path | None
) -> Evaluation:
    """The latest run of ``source`` (closed afterwards) against the labels file; with
    ``baselines``, the recipes on the run's input (``data``, else the one in run.json).
    Raises :class:`LinkerError` for no run or no input to run the baselines on."""
    try:
        stored = source.latest_run()
    finally:
        source.close()
    if stored is None:
        raise LinkerError("no run in the store")
    table = read_labels(labels)
    data_dir = data or (Path(stored.meta["input"]) if stored.meta.get("input") else None)
    if baselines and (data_dir is None or not data_dir.is_dir()):
        raise LinkerError(
            f"--baselines needs the run's input: {data_dir} is not a directory (use --data)"
        )
    return evaluate_run(stored, table, str(labels), data_dir if baselines else None)


def write_evaluation(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """evaluation.json and the pictures (precision-recall curves, risk distributions)
    into ``out_dir``, replacing those of an earlier evaluation. Returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    path = out_dir / "evaluation.json"
    path.write_text(json.dumps(evaluation.to_dict(), indent=2, default=str))
    written = [path]
    with contextlib.suppress(ImportError):  # matplotlib is the 'plots' extra
        written += _pictures(evaluation, out_dir)
    return written


def _pictures(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(7, 5))
    for name, frame in evaluation.scores.items():
        truth = (frame["label"] == "sybil").to_numpy()
        if truth.all() or not truth.any():
            continue
        precision, recall, _ = precision_recall_curve(truth, frame["risk"].to_numpy(float))
        ap = evaluation.methods[name].get("average_precision", float("nan"))
        ax.step(recall, precision, where="post", label=f"{name} (AP {ap:.3f})")
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.text(0.01, 0.952, "precision 0.95", color="grey", fontsize=8, va="bottom")
    ax.set(
        xlabel="recall (share of labelled sybil accounts found)",
        ylabel="precision (share of flagged that are sybil)",
        xlim=(0, 1.01),
        ylim=(0, 1.02),
        title=f"Precision-recall of risk against labels, run {evaluation.run_id}",
    )
    ax.legend(loc="lower left")
    fig.tight_layout()
    pr_path = out_dir / "evaluation-pr.png"
    fig.savefig(pr_path, dpi=110)
    plt.close(fig)

    frame = evaluation.scores["sybil-linker"]
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, 1, 41)
    for label, colour in (("benign", "tab:blue"), ("sybil", "tab:red")):
        risk = frame.loc[frame["label"] == label, "risk"].to_numpy(float)
        # matplotlib's stubs want bins as a Sequence; any array works (np.histogram takes it)
        ax.hist(risk, bins=bins, alpha=0.6, color=colour, label=f"{label} ({len(risk):,})")  # type: ignore[arg-type]
    ax.set_yscale("log")
    ax.set(
        xlabel="account risk",
        ylabel="labelled accounts (log scale)",
        title="Risk of labelled benign and sybil accounts",
    )
    ax.legend()
    fig.tight_layout()
    risk_path = out_dir / "evaluation-risk.png"
    fig.savefig(risk_path, dpi=110)
    plt.close(fig)
    return [pr_path, risk_path]


#: the rows of the side-by-side table, in order
TABLE_ROWS = (
    ("precision", "precision of flagged"),
    ("recall", "recall of flagged"),
    ("f1", "F1 of flagged"),
    ("average_precision", "average precision of risk"),
    ("roc_auc", "ROC AUC of risk"),
    ("recall_at_precision_0.95", "recall at precision 0.95"),
    ("recall_at_precision_0.99", "recall at precision 0.99"),
    ("campaign_ari", "adjusted Rand index vs campaigns"),
)


def comparison_table(evaluation: Evaluation) -> Any:
    """A rich table: one column per method, one row per figure, then the linker's recall
    per tier and flagged share per benign group."""
    from rich.table import Table

    table = Table(title=f"Run {evaluation.run_id} against {evaluation.labels_file}")
    table.add_column("figure")
    for name in evaluation.methods:
        table.add_column(name, justify="right")
    for key, text in TABLE_ROWS:
        values = [m.get(key) for m in evaluation.methods.values()]
        if all(v is None for v in values):
            continue
        table.add_row(text, *("-" if v is None else f"{v:.3f}" for v in values))
    for group_key, unit in (("recall_by_tier", "recall"), ("flagged_by_group", "flagged_share")):
        names = sorted({g for m in evaluation.methods.values() for g in m.get(group_key, {})})
        for g in names:
            label = f"sybil {g}: recall" if unit == "recall" else f"benign {g}: flagged"
            cells = []
            for m in evaluation.methods.values():
                v = m.get(group_key, {}).get(g)
                cells.append("-" if v is None else f"{100 * v[unit]:.1f}%")
            table.add_row(label, *cells)
    return table
