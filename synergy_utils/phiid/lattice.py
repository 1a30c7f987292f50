"""The ΦID product lattice: atom names, the sixteen knowns, and the Möbius inversion.

A pair is a *source* node ``x`` and a *target* node ``y`` observed over ``T`` time steps, lag
``tau``. The four variables are ``X1 = x_t``, ``X2 = y_t`` (the past) and ``Y1 = x_{t+tau}``,
``Y2 = y_{t+tau}`` (the future). The time-delayed mutual information ``I(X1 X2; Y1 Y2)``
splits into the 16 atoms of :data:`ATOMS`, named ``αtβ`` with α (past) and β (future) in
``r`` (redundant), ``x`` / ``y`` (unique to one node) and ``s`` (synergistic).

The sixteen "knowns" (nine mutual informations, six redundancies and the double redundancy)
are each the sum of the atoms below them on the lattice; :func:`solve_lattice` inverts that
triangular system. :func:`mmi_knowns` builds the knowns with minimum-mutual-information
(MMI) redundancy, :func:`ccs_knowns` with common change in surprisal (CCS, on local values).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

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


def _snap(values: np.ndarray, zero_tol: float) -> np.ndarray:
    return np.where(np.abs(values) <= zero_tol, 0.0, values) if zero_tol > 0 else values


def _ccs_redundancy(
    m1: np.ndarray, m2: np.ndarray, m12: np.ndarray, zero_tol: float = 0.0
) -> np.ndarray:
    """Local CCS redundancy (Ince 2017): minus the local co-information
    ``c = m12 - m1 - m2`` where m1, m2, m12 and -c share one sign, else 0."""
    neg_c = _snap(m1 + m2 - m12, zero_tol)
    lo = np.minimum(np.minimum(m1, m2), np.minimum(m12, neg_c))
    hi = np.maximum(np.maximum(m1, m2), np.maximum(m12, neg_c))
    return np.where((lo > 0) | (hi < 0), neg_c, 0.0)


def ccs_knowns(mi: np.ndarray, zero_tol: float = 0.0) -> np.ndarray:
    """The 16 lattice knowns with common-change-in-surprisal (CCS) redundancy, from *local*
    mutual informations.

    Parameters
    ----------
    mi : (9, ...) local (per-sample or per-state) values of the terms in :data:`MI_TERMS`.

    Returns
    -------
    (16, ...) local knowns in the order of :data:`ATOMS`: the nine MIs themselves, the six
    two-source redundancies ``-c`` (local co-information c) where the three local MIs and
    ``-c`` share one sign (else 0), and the double redundancy: the local double
    co-information where it shares one sign with the four single local MIs (else 0). This
    is the definition of Ince's CCS in the published ΦID toolbox (Mediano et al.); the
    average of the local knowns over samples gives the atoms' knowns.

    ``zero_tol``: local values (and co-informations) of at most this magnitude count as
    exactly 0 in the sign tests. The discrete estimator uses 1e-12 bits: its local values
    are logs of count ratios, exact zeros are common there, and rounding would otherwise
    give them an arbitrary sign (nonzero values are at least ~1 / n^2 bits away from 0).
    """
    mi = _snap(np.asarray(mi, dtype=np.float64), zero_tol)
    if mi.shape[:1] != (9,):
        raise ValueError(f"mi must have 9 rows along axis 0, got shape {mi.shape}")
    i11, i12, i21, i22, s_1, s_2, x_s, y_s, s_s = mi
    knowns = np.empty((16,) + mi.shape[1:])
    for k, terms in enumerate(_KNOWN_TERMS):
        if len(terms) == 1:
            knowns[k] = mi[terms[0]]
    tol = zero_tol
    red = {
        "rtx": _ccs_redundancy(i11, i21, s_1, tol),  # R(X1, X2 -> Y1)
        "rty": _ccs_redundancy(i12, i22, s_2, tol),  # R(X1, X2 -> Y2)
        "rts": _ccs_redundancy(x_s, y_s, s_s, tol),  # R(X1, X2 -> Y1 Y2)
        "xtr": _ccs_redundancy(i11, i12, x_s, tol),  # R(Y1, Y2 <- X1)
        "ytr": _ccs_redundancy(i21, i22, y_s, tol),  # R(Y1, Y2 <- X2)
        "str": _ccs_redundancy(s_1, s_2, s_s, tol),  # R(Y1, Y2 <- X1 X2)
    }
    for name, value in red.items():
        knowns[ATOM_INDEX[name]] = value
    double_coinfo = (
        x_s + y_s + s_1 + s_2 - s_s - (i11 + i12 + i21 + i22)
        + red["rtx"] + red["rty"] - red["rts"] + red["xtr"] + red["ytr"] - red["str"]
    )  # fmt: skip
    double_coinfo = _snap(double_coinfo, zero_tol)
    singles = np.stack([i11, i12, i21, i22, double_coinfo])
    same_sign = (singles.min(axis=0) > 0) | (singles.max(axis=0) < 0)
    knowns[ATOM_INDEX["rtr"]] = np.where(same_sign, double_coinfo, 0.0)
    return knowns
