"""Driver of the compiled engine: preparation of a stack of items, memory-bounded blocks,
the kernels of :mod:`._kernels` (or :mod:`._cuda`), and the fill of the lower triangles.

Preparation is vectorised over the items of a chunk (no per-item Python work besides the
correlation products, which numpy's ``matmul`` loops over in C).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._checks import CONSTANT_RTOL
from .lattice import ATOM_INDEX, ATOMS, SWAP_PERMUTATION

#: Derived measures a caller may select beside the atoms (computed in the kernels).
DERIVED: tuple[str, ...] = ("tdmi", "phi_wms", "phi_r")
OUTPUT_INDEX: dict[str, int] = {**ATOM_INDEX, **{name: 16 + k for k, name in enumerate(DERIVED)}}
#: x <-> y swap of every output: atoms permute, the derived measures are symmetric.
SWAP_OUTPUTS: np.ndarray = np.concatenate([SWAP_PERMUTATION, [16, 17, 18]]).astype(np.int64)

#: Elements (float64) of the four correlation blocks of one kernel call together: about
#: 64 MiB. Bounds the working memory of large N and of long stacks.
BLOCK_ELEMENTS = 1 << 23
_NO_LOCAL = np.zeros((1, 1, 1))
#: Memory-bound steps (preparation, transposes) on fewer elements than this run on the
#: calling thread: a parallel launch costs more than it saves there, and on busy shared
#: machines idle OpenMP workers spinning after each launch cost more still.
SERIAL_BELOW = 1 << 17


def output_codes(select: Sequence[str] | str | None) -> np.ndarray:
    """Indices (into the kernels' 19 outputs) of the selected outputs; all 16 atoms by
    default."""
    if select is None:
        return np.arange(16, dtype=np.int64)
    names = [select] if isinstance(select, str) else list(select)
    unknown = [name for name in names if name not in OUTPUT_INDEX]
    if unknown or not names:
        raise ValueError(
            f"select must name atoms from {ATOMS} or derived measures from {DERIVED}, "
            f"got {select!r}"
        )
    return np.array([OUTPUT_INDEX[name] for name in names], dtype=np.int64)


def plane_partners(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each selected output s: ``partner[s]``, the selected plane holding its x <-> y
    swap (its lower triangle is then a transpose, filled after the kernel), or -1; and
    ``col[s]``, the output the kernel writes into its lower triangle directly where there is
    no such plane (else -1)."""
    partner = np.full(len(codes), -1, dtype=np.int64)
    col = np.full(len(codes), -1, dtype=np.int64)
    position = {int(c): k for k, c in enumerate(codes)}
    for s, code in enumerate(codes):
        swapped = int(SWAP_OUTPUTS[code])
        if swapped in position:
            partner[s] = position[swapped]
        else:
            col[s] = swapped
    return partner, col


# ----------------------------------------------------------------------------- threads

#: Serialises the parallel kernels of this package (the "workqueue" layer chosen below
#: must never be entered by two Python threads at once).
LAUNCH_LOCK = threading.RLock()
_THREADING_CHECKED = False


def configure_threading() -> None:
    """Choose numba's threading layer, before numba's first parallel launch.

    numba picks OpenMP where available; idle OpenMP workers spin, and on a machine whose
    few cores are busy with other jobs that made every call here 10-25x slower (measured:
    68 ms instead of 2.6 ms for 270 nodes). Unless the user chose a layer
    (``NUMBA_THREADING_LAYER``) or tuned OpenMP (``OMP_WAIT_POLICY``), numba's own
    "workqueue" layer is selected, whose idle workers sleep; it is not reentrant, so the
    kernels of this package are launched under :data:`LAUNCH_LOCK`. Called when the package
    is imported: before numba is imported it only sets the default of
    ``NUMBA_THREADING_LAYER`` (read by numba on import); afterwards it sets numba's config,
    which has no effect once numba has launched a parallel region (e.g. after
    ``numba.set_num_threads``): its layer is then fixed for the process.
    """
    global _THREADING_CHECKED
    if _THREADING_CHECKED:
        return
    _THREADING_CHECKED = True
    if "NUMBA_THREADING_LAYER" in os.environ or "OMP_WAIT_POLICY" in os.environ:
        return
    numba = sys.modules.get("numba")
    if numba is None:
        os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
        return
    if numba.config.THREADING_LAYER != "default":
        return
    try:
        numba.threading_layer()
    except ValueError:  # no parallel region yet: the layer can still be chosen
        numba.config.THREADING_LAYER = "workqueue"


# ------------------------------------------------------------------------- preparation


class Prepared:
    """What the kernels need for a chunk of items (Bc, T, N), from :func:`._kernels.prepare`.

    ``windows`` (Bc, n, 2N): centred unit-norm past (columns 0..N-1) and future (N..2N-1)
    windows, zero for a node that is constant in a window; ``rho``/``mi`` (Bc, N): each
    node's lag correlation and Gaussian self-information, NaN for a constant node; with
    ``local=True`` also ``xs``/``ys`` (Bc, N, n), the windows standardised with ddof = 1,
    and ``ss`` (Bc, N, n), each node's local self-information.
    """

    def __init__(self, x: np.ndarray, tau: int, local: bool) -> None:
        from . import _kernels

        n_items, n_steps, n_nodes = x.shape
        n = n_steps - tau
        self.n = n
        self.n_nodes = n_nodes
        self.windows = np.empty((n_items, n, 2 * n_nodes))
        self.flat = np.empty((n_items, n_nodes), dtype=np.bool_)
        self.rho = np.empty((n_items, n_nodes))
        self.mi = np.empty((n_items, n_nodes))
        run = _kernels.prepare if x.size >= SERIAL_BELOW else _kernels.prepare_serial
        with LAUNCH_LOCK:
            run(
                np.ascontiguousarray(x),
                tau,
                CONSTANT_RTOL,
                self.windows,
                self.flat,
                self.rho,
                self.mi,
            )
        self.local = local
        if local:
            from ._kernels import local_self_information

            scale = np.sqrt(n - 1.0)
            both = self.windows.transpose(0, 2, 1) * scale  # (Bc, 2N, n)
            self.xs = np.ascontiguousarray(both[:, :n_nodes])
            self.ys = np.ascontiguousarray(both[:, n_nodes:])
            with np.errstate(invalid="ignore"):
                self.ss = local_self_information(self.xs, self.ys, self.rho)

    def blocks(self, r0: int, r1: int) -> tuple[np.ndarray, ...]:
        """Correlations of the windows of source rows r0:r1 with those of the target columns
        r0:, each (Bc, R, N - r0): past-past, future-future, past_i-future_j and
        future_i-past_j (four batched matrix products over the items; views, no copies)."""
        n_nodes = self.n_nodes
        past, future = self.windows[:, :, :n_nodes], self.windows[:, :, n_nodes:]
        pr = past[:, :, r0:r1].transpose(0, 2, 1)
        fr = future[:, :, r0:r1].transpose(0, 2, 1)
        pc, fc = past[:, :, r0:], future[:, :, r0:]
        return np.matmul(pr, pc), np.matmul(fr, fc), np.matmul(pr, fc), np.matmul(fr, pc)

    def full_blocks(self, rows: int) -> tuple[np.ndarray, ...]:
        """The four correlation matrices (Bc, N, N), upper triangles only (with the
        diagonal), computed in row blocks of ``rows`` (the cost of :meth:`blocks` summed over
        the blocks), so that one kernel launch covers all pairs."""
        n_nodes = self.n_nodes
        shape = (self.windows.shape[0], n_nodes, n_nodes)
        mats = tuple(np.empty(shape) for _ in range(4))
        past, future = self.windows[:, :, :n_nodes], self.windows[:, :, n_nodes:]
        for r0 in range(0, n_nodes, rows):
            r1 = min(n_nodes, r0 + rows)
            pr = past[:, :, r0:r1].transpose(0, 2, 1)
            fr = future[:, :, r0:r1].transpose(0, 2, 1)
            pc, fc = past[:, :, r0:], future[:, :, r0:]
            pairs = ((pr, pc), (fr, fc), (pr, fc), (fr, pc))
            for out, (left, right) in zip(mats, pairs, strict=True):
                out[:, r0:r1, r0:] = left @ right  # (matmul into a strided view is slower)
        return mats


# ------------------------------------------------------------------------------ driver


def plan(n_items: int, n_nodes: int, chunk_size: int | None, n_steps: int = 0) -> tuple[int, int]:
    """(items per chunk, source rows per block).

    Rows: ``chunk_size`` if given, else about N / 8 (at least 32): a block of R rows costs
    4 n R (N - r0) multiply-adds in its correlation products, which sum to about
    2 n N^2 (1 + R / N), against 4 n N^2 for all rows at once (no symmetric product is
    available for the four blocks together). Items: as many as keep the four correlation
    blocks of a chunk within ``BLOCK_ELEMENTS`` float64, and the prepared series of the
    chunk (5 n N per item with CCS, n = ``n_steps``) within as many again; at least one
    item (and with N so large that one row block of one item exceeds it, fewer rows).
    """
    if chunk_size is None:
        rows = min(n_nodes, max(32, -(-n_nodes // 8)), max(1, BLOCK_ELEMENTS // (4 * n_nodes)))
    else:
        rows = int(min(chunk_size, n_nodes))
    items = BLOCK_ELEMENTS // (4 * rows * n_nodes)
    if chunk_size is None and 4 * n_nodes * n_nodes <= BLOCK_ELEMENTS:
        items = BLOCK_ELEMENTS // (4 * n_nodes * n_nodes)  # whole matrices, one launch
    if n_steps:
        items = min(items, BLOCK_ELEMENTS // (5 * n_steps * n_nodes))
    return max(1, min(n_items, items)), rows


def run_cpu(
    stack: np.ndarray,
    tau: int,
    redundancy: str,
    codes: np.ndarray,
    reduce: str | None,
    chunk_size: int | None,
    progress: Callable[[Any], Any] | None = None,
) -> tuple[np.ndarray, int]:
    """All pairs of every item of a validated (B, T, N) float64 stack with the numba
    kernels. Returns (B, S, N, N) (``reduce=None``) or (S, N, N) (``reduce="mean"``, NaN-aware
    mean over items) and the number of degenerate (item, unordered pair) combinations."""
    import numba

    from . import _kernels

    configure_threading()
    n_items, _, n_nodes = stack.shape
    n_threads = numba.get_num_threads()
    partner, col = plane_partners(codes)
    mean_mode = reduce == "mean"
    shape = (len(codes), n_nodes, n_nodes)
    if mean_mode:
        out = np.zeros((1,) + shape)
    else:
        out = np.empty((n_items,) + shape)
    count = np.zeros((n_nodes, n_nodes) if mean_mode else (1, 1), dtype=np.int64)
    per_chunk, rows = plan(n_items, n_nodes, chunk_size, stack.shape[1])
    starts = range(0, n_items, per_chunk)
    if progress is not None:
        starts = progress(starts)
    n_bad = 0
    ccs = redundancy == "ccs"
    # all row blocks in one launch when the full matrices of an item fit the budget
    whole = chunk_size is None and 4 * n_nodes * n_nodes <= BLOCK_ELEMENTS
    for b0 in starts:
        b1 = min(n_items, b0 + per_chunk)
        prep = Prepared(stack[b0:b1], tau, local=ccs)
        for r0 in range(0, 1 if whole else n_nodes - 1, rows):
            if whole:
                cpp, cff, cpf, cfp = prep.full_blocks(rows)
            else:
                cpp, cff, cpf, cfp = prep.blocks(r0, min(n_nodes, r0 + rows))
            local = (prep.xs, prep.ys, prep.ss) if ccs else (_NO_LOCAL,) * 3
            with LAUNCH_LOCK:
                n_bad += _kernels.pairs_block(
                    ccs, cpp, cff, cpf, cfp, prep.rho, prep.mi, *local, r0, codes, col, out,
                    count, b0, mean_mode, n_threads,
                )  # fmt: skip
    if mean_mode:
        total = count + count.T
        with np.errstate(invalid="ignore", divide="ignore"):
            out /= total  # 0 / 0 = NaN where a pair is degenerate in every item
    with LAUNCH_LOCK:
        fill = _kernels.fill_lower if out.size >= SERIAL_BELOW else _kernels.fill_lower_serial
        fill(out, partner)
    return (out[0] if mean_mode else out), int(n_bad)
