"""Durable storage of analyst labels.

The default sink appends one JSON object per line to ``<results dir>/labels.jsonl`` and
fsyncs before the API answers 201, so an acknowledged label survives a crash. The next
linkage run reads that file. Another store (e.g. Neo4j) can pass its own ``LabelSink``
to ``create_app``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class LabelSink(Protocol):
    """Where analyst labels go; ``append`` returns once the record is durable."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Store ``record`` durably; raises OSError when it cannot."""


class JsonlLabelSink:
    """Append-only JSONL file, one label per line, fsynced per label."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line and fsync it (and the directory on creation)."""
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        with self._lock:
            created = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
