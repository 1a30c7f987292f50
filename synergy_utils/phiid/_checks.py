"""Input validation shared by the estimators: options, shapes, finiteness, degeneracy."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

UNITS: dict[str, str] = {"gaussian": "nats", "discrete": "bits"}
_ESTIMATORS = tuple(UNITS)
_REDUNDANCIES = ("mmi", "ccs")
_ENGINES = ("numba", "numpy")
_DEVICES = ("cpu", "cuda")
#: A series whose standard deviation in a window is below this fraction of its largest
#: absolute value is treated as constant (float rounding noise only).
CONSTANT_RTOL = 1e-12
#: Pairs whose 4x4 correlation determinant is at or below this are numerically singular.
DET_TOL = 1e-12
#: Pairs per block in the all-pairs computation (bounds the working memory).
_PAIRS_PER_BLOCK = 1 << 17


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
            f"unknown redundancy {redundancy!r}: choose 'mmi' (minimum mutual information) "
            "or 'ccs' (common change in surprisal)"
        )
    if not isinstance(estimator, str) or estimator.lower() not in _ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}: choose one of {_ESTIMATORS}")


def _check_engine(engine: str, device: str) -> None:
    if not isinstance(engine, str) or engine.lower() not in _ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {_ENGINES}")
    if not isinstance(device, str) or device.lower() not in _DEVICES:
        raise ValueError(f"unknown device {device!r}: choose one of {_DEVICES}")


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
    _check_values(arr, tau)
    return arr


def _check_values(arr: np.ndarray, tau: int) -> None:
    """Nodes on the last axis, time on the one before; at least 2 nodes, finite values."""
    if arr.shape[-1] < 2:
        raise ValueError(f"x needs at least 2 nodes (columns), got shape {arr.shape}")
    _check_length(arr.shape[-2], tau)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"x contains NaN or inf values (first at index {tuple(int(k) for k in bad)})"
        )


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
    """(..., N) bool: the series (time on axis -2) is numerically constant in its past or
    its future window: its standard deviation there is at most ``CONSTANT_RTOL`` times its
    largest magnitude. Scale-free: the test runs on a copy rescaled by a power of two."""
    _, exponent = np.frexp(np.max(np.abs(x), axis=-2, keepdims=True))
    scaled = np.ldexp(x, -exponent)  # exact; max magnitude in [0.5, 1): nothing underflows
    limit = CONSTANT_RTOL * np.max(np.abs(scaled), axis=-2)
    n = x.shape[-2] - tau
    flat = np.zeros(limit.shape, dtype=bool)
    for window in (scaled[..., :n, :], scaled[..., tau:, :]):
        flat |= np.std(window, axis=-2) <= limit
    return flat


def standardise(x: np.ndarray) -> np.ndarray:
    """A standardised float64 copy of series with time on axis -2: first rescaled by a power
    of two to a largest magnitude in [0.5, 1) (exact in floating point), then to zero mean
    and unit variance. ΦID is invariant to this, and nothing over- or underflows afterwards
    whatever the input's scale (1e-200 or 1e200). Constant series become 0."""
    _, exponent = np.frexp(np.max(np.abs(x), axis=-2, keepdims=True))
    z = np.ldexp(x, -exponent)
    z -= z.mean(axis=-2, keepdims=True)
    sd = np.sqrt(np.mean(z * z, axis=-2, keepdims=True))
    sd[sd == 0] = 1.0
    z /= sd
    return z


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
