"""All pairs at once: :func:`phiid_pairwise`, its stacked and per-pair forms.

Degenerate pairs (a constant series in either time window, an exactly collinear pair, a
series perfectly predictable from its own past) have a singular correlation matrix: they are
returned as NaN and counted in one :class:`DegeneratePairsWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._checks import (
    DegeneratePairsWarning,
    _block_rows,
    _check_options,
    _row_blocks,
    _to_float64,
    _validate_series,
    _warn_degenerate,
)
from .discrete import _binarise, _discrete_local_mi, _DiscretePrep
from .gaussian import _KERNEL_PAIRS, _gaussian_local_mi, _GaussianPrep
from .lattice import ATOM_INDEX, ATOMS, SWAP_PERMUTATION, mmi_knowns, solve_lattice


def _row_groups(n_rows: int, n_cols: int, max_pairs: int) -> Iterator[tuple[int, int]]:
    """Split block rows 0..n_rows into runs g0:g1 whose rectangle of pairs (rows g0:g1 against
    columns g0 + 1 .. n_cols) holds at most ``max_pairs`` entries (at least one row), and at
    most a quarter of the width in rows, so that at most ~1/8 of it (j <= i) is wasted."""
    start = 0
    while start < n_rows and start < n_cols - 1:
        width = n_cols - start - 1
        stop = min(n_rows, start + max(1, min(max_pairs // width, max(8, width // 4))))
        yield start, stop
        start = stop


def _atom_indices(select: Sequence[str] | None) -> np.ndarray:
    """Indices into ATOMS of the atoms to return (all 16 by default)."""
    if select is None:
        return np.arange(16)
    names = [select] if isinstance(select, str) else list(select)
    unknown = [name for name in names if name not in ATOM_INDEX]
    if unknown or not names:
        raise ValueError(f"select must name atoms from {ATOMS}, got {select!r}")
    return np.array([ATOM_INDEX[name] for name in names])


def _pairwise_core(
    x: np.ndarray,
    tau: int,
    estimator: str,
    chunk_size: int | None,
    select: np.ndarray,
) -> tuple[np.ndarray, int]:
    """(len(select), N, N) atoms of all ordered pairs and the number of degenerate
    unordered pairs.

    Works on validated float64 input. Goes through blocks of source rows (working memory
    O(16 * rows * N)); within a block, runs of rows g0:g1 are computed against the columns
    after g0 (a few pairs with j <= i are computed and ignored), at most _KERNEL_PAIRS at a
    time. Each block's pairs i < j are then written twice, as ``out[:, i, j]`` and, with x
    and y swapped, as ``out[:, j, i]`` (dense, transposed copies).
    """
    prep = _GaussianPrep(x, tau) if estimator == "gaussian" else _DiscretePrep(x, tau)
    n_nodes = x.shape[1]
    out = np.empty((len(select), n_nodes, n_nodes))
    out[:, np.arange(n_nodes), np.arange(n_nodes)] = np.nan
    n_bad = 0
    step = _block_rows(n_nodes, chunk_size, prep.weight)
    block = np.empty((16, step, n_nodes))  # atoms of one block of rows, [a, row, col - r0]
    for r0, r1 in _row_blocks(n_nodes, step):
        n_rows, n_cols = r1 - r0, n_nodes - r0
        prep.start_block(r0, r1)
        for g0, g1 in _row_groups(n_rows, n_cols, _KERNEL_PAIRS):
            atoms = block[:, g0:g1, g0 + 1 : n_cols]
            bad = prep.atoms_into(atoms, g0, g1)
            bad |= ~np.isfinite(atoms).all(axis=0)
            upper = np.arange(atoms.shape[2])[None, :] >= np.arange(g1 - g0)[:, None]
            bad &= upper  # entries with j <= i are never read
            if bad.any():
                atoms[:, bad] = np.nan
                n_bad += int(bad.sum())
        _write_block(out, block[:, :n_rows, :n_cols], r0, select)
    return out, n_bad


def _write_block(out: np.ndarray, atoms_block: np.ndarray, r0: int, select: np.ndarray) -> None:
    """Write the atoms of source rows r0:r0 + rows (pairs i < j only; (16, rows, N - r0),
    entries with j <= i unset) into ``out`` as i -> j and, permuted, as j -> i."""
    n_rows = atoms_block.shape[1]
    r1 = r0 + n_rows
    lower = np.arange(n_rows)[None, :] < np.arange(n_rows)[:, None]
    diagonal = np.arange(n_rows)
    for k, a in enumerate(select):
        forward, backward = atoms_block[a], atoms_block[SWAP_PERMUTATION[a]]
        out[k, r0:r1, r0:] = forward  # i -> j; entries with j <= i are replaced below
        out[k, r1:, r0:r1] = backward[:, n_rows:].T  # j -> i
        square = out[k, r0:r1, r0:r1]
        np.copyto(square, backward[:, :n_rows].T, where=lower)
        square[diagonal, diagonal] = np.nan


def phiid_pairwise(
    x: Any,
    tau: int = 1,
    redundancy: str = "mmi",
    estimator: str = "gaussian",
    *,
    chunk_size: int | None = None,
    select: Sequence[str] | None = None,
) -> np.ndarray:
    """ΦID atoms of every ordered pair of nodes, averaged over time.

    Parameters
    ----------
    x : (T, N) array-like, time on axis 0, one column per node; any float dtype (computed
        in float64).
    tau : lag in time steps, ``1 <= tau < T - 1``.
    redundancy : ``"mmi"`` (minimum mutual information), the only one implemented.
    estimator : ``"gaussian"`` (nats) or ``"discrete"`` (binarised at the mean, bits).
    chunk_size : source rows per block (default: about 131k pairs per block); bounds the
        working memory to O(chunk_size * N), besides the (16, N, N) result.
    select : names of the atoms to return, in that order (default: all 16 in ATOMS
        order); e.g. ``("sts", "rtr")`` cuts the result's memory eightfold for large N.

    Returns
    -------
    (16, N, N) float64 (or (len(select), N, N)): ``[a, i, j]`` is atom ``ATOMS[a]`` with
    node ``i`` as source (x) and node ``j`` as target (y). The diagonal is NaN; degenerate
    pairs are NaN and counted in one :class:`DegeneratePairsWarning`.
    """
    arr = _validate_series(x, tau, redundancy, estimator)
    indices = _atom_indices(select)
    out, n_bad = _pairwise_core(arr, int(tau), estimator.lower(), chunk_size, indices)
    n_nodes = arr.shape[1]
    _warn_degenerate(n_bad, n_nodes * (n_nodes - 1) // 2, "unordered pairs")
    return out


def phiid_pairwise_stack(
    x: Any,
    tau: int = 1,
    redundancy: str = "mmi",
    estimator: str = "gaussian",
    *,
    reduce: str | None = "mean",
    progress: bool = False,
    chunk_size: int | None = None,
    select: Sequence[str] | None = None,
) -> np.ndarray:
    """ΦID of all pairs for a stack of prompts, one prompt at a time.

    Parameters
    ----------
    x : (P, T, N) array-like: P prompts (series of equal length T), N nodes.
    tau, redundancy, estimator, chunk_size, select : as in :func:`phiid_pairwise`.
    reduce : ``"mean"``: the mean over prompts, accumulated with a running sum (memory:
        two (16, N, N) arrays); NaN-aware: a prompt where a pair is degenerate is left out of that
        pair's mean, and the pair is NaN only if it is degenerate in every prompt.
        ``None``: all per-prompt results.
    progress : show a tqdm progress bar over prompts.

    Returns
    -------
    (16, N, N) for ``reduce="mean"``, (P, 16, N, N) for ``reduce=None`` (16 becomes
    ``len(select)``); float64, units of the estimator. One :class:`DegeneratePairsWarning`
    counts the degenerate (prompt, pair) combinations.
    """
    _check_options(tau, redundancy, estimator)
    if reduce not in ("mean", None):
        raise ValueError(f"reduce must be 'mean' or None, got {reduce!r}")
    stack = _to_float64(x)
    if stack.ndim != 3:
        raise ValueError(f"x must be 3-D with shape (n_prompts, T, N), got {stack.shape}")
    n_prompts, _, n_nodes = stack.shape
    if n_prompts < 1:
        raise ValueError("x holds no prompts")
    indices = _atom_indices(select)
    shape = (len(indices), n_nodes, n_nodes)
    prompts: Iterator[int] | range = range(n_prompts)
    if progress:
        from tqdm import tqdm

        prompts = tqdm(prompts, desc="ΦID per prompt", unit="prompt")
    per_prompt = None if reduce == "mean" else np.empty((n_prompts,) + shape)
    total = np.zeros(shape) if reduce == "mean" else None
    count = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    n_bad = 0
    for k in prompts:
        series = _validate_series(stack[k], tau, redundancy, estimator)
        atoms, bad = _pairwise_core(series, int(tau), estimator.lower(), chunk_size, indices)
        n_bad += bad
        if per_prompt is not None:
            per_prompt[k] = atoms
            continue
        count += ~np.isnan(atoms[0])  # a degenerate pair is NaN in every atom
        total += np.nan_to_num(atoms, copy=False, nan=0.0)
    n_pairs = n_nodes * (n_nodes - 1) // 2
    _warn_degenerate(n_bad, n_prompts * n_pairs, "(prompt, unordered pair) combinations")
    if per_prompt is not None:
        return per_prompt
    with np.errstate(invalid="ignore", divide="ignore"):
        total /= count  # 0 / 0 = NaN where a pair is degenerate in every prompt
    return total


def _pair_variables(src: np.ndarray, trg: np.ndarray, tau: int) -> np.ndarray:
    """(n, 4) samples of (X1, X2, Y1, Y2)."""
    n = src.shape[0] - tau
    return np.column_stack([src[:n], trg[:n], src[tau:], trg[tau:]])


def phiid_pair(
    src: Any,
    trg: Any,
    tau: int = 1,
    redundancy: str = "mmi",
    local: bool = False,
    estimator: str = "gaussian",
) -> dict[str, Any]:
    """ΦID atoms of one pair: ``src`` is the source (x), ``trg`` the target (y).

    Parameters
    ----------
    src, trg : (T,) array-like series of equal length.
    tau, redundancy, estimator : as in :func:`phiid_pairwise`.
    local : if True, return the local (per-time-step) atoms, computed from the log
        densities (Gaussian: multivariate normal with the sample mean and covariance;
        discrete: plug-in probabilities); their time average equals the averaged atoms.

    Returns
    -------
    dict atom name -> float (time-averaged), or -> (T - tau,) array with ``local=True``.
    NaN for a degenerate pair (with a :class:`DegeneratePairsWarning`).
    """
    _check_options(tau, redundancy, estimator)
    s, t = _to_float64(src), _to_float64(trg)
    if s.ndim != 1 or t.ndim != 1 or s.shape != t.shape:
        raise ValueError(f"src and trg must be 1-D of equal length, got {s.shape}, {t.shape}")
    pair = _validate_series(np.column_stack([s, t]), tau, redundancy, estimator)
    averaged, n_bad = _pairwise_core(pair, int(tau), estimator.lower(), None, np.arange(16))
    _warn_degenerate(n_bad, 1, "pair")
    if not local:
        return {name: float(averaged[k, 0, 1]) for k, name in enumerate(ATOMS)}
    n = pair.shape[0] - tau
    if n_bad:
        return {name: np.full(n, np.nan) for name in ATOMS}
    if estimator.lower() == "gaussian":
        local_mi = _gaussian_local_mi(_pair_variables(pair[:, 0], pair[:, 1], tau))
    else:
        bits = _binarise(pair).astype(np.int64)
        local_mi = _discrete_local_mi(_pair_variables(bits[:, 0], bits[:, 1], tau))
    atoms = solve_lattice(mmi_knowns(local_mi, local_mi.mean(axis=1)))
    return {name: atoms[k] for k, name in enumerate(ATOMS)}


def phiid_pairwise_slow(x: Any, tau: int = 1, estimator: str = "gaussian") -> np.ndarray:
    """All ordered pairs the slow way, for checking: a loop over pairs of
    :func:`phiid_pair` with ``local=True`` (per-time-step densities), averaged over time.

    Same (16, N, N) layout and units as :func:`phiid_pairwise`; about a millisecond per pair.
    """
    arr = _validate_series(x, tau, "mmi", estimator)
    n_nodes = arr.shape[1]
    out = np.full((16, n_nodes, n_nodes), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegeneratePairsWarning)
        for i in range(n_nodes):
            for j in range(n_nodes):
                if i != j:
                    local = phiid_pair(arr[:, i], arr[:, j], tau, local=True, estimator=estimator)
                    out[:, i, j] = [local[a].mean() for a in ATOMS]
    return out
