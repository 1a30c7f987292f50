"""Resampling, intervals and multiple-testing control.

One vocabulary everywhere: ``n_bootstrap`` resamples, ``ci_level`` (e.g. 0.95) for the
central interval, ``seed`` or a ``numpy.random.Generator`` for the draws.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import stats as sps

#: Confidence level of every interval unless a caller says otherwise.
CI_LEVEL = 0.95


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed (or the Generator itself)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def bootstrap_indices(n_items: int, n_bootstrap: int, seed: Any = 0) -> np.ndarray:
    """(n_bootstrap, n_items) indices drawn with replacement: row b is resample b."""
    if n_items < 1:
        raise ValueError("nothing to resample (n_items < 1)")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    return as_generator(seed).integers(0, n_items, size=(n_bootstrap, n_items))


def bootstrap_weights(indices: np.ndarray, n_items: int) -> np.ndarray:
    """(n_bootstrap, n_items) counts: how often each item appears in each resample."""
    indices = np.asarray(indices)
    weights = np.zeros((indices.shape[0], n_items))
    rows = np.repeat(np.arange(indices.shape[0]), indices.shape[1])
    np.add.at(weights, (rows, indices.reshape(-1)), 1.0)
    return weights


def weighted_nanmean(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(B, P) x (P, ...) -> (B, ...)`` NaN-aware weighted mean over the P items."""
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    finite = np.isfinite(flat)
    num = weights @ np.where(finite, flat, 0.0)
    den = weights @ finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    return out.reshape((weights.shape[0],) + values.shape[1:])


def percentile_interval(samples: Any, ci_level: float = CI_LEVEL, axis: int = 0) -> np.ndarray:
    """Central percentile interval of ``samples`` along ``axis``, NaN-aware.

    Returns the low and high ends stacked on a new last axis: ``(..., 2)`` (``(2,)`` for 1-D
    samples); NaN where every sample is NaN.
    """
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level}")
    alpha = (1 - ci_level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = np.nanquantile(np.asarray(samples, dtype=np.float64), [alpha, 1 - alpha], axis=axis)
    return np.moveaxis(q, 0, -1)


def interval(value: float, ci: Any) -> dict[str, float]:
    """``{"value", "ci_low", "ci_high"}`` as plain floats: the one layout of an estimate."""
    return {"value": float(value), "ci_low": float(ci[0]), "ci_high": float(ci[1])}


def wilson_interval(successes: float, n: int, ci_level: float = CI_LEVEL) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n`` ((NaN, NaN) for n = 0).

    The interval always contains the observed proportion; the ends are clipped to [0, 1]
    (and to the proportion itself, against rounding).
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = float(sps.norm.ppf(0.5 + ci_level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def benjamini_hochberg(p_values: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg control of the false discovery rate at level ``alpha``.

    ``p_values`` of any shape (NaN entries are not tests). Returns ``(rejected, q_values)``
    of the same shape: ``rejected`` is True for the discoveries, ``q_values`` the BH-adjusted
    p-values (NaN where the input is NaN).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.reshape(-1)
    ok = np.flatnonzero(np.isfinite(flat))
    q = np.full(flat.shape, np.nan)
    if ok.size:
        order = ok[np.argsort(flat[ok], kind="stable")]
        ranked = flat[order] * ok.size / np.arange(1, ok.size + 1)
        q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    rejected = np.zeros(flat.shape, dtype=bool)
    rejected[ok] = q[ok] <= alpha
    return rejected.reshape(p.shape), q.reshape(p.shape)
