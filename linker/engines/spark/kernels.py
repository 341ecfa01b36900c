"""What each Spark task runs on its slice of the data: plain pandas and numpy, the
embedded engine's own kernels, so both engines compute the same numbers. Nothing here
imports pyspark (the functions are shipped to the workers and tested without it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from linker.evidence.pairs import PairEvidence, SignatureOrder, pair_chunks
from linker.settings import LinkageSettings

#: NaT as int64 nanoseconds (times cross into Spark as longs: no zone, no precision lost)
NAT = np.iinfo(np.int64).min

#: a partition's rows: memberships of eligible identifiers (``n_sync`` null) and the
#: simultaneity counts of their address pairs (``account`` = a, ``b``, ``n_sync``), all
#: rows of one identifier in one partition; a large identifier's memberships carry the
#: account's expander signature in ``s0``, ``s1``, ... (:func:`rows_schema`)
ROWS_SCHEMA = (
    "ident long, account long, b long, n_sync long, first_ns long, last_ns long, "
    "strength double, kind string, p double, has_strength boolean"
)


def rows_schema(cycles: int) -> str:
    """:data:`ROWS_SCHEMA` with ``cycles`` signature columns (none: random expanders)."""
    return ROWS_SCHEMA + "".join(f", s{i} long" for i in range(cycles))


def _partition_order(mem: pd.DataFrame) -> SignatureOrder | None:
    """The expander order of a partition's rows: the signatures its large identifiers'
    memberships carry (None when the rows have no signature columns)."""
    columns = [c for c in mem.columns if c.startswith("s") and c[1:].isdigit()]
    if not columns:
        return None
    signed = mem[columns[0]].notna().to_numpy()
    accounts, first = np.unique(mem["account"].to_numpy(np.int64)[signed], return_index=True)
    ordered = sorted(columns, key=lambda c: int(c[1:]))
    signatures = mem.loc[signed, ordered].to_numpy(np.int64)[first]
    return SignatureOrder(accounts, signatures)


#: the evidence rows a partition hands on: one per (pair, identifier) reaching
#: ``min_contribution``; ``degree`` and ``ident`` give the embedded engine's summing order
PAIRS_SCHEMA = "a long, b long, ident long, degree long, kind string, log_miss double"


def to_ns(times: pd.Series | np.ndarray) -> np.ndarray:
    """datetime64[ns] values as int64 nanoseconds (NaT as :data:`NAT`)."""
    return np.asarray(times, dtype="datetime64[ns]").astype(np.int64)


def partition_pairs(rows: pd.DataFrame, settings: LinkageSettings) -> pd.DataFrame:
    """The evidence rows of one partition's identifiers (:data:`PAIRS_SCHEMA`).

    The identifiers are renumbered locally (in the order of their global numbers, so
    the parts come in the embedded order) and expanded by :func:`pair_chunks` with the
    global numbers as the expanders' seeds; each row's ``p`` comes from
    :class:`PairEvidence` over the partition's own memberships and simultaneity counts,
    the same code the embedded engine runs over all of them."""
    sync_rows = rows["n_sync"].notna().to_numpy()
    mem, sync = rows[~sync_rows], rows[sync_rows]
    keys, codes = np.unique(mem["ident"].to_numpy(np.int64), return_inverse=True)
    if len(keys) == 0:
        return _empty_pairs()
    codes = codes.astype(np.int64)
    firsts = np.unique(codes, return_index=True)[1]
    identifiers = pd.DataFrame(
        {
            "kind": mem["kind"].to_numpy(object)[firsts],
            "p": mem["p"].to_numpy(float)[firsts],
            "has_strength": mem["has_strength"].to_numpy(bool)[firsts],
        }
    )
    memberships = pd.DataFrame(
        {
            "account": mem["account"].to_numpy(np.int64),
            "first_ts": mem["first_ns"].to_numpy(np.int64).view("datetime64[ns]"),
            "last_ts": mem["last_ns"].to_numpy(np.int64).view("datetime64[ns]"),
            "strength": mem["strength"].to_numpy(float),
        }
    )
    local = np.searchsorted(keys, sync["ident"].to_numpy(np.int64))
    local = np.minimum(local, len(keys) - 1)
    known = keys[local] == sync["ident"].to_numpy(np.int64)
    sync_local = pd.DataFrame(
        {
            "a": sync["account"].to_numpy(np.int64)[known],
            "b": sync["b"].to_numpy(np.int64)[known],
            "ident": local[known],
            "n_sync": sync["n_sync"].to_numpy(np.int64)[known],
        }
    )
    evidence = PairEvidence(memberships, codes, identifiers, sync_local, settings)
    degree = np.bincount(codes, minlength=len(keys))
    out = []
    order = _partition_order(mem)
    account = memberships["account"].to_numpy()
    for chunk in pair_chunks(codes, account, degree, settings, keys=keys, order=order):
        p = evidence(chunk)
        strong = p >= settings.min_contribution
        ident = chunk["ident"].to_numpy()[strong]
        out.append(
            pd.DataFrame(
                {
                    "a": chunk["a"].to_numpy(np.int64)[strong],
                    "b": chunk["b"].to_numpy(np.int64)[strong],
                    "ident": keys[ident],
                    "degree": degree[ident].astype(np.int64),
                    "kind": identifiers["kind"].to_numpy(object)[ident],
                    # the noisy-OR's term, by numpy's log1p as in combine_edges
                    "log_miss": np.log1p(-np.minimum(p[strong], 0.999)),
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else _empty_pairs()


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": np.zeros(0, np.int64),
            "b": np.zeros(0, np.int64),
            "ident": np.zeros(0, np.int64),
            "degree": np.zeros(0, np.int64),
            "kind": np.zeros(0, object),
            "log_miss": np.zeros(0),
        }
    )


def pairs_task(
    settings: LinkageSettings,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function of the pair expansion: a partition's batches
    gathered (an identifier's rows may span batches), then :func:`partition_pairs`."""

    def task(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        frames = list(batches)
        if not frames:
            return
        yield partition_pairs(pd.concat(frames, ignore_index=True), settings)

    return task
