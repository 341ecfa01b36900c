"""MinHash signatures in worker processes.

rensa computes a slice's MinHash in a few milliseconds, but hands it back as Python
lists (``RMinHashDigestMatrix.to_rows``), and turning those into an array is about nine
tenths of the time, all of it holding the GIL: threads do not help. At a million
accounts that is two minutes of the prompt stage. A forked worker does the conversion
and sends the array back (a pickled array is its bytes), while the caller masks and
shingles the next texts. The signatures are rensa's either way: the tests hold a run
with workers and one without equal.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from linker.prompts.skeleton import minhash_rows
from linker.prompts.threads import n_threads
from linker.settings import PromptSettings

#: texts in one call before a pool is started (smaller runs stay in this process)
POOL_MIN_TEXTS = 50_000
#: slices sent and not back yet before the caller waits for the oldest (bounds the
#: shingles held for the workers)
MAX_PENDING = 8

Digest = np.ndarray | Future[np.ndarray]


def _digest(tokens: np.ndarray, n_tokens: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    settings = PromptSettings(num_perm=num_perm, seed=seed)
    return minhash_rows(tokens, n_tokens, settings).astype(np.uint32)


class Digests:
    """MinHash signatures (uint32) of token slices, in worker processes once the texts
    seen reach :data:`POOL_MIN_TEXTS` (one worker per core, none on one core or with
    ``workers=0``), here otherwise."""

    def __init__(self, settings: PromptSettings, workers: int | None = None) -> None:
        self.settings = settings
        cores = n_threads()
        self.workers = (cores if cores > 1 else 0) if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[Future[np.ndarray]] = []
        self._seen = 0

    def submit(self, tokens: np.ndarray, n_tokens: np.ndarray) -> Digest:
        """The signatures of the texts whose shingles are ``tokens`` (``n_tokens`` per
        text): an array, or a future of one when a worker computes it."""
        self._seen += len(n_tokens)
        if self._pool is None and self.workers > 0 and self._seen >= POOL_MIN_TEXTS:
            self._pool = ProcessPoolExecutor(
                self.workers,
                # forked, as the intent worker: no second import of the caller's script
                mp_context=multiprocessing.get_context("fork"),
            )
        if self._pool is None:
            return _digest(tokens, n_tokens, self.settings.num_perm, self.settings.seed)
        self._pending = [f for f in self._pending if not f.done()]
        if len(self._pending) >= MAX_PENDING:
            self._pending.pop(0).result()
        future = self._pool.submit(
            _digest, tokens, n_tokens, self.settings.num_perm, self.settings.seed
        )
        self._pending.append(future)
        return future

    def map(self, jobs: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
        """The signatures of each ``(tokens, n_tokens)`` job, in order, each as soon as
        it is there (at most :data:`MAX_PENDING` jobs ahead of the one handed back)."""
        ahead: deque[Digest] = deque()
        for tokens, n_tokens in jobs:
            ahead.append(self.submit(tokens, n_tokens))
            if len(ahead) > MAX_PENDING:
                yield from resolve([ahead.popleft()])
        yield from resolve(list(ahead))

    def close(self) -> None:
        """Stop the workers, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending = []


def resolve(parts: list[Digest]) -> list[np.ndarray]:
    """The arrays of ``parts``, waiting for those still computed; raises what a worker
    raised."""
    return [p.result() if isinstance(p, Future) else p for p in parts]
