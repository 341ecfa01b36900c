"""The prompt stage's array work on every core this process may use.

pyarrow's compute kernels, numpy's sorts and element-wise loops and rensa's digests
release the GIL while they run (rensa's hand-back of signatures as Python lists does
not: docs/prompts.md), so threads over independent pieces of one array (a
batch's texts, a slice of the hash space, a chunk of texts) use a second core without
copying anything to another process. Pieces are cut and their results put back in a
fixed order, so the output does not depend on the number of threads (the tests hold
runs on one, two and three threads equal).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: threads at most, whatever the machine: the pieces are memory-bound past a few
MAX_THREADS = 4
_override: int | None = None


def n_threads() -> int:
    """Threads to use: the cores this process may run on (``sched_getaffinity``, which
    a container's CPU set narrows), at most :data:`MAX_THREADS`; or what
    :func:`set_threads` said."""
    if _override is not None:
        return _override
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


def set_threads(threads: int | None) -> None:
    """Use ``threads`` threads from now on (``None``: as many as :func:`n_threads`
    finds). For benchmarks and the tests that compare thread counts."""
    global _override
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    _override = threads


def thread_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, on :func:`n_threads` threads, in the items' order."""
    work = list(items)
    k = min(n_threads(), len(work))
    if k <= 1:
        return [fn(x) for x in work]
    with ThreadPoolExecutor(k, thread_name_prefix="prompts") as pool:
        return list(pool.map(fn, work))


def cuts(n: int, min_piece: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of :func:`n_threads` near-equal pieces of ``range(n)``, fewer
    when a piece would hold less than ``min_piece`` (one piece for small inputs)."""
    k = max(1, min(n_threads(), n // max(min_piece, 1)))
    bounds = [n * i // k for i in range(k + 1)]
    return list(pairwise(bounds))
