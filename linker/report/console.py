"""Terminal output shared by the CLI commands: one rich console, progress, tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from linker.ingest.dataset import TableCounts

if TYPE_CHECKING:
    from graph_store.base import RunTables
    from linker.report.investigate import AccountEvidence, ClusterEvidence

#: no emoji codes: a masked IPv6 address (2a02:d2c3:x:x:...) holds ":x:"
console = Console(stderr=False, emoji=False)


def fail(err: Exception) -> typer.Exit:
    """Print a project error in one clear line and return the exit to raise."""
    # one line, never wrapped: a path cut in two cannot be pasted back
    # the message is text, never markup: a column named "[/x]" must print as itself
    console.print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True, highlight=False)
    return typer.Exit(code=2)


@contextmanager
def stage_progress() -> Iterator[Progress]:
    """A spinner with the current stage's description and the elapsed time."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        yield progress


def counts_table(counts: dict[str, TableCounts]) -> Table:
    """A table of rows read, kept and rejected per input table."""
    table = Table(title="Input tables")
    for col in ("table", "file", "read", "kept", "rejected"):
        table.add_column(col, justify="right" if col in ("read", "kept", "rejected") else "left")
    for name, c in counts.items():
        style = "red" if c.rejected else ""
        row = (name, c.file, f"{c.read:,}", f"{c.kept:,}", f"{c.rejected:,}")
        table.add_row(*(escape(cell) for cell in row), style=style)
    return table


def top_clusters_table(clusters: pd.DataFrame, top: int) -> Table:
    """The riskiest clusters with their reasons."""
    table = Table(title=f"Top {top} clusters by risk", show_lines=True)
    for col in ("cluster", "size", "risk", "flagged", "reasons"):
        table.add_column(col)
    for row in clusters.head(top).itertuples():
        table.add_row(
            str(row.cluster_id),
            f"{row.size:,}",
            f"{row.risk:.2f}",
            "[red]yes[/]" if row.flagged else "no",
            "\n".join(list(row.reasons)),  # type: ignore[arg-type]
        )
    return table


def evaluation_table(ev: dict[str, Any]) -> Table:
    """Precision and recall against the labels, per tier and per benign group."""
    table = Table(
        title=f"Against labels: precision {ev['precision']:.3f}, recall "
        f"{ev['recall']:.3f} ({ev['flagged']:,} flagged, {ev['sybil']:,} sybil)"
    )
    table.add_column("group")
    table.add_column("accounts", justify="right")
    table.add_column("flagged", justify="right")
    for tier, v in ev.get("recall_by_tier", {}).items():
        table.add_row(f"sybil: {tier}", f"{v['accounts']:,}", f"{100 * v['recall']:.1f}%")
    for group, v in ev.get("flagged_by_group", {}).items():
        table.add_row(f"benign: {group}", f"{v['accounts']:,}", f"{100 * v['flagged_share']:.1f}%")
    return table


# --- an investigation: `clusters` and `explain` ------------------------------------

#: blocks of a terminal sparkline, lowest first
SPARK = "▁▂▃▄▅▆▇█"
#: bins of the signup sparkline
SPARK_BINS = 40


def _when(value: Any) -> str:
    return (
        "—" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")
    )


def _number(value: Any, fmt: str = "{:.2f}") -> str:
    return "—" if value is None or pd.isna(value) else fmt.format(value)


def cluster_list_table(
    selected: pd.DataFrame, n_total: int, limit: int, run_id: str
) -> RenderableType:
    """The listed clusters: id, size (attached), risk, flag and the strongest reason;
    a line saying so when none is listed."""
    if selected.empty:
        return f"no cluster of run {run_id} matches ({n_total:,} in the run)"
    shown = selected if limit <= 0 else selected.head(limit)
    table = Table(
        title=f"Clusters of run {run_id}: {len(shown):,} shown, {len(selected):,} match, "
        f"{n_total:,} in the run",
        show_lines=False,
    )
    for col, justify in (
        ("cluster", "left"),
        ("size", "right"),
        ("attached", "right"),
        ("risk", "right"),
        ("flagged", "left"),
        ("main reason", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in shown.to_dict("records"):
        reasons = list(row.get("reasons", []))
        table.add_row(
            str(row["cluster_id"]),
            f"{int(row['size']):,}",
            f"{int(row.get('n_attached', 0) or 0):,}",
            f"{row['risk']:.2f}",
            "[red]yes[/]" if row["flagged"] else "no",
            Text(reasons[0] if reasons else ""),
        )
    return table


def sparkline(times: pd.Series, start: Any, end: Any, bins: int = SPARK_BINS) -> str:
    """``times`` counted in ``bins`` equal bins from ``start`` to ``end``, as blocks."""
    t = pd.to_datetime(times.dropna(), utc=True)
    if t.empty or start is None or end is None or end <= start:
        return ""
    edges = pd.date_range(start, end, periods=bins + 1)
    counts = np.histogram(t.astype("int64"), bins=edges.astype("int64"))[0]
    top = max(int(counts.max()), 1)
    return "".join(
        " " if c == 0 else SPARK[min(len(SPARK) - 1, int(c * len(SPARK) / (top + 1)))]
        for c in counts
    )


def timeline_lines(members: pd.DataFrame) -> list[str]:
    """When members signed up and were active, in a few lines (empty without times)."""
    from linker.report.investigate import busiest_window

    if "created_at" not in members:
        return []
    created = pd.to_datetime(members["created_at"], utc=True)
    n, start, end = busiest_window(created)
    first, last = created.min(), created.max()
    lines = [
        f"signups: {created.notna().sum():,} from {_when(first)} to {_when(last)} UTC; "
        f"busiest 2 hours: {n:,} ({_when(start)} to {_when(end)})"
    ]
    seen_first = pd.to_datetime(members["first_seen"], utc=True)
    seen_last = pd.to_datetime(members["last_seen"], utc=True)
    if seen_first.notna().any():
        days = (seen_last - seen_first).dt.total_seconds().div(86400).median()
        lines.append(
            f"activity: from {_when(seen_first.min())} to {_when(seen_last.max())} UTC; "
            f"a member's median active span {days:.1f} days"
        )
    span_end = seen_last.max() if seen_last.notna().any() else last
    line = sparkline(created, first, span_end)
    if line:
        lines.append(f"signups over time: |{line}|  ({_when(first)} .. {_when(span_end)})")
    return lines


def _reason_lines(evidence: ClusterEvidence) -> list[str]:
    out = []
    for i, reason in enumerate(evidence.reasons, 1):
        numbers = ", ".join(f"{k} {v}" for k, v in reason.features.items())
        line = f"{i}. {escape(reason.text)}"
        out.append(line + (f"\n   [dim]from: {escape(numbers)}[/]" if numbers else ""))
    return out


def _members_table(evidence: ClusterEvidence, shown: int) -> Table:
    members = evidence.members
    if evidence.focus is not None:  # the account asked about is always shown
        mine = members["account_id"] == evidence.focus
        members = pd.concat([members[mine], members[~mine]])
    rows = members.head(shown)
    table = Table(title=f"Members ({len(rows):,} of {len(evidence.members):,}, riskiest first)")
    cols = ["account", "risk", "own risk", "attached", "links", "strongest"]
    if evidence.has_activity:
        cols += ["signed up", "first seen", "last seen"]
    for col in cols:
        table.add_column(col, justify="left" if col == "account" else "right")
    for row in rows.to_dict("records"):
        cells = [
            str(row["account_id"]) + (" ◀" if row["account_id"] == evidence.focus else ""),
            _number(row["risk"]),
            _number(row["own_risk"]),
            "yes" if row["attached"] else "no",
            f"{int(row['links']):,}",
            _number(row["strongest"]),
        ]
        if evidence.has_activity:
            cells += [_when(row["created_at"]), _when(row["first_seen"]), _when(row["last_seen"])]
        table.add_row(*cells)
    return table


def _shared_table(evidence: ClusterEvidence) -> Table:
    n = len(evidence.members)
    masked = " (masked; --show-values to see them)" if evidence.masked else ""
    table = Table(title=f"Shared identifiers{masked}")
    for col in ("kind", "value", "members", "accounts in all"):
        table.add_column(col, justify="left" if col in ("kind", "value") else "right")
    for row in evidence.shared.to_dict("records"):
        table.add_row(
            str(row["kind"]),
            Text(str(row["value"])),
            f"{int(row['members']):,} of {n:,}",
            _number(row["all_accounts"], "{:,.0f}"),
        )
    return table


def _families_table(evidence: ClusterEvidence) -> Table:
    from linker.scoring.reasons import shorten

    n = len(evidence.members)
    table = Table(title="Prompt template families (masked examples)")
    for col in ("template", "members", "example"):
        table.add_column(col, justify="right" if col == "members" else "left")
    for row in evidence.families.to_dict("records"):
        example = shorten(row["example"]) if row["example"] else "(no example recorded)"
        table.add_row(str(row["template_id"]), f"{int(row['members']):,} of {n:,}", Text(example))
    return table


def explain_renderables(evidence: ClusterEvidence, members_shown: int = 15) -> list[RenderableType]:
    """What ``explain`` prints about a cluster, in order."""
    c = evidence.cluster
    flag = "[red]flagged[/]" if c["flagged"] else "not flagged"
    attached = int(c.get("n_attached", 0) or 0)
    out: list[RenderableType] = [
        f"[bold]Cluster {evidence.cluster_id}[/] (run {evidence.run_id}): risk "
        f"{c['risk']:.2f}, {flag} (threshold {evidence.threshold:.2f}); "
        f"{len(evidence.members):,} members"
        + (f", {attached:,} attached by template families alone" if attached else ""),
        "[bold]Why[/]",
        *_reason_lines(evidence),
    ]
    if not evidence.shared.empty:
        out.append(_shared_table(evidence))
    if not evidence.link_kinds.empty:
        parts = ", ".join(
            f"{kind} on {links:,} ({100 * share:.0f}%)"
            for kind, links, share in evidence.link_kinds[["kind", "links", "share"]].itertuples(
                index=False, name=None
            )
        )
        out.append(f"links inside the cluster: {len(evidence.edges):,}; {parts}")
    if not evidence.families.empty:
        out.append(_families_table(evidence))
    out.append("[bold]Timeline[/]")
    out.extend(timeline_lines(evidence.members) or [evidence.activity_note])
    out.append(_members_table(evidence, members_shown))
    return out


def account_renderables(account: AccountEvidence, links_shown: int = 10) -> list[RenderableType]:
    """What ``explain`` prints about an account before its cluster."""
    a = account.account
    cluster = a.get("cluster_id")
    where = "in no cluster" if cluster is None or pd.isna(cluster) else f"member of {cluster}"
    if a.get("attached"):
        where += " (attached by template families alone)"
    out: list[RenderableType] = [
        f"[bold]Account {a['account_id']}[/]: risk {a['risk']:.2f} (own {a['own_risk']:.2f}), "
        + ("[red]flagged[/]" if a["flagged"] else "not flagged")
        + f"; {where}"
    ]
    links = Table(
        title=f"Links ({min(links_shown, len(account.links)):,} of {len(account.links):,})"
    )
    for col in ("account", "weight", "evidence", "cluster"):
        links.add_column(col)
    for row in account.links.head(links_shown).to_dict("records"):
        other = row["cluster_id"]
        links.add_row(
            str(row["account_id"]),
            f"{row['weight']:.2f}",
            str(row["evidence"]),
            "—" if other is None or pd.isna(other) else str(other),
        )
    out.append(links)
    if account.identifiers is not None:
        idents = Table(title="Identifiers it used (masked unless --show-values)")
        for col in ("kind", "value", "uses", "first", "last", "other accounts"):
            idents.add_column(col)
        for row in account.identifiers.head(links_shown).to_dict("records"):
            idents.add_row(
                str(row["kind"]),
                Text(str(row["value"])),
                f"{int(row['n_obs']):,}",
                _when(row["first_ts"]),
                _when(row["last_ts"]),
                f"{int(row['other_accounts']):,}",
            )
        out.append(idents)
    return out


def learning_lines(meta: dict[str, Any]) -> list[str]:
    """What the run learned from labels, for the terminal: the labels per source, the
    model's cross-validated figures (or why there is none) and the proximity."""
    labels = meta.get("labels") or {}
    learning = meta.get("learning") or {}
    if not labels.get("n"):
        return []
    sources = ", ".join(
        f"{name} {part['n']:,} (as of {str(part.get('as_of') or '?')[:10]})"
        for name, part in sorted(labels.get("sources", {}).items())
    )
    lines = [f"labels: {labels['n']:,} current verdicts: {sources}"]
    if "n_sybil_labels" in learning:
        lines.append(
            f"labelled accounts: {learning['n_sybil_labels']:,} sybil, "
            f"{learning['n_benign_labels']:,} benign; {learning['n_near_sybil']:,} accounts "
            "close to confirmed sybil accounts (proximity >= 0.5)"
        )
    model = learning.get("model")
    if model:
        v = model["validation"]
        chosen = ", ".join(f"{k.split('__')[-1]}={x:g}" for k, x in v["chosen"].items())
        lines.append(
            f"calibrated model ({v['model']}, {chosen}, {v['calibration']}, "
            f"{v['folds']}-fold): AP {v['average_precision']:.3f}, ROC AUC "
            f"{v['roc_auc']:.3f}, Brier {v['brier']:.4f}, calibration error "
            f"{v['calibration_error']:.3f} on {v['n_labels']:,} labels out of fold; "
            + (
                f"flags at risk {model['flag_threshold']:.3f} (out of fold: precision "
                f"{v['flag_precision'] or 0:.3f}, recall {v['flag_recall']:.3f})"
                if model["flag_threshold"] is not None
                else "no risk reached the flag precision out of fold: unsupervised flags"
            )
        )
    elif learning.get("fallback"):
        lines.append(f"no supervised model: {learning['fallback']}")
    return lines


def link_summary(
    run: RunTables,
    counts: dict[str, TableCounts],
    evaluation: dict[str, Any] | None,
    timings: dict[str, float],
    top: int,
) -> list[RenderableType]:
    """What ``link`` prints at the end: the input counts, the top clusters, the
    evaluation (input with labels), timings, the verdicts used and what was learned."""
    out: list[RenderableType] = [counts_table(counts), top_clusters_table(run.clusters, top)]
    if evaluation is not None:
        out.append(evaluation_table(evaluation))
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
    out.append(
        f"run {run.run_id}: {len(run.clusters):,} clusters, "
        f"{int(run.accounts['flagged'].sum()):,} accounts flagged; {timing}"
    )
    verdicts = run.meta.get("analyst_verdicts") or {}
    if verdicts.get("read"):  # every label source (the API, the graph, files)
        used = verdicts.get("used", {})
        sources = ", ".join(f"{source} {n}" for source, n in sorted(used.items()))
        out.append(
            f"analyst verdicts used: {sum(used.values())} of {sum(verdicts['read'].values())}"
            + (f" ({sources})" if sources else "")
        )
    out.extend(Text(line) for line in learning_lines(run.meta))
    return out
