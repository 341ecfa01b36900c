"""Where the report's files go in a results directory, and the removal of those a new
run makes stale.

``risk.png`` (``demo``) shows one run; ``explain/<run_id>/<cluster_id>.png`` show
clusters of one run, in a folder per run so a picture never passes for another run's.
When a new run is written into the directory, both belong to an old run and go.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

RUN_PICTURE = "risk.png"
EXPLAIN_DIR = "explain"


def run_picture_path(results_dir: Path) -> Path:
    """The run's picture: ``results_dir/risk.png``."""
    return Path(results_dir) / RUN_PICTURE


def cluster_picture_path(results_dir: Path, run_id: str, cluster_id: str) -> Path:
    """A cluster's picture: ``results_dir/explain/<run_id>/<cluster_id>.png`` (ids
    reduced to file-name characters)."""
    return Path(results_dir) / EXPLAIN_DIR / _file_name(run_id) / f"{_file_name(cluster_id)}.png"


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def prune_explain(results_dir: Path, run_id: str) -> list[Path]:
    """Remove the explain folders of runs other than ``run_id``; returns them."""
    keep = cluster_picture_path(results_dir, run_id, "x").parent
    root = Path(results_dir) / EXPLAIN_DIR
    removed: list[Path] = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry != keep:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            removed.append(entry)
    return removed


def remove_stale_outputs(results_dir: Path, run_id: str) -> list[Path]:
    """After run ``run_id`` was written into ``results_dir``: remove the run picture
    (it shows an earlier run; ``demo`` draws it anew) and the other runs' explain
    folders. Returns what was removed."""
    removed = prune_explain(results_dir, run_id)
    picture = run_picture_path(results_dir)
    if picture.is_file():
        picture.unlink()
        removed.append(picture)
    return removed
