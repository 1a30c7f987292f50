"""All pairs at once: :func:`phiid_pairwise`, its stacked and per-pair forms.

Two engines compute the Gaussian estimator: ``"numba"`` (default), fused compiled kernels
(:mod:`._kernels`, or :mod:`._cuda` with ``device="cuda"``) for MMI and CCS, parallel over pairs
and over the items of a stack; and ``"numpy"``, the vectorised closed form of MMI
(:mod:`.gaussian`), kept as the reference. The discrete estimator always runs in numpy.

Degenerate pairs (a constant series in either time window, an exactly collinear pair, a
series perfectly predictable from its own past) have a singular correlation matrix: they are
returned as NaN and counted in one :class:`DegeneratePairsWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import _batched
from ._checks import (
    DegeneratePairsWarning,
    _block_rows,
    _check_engine,
    _check_options,
    _check_values,
    _row_blocks,
    _to_float64,
    _validate_series,
    _warn_degenerate,
    standardise,
)
from .discrete import ZERO_BITS, _binarise, _discrete_local_mi, _DiscretePrep
from .gaussian import _KERNEL_PAIRS, _gaussian_local_mi, _GaussianPrep
from .lattice import ATOMS, SWAP_PERMUTATION, ccs_knowns, mmi_knowns, solve_lattice


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


def _numpy_select(atoms: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The selected outputs (atoms and derived measures) from all 16 atoms (16, ...)."""
    from .measures import phi_r, phi_wms, tdmi

    derived = {16: tdmi, 17: phi_wms, 18: phi_r}
    if np.all(codes < 16):
        return atoms[codes]
    return np.stack([atoms[c] if c < 16 else derived[int(c)](atoms) for c in codes])


def _pairwise_core(
    x: np.ndarray,
    tau: int,
    estimator: str,
    chunk_size: int | None,
    select: np.ndarray,
    redundancy: str = "mmi",
) -> tuple[np.ndarray, int]:
    """(len(select), N, N) atoms of all ordered pairs and the number of degenerate
    unordered pairs.

    Works on validated float64 input. Goes through blocks of source rows (working memory
    O(16 * rows * N)); within a block, runs of rows g0:g1 are computed against the columns
    after g0 (a few pairs with j <= i are computed and ignored), at most _KERNEL_PAIRS at a
    time. Each block's pairs i < j are then written twice, as ``out[:, i, j]`` and, with x
    and y swapped, as ``out[:, j, i]`` (dense, transposed copies).
    """
    if estimator == "gaussian":
        prep = _GaussianPrep(x, tau)
    else:
        prep = _DiscretePrep(x, tau, redundancy)
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


def _resolve(redundancy: str, estimator: str, engine: str, device: str) -> tuple[str, ...]:
    """Lower-cased options, checked for a combination that is implemented."""
    _check_engine(engine, device)
    redundancy, estimator = redundancy.lower(), estimator.lower()
    engine, device = engine.lower(), device.lower()
    if device == "cuda" and (estimator != "gaussian" or engine != "numba"):
        raise ValueError("device='cuda' needs estimator='gaussian' and engine='numba'")
    if engine == "numpy" and estimator == "gaussian" and redundancy == "ccs":
        raise ValueError(
            "the numpy engine is the reference closed form of MMI; CCS needs local values "
            "at every time step: use engine='numba' (the default)"
        )
    return redundancy, estimator, engine, device


def _compute(
    stack: np.ndarray,
    tau: int,
    options: tuple[str, ...],
    codes: np.ndarray,
    reduce: str | None,
    chunk_size: int | None,
    progress: bool = False,
) -> tuple[np.ndarray, int]:
    """All pairs of every item of a validated (B, T, N) float64 stack: (B, S, N, N) or, with
    ``reduce="mean"``, (S, N, N); and the number of degenerate (item, pair) combinations."""
    redundancy, estimator, engine, device = options
    bar = None
    if progress:
        from tqdm import tqdm

        def bar(items):
            return tqdm(items, desc="ΦID", unit="chunk")

    if device == "cuda":
        from . import _cuda

        return _cuda.run_cuda(stack, tau, redundancy, codes, reduce)
    if engine == "numba" and estimator == "gaussian":
        if chunk_size is not None:
            _block_rows(stack.shape[-1], chunk_size)  # validates it
        return _batched.run_cpu(stack, tau, redundancy, codes, reduce, chunk_size, bar)
    # numpy: one item at a time (the reference engine, and the discrete estimator)
    n_items, _, n_nodes = stack.shape
    atoms_needed = codes if np.all(codes < 16) else np.arange(16)
    shape = (len(codes), n_nodes, n_nodes)
    per_item = None if reduce == "mean" else np.empty((n_items,) + shape)
    total = np.zeros(shape) if reduce == "mean" else None
    count = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    n_bad = 0
    items: Any = range(n_items)
    if bar is not None:
        items = bar(items)
    for k in items:
        atoms, bad = _pairwise_core(stack[k], tau, estimator, chunk_size, atoms_needed, redundancy)
        values = atoms if atoms_needed is codes else _numpy_select(atoms, codes)
        n_bad += bad
        if per_item is not None:
            per_item[k] = values
            continue
        count += ~np.isnan(values[0])  # a degenerate pair is NaN in every output
        total += np.nan_to_num(values, copy=False, nan=0.0)
    if per_item is not None:
        return per_item, n_bad
    with np.errstate(invalid="ignore", divide="ignore"):
        total /= count  # 0 / 0 = NaN where a pair is degenerate in every item
    return total, n_bad


_ENGINE_DOC = """engine : ``"numba"`` (default): the fused compiled kernels (MMI and CCS, float64,
        parallel over pairs with numba's threads); ``"numpy"``: the vectorised closed form of
        MMI kept as the reference. The discrete estimator always runs in numpy.
    device : ``"cpu"`` (default) or ``"cuda"`` (numba.cuda kernels on an NVIDIA GPU;
        Gaussian estimator only; a clear error where no GPU is usable)."""


def phiid_pairwise(
    x: Any,
    tau: int = 1,
    redundancy: str = "mmi",
    estimator: str = "gaussian",
    *,
    chunk_size: int | None = None,
    select: Sequence[str] | str | None = None,
    engine: str = "numba",
    device: str = "cpu",
) -> np.ndarray:
    (
        """ΦID atoms of every ordered pair of nodes, averaged over time.

    Parameters
    ----------
    x : (T, N) array-like, time on axis 0, one column per node; any float dtype (computed
        in float64). Each series is standardised first (exact power-of-two rescaling, then
        zero mean, unit variance), so the result does not depend on the series' scale.
    tau : lag in time steps, ``1 <= tau < T - 1``.
    redundancy : ``"mmi"`` (minimum mutual information) or ``"ccs"`` (Ince's common change
        in surprisal, on local values, as in the published ΦID toolbox: the Gaussian local
        densities use the sample mean and the covariance with ddof = 1).
    estimator : ``"gaussian"`` (nats) or ``"discrete"`` (binarised at the mean, bits).
    chunk_size : source rows per block (each block: its correlation products, then the
        kernel). Default: about N / 8 rows (at least 32), and as many items of a stack per
        chunk as keep its four correlation blocks within 2^23 float64 (64 MiB) and its
        prepared series (5 T N float64 per item) within as many again: the working memory
        besides the result stays below about 128 MiB + 8 (T + 2 N) N bytes for one item.
        With ``engine="numpy"``: O(chunk_size * N) per item, as before.
    select : names of the outputs, in that order: atoms (:data:`ATOMS`) and the derived
        measures ``"tdmi"``, ``"phi_wms"``, ``"phi_r"`` (computed in the kernel); default all
        16 atoms in ATOMS order. E.g. ``("sts", "rtr", "phi_wms")`` cuts the result's memory
        fivefold.
    """
        + _ENGINE_DOC
        + """

    Returns
    -------
    (16, N, N) float64 (or (len(select), N, N)): ``[a, i, j]`` is output ``a`` with node
    ``i`` as source (x) and node ``j`` as target (y). The diagonal is NaN; degenerate pairs
    are NaN and counted in one :class:`DegeneratePairsWarning`.
    """
    )
    _check_options(tau, redundancy, estimator)
    options = _resolve(redundancy, estimator, engine, device)
    arr = _validate_series(x, tau, redundancy, estimator)
    codes = _batched.output_codes(select)
    out, n_bad = _compute(arr[None], int(tau), options, codes, None, chunk_size)
    n_nodes = arr.shape[1]
    _warn_degenerate(n_bad, n_nodes * (n_nodes - 1) // 2, "unordered pairs")
    return out[0]


def phiid_pairwise_stack(
    x: Any,
    tau: int = 1,
    redundancy: str = "mmi",
    estimator: str = "gaussian",
    *,
    reduce: str | None = "mean",
    progress: bool = False,
    chunk_size: int | None = None,
    select: Sequence[str] | str | None = None,
    engine: str = "numba",
    device: str = "cpu",
) -> np.ndarray:
    """ΦID of all pairs for a stack of items (prompts, or surrogate copies), in one call.

    With the compiled engine the items are computed together (parallel over items and
    pairs; the preparation is vectorised over items), in chunks of items that bound the
    working memory as in :func:`phiid_pairwise`.

    Parameters
    ----------
    x : (B, T, N) array-like: B items (series of equal length T), N nodes.
    tau, redundancy, estimator, chunk_size, select, engine, device : as in
        :func:`phiid_pairwise`.
    reduce : ``"mean"``: the mean over items, accumulated in the kernel (memory: one
        (S, N, N) array); NaN-aware: an item where a pair is degenerate is left out of that
        pair's mean, and the pair is NaN only if it is degenerate in every item.
        ``None``: all per-item results.
    progress : show a tqdm progress bar (over chunks of items).

    Returns
    -------
    (16, N, N) for ``reduce="mean"``, (B, 16, N, N) for ``reduce=None`` (16 becomes
    ``len(select)``); float64, units of the estimator. One :class:`DegeneratePairsWarning`
    counts the degenerate (item, unordered pair) combinations.
    """
    _check_options(tau, redundancy, estimator)
    options = _resolve(redundancy, estimator, engine, device)
    if reduce not in ("mean", None):
        raise ValueError(f"reduce must be 'mean' or None, got {reduce!r}")
    stack = _to_float64(x)
    if stack.ndim != 3:
        raise ValueError(f"x must be 3-D with shape (n_prompts, T, N), got {stack.shape}")
    n_items, _, n_nodes = stack.shape
    if n_items < 1:
        raise ValueError("x holds no prompts")
    _check_values(stack, tau)
    codes = _batched.output_codes(select)
    out, n_bad = _compute(stack, int(tau), options, codes, reduce, chunk_size, progress)
    n_pairs = n_nodes * (n_nodes - 1) // 2
    _warn_degenerate(n_bad, n_items * n_pairs, "(prompt, unordered pair) combinations")
    return out


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
    *,
    engine: str = "numba",
) -> dict[str, Any]:
    """ΦID atoms of one pair: ``src`` is the source (x), ``trg`` the target (y).

    Parameters
    ----------
    src, trg : (T,) array-like series of equal length.
    tau, redundancy, estimator, engine : as in :func:`phiid_pairwise`.
    local : if True, return the local (per-time-step) atoms, computed from the log
        densities (Gaussian: multivariate normal with the sample mean and covariance, ddof 0
        for MMI and ddof 1 for CCS as in the published toolbox; discrete: plug-in
        probabilities); their time average equals the averaged atoms.

    Returns
    -------
    dict atom name -> float (time-averaged), or -> (T - tau,) array with ``local=True``.
    NaN for a degenerate pair (with a :class:`DegeneratePairsWarning`).
    """
    _check_options(tau, redundancy, estimator)
    options = _resolve(redundancy, estimator, engine, "cpu")
    s, t = _to_float64(src), _to_float64(trg)
    if s.ndim != 1 or t.ndim != 1 or s.shape != t.shape:
        raise ValueError(f"src and trg must be 1-D of equal length, got {s.shape}, {t.shape}")
    pair = _validate_series(np.column_stack([s, t]), tau, redundancy, estimator)
    averaged, n_bad = _compute(pair[None], int(tau), options, np.arange(16), None, None)
    _warn_degenerate(n_bad, 1, "pair")
    if not local:
        return {name: float(averaged[0, k, 0, 1]) for k, name in enumerate(ATOMS)}
    n = pair.shape[0] - tau
    if n_bad:
        return {name: np.full(n, np.nan) for name in ATOMS}
    redundancy = options[0]
    if options[1] == "gaussian":
        z = standardise(pair)
        ddof = 1 if redundancy == "ccs" else 0
        local_mi = _gaussian_local_mi(_pair_variables(z[:, 0], z[:, 1], tau), ddof=ddof)
    else:
        bits = _binarise(pair).astype(np.int64)
        local_mi = _discrete_local_mi(_pair_variables(bits[:, 0], bits[:, 1], tau))
    if redundancy == "ccs":
        knowns = ccs_knowns(local_mi, 0.0 if options[1] == "gaussian" else ZERO_BITS)
    else:
        knowns = mmi_knowns(local_mi, local_mi.mean(axis=1))
    atoms = solve_lattice(knowns)
    return {name: atoms[k] for k, name in enumerate(ATOMS)}


def phiid_pairwise_slow(
    x: Any, tau: int = 1, estimator: str = "gaussian", *, redundancy: str = "mmi"
) -> np.ndarray:
    """All ordered pairs the slow way, for checking: a loop over pairs of
    :func:`phiid_pair` with ``local=True`` (per-time-step densities), averaged over time.

    Same (16, N, N) layout and units as :func:`phiid_pairwise`; about a millisecond per pair.
    """
    arr = _validate_series(x, tau, redundancy, estimator)
    n_nodes = arr.shape[1]
    out = np.full((16, n_nodes, n_nodes), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegeneratePairsWarning)
        for i in range(n_nodes):
            for j in range(n_nodes):
                if i != j:
                    local = phiid_pair(
                        arr[:, i], arr[:, j], tau, redundancy, local=True, estimator=estimator
                    )
                    out[:, i, j] = [local[a].mean() for a in ATOMS]
    return out
