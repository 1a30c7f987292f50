"""Discrete estimator: each series binarised at its mean, plug-in MI in bits."""

from __future__ import annotations

import numpy as np

from ._checks import _constant_windows
from .lattice import _MI_SUBSETS, mmi_knowns, solve_lattice


def _binarise(x: np.ndarray) -> np.ndarray:
    """(T, N) int8: 1 where the series is above its mean over the whole series."""
    return (x > x.mean(axis=0)).astype(np.int8)


def _entropy_bits(prob: np.ndarray, keep: tuple[int, ...]) -> np.ndarray:
    """Plug-in entropy (bits) of the variables ``keep`` of a (P, 2, 2, 2, 2) distribution.

    Axes after the first: 1 = X1, 2 = X2, 3 = Y1, 4 = Y2.
    """
    drop = tuple(ax for ax in (1, 2, 3, 4) if ax not in keep)
    marginal = prob.sum(axis=drop).reshape(prob.shape[0], -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(marginal > 0, marginal * np.log2(marginal), 0.0)
    return -terms.sum(axis=1)


def _discrete_mi_terms(prob: np.ndarray) -> np.ndarray:
    """(9, P) plug-in MI terms (bits) from (P, 2, 2, 2, 2) joint distributions."""
    cache: dict[tuple[int, ...], np.ndarray] = {}

    def entropy(variables: tuple[int, ...]) -> np.ndarray:
        key = tuple(sorted(v + 1 for v in variables))
        if key not in cache:
            cache[key] = _entropy_bits(prob, key)
        return cache[key]

    mi = np.empty((9, prob.shape[0]))
    for k, (left, right) in enumerate(_MI_SUBSETS):
        mi[k] = entropy(left) + entropy(right) - entropy(left + right)
    return mi


class _DiscretePrep:
    """One-hot codes of each node's (past bit, future bit) state over time."""

    weight = 16

    def __init__(self, x: np.ndarray, tau: int) -> None:
        n = x.shape[0] - tau
        bits = _binarise(x)
        self.flat = _constant_windows(x, tau)
        self.n = n
        state = 2 * bits[:n] + bits[tau:]  # (n, N): 2 * past + future, in 0..3
        self.onehot = (state[:, :, None] == np.arange(4)).astype(np.float64)
        self._counts = np.empty((0, 4, 4))

    def start_block(self, r0: int, r1: int) -> None:
        """Joint counts of (node i state, node j state) for rows r0:r1 and columns r0:."""
        n_rows, n_cols = r1 - r0, self.onehot.shape[1] - r0
        left = self.onehot[:, r0:r1].reshape(self.n, 4 * n_rows)
        right = self.onehot[:, r0:].reshape(self.n, 4 * n_cols)
        self._counts = (left.T @ right).reshape(n_rows, 4, n_cols, 4)
        self._r0 = r0

    def atoms_into(self, out: np.ndarray, g0: int, g1: int) -> np.ndarray:
        """As :meth:`_GaussianPrep.atoms_into`, in bits."""
        counts = self._counts[g0:g1, :, g0 + 1 :, :].transpose(0, 2, 1, 3)
        # counts[i, j, 2*X1 + Y1, 2*X2 + Y2] -> axes (X1, Y1, X2, Y2) -> (X1, X2, Y1, Y2)
        prob = counts.reshape(-1, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4) / self.n
        out[...] = solve_lattice(mmi_knowns(_discrete_mi_terms(prob))).reshape(out.shape)
        rows, cols = self._r0 + g0, self._r0 + g0 + 1
        width = out.shape[2]
        return self.flat[rows : rows + g1 - g0, None] | self.flat[None, cols : cols + width]


def _discrete_local_mi(bits: np.ndarray) -> np.ndarray:
    """(9, n) local plug-in MI terms (bits) of (n, 4) binary samples."""
    n = bits.shape[0]

    def log2_prob(subset: tuple[int, ...]) -> np.ndarray:
        code = np.zeros(n, dtype=np.int64)
        for v in subset:
            code = 2 * code + bits[:, v]
        counts = np.bincount(code, minlength=2 ** len(subset))
        return np.log2(counts[code] / n)

    local = np.empty((9, n))
    for k, (left, right) in enumerate(_MI_SUBSETS):
        local[k] = log2_prob(left + right) - log2_prob(left) - log2_prob(right)
    return local
