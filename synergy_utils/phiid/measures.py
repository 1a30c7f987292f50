"""Quantities derived from the atoms (TDMI, transfer entropy, Φ_R, Φ_WMS) and labelling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .lattice import ATOM_INDEX, ATOMS


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


# --------------------------------------------------------------------------------------
# Each series on its own: persistence
# --------------------------------------------------------------------------------------


def lag_correlation(x: Any, tau: int = 1, axis: int = 0) -> np.ndarray:
    """Pearson correlation of each series with itself ``tau`` steps later.

    ``x`` has time on ``axis`` (any other axes index series); NaN steps (e.g. after an early
    end of generation) are left out pairwise. Returns the array without the time axis,
    float64; NaN where a series is constant or has fewer than 3 valid pairs of steps.
    """
    if isinstance(tau, bool) or not isinstance(tau, (int, np.integer)) or tau < 1:
        raise ValueError(f"tau must be a positive integer, got {tau!r}")
    values = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    past, future = values[:-tau], values[tau:]
    valid = np.isfinite(past) & np.isfinite(future)
    n = valid.sum(axis=0)
    past = np.where(valid, past, 0.0)
    future = np.where(valid, future, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dp = np.where(valid, past - past.sum(axis=0) / n, 0.0)
        df = np.where(valid, future - future.sum(axis=0) / n, 0.0)
        var = (dp**2).sum(axis=0) * (df**2).sum(axis=0)
        rho = (dp * df).sum(axis=0) / np.sqrt(var)
    return np.where((n < 3) | ~(var > 1e-300), np.nan, rho)


def gaussian_self_information(rho: Any) -> np.ndarray | float:
    """Gaussian self-information ``I(x_t; x_{t+tau}) = -1/2 ln(1 - rho^2)`` in nats of a series
    with lag correlation ``rho`` (|rho| = 1 is clipped just below 1)."""
    rho = np.asarray(rho, dtype=np.float64)
    value = -0.5 * np.log1p(-np.minimum(rho**2, 1.0 - 1e-15))
    return float(value) if value.ndim == 0 else value


def self_information(x: Any, tau: int = 1, axis: int = 0) -> np.ndarray:
    """Gaussian self-information (nats) of each series of ``x`` (time on ``axis``): what its
    own past says about its future. Two *independent* series with self-informations ``a_x``
    and ``a_y`` get MMI synergy ``sts = 2 min(a_x, a_y)``: persistence counted as synergy."""
    return gaussian_self_information(lag_correlation(x, tau, axis))
