"""Gaussian estimator: MMI knowns of every pair in closed form from correlations (nats).

With the sample mean and covariance, the time average of the local (per-time-step) atoms
equals the closed form from the covariance exactly, so all pairs need only three N×N
correlation products and small determinants per pair.
"""

from __future__ import annotations

import numpy as np

from ._checks import DET_TOL, _constant_windows, standardise
from .lattice import _MI_SUBSETS, ATOM_INDEX, _mobius_inplace


def _unit_columns(window: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Centre each column and scale it to unit Euclidean norm (flat columns set to 0)."""
    centred = window - window.mean(axis=0)
    norm = np.sqrt(np.einsum("tn,tn->n", centred, centred))
    norm[flat | (norm == 0)] = np.inf
    return centred / norm


# Row indices of the knowns (ATOMS order) and of the correlations in the kernel below.
_K = ATOM_INDEX
_P, _Q, _A, _B, _C, _D = range(6)


def _gaussian_knowns_into(corr: np.ndarray, knowns: np.ndarray, work: np.ndarray) -> np.ndarray:
    """The 16 MMI knowns (nats) of Gaussian pairs from the six correlations of each pair.

    Closed form: ``I(A;B) = 0.5 ln(det R_A det R_B / det R_AB)`` with R the correlation
    matrix, whose 2x2, 3x3 and 4x4 principal minors are polynomials in the correlations
    ``corr`` : (6, ...), rows p = r(X1,X2), q = r(Y1,Y2), a = r(X1,Y1), b = r(X1,Y2),
    c = r(X2,Y1), d = r(X2,Y2); the trailing shape indexes pairs.

    Writes the (16, ...) knowns (ATOMS order) into ``knowns`` and uses ``work`` (11, ...)
    as scratch, so that no temporary arrays are allocated (this is the hot loop). Returns
    the determinant of the 4x4 correlation matrix (a view into ``work``); where it is
    not clearly positive the pair is singular and its knowns are meaningless.
    """
    p, q, a, b, c, d = corr
    sq = work[:6]  # squares of p, q, a, b, c, d
    np.multiply(corr, corr, out=sq)
    one_m_p2, one_m_q2, tmp, tmp2, det4 = work[6], work[7], work[8], work[9], work[10]
    np.subtract(1.0, sq[_P], out=one_m_p2)
    np.subtract(1.0, sq[_Q], out=one_m_q2)

    def single(row: int, sq_row: int) -> None:  # I = -0.5 ln(1 - r^2)
        np.subtract(1.0, sq[sq_row], out=tmp)
        np.log(tmp, out=knowns[row])
        knowns[row] *= -0.5

    def with_pair(row: int, one_m_pair2: np.ndarray, pair: np.ndarray, u: int, v: int) -> None:
        # I(pair; single) = 0.5 ln((1 - r_pair^2) / det3), det3 = 1 - r^2 - u^2 - v^2 + 2 r u v
        det3 = tmp
        np.multiply(pair, corr[u], out=det3)
        det3 *= corr[v]
        det3 *= 2.0
        det3 += one_m_pair2
        det3 -= sq[u]
        det3 -= sq[v]
        np.divide(one_m_pair2, det3, out=det3)
        np.log(det3, out=knowns[row])
        knowns[row] *= 0.5

    single(_K["xtx"], _A)
    single(_K["xty"], _B)
    single(_K["ytx"], _C)
    single(_K["yty"], _D)
    with_pair(_K["stx"], one_m_p2, p, _A, _C)  # I(X1 X2; Y1)
    with_pair(_K["sty"], one_m_p2, p, _B, _D)  # I(X1 X2; Y2)
    with_pair(_K["xts"], one_m_q2, q, _A, _B)  # I(X1; Y1 Y2)
    with_pair(_K["yts"], one_m_q2, q, _C, _D)  # I(X2; Y1 Y2)

    # det4 = (1-p^2)(1-q^2) - (a^2+b^2+c^2+d^2) + (ad-bc)^2
    #        + 2 q (ab + cd) + 2 p (ac + bd) - 2 p q (ad + bc)
    np.multiply(one_m_p2, one_m_q2, out=det4)
    for k in (_A, _B, _C, _D):
        det4 -= sq[k]
    np.multiply(a, d, out=tmp)
    np.multiply(b, c, out=tmp2)
    np.subtract(tmp, tmp2, out=sq[_A])  # squares of a..d are no longer needed
    sq[_A] *= sq[_A]
    det4 += sq[_A]
    tmp += tmp2
    tmp *= p
    tmp *= q
    np.multiply(tmp, 2.0, out=sq[_B])
    det4 -= sq[_B]
    for scale, (u, v, w, z) in ((q, (_A, _B, _C, _D)), (p, (_A, _C, _B, _D))):
        np.multiply(corr[u], corr[v], out=tmp)
        np.multiply(corr[w], corr[z], out=tmp2)
        tmp += tmp2
        tmp *= scale
        tmp *= 2.0
        det4 += tmp
    np.divide(one_m_p2, det4, out=tmp)
    tmp *= one_m_q2
    np.log(tmp, out=knowns[_K["sts"]])  # I(X1 X2; Y1 Y2)
    knowns[_K["sts"]] *= 0.5

    # MMI redundancies: each the minimum of the MI terms below it.
    for red, (u, v) in {
        "rtx": ("xtx", "ytx"),
        "rty": ("xty", "yty"),
        "rts": ("xts", "yts"),
        "xtr": ("xtx", "xty"),
        "ytr": ("ytx", "yty"),
        "str": ("stx", "sty"),
        "rtr": ("rtx", "rty"),
    }.items():
        np.minimum(knowns[_K[u]], knowns[_K[v]], out=knowns[_K[red]])
    return det4


#: Pairs per call of the vectorised kernel (scratch arrays of this length stay in cache).
_KERNEL_PAIRS = 1 << 14


class _GaussianPrep:
    """Unit-norm past and future windows of every node, and each node's lag correlation."""

    weight = 1

    def __init__(self, x: np.ndarray, tau: int) -> None:
        n = x.shape[0] - tau
        self.flat = _constant_windows(x, tau)
        z = standardise(x)  # scale-free from here on (no overflow of squares)
        self.past = _unit_columns(z[:n], self.flat)
        self.future = _unit_columns(z[tau:], self.flat)
        self.self_lag = np.einsum("tn,tn->n", self.past, self.future)
        n_nodes = x.shape[1]  # a run holds at least one whole row (N - 1 pairs)
        size = min(max(_KERNEL_PAIRS, n_nodes - 1), n_nodes * n_nodes)
        self._corr = np.empty((6, size))
        self._work = np.empty((11, size))
        self._blocks: tuple[np.ndarray, ...] = ()
        self._r0 = 0

    def start_block(self, r0: int, r1: int) -> None:
        """Correlations of source rows r0:r1 with every node from r0 on, each (rows, cols):
        p (past-past), q (future-future), b (past_i-future_j), c (future_i-past_j)."""
        pr, fr = self.past[:, r0:r1], self.future[:, r0:r1]
        pc, fc = self.past[:, r0:], self.future[:, r0:]
        self._r0 = r0
        self._blocks = (pr.T @ pc, fr.T @ fc, pr.T @ fc, fr.T @ pc)

    def atoms_into(self, out: np.ndarray, g0: int, g1: int) -> np.ndarray:
        """Atoms of block rows g0:g1 against block columns g0 + 1 onwards, written into
        ``out`` (16, g1 - g0, width). Returns the (g1 - g0, width) singular flags."""
        shape = out.shape[1:]
        size = shape[0] * shape[1]
        corr = self._corr[:, :size].reshape((6,) + shape)
        work = self._work[:, :size].reshape((11,) + shape)
        for dst, block in zip((_P, _Q, _B, _C), self._blocks, strict=True):
            np.copyto(corr[dst], block[g0:g1, g0 + 1 :])
        rows, cols = self._r0 + g0, self._r0 + g0 + 1
        np.copyto(corr[_A], self.self_lag[rows : rows + shape[0], None])
        np.copyto(corr[_D], self.self_lag[None, cols : cols + shape[1]])
        with np.errstate(invalid="ignore", divide="ignore"):  # singular and j <= i entries
            det4 = _gaussian_knowns_into(corr, out, work)
            _mobius_inplace(out)
        bad = ~(det4 > DET_TOL)
        bad |= self.flat[rows : rows + shape[0], None]
        bad |= self.flat[None, cols : cols + shape[1]]
        return bad


def _gaussian_local_mi(variables: np.ndarray, ddof: int = 0) -> np.ndarray:
    """(9, n) local Gaussian MI terms (nats) with the sample mean and covariance (``ddof``:
    0 for the MMI local values, 1 (``np.cov``'s default, the published toolbox's choice)
    for CCS; their time averages do not depend on it, the local values do)."""
    centred = variables - variables.mean(axis=0)
    cov = centred.T @ centred / (centred.shape[0] - ddof)

    def neg_log_density(subset: tuple[int, ...]) -> np.ndarray:
        idx = list(subset)
        block = cov[np.ix_(idx, idx)]
        z = centred[:, idx]
        quad = np.einsum("ti,ti->t", z, np.linalg.solve(block, z.T).T)
        _, logdet = np.linalg.slogdet(block)
        return 0.5 * (len(idx) * np.log(2 * np.pi) + logdet + quad)

    local = np.empty((9, centred.shape[0]))
    for k, (left, right) in enumerate(_MI_SUBSETS):
        local[k] = neg_log_density(left) + neg_log_density(right) - neg_log_density(left + right)
    return local
