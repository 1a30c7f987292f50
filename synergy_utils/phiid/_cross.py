"""Atoms of pairs across two stacks of items (source heads of one prompt, target heads of a
partner prompt), without the within-item pairs: the prompt-shuffle null's engine.

:func:`cross_pair_atoms` prepares the windows of the stack once (:class:`._batched.Prepared`,
the same per-series preparation as the all-pairs engine), then for each pairing of items
forms the four correlation blocks between an item's windows and its partner's (batched
matrix products) and runs :func:`._kernels.cross_block` on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._batched import LAUNCH_LOCK, Prepared, configure_threading, output_codes


class CrossPairs:
    """Prepared ``(B, T, N)`` stack for :meth:`atoms` (float64, validated by the caller)."""

    def __init__(self, stack: np.ndarray, tau: int, redundancy: str) -> None:
        configure_threading()
        self.ccs = redundancy.lower() == "ccs"
        self.prep = Prepared(np.ascontiguousarray(stack, dtype=np.float64), tau, self.ccs)

    def atoms(self, partner: np.ndarray, select: Sequence[str]) -> np.ndarray:
        """``(B, S, N, N)`` outputs ``select`` of every pair (source head i of item b,
        target head j of item ``partner[b]``); NaN for a degenerate pair."""
        from . import _kernels

        prep = self.prep
        n_nodes = prep.n_nodes
        past, future = prep.windows[:, :, :n_nodes], prep.windows[:, :, n_nodes:]
        ps, fs = past.transpose(0, 2, 1), future.transpose(0, 2, 1)
        pt, ft = past[partner], future[partner]
        blocks = (ps @ pt, fs @ ft, ps @ ft, fs @ pt)
        if self.ccs:
            local = (prep.xs, prep.ys, prep.ss) + tuple(
                np.ascontiguousarray(a[partner]) for a in (prep.xs, prep.ys, prep.ss)
            )
        else:
            local = (np.zeros((1, 1, 1)),) * 6
        codes = output_codes(tuple(select))
        out = np.empty((past.shape[0], len(codes), n_nodes, n_nodes))
        with LAUNCH_LOCK:
            _kernels.cross_block(
                self.ccs, *blocks, prep.rho, prep.mi, prep.rho[partner], prep.mi[partner],
                local, codes, out,
            )  # fmt: skip
        return out
