"""Vectorised timestamp generation (integer milliseconds since the epoch, UTC).

Three behaviours: *human* (sessions at local diurnal times, irregular gaps inside a
session), *machine* (runs at a fixed interval with small jitter, any hour of the day)
and *semi* (runs whose gaps are log-normally spread around an interval).
"""

from __future__ import annotations

import numpy as np

SEC = 1_000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_761_955_200_000  # 2025-11-01T00:00:00Z
T1 = 1_793_491_200_000  # 2026-11-01T00:00:00Z

# Relative activity by local hour of day.
_DIURNAL = np.array(
    [
        0.6,
        0.35,
        0.2,
        0.12,
        0.1,
        0.12,
        0.25,
        0.5,
        0.8,
        1.0,
        1.1,
        1.15,
        1.05,
        1.0,
        1.05,
        1.1,
        1.1,
        1.05,
        1.0,
        1.1,
        1.2,
        1.25,
        1.1,
        0.9,
    ]
)
_OFFICE = np.array(
    [
        0.02,
        0.01,
        0.01,
        0.01,
        0.01,
        0.02,
        0.05,
        0.3,
        0.9,
        1.2,
        1.2,
        1.1,
        0.8,
        1.0,
        1.2,
        1.2,
        1.1,
        0.9,
        0.5,
        0.25,
        0.15,
        0.1,
        0.06,
        0.03,
    ]
)
_DIURNAL_CDF = np.cumsum(_DIURNAL) / _DIURNAL.sum()
_OFFICE_CDF = np.cumsum(_OFFICE) / _OFFICE.sum()

HUMAN, MACHINE, SEMI, OFFICE = 0, 1, 2, 3
# signal observation modes (in addition to HUMAN/MACHINE/OFFICE)
MONTHLY, SIGNUP = 4, 5


def cumcount(idx: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal values (``idx`` sorted)."""
    n = len(idx)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    lens = np.diff(np.r_[starts, n])
    pos: np.ndarray = np.arange(n, dtype=np.int64) - np.repeat(starts, lens)
    return pos


def diurnalize(
    rng: np.random.Generator,
    t: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    tz_h: np.ndarray,
    office: np.ndarray | bool = False,
) -> np.ndarray:
    """Move each time to a plausible local hour on the same local day (kept in [lo, hi])."""
    n = len(t)
    if n == 0:
        return t
    shift = tz_h.astype(np.int64) * HOUR
    day = (t + shift) // DAY
    u = rng.random(n)
    hours = np.searchsorted(_DIURNAL_CDF, u)
    if office is not False:
        off = np.broadcast_to(np.asarray(office, dtype=bool), (n,))
        if off.any():
            hours = np.where(off, np.searchsorted(_OFFICE_CDF, u), hours)
            wd = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
            day = np.where(off & (wd >= 5), day - (wd - 4), day)
    t2 = day * DAY + np.minimum(hours, 23) * HOUR + (rng.random(n) * HOUR).astype(np.int64) - shift
    return np.where((t2 >= lo) & (t2 <= hi), t2, t)


def _human(
    rng: np.random.Generator,
    counts: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    tz: np.ndarray,
    office: np.ndarray,
) -> np.ndarray:
    A = len(counts)
    sess_len = 1 + rng.poisson(2.2, A)
    nsess = np.where(counts > 0, np.maximum(1, -(-counts // sess_len)), 0).astype(np.int64)
    S = int(nsess.sum())
    s_acct = np.repeat(np.arange(A), nsess)
    span = np.maximum(hi - lo, 1)
    s_start = lo[s_acct] + (rng.random(S) * span[s_acct]).astype(np.int64)
    s_start = diurnalize(rng, s_start, lo[s_acct], hi[s_acct], tz[s_acct], office[s_acct])
    P = int(counts.sum())
    p_acct = np.repeat(np.arange(A), counts)
    s_off = np.cumsum(nsess) - nsess
    sid = s_off[p_acct] + (rng.random(P) * nsess[p_acct]).astype(np.int64)
    order = np.argsort(sid, kind="stable")
    sid_s = sid[order]
    gaps = (rng.lognormal(np.log(70.0), 1.0, P) * SEC).astype(np.int64)
    pos = cumcount(sid_s)
    gaps[pos == 0] = 0
    cs = np.cumsum(gaps)
    first = np.flatnonzero(pos == 0)
    base = np.repeat(cs[first], np.diff(np.r_[first, P]))
    ts_s = s_start[sid_s] + (cs - base)
    ts = np.empty(P, dtype=np.int64)
    ts[order] = ts_s
    return ts


def _runs(
    rng: np.random.Generator,
    counts: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    interval: np.ndarray,
    runlen: np.ndarray,
    semi: bool,
    tz: np.ndarray,
) -> np.ndarray:
    A = len(counts)
    P = int(counts.sum())
    p_acct = np.repeat(np.arange(A), counts)
    pos = cumcount(p_acct)
    rl = runlen[p_acct]
    run = pos // rl
    inrun = pos % rl
    nruns = np.where(counts > 0, -(-counts // runlen), 0).astype(np.int64)
    R = int(nruns.sum())
    r_acct = np.repeat(np.arange(A), nruns)
    room = np.maximum(hi - lo - runlen * interval, 1)
    r_start = lo[r_acct] + (rng.random(R) * room[r_acct]).astype(np.int64)
    if semi:
        r_start = diurnalize(rng, r_start, lo[r_acct], hi[r_acct], tz[r_acct])
    rid = (np.cumsum(nruns) - nruns)[p_acct] + run
    iv = interval[p_acct].astype(np.float64)
    if semi:
        g = iv * rng.lognormal(0.0, 0.45, P)
        g[inrun == 0] = 0.0
        cs = np.cumsum(g)
        first = np.flatnonzero(inrun == 0)
        base = np.repeat(cs[first], np.diff(np.r_[first, P]))
        off = (cs - base).astype(np.int64)
    else:
        off = (inrun * iv + rng.normal(0.0, 0.015, P) * iv).astype(np.int64)
    times: np.ndarray = r_start[rid] + np.maximum(off, 0)
    return times


def prompt_times(
    rng: np.random.Generator,
    counts: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    tz: np.ndarray,
    mode: np.ndarray,
    interval: np.ndarray,
    runlen: np.ndarray,
) -> np.ndarray:
    """Timestamps for ``counts[a]`` prompts of each account ``a``, laid out account by
    account (the order of ``np.repeat(arange(A), counts)``)."""
    counts = counts.astype(np.int64)
    P = int(counts.sum())
    out = np.empty(P, dtype=np.int64)
    start = np.cumsum(counts) - counts
    for m in (HUMAN, OFFICE, MACHINE, SEMI):
        sel = np.flatnonzero((mode == m) & (counts > 0))
        if len(sel) == 0:
            continue
        c = counts[sel]
        if m in (HUMAN, OFFICE):
            ts = _human(rng, c, lo[sel], hi[sel], tz[sel], np.full(len(sel), m == OFFICE))
        else:
            ts = _runs(rng, c, lo[sel], hi[sel], interval[sel], runlen[sel], m == SEMI, tz[sel])
        where = np.repeat(start[sel], c) + cumcount(np.repeat(np.arange(len(sel)), c))
        out[where] = ts
    return out


def signal_times(
    rng: np.random.Generator,
    idx: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    mode: np.ndarray,
    tz: np.ndarray,
) -> np.ndarray:
    """One timestamp per expanded observation row.

    ``idx`` maps rows to assignments (sorted); ``lo``/``hi``/``mode``/``tz`` are per
    assignment. SIGNUP puts the first observation at ``lo``, MONTHLY spaces them by
    30 days from ``lo`` (billing), HUMAN/OFFICE use local diurnal hours, MACHINE is
    uniform.
    """
    n = len(idx)
    pos = cumcount(idx)
    L, H, M, Z = lo[idx], hi[idx], mode[idx], tz[idx]
    span = np.maximum(H - L, 1)
    t = L + (rng.random(n) * span).astype(np.int64)
    human = (M == HUMAN) | (M == OFFICE) | ((M == SIGNUP) & (pos > 0))
    t = np.where(human, diurnalize(rng, t, L, H, Z, M == OFFICE), t)
    first = (M == SIGNUP) & (pos == 0)
    t = np.where(first, L + (rng.random(n) * 90 * SEC).astype(np.int64), t)
    monthly = M == MONTHLY
    t = np.where(monthly, L + pos * 30 * DAY + (rng.random(n) * 2 * HOUR).astype(np.int64), t)
    return t
