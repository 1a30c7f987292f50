"""Discrete estimator: each series binarised at its mean, plug-in MI in bits.

MMI works on the averaged MIs; CCS on the local MI of each of the 16 joint states of
(X1, X2, Y1, Y2), averaged with the states' empirical probabilities (which equals the time
average of the local values, as every time step in one state has the same local values).
"""

from __future__ import annotations

import numpy as np

from ._checks import _constant_windows
from .lattice import _MI_SUBSETS, ccs_knowns, mmi_knowns, solve_lattice

#: Local discrete values of at most this many bits are exact zeros (see ``ccs_knowns``).
ZERO_BITS = 1e-12


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


def _discrete_state_mi(prob: np.ndarray) -> np.ndarray:
    """(9, P, 2, 2, 2, 2) local plug-in MI terms (bits) of every joint state of
    (X1, X2, Y1, Y2) from (P, 2, 2, 2, 2) distributions; 0 for states of probability 0
    (they carry no weight)."""
    local = np.zeros((9,) + prob.shape)
    occupied = prob > 0

    def log2_marginal(variables: tuple[int, ...]) -> np.ndarray:
        drop = tuple(ax + 1 for ax in range(4) if ax not in variables)
        marginal = prob.sum(axis=drop, keepdims=True)
        with np.errstate(divide="ignore"):
            return np.log2(marginal)

    for k, (left, right) in enumerate(_MI_SUBSETS):
        with np.errstate(invalid="ignore"):  # -inf - -inf on empty states (masked)
            value = log2_marginal(left + right) - log2_marginal(left) - log2_marginal(right)
        local[k] = np.where(occupied, value, 0.0)
    return local


class _DiscretePrep:
    """One-hot codes of each node's (past bit, future bit) state over time."""

    weight = 16

    def __init__(self, x: np.ndarray, tau: int, redundancy: str = "mmi") -> None:
        n = x.shape[0] - tau
        self.redundancy = redundancy
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
        if self.redundancy == "ccs":
            local = ccs_knowns(_discrete_state_mi(prob), ZERO_BITS)  # (16, P, 2, 2, 2, 2)
            knowns = np.einsum("kpabcd,pabcd->kp", local, prob)
        else:
            knowns = mmi_knowns(_discrete_mi_terms(prob))
        out[...] = solve_lattice(knowns).reshape(out.shape)
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
