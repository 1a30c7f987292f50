"""Circular-shift nulls from lag tables: all surrogates of a prompt without a pass per
surrogate.

On the circular closure (:func:`synergy_utils.stats.nulls.circular_closure`, lag ``tau``),
every head's past window is its series ``u_i`` (centred, unit norm, length T) and its future
window the rotation of ``u_i`` by ``tau``; rolling head i by ``o_i`` and head j by ``o_j``
leaves each head's own lag statistics unchanged and gives the pair the correlations

    r(X1, X2) = r(Y1, Y2) = cc[i, j, r],   r(X1, Y2) = cc[i, j, r + tau],
    r(X2, Y1) = cc[i, j, r - tau],        r = (o_i - o_j) mod T,

with ``cc[i, j, r] = sum_t u_i(t) u_j((t + r) mod T)`` (:func:`all_lags_cross`). The pair's
surrogate is thus a function of r alone: the MMI closed form (or, for CCS, one pass over time
with head j's local values rotated by r) is evaluated once per drawn relative lag of each
pair, for all K surrogates at once (:func:`lag_null_prompt`; kernels in :mod:`._kernels`).
"""

from __future__ import annotations

import numpy as np

from ._batched import LAUNCH_LOCK, OUTPUT_INDEX, SWAP_OUTPUTS, Prepared, configure_threading

#: Name of the sts / TDMI pseudo-output (see :data:`._kernels.SHARE_OUTPUT`).
SHARE_NAME = "sts_share"


def lag_codes(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Kernel output codes of ``names`` (atoms, ``tdmi``, ``phi_wms``, ``phi_r``,
    ``sts_share``) and the codes of their x <-> y swaps, both (S,) int64."""
    from ._kernels import SHARE_OUTPUT

    index = {**OUTPUT_INDEX, SHARE_NAME: SHARE_OUTPUT}
    swap = np.concatenate([SWAP_OUTPUTS, [SHARE_OUTPUT]]).astype(np.int64)
    codes = np.array([index[name] for name in names], dtype=np.int64)
    return codes, swap[codes]


def all_lags_cross(u: np.ndarray, pad: int = 0, dtype: type = np.float64) -> np.ndarray:
    """Circular cross-correlations at every lag: ``(N, T) -> (N, N, T + 2 pad)``,
    ``out[i, j, pad + r] = sum_t u[i, t] u[j, (t + r) mod T]`` for r = -pad .. T + pad - 1
    (float64; rounding ~1e-16 of ``|u_i| |u_j|``): one matrix product of ``u`` with its
    rotations, ``(N, T) @ (T, N (T + 2 pad))``. ``dtype=np.float32`` computes the product
    in float32 (the result is still float64)."""
    n_nodes, n_steps = u.shape
    lags = np.arange(-pad, n_steps + pad)
    index = (np.arange(n_steps)[:, None] + lags[None, :]) % n_steps
    a = np.asarray(u, dtype=dtype)
    rotations = np.ascontiguousarray(a[:, index].transpose(1, 0, 2)).reshape(n_steps, -1)
    out = (a @ rotations).reshape(n_nodes, n_nodes, lags.size)
    return out.astype(np.float64, copy=False)


def drawn_lags(offsets: np.ndarray, n_steps: int, min_shift: int) -> tuple[np.ndarray, ...]:
    """``(first, valid, rel)`` of offsets ``(K, N)``: ``rel`` (K, N, N) the relative lag
    ``(o_i - o_j) mod T`` of every pair in every surrogate; ``first`` (N, N, T) int32, the
    first surrogate that drew each lag of each ordered pair (-1: never drawn); ``valid``
    (N, N, T) bool: the drawn lags at a circular distance >= ``min_shift`` (the surrogates a
    pair counts, each distinct lag once)."""
    o = np.asarray(offsets, dtype=np.int64)
    n_surrogates, n_nodes = o.shape
    rel = np.mod(o[:, :, None] - o[:, None, :], n_steps)
    first = np.full(n_nodes * n_nodes * n_steps, -1, dtype=np.int32)
    base = np.arange(n_nodes * n_nodes).reshape(n_nodes, n_nodes) * n_steps
    for k in range(n_surrogates - 1, -1, -1):  # the earliest surrogate is written last
        first[base + rel[k]] = k
    first = first.reshape(n_nodes, n_nodes, n_steps)
    lags = np.arange(n_steps)
    far = np.minimum(lags, n_steps - lags) >= min_shift
    return first, (first >= 0) & far[None, None, :], rel


def rotated_self_information(series: np.ndarray, tau: int) -> np.ndarray:
    """``(T, N)`` Gaussian self-information of each head of a ``(T, N)`` series rolled by
    each offset o = 0 .. T - 1, on the circular closure, computed exactly as the all-pairs
    engine computes it for a rolled series (the same value to rounding for every o; the
    rounding decides ties of surrogate and observed MMI redundancies)."""
    n_steps = series.shape[0]
    index = (np.arange(n_steps)[None, :] - np.arange(n_steps)[:, None]) % n_steps
    rolled = series[index]  # (o, t, N): series[(t - o) mod T]
    closed = np.concatenate([rolled, rolled[:, :tau]], axis=1)
    return Prepared(closed, tau, local=False).mi


def _doubled(a: np.ndarray) -> np.ndarray:
    """(N, T) -> (N, 2T): each row written twice in a row."""
    return np.ascontiguousarray(np.concatenate([a, a], axis=1))


def lag_null_prompt(
    closed: np.ndarray,
    tau: int,
    ccs: bool,
    codes: tuple[np.ndarray, np.ndarray],
    lags: tuple[np.ndarray, np.ndarray],
    obs: np.ndarray,
    by_lag: tuple[np.ndarray, np.ndarray],
    prompt: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Accumulate one prompt's surrogates of every pair, at every drawn lag, in place.

    ``closed`` (T + tau, N): the prompt's circular closure; ``codes``: (codes, swapped codes)
    from :func:`lag_codes`; ``lags``: (first, valid, offsets (K, N)), the first two from
    :func:`drawn_lags`; ``obs``
    (S, N, N): the observed values of the prompt. ``by_lag``: (sums (S, N, N, T) float64,
    counts (N, N, T) int64) over prompts, per relative lag; ``prompt``: (sum (S, N, N)
    float64, count (N, N) int32, exceedances of ``obs`` (S, N, N) int32) over this prompt's
    counted surrogates.
    """
    from . import _kernels

    configure_threading()
    prep = Prepared(np.ascontiguousarray(closed[None]), tau, local=ccs)
    n_nodes = closed.shape[1]
    n_steps = closed.shape[0] - tau
    ccp = all_lags_cross(prep.windows[0, :, :n_nodes].T, pad=tau)
    mi_rot = rotated_self_information(closed[:n_steps], tau)
    if ccs:
        single = tuple(np.ascontiguousarray(a[0]) for a in (prep.xs, prep.ys, prep.ss))
        local = single + tuple(_doubled(a) for a in single)
    else:
        local = (np.zeros((1, 1)),) * 6
    with LAUNCH_LOCK:
        _kernels.lag_null_prompt(
            ccs, ccp, prep.rho[0], mi_rot, lags[2], *local, lags[0], lags[1], codes[0],
            codes[1], int(tau), obs, by_lag[0], by_lag[1], *prompt,
        )  # fmt: skip
