"""Integrated Information Decomposition (ΦID) of pairs of time series, for all pairs at once.

Conventions
-----------
A pair is a *source* node ``x`` and a *target* node ``y`` observed over ``T`` time steps, lag
``tau``. The four variables are ``X1 = x_t``, ``X2 = y_t`` (the past) and ``Y1 = x_{t+tau}``,
``Y2 = y_{t+tau}`` (the future), over ``n = T - tau`` samples. The time-delayed mutual
information ``I(X1 X2; Y1 Y2)`` splits into the 16 atoms of :data:`ATOMS`, named ``αtβ`` with
α (past) and β (future) in ``r`` (redundant), ``x`` / ``y`` (unique to one node) and ``s``
(synergistic).

Redundancy is the minimum mutual information (MMI). The sixteen "knowns" (nine mutual
informations, six MMI redundancies and the double redundancy) are each the sum of the atoms
below them on the product lattice; :func:`solve_lattice` inverts that triangular system.

Estimators and units
--------------------
* ``"gaussian"`` (default): Gaussian mutual information from the sample correlation matrix,
  in **nats**. With the sample mean and covariance, the time average of the local
  (per-time-step) atoms equals the closed form from the covariance exactly, so all pairs need
  only three N×N correlation products and small determinants per pair.
* ``"discrete"``: each series binarised at its mean (``x > mean`` → 1), plug-in mutual
  information of the empirical distribution, in **bits**.

Degenerate pairs (a constant series in either time window, an exactly collinear pair, a
series perfectly predictable from its own past) have a singular correlation matrix: they are
returned as NaN and counted in one :class:`DegeneratePairsWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.linalg import solve_discrete_lyapunov, solve_triangular

__all__ = [
    "ATOMS",
    "ATOM_INDEX",
    "KNOWNS",
    "MI_TERMS",
    "LATTICE_MATRIX",
    "MOBIUS",
    "SWAP_PERMUTATION",
    "UNITS",
    "DegeneratePairsWarning",
    "solve_lattice",
    "mmi_knowns",
    "phiid_pairwise",
    "phiid_pair",
    "phiid_pairwise_stack",
    "tdmi",
    "transfer_entropy",
    "phi_r",
    "phi_wms",
    "atoms_as_dataarray",
    "gaussian_atoms_from_covariance",
    "var1_lagged_covariance",
    "var1_population_atoms",
    "simulate_var1",
    "toy_system",
    "TOY_SYSTEMS",
    "independent_ar1_synergy",
    "independent_ar1_sweep",
    "phiid_pairwise_slow",
    "pitfall_sentence",
]

# --------------------------------------------------------------------------------------
# The lattice
# --------------------------------------------------------------------------------------

_PID_NODES = ("r", "x", "y", "s")

#: The 16 ΦID atoms, ``αtβ``: α is the past (source) side, β the future (target) side.
ATOMS: tuple[str, ...] = tuple(f"{a}t{b}" for a in _PID_NODES for b in _PID_NODES)
ATOM_INDEX: dict[str, int] = {name: k for k, name in enumerate(ATOMS)}

#: The nine mutual informations between the past and the future, in the order used below.
#: Variables: X1 = x_t, X2 = y_t, Y1 = x_{t+tau}, Y2 = y_{t+tau}.
MI_TERMS: tuple[str, ...] = (
    "I(X1;Y1)",
    "I(X1;Y2)",
    "I(X2;Y1)",
    "I(X2;Y2)",
    "I(X1X2;Y1)",
    "I(X1X2;Y2)",
    "I(X1;Y1Y2)",
    "I(X2;Y1Y2)",
    "I(X1X2;Y1Y2)",
)
#: Variable indices (0: X1, 1: X2, 2: Y1, 3: Y2) of the two sides of each term of MI_TERMS.
_MI_SUBSETS: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((0,), (2,)),
    ((0,), (3,)),
    ((1,), (2,)),
    ((1,), (3,)),
    ((0, 1), (2,)),
    ((0, 1), (3,)),
    ((0,), (2, 3)),
    ((1,), (2, 3)),
    ((0, 1), (2, 3)),
)

#: For each known (lattice node, in ATOMS order), the MI terms it is the minimum of.
#: One term: the known is that mutual information; several: an MMI redundancy.
_KNOWN_TERMS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3),  # rtr: double redundancy, min of the four single MIs
    (0, 2),  # rtx: R(X1, X2 -> Y1)
    (1, 3),  # rty: R(X1, X2 -> Y2)
    (6, 7),  # rts: R(X1, X2 -> Y1 Y2)
    (0, 1),  # xtr: R(Y1, Y2 <- X1)
    (0,),  # xtx: I(X1; Y1)
    (1,),  # xty: I(X1; Y2)
    (6,),  # xts: I(X1; Y1 Y2)
    (2, 3),  # ytr: R(Y1, Y2 <- X2)
    (2,),  # ytx: I(X2; Y1)
    (3,),  # yty: I(X2; Y2)
    (7,),  # yts: I(X2; Y1 Y2)
    (4, 5),  # str: R(Y1, Y2 <- X1 X2)
    (4,),  # stx: I(X1 X2; Y1)
    (5,),  # sty: I(X1 X2; Y2)
    (8,),  # sts: I(X1 X2; Y1 Y2)
)
#: Human-readable names of the 16 knowns, aligned with ATOMS (the lattice node they sit on).
KNOWNS: tuple[str, ...] = tuple(
    MI_TERMS[t[0]] if len(t) == 1 else "min(" + ", ".join(MI_TERMS[i] for i in t) + ")"
    for t in _KNOWN_TERMS
)


def _pid_leq(lower: str, upper: str) -> bool:
    """Order of the two-source redundancy lattice: r < x, y < s."""
    return lower == upper or lower == "r" or upper == "s"


def _build_lattice_matrix() -> np.ndarray:
    """(16, 16) 0/1 matrix: ``[k, a] = 1`` if atom ``a`` lies below known ``k``."""
    mat = np.zeros((16, 16))
    for k, known in enumerate(ATOMS):
        for a, atom in enumerate(ATOMS):
            if _pid_leq(atom[0], known[0]) and _pid_leq(atom[2], known[2]):
                mat[k, a] = 1.0
    return mat


#: Down-set matrix of the ΦID product lattice: ``knowns = LATTICE_MATRIX @ atoms``.
#: Lower triangular in the ATOMS order (r < x < y < s on both sides).
LATTICE_MATRIX: np.ndarray = _build_lattice_matrix()
#: Its inverse (the Möbius function of the lattice): ``atoms = MOBIUS @ knowns``. Integer.
MOBIUS: np.ndarray = np.rint(solve_triangular(LATTICE_MATRIX, np.eye(16), lower=True))

_SWAP_XY = {"r": "r", "x": "y", "y": "x", "s": "s"}
#: Swapping source and target relabels x <-> y on both sides:
#: ``atoms(j -> i)[a] == atoms(i -> j)[SWAP_PERMUTATION[a]]``.
SWAP_PERMUTATION: np.ndarray = np.array(
    [ATOM_INDEX[_SWAP_XY[a[0]] + "t" + _SWAP_XY[a[2]]] for a in ATOMS]
)

UNITS: dict[str, str] = {"gaussian": "nats", "discrete": "bits"}
_ESTIMATORS = tuple(UNITS)
_REDUNDANCIES = ("mmi",)
#: A series whose standard deviation in a window is below this fraction of its largest
#: absolute value is treated as constant (float rounding noise only).
CONSTANT_RTOL = 1e-12
#: Pairs whose 4x4 correlation determinant is at or below this are numerically singular.
DET_TOL = 1e-12
#: Pairs per block in the all-pairs computation (bounds the working memory).
_PAIRS_PER_BLOCK = 1 << 17


def _mobius_inplace(values: np.ndarray) -> np.ndarray:
    """Apply the lattice's Möbius inversion in place to a (16, ...) array (ATOMS order).

    The product lattice factorises, so its Möbius function is the Kronecker product of the
    diamond's: on each side ``r' = r``, ``x' = x - r``, ``y' = y - r``,
    ``s' = s - x - y + r``. Applied along the future side, then the past side; equal to
    ``MOBIUS @ values`` with 10 array operations instead of a 16x16 product.
    """
    grid = values.reshape((4, 4) + values.shape[1:])  # splitting axis 0 is always a view
    if not np.may_share_memory(grid, values):
        raise RuntimeError("in-place Möbius inversion needs a reshapeable view")
    for side in (grid.swapaxes(0, 1), grid):  # [:, r/x/y/s] on the future, then past side
        side[1] -= side[0]
        side[2] -= side[0]
        side[3] -= side[1]
        side[3] -= side[2]
        side[3] -= side[0]
    return values


def solve_lattice(knowns: np.ndarray) -> np.ndarray:
    """Solve the ΦID lattice: the 16 atoms from the 16 knowns.

    Parameters
    ----------
    knowns : (16, ...) array, in the order of :data:`ATOMS` (see :data:`KNOWNS`); any
        trailing shape (pairs, time steps) is solved element-wise.

    Returns
    -------
    (16, ...) float64 array of atoms, in the units of the knowns: the solution of the
    triangular system ``LATTICE_MATRIX @ atoms = knowns``, i.e. ``MOBIUS @ knowns``
    (computed with the factorised Möbius inversion).
    """
    knowns = np.asarray(knowns, dtype=np.float64)
    if knowns.shape[:1] != (16,):
        raise ValueError(f"knowns must have 16 rows along axis 0, got shape {knowns.shape}")
    return _mobius_inplace(knowns.copy())


def mmi_knowns(mi: np.ndarray, mi_mean: np.ndarray | None = None) -> np.ndarray:
    """The 16 lattice knowns with minimum-mutual-information (MMI) redundancy.

    Parameters
    ----------
    mi : (9, ...) array of the terms in :data:`MI_TERMS` (time-averaged, or local values).
    mi_mean : optional (9, ...) time averages, shape ``mi.shape[:1] + mi.shape[2:]`` when
        ``mi`` holds local values with time on axis 1. Each redundancy then takes the local
        values of the term with the smallest *average* (the published toolbox's convention),
        so that averaging the local knowns gives the averaged knowns.

    Returns
    -------
    (16, ...) array in the order of :data:`ATOMS` / :data:`KNOWNS`.
    """
    mi = np.asarray(mi, dtype=np.float64)
    if mi.shape[:1] != (9,):
        raise ValueError(f"mi must have 9 rows along axis 0, got shape {mi.shape}")
    knowns = np.empty((16,) + mi.shape[1:])
    for k, terms in enumerate(_KNOWN_TERMS):
        if len(terms) == 1:
            knowns[k] = mi[terms[0]]
        elif mi_mean is None:
            knowns[k] = np.min(mi[list(terms)], axis=0)
        else:
            mean = np.asarray(mi_mean, dtype=np.float64)[list(terms)]
            pick = np.argmin(mean, axis=0)  # which term is smallest on average
            local = mi[list(terms)]
            knowns[k] = np.take_along_axis(local, np.expand_dims(pick, (0, 1)), axis=0)[0]
    return knowns


# --------------------------------------------------------------------------------------
# Validation and input handling
# --------------------------------------------------------------------------------------


class DegeneratePairsWarning(UserWarning):
    """Some pairs had a singular correlation matrix and were set to NaN.

    Attributes: ``n_pairs`` (unordered pairs affected), ``n_total`` (unordered pairs).
    """

    n_pairs: int = 0
    n_total: int = 0


def _to_float64(x: Any) -> np.ndarray:
    """Any array-like (numpy of any float dtype, torch tensor incl. bfloat16) as float64."""
    if type(x).__module__.split(".")[0] == "torch":
        x = x.detach().to("cpu").double().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_options(tau: Any, redundancy: str, estimator: str) -> None:
    if isinstance(tau, bool) or not isinstance(tau, (int, np.integer)):
        raise ValueError(f"tau must be a positive integer, got {tau!r}")
    if tau < 1:
        raise ValueError(f"tau must be >= 1, got {tau}")
    if not isinstance(redundancy, str) or redundancy.lower() not in _REDUNDANCIES:
        raise ValueError(
            f"unknown redundancy {redundancy!r}: only 'mmi' (minimum mutual information) "
            "is implemented"
        )
    if not isinstance(estimator, str) or estimator.lower() not in _ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}: choose one of {_ESTIMATORS}")


def _check_length(n_steps: int, tau: int) -> None:
    if tau >= n_steps - 1:
        raise ValueError(
            f"tau={tau} needs more time steps: got T={n_steps}, need T > tau + 1 "
            "(and T - tau >= 5 samples for a non-singular 4x4 covariance)"
        )


def _validate_series(x: Any, tau: int, redundancy: str, estimator: str) -> np.ndarray:
    """Check options and a (T, N) array; return it as float64."""
    _check_options(tau, redundancy, estimator)
    arr = _to_float64(x)
    if arr.ndim != 2:
        raise ValueError(f"x must be 2-D with shape (T, N) (time on axis 0), got {arr.shape}")
    if arr.shape[1] < 2:
        raise ValueError(f"x needs at least 2 nodes (columns), got shape {arr.shape}")
    _check_length(arr.shape[0], tau)
    if not np.all(np.isfinite(arr)):
        raise ValueError("x contains NaN or inf values")
    return arr


def _row_blocks(n_nodes: int, rows: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n_nodes, rows):
        yield start, min(start + rows, n_nodes)


def _block_rows(n_nodes: int, chunk_size: int | None, weight: int = 1) -> int:
    if chunk_size is None:
        return max(1, min(n_nodes, _PAIRS_PER_BLOCK // (weight * n_nodes)))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return int(min(chunk_size, n_nodes))


def _constant_windows(x: np.ndarray, tau: int) -> np.ndarray:
    """(N,) bool: the series is (numerically) constant in its past or its future window."""
    n = x.shape[0] - tau
    scale = np.max(np.abs(x), axis=0)
    flat = np.zeros(x.shape[1], dtype=bool)
    for window in (x[:n], x[tau:]):
        flat |= np.std(window, axis=0) <= CONSTANT_RTOL * scale
    return flat


# --------------------------------------------------------------------------------------
# Gaussian estimator: closed form from correlations
# --------------------------------------------------------------------------------------


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
        self.past = _unit_columns(x[:n], self.flat)
        self.future = _unit_columns(x[tau:], self.flat)
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


# --------------------------------------------------------------------------------------
# Discrete estimator: binarised at the mean, plug-in MI in bits
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# All pairs
# --------------------------------------------------------------------------------------


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


def _warn_degenerate(n_bad: int, n_total: int, what: str, stacklevel: int = 3) -> None:
    if n_bad == 0:
        return
    warning = DegeneratePairsWarning(
        f"{n_bad} of {n_total} {what} have a constant or numerically degenerate series "
        "(singular correlation matrix) and are NaN"
    )
    warning.n_pairs = n_bad
    warning.n_total = n_total
    warnings.warn(warning, stacklevel=stacklevel)


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


# --------------------------------------------------------------------------------------
# One pair, with local (per-time-step) atoms
# --------------------------------------------------------------------------------------


def _pair_variables(src: np.ndarray, trg: np.ndarray, tau: int) -> np.ndarray:
    """(n, 4) samples of (X1, X2, Y1, Y2)."""
    n = src.shape[0] - tau
    return np.column_stack([src[:n], trg[:n], src[tau:], trg[tau:]])


def _gaussian_local_mi(variables: np.ndarray) -> np.ndarray:
    """(9, n) local Gaussian MI terms (nats) with the sample mean and covariance (ddof 0)."""
    centred = variables - variables.mean(axis=0)
    cov = centred.T @ centred / centred.shape[0]

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


# --------------------------------------------------------------------------------------
# Derived measures
# --------------------------------------------------------------------------------------


def _atom(atoms: Mapping[str, Any] | np.ndarray, name: str, axis: int) -> Any:
    if isinstance(atoms, Mapping):
        return atoms[name]
    arr = np.asarray(atoms)
    if arr.shape[axis] != 16:
        raise ValueError(f"atoms must have 16 entries along axis {axis}, got shape {arr.shape}")
    return np.take(arr, ATOM_INDEX[name], axis=axis)


def _sum_atoms(atoms: Mapping[str, Any] | np.ndarray, names: Sequence[str], axis: int) -> Any:
    total = _atom(atoms, names[0], axis)
    for name in names[1:]:
        total = total + _atom(atoms, name, axis)
    return total


def tdmi(atoms: Mapping[str, Any] | np.ndarray, axis: int = 0) -> Any:
    """Time-delayed mutual information I(X1 X2; Y1 Y2): the sum of all 16 atoms.

    ``atoms``: a dict from :func:`phiid_pair` or an array with the 16 atoms on ``axis``
    (e.g. (16, N, N) from :func:`phiid_pairwise`); returns a float or an array without that
    axis, in the estimator's units.
    """
    return _sum_atoms(atoms, ATOMS, axis)


_TE_ATOMS = {
    "x->y": ("xtr", "str", "xty", "sty"),  # I(X1; Y2 | X2)
    "y->x": ("ytr", "str", "ytx", "stx"),  # I(X2; Y1 | X1)
}


def transfer_entropy(
    atoms: Mapping[str, Any] | np.ndarray, direction: str = "x->y", axis: int = 0
) -> Any:
    """Transfer entropy from the atoms: ``"x->y"`` is I(x_t; y_{t+tau} | y_t) =
    xtr + str + xty + sty, ``"y->x"`` is ytr + str + ytx + stx.

    For (16, N, N) arrays, ``"x->y"`` gives the matrix of TE from node i to node j.
    """
    if direction not in _TE_ATOMS:
        raise ValueError(f"direction must be one of {tuple(_TE_ATOMS)}, got {direction!r}")
    return _sum_atoms(atoms, _TE_ATOMS[direction], axis)


_PHI_R_ATOMS = ("sts", "xts", "yts", "stx", "sty", "xty", "ytx", "rts", "str")


def phi_r(atoms: Mapping[str, Any] | np.ndarray, axis: int = 0) -> Any:
    """Revised integrated information Φ_R (Mediano et al.): the sum of the nine atoms
    sts, xts, yts, stx, sty, xty, ytx, rts, str.

    Φ_R = Φ_WMS + rtr, i.e. the whole-minus-sum integrated information with the double
    redundancy added back (the naive sum of the parts counts rtr twice).
    """
    return _sum_atoms(atoms, _PHI_R_ATOMS, axis)


def phi_wms(atoms: Mapping[str, Any] | np.ndarray, axis: int = 0) -> Any:
    """Whole-minus-sum integrated information Φ_WMS = TDMI - I(X1;Y1) - I(X2;Y2), which in
    atoms is the nine atoms of :func:`phi_r` minus rtr (can be negative)."""
    return _sum_atoms(atoms, _PHI_R_ATOMS, axis) - _atom(atoms, "rtr", axis)


def atoms_as_dataarray(
    atoms: np.ndarray,
    nodes: Sequence[Any] | None = None,
    units: str = "nats",
) -> Any:
    """Wrap (16, N, N) or (P, 16, N, N) atoms as a labelled ``xarray.DataArray``.

    Dimensions ``atom, source, target`` (and a leading ``prompt``); ``nodes`` labels the
    source and target coordinates (default 0..N-1).
    """
    import xarray as xr

    arr = np.asarray(atoms)
    if arr.ndim not in (3, 4) or arr.shape[-3] != 16 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"expected (16, N, N) or (P, 16, N, N), got {arr.shape}")
    labels = list(range(arr.shape[-1])) if nodes is None else list(nodes)
    dims = ("atom", "source", "target")
    coords: dict[str, Any] = {"atom": list(ATOMS), "source": labels, "target": labels}
    if arr.ndim == 4:
        dims = ("prompt",) + dims
        coords["prompt"] = np.arange(arr.shape[0])
    return xr.DataArray(arr, dims=dims, coords=coords, name="phiid", attrs={"units": units})


# --------------------------------------------------------------------------------------
# Population values and simulated systems
# --------------------------------------------------------------------------------------


def gaussian_atoms_from_covariance(cov: Any) -> dict[str, float]:
    """Exact MMI-ΦID atoms (nats) of a Gaussian from the 4x4 covariance of (X1, X2, Y1, Y2).

    Uses log-determinants of the covariance blocks and :func:`solve_lattice` (no sampling);
    for population values such as those of a VAR(1) process.
    """
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (4, 4):
        raise ValueError(f"cov must be 4x4 over (X1, X2, Y1, Y2), got {cov.shape}")

    def logdet(subset: tuple[int, ...]) -> float:
        sign, value = np.linalg.slogdet(cov[np.ix_(subset, subset)])
        if sign <= 0:
            raise ValueError("covariance is singular or not positive definite")
        return float(value)

    mi = np.array(
        [0.5 * (logdet(a) + logdet(b) - logdet(a + b)) for a, b in _MI_SUBSETS], dtype=float
    )
    atoms = solve_lattice(mmi_knowns(mi))
    return {name: float(atoms[k]) for k, name in enumerate(ATOMS)}


def var1_lagged_covariance(coupling: Any, noise_cov: Any | None = None, tau: int = 1) -> np.ndarray:
    """Covariance of (z_t, z_{t+tau}) for a stationary VAR(1) ``z_{t+1} = A z_t + eps``.

    ``coupling`` is the (N, N) matrix A (spectral radius < 1), ``noise_cov`` the covariance
    of eps (default identity). Returns (2N, 2N): the stationary covariance S solves the
    discrete Lyapunov equation S = A S A^T + noise_cov, and Cov(z_{t+tau}, z_t) = A^tau S.
    """
    mat = np.asarray(coupling, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
        raise ValueError(f"coupling must be a square matrix, got shape {mat.shape}")
    if np.max(np.abs(np.linalg.eigvals(mat))) >= 1:
        raise ValueError("coupling matrix is not stable (spectral radius >= 1)")
    noise = np.eye(mat.shape[0]) if noise_cov is None else np.asarray(noise_cov, float)
    stationary = solve_discrete_lyapunov(mat, noise)
    ahead = np.linalg.matrix_power(mat, tau) @ stationary
    return np.block([[stationary, ahead.T], [ahead, stationary]])


def var1_population_atoms(
    coupling: Any,
    noise_cov: Any | None = None,
    tau: int = 1,
    source: int = 0,
    target: int = 1,
) -> dict[str, float]:
    """Exact (population) MMI-ΦID atoms, in nats, of nodes ``source`` -> ``target`` of a
    stationary VAR(1) process (see :func:`var1_lagged_covariance`)."""
    full = var1_lagged_covariance(coupling, noise_cov, tau)
    n_nodes = full.shape[0] // 2
    idx = [source, target, n_nodes + source, n_nodes + target]
    return gaussian_atoms_from_covariance(full[np.ix_(idx, idx)])


def simulate_var1(
    coupling: Any,
    n_steps: int,
    seed: int | np.random.Generator | None = None,
    noise_cov: Any | None = None,
    burn_in: int = 500,
) -> np.ndarray:
    """Simulate ``z_{t+1} = A z_t + eps`` (Gaussian eps, covariance ``noise_cov``, default
    identity), started at 0 and run ``burn_in`` steps before recording. Returns (T, N)."""
    mat = np.asarray(coupling, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n_nodes = mat.shape[0]
    noise = rng.standard_normal((n_steps + burn_in, n_nodes))
    if noise_cov is not None:
        noise = noise @ np.linalg.cholesky(np.asarray(noise_cov, float)).T
    z = np.zeros((n_steps + burn_in, n_nodes))
    for t in range(1, n_steps + burn_in):
        z[t] = mat @ z[t - 1] + noise[t]
    return z[burn_in:]


def _ar1(n_steps: int, phi: float, rng: np.random.Generator, burn_in: int = 500) -> np.ndarray:
    """Unit-variance AR(1) series x_{t+1} = phi x_t + sqrt(1 - phi^2) e_t. Shape (T,)."""
    from scipy.signal import lfilter

    noise = rng.standard_normal(n_steps + burn_in) * np.sqrt(1.0 - phi**2)
    return lfilter([1.0], [1.0, -phi], noise)[burn_in:]


#: Teaching systems of :func:`toy_system` and the atom that dominates in each.
TOY_SYSTEMS: dict[str, str] = {
    "storage": "xtx",
    "transfer": "xty",
    "synergy": "sts",
    "redundancy": "rtr",
}


def toy_system(
    kind: str,
    n_steps: int,
    coupling: float = 0.8,
    ar_coefficient: float = 0.9,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """A two-node system (T, 2) = (x, y) in which one ΦID atom dominates.

    * ``"storage"`` (xtx): x is AR(1) with coefficient ``ar_coefficient``, y white noise.
    * ``"transfer"`` (xty): x white noise, ``y_{t+1} = coupling x_t + noise``.
    * ``"synergy"`` (sts): a persistent AR(1) signal s is split between the nodes,
      ``x = u``, ``y = s - u`` with a loud white noise u (variance ``1 / (1 - coupling)``
      times that of s): only the sum x + y = s carries the past into the future.
    * ``"redundancy"`` (rtr): a common AR(1) driver seen by both nodes,
      ``x = z + e1``, ``y = z + e2`` with small noise (variance ``1 - coupling``).
    """
    rng = np.random.default_rng(seed)
    if not 0 < coupling < 1 or not 0 <= ar_coefficient < 1:
        raise ValueError("need 0 < coupling < 1 and 0 <= ar_coefficient < 1")
    if kind == "storage":
        return np.column_stack([_ar1(n_steps, ar_coefficient, rng), rng.standard_normal(n_steps)])
    if kind == "transfer":
        x = rng.standard_normal(n_steps + 1)
        y = coupling * x[:-1] + np.sqrt(1 - coupling**2) * rng.standard_normal(n_steps)
        return np.column_stack([x[1:], y])
    if kind == "synergy":
        s = _ar1(n_steps, ar_coefficient, rng)
        u = rng.standard_normal(n_steps) / np.sqrt(1.0 - coupling)
        return np.column_stack([u, s - u])
    if kind == "redundancy":
        z = _ar1(n_steps, ar_coefficient, rng)
        noise = np.sqrt(1.0 - coupling) * rng.standard_normal((n_steps, 2))
        return z[:, None] + noise
    raise ValueError(f"unknown toy system {kind!r}: choose one of {tuple(TOY_SYSTEMS)}")


def independent_ar1_synergy(phi_x: float, phi_y: float) -> dict[str, float]:
    """MMI artefact for two *independent* AR(1) series (population, nats).

    Returns the self-informations ``a_x = -0.5 ln(1 - phi_x^2)``, ``a_y``, the exact atoms
    sts and rtr of the pair, and the predicted ``2 * min(a_x, a_y)`` (Varley's result:
    MMI-ΦID reports synergy although the series are unrelated).
    """
    atoms = var1_population_atoms(np.diag([phi_x, phi_y]), np.diag([1 - phi_x**2, 1 - phi_y**2]))
    a_x = -0.5 * np.log1p(-(phi_x**2))
    a_y = -0.5 * np.log1p(-(phi_y**2))
    return {
        "a_x": float(a_x),
        "a_y": float(a_y),
        "sts": atoms["sts"],
        "rtr": atoms["rtr"],
        "two_min_a": float(2 * min(a_x, a_y)),
    }


def independent_ar1_sweep(
    phis: Sequence[float],
    n_steps: int,
    phi_partner: float | None = None,
    seed: int | np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """The MMI synergy artefact across AR(1) coefficients: for each ``phi``, two independent
    AR(1) series (coefficients ``phi`` and ``phi_partner``, default the same ``phi``) of
    length ``n_steps``, their estimated sts and rtr (nats), and the exact population values.

    Returns arrays keyed ``phi``, ``sts``, ``rtr`` (estimates), ``sts_exact``, ``rtr_exact``
    and ``two_min_a`` (the prediction 2 min(a_x, a_y)), each of shape (len(phis),).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for phi in phis:
        partner = phi if phi_partner is None else phi_partner
        atoms = phiid_pair(_ar1(n_steps, phi, rng), _ar1(n_steps, partner, rng))
        exact = independent_ar1_synergy(phi, partner)
        rows.append(
            (phi, atoms["sts"], atoms["rtr"], exact["sts"], exact["rtr"], exact["two_min_a"])
        )
    keys = ("phi", "sts", "rtr", "sts_exact", "rtr_exact", "two_min_a")
    return {key: np.array(col) for key, col in zip(keys, zip(*rows, strict=True), strict=True)}


def pitfall_sentence(
    phi: float, sts_estimate: float, prediction: float, units: str = "nats"
) -> str:
    """One sentence reporting the MMI autocorrelation artefact for two independent AR(1)
    series with coefficient ``phi``."""
    return (
        f"Two independent AR(1) series with coefficient {phi:.2f} share no information, yet "
        f"MMI-ΦID reports a synergy sts = {sts_estimate:.3f} {units}; the artefact predicted "
        f"from their self-predictability, 2·min(a_x, a_y), is {prediction:.3f} {units}."
    )
