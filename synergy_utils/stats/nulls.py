"""Surrogate nulls: circular shifts of each node's series.

A circular shift rolls every node's series by its own random offset within each prompt (or
item): each series keeps its values and, apart from the one wrap-around point, its
autocorrelation, while the timing between nodes is destroyed. What survives the shift comes
from each series on its own.

* :func:`circular_shift`, :func:`shift_null`, :func:`empirical_p_value`: a null for any
  statistic passed in.
* offsets shared by all prompts of a surrogate (:func:`draw_offsets`), the pairs a surrogate
  may serve (:func:`pair_shift_mask`), the :func:`circular_closure` that removes the
  wrap-around bias, :func:`rotate`; rank statistics over surrogates (:func:`rank_scores`,
  :func:`calibrate_z`); all used by :func:`synergy_utils.stats.pair_null.null_corrected_atoms`.
* :func:`sign_flip_p`: a randomisation test over items (prompts) of a mean above 0.

See ``docs/validation.md`` for the design and the measured biases.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .resampling import as_generator


def circular_shift(values: Any, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Copy of ``(P, T, ...)`` series with each node's series rolled by its own random shift.

    Axis 0 indexes prompts, axis 1 time; every further axis indexes nodes (e.g. layer, head).
    Shifts are drawn uniformly from ``0 .. T-1``, independently for every prompt and node.
    """
    array = np.asarray(values)
    if array.ndim < 3:
        raise ValueError(f"expected (prompt, step, node...) series, got shape {array.shape}")
    rng = as_generator(seed)
    n_steps = array.shape[1]
    shape = (array.shape[0], 1) + array.shape[2:]
    shifts = rng.integers(0, n_steps, size=shape)
    steps = np.arange(n_steps).reshape((1, n_steps) + (1,) * (array.ndim - 2))
    return np.take_along_axis(array, (steps - shifts) % n_steps, axis=1)


def shift_null(
    values: Any,
    statistic: Callable[[np.ndarray], Any],
    n_surrogates: int,
    seed: int | np.random.Generator = 0,
    *,
    progress: bool = False,
    desc: str = "circular-shift null",
) -> list[Any]:
    """``statistic`` of ``n_surrogates`` circularly shifted copies of ``values``.

    One generator (from ``seed``) draws the shifts of every replicate in turn, so the same
    seed gives the same replicates. Returns the statistic's outputs in order.
    """
    if n_surrogates < 1:
        raise ValueError(f"n_surrogates must be >= 1, got {n_surrogates}")
    rng = as_generator(seed)
    replicates = range(n_surrogates)
    if progress:
        from tqdm.auto import tqdm

        replicates = tqdm(replicates, desc=desc, leave=False)
    return [statistic(circular_shift(values, rng)) for _ in replicates]


def empirical_p_value(observed: float, null: Any, alternative: str = "greater") -> float:
    """Add-one permutation p-value ``(1 + #{null >= observed}) / (1 + n)`` (``"less"``: ``<=``).

    NaN null values are dropped; NaN when ``observed`` is NaN or no null value is left. The
    smallest possible value is ``1 / (1 + n)``.
    """
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    if not np.isfinite(observed) or null.size == 0:
        return float("nan")
    if alternative == "greater":
        hits = np.sum(null >= observed)
    elif alternative == "less":
        hits = np.sum(null <= observed)
    else:
        raise ValueError("alternative must be 'greater' or 'less'")
    return float((1 + hits) / (1 + null.size))


# --------------------------------------------------------------------------------------------
# Surrogates shared by all prompts, and rank statistics over them
# --------------------------------------------------------------------------------------------


def default_min_shift(n_steps: int, tau: int = 1) -> int:
    """Smallest circular relative offset of two heads that a pair's surrogate may have:
    ``max(tau + 2, ceil(0.1 * n_steps))``.

    A ΦID pair statistic sees the two series at relative lags ``-tau, 0, +tau``; a relative
    offset ``r`` moves that window to lags ``r - tau .. r + tau``, so ``r >= tau + 2`` keeps the
    surrogate's window at least one step away from any coupling at lags up to ``tau`` (shifts
    of 0–2 steps keep part of it). Coupling through a persistent shared signal decays with the
    lag like the signal's autocorrelation; 10 % of T (10 steps at T = 100: 0.6^10 = 0.006,
    0.9^10 = 0.35) is a compromise between removing it and keeping enough distinct offsets
    (``T - 2 min_shift + 1`` of them; 81 at T = 100).
    """
    if n_steps < 2 * (tau + 2) + 1:
        raise ValueError(f"n_steps={n_steps} is too short for circular-shift surrogates")
    return int(max(tau + 2, math.ceil(0.1 * n_steps)))


def draw_offsets(
    n_surrogates: int, n_nodes: int, n_steps: int, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """``(n_surrogates, n_nodes)`` circular offsets in ``0 .. n_steps - 1``: one per node per
    surrogate, shared by every prompt of that surrogate. Same seed, same offsets."""
    if n_surrogates < 1:
        raise ValueError(f"n_surrogates must be >= 1, got {n_surrogates}")
    return as_generator(seed).integers(0, n_steps, size=(n_surrogates, n_nodes))


def relative_offsets(offsets: Any, n_steps: int) -> np.ndarray:
    """Circular distance ``min(r, T - r)`` of the relative offset ``r = (o_i - o_j) mod T`` of
    every pair: ``(N,) -> (N, N)`` or ``(K, N) -> (K, N, N)`` integers in ``0 .. T // 2``."""
    o = np.asarray(offsets, dtype=np.int64)
    r = np.mod(o[..., :, None] - o[..., None, :], n_steps)
    return np.minimum(r, n_steps - r)


def pair_shift_mask(offsets: Any, n_steps: int, min_shift: int) -> np.ndarray:
    """Which pairs a surrogate may be used for: ``relative_offsets >= min_shift`` (bool, same
    shape as :func:`relative_offsets`; the diagonal is always False)."""
    if min_shift < 1:
        raise ValueError(f"min_shift must be >= 1, got {min_shift}")
    return relative_offsets(offsets, n_steps) >= min_shift


def circular_closure(values: Any, tau: int = 1) -> np.ndarray:
    """Series of length ``T + tau``: each series followed by its own first ``tau`` steps
    (time on axis 1).

    ΦID with lag ``tau`` on the closure uses the ``T`` lag pairs ``(x_t, x_{(t + tau) mod T})``,
    ``t = 0 .. T - 1``: the past window is the series and the future window its rotation, so
    a node's own lag statistics (mean, variance, autocorrelation, self-information) are
    exactly the same after any circular shift, and a pair's statistics depend only on the two
    nodes' relative offset. Observed and surrogates then share each node's persistence
    exactly; without the closure a shift moves the wrap-around jump into the series and lowers
    the persistence of the surrogates a little.
    """
    array = np.asarray(values)
    if array.ndim < 2 or not 1 <= tau < array.shape[1]:
        raise ValueError(f"need (P, T, ...) series with 1 <= tau < T, got {array.shape}")
    return np.concatenate([array, array[:, :tau]], axis=1)


def rotate(values: np.ndarray, offsets: Any) -> np.ndarray:
    """``(P, T, N)`` series with node ``n`` rolled by ``offsets[n]`` steps (as
    :func:`circular_shift`: ``out[:, t, n] = values[:, (t - o_n) mod T, n]``)."""
    n_steps = values.shape[1]
    index = (np.arange(n_steps)[:, None] - np.asarray(offsets)[None, :]) % n_steps
    return np.take_along_axis(values, index[None, :, :], axis=1)


@functools.lru_cache(maxsize=4096)
def _score_variance(n: int) -> float:
    """Variance of the normal score ``Phi^-1(1 - (R + 0.5) / (n + 1))`` of a rank R uniform on
    ``0 .. n`` (a little below 1: the scores are discrete)."""
    from scipy import stats as sps

    if n < 1:
        return float("nan")
    scores = sps.norm.isf((np.arange(n + 1) + 0.5) / (n + 1))
    return float(np.mean(scores**2))


def rank_scores(n_greater: Any, n_valid: Any) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores of observed-versus-surrogate ranks and their null variances.

    ``n_greater`` surrogates (of ``n_valid``) exceed the observed value. Under exchangeability
    the rank is uniform on ``0 .. n_valid``; the score ``Phi^-1(1 - (n_greater + 0.5) /
    (n_valid + 1))`` then has mean 0 and the variance :func:`_score_variance`. Returns
    ``(score, variance)``, NaN where ``n_valid < 1``.
    """
    from scipy import stats as sps

    greater = np.asarray(n_greater, dtype=np.float64)
    n = np.asarray(n_valid, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = sps.norm.isf((greater + 0.5) / (n + 1))
    variance = np.vectorize(_score_variance, otypes=[float])(np.maximum(n, 0))
    bad = n < 1
    return np.where(bad, np.nan, score), np.where(bad, np.nan, variance)


#: Fewest tested pairs with which :func:`calibrate_z` estimates the null's spread.
MIN_CALIBRATION_PAIRS = 200


def null_side_centre_spread(values: Any) -> tuple[float, float]:
    """Centre and spread of the null part of z-scores, estimated from the null side only.

    The centre is the mode of the values below their median (the peak of a Gaussian kernel
    density, Silverman's bandwidth, on at most 20 000 of them): pairs with a real effect sit to
    the right of the null's peak and move it little as long as they are fewer than half of the
    pairs, where they would drag the median itself.
    The spread is the root mean square of the values at or below that centre, as measured
    from it (a half-normal fit of the left half, which holds null pairs only).
    """
    from scipy import stats as sps

    ref = np.asarray(values, dtype=np.float64).reshape(-1)
    ref = ref[np.isfinite(ref)]
    if ref.size > 20_000:
        ref = np.sort(ref)[:: int(math.ceil(ref.size / 20_000))]
    low, high = np.quantile(ref, [0.02, 0.5])  # the null's peak lies below the median
    grid = np.linspace(low, high, 512)
    centre = float(grid[np.argmax(sps.gaussian_kde(ref, bw_method="silverman")(grid))])
    left = ref[ref <= centre] - centre
    spread = float(np.sqrt(np.mean(left**2))) if left.size else float("nan")
    return centre, spread


def calibrate_z(z: Any, reference: Any | None = None) -> np.ndarray:
    """Rescale z-scores that should be N(0, 1) under the null by the spread of the null part
    of ``reference`` (default: ``z`` itself), in the conservative direction only: an empirical
    null in the sense of Efron (2004).

    Circular shifts of persistent finite series are a little *less* variable than the
    observed pairs (a shift misaligns the two series' ends, which removes some of the
    sampling covariance of their cross-correlations), so the z-scores of pairs without any
    interaction spread a little wider than N(0, 1). Centre and spread are estimated from the
    null side only (:func:`null_side_centre_spread`), so that a core covering half of the pairs
    does not inflate them: ``z`` is shifted down by ``max(0, centre)`` and divided by
    ``max(1, spread)``. With fewer than :data:`MIN_CALIBRATION_PAIRS` finite reference
    values, ``z`` is returned unchanged.
    """
    z = np.asarray(z, dtype=np.float64)
    ref = np.asarray(z if reference is None else reference, dtype=np.float64).reshape(-1)
    ref = ref[np.isfinite(ref)]
    if ref.size < MIN_CALIBRATION_PAIRS:
        return z
    centre, spread = null_side_centre_spread(ref)
    if not np.isfinite(spread):
        return z
    return (z - max(0.0, centre)) / max(1.0, spread)


def sign_flip_p(values: Any, n_flips: int = 10000, seed: int | np.random.Generator = 0) -> float:
    """One-sided p-value that the mean of per-item values (e.g. one number per prompt) is
    above 0: a sign-flip randomisation test (each item's sign flipped at random, as it would be
    if its values were symmetric about 0).

    Exact (all ``2^n`` sign patterns, the observed one included) for ``n <= 16`` items, else
    ``n_flips`` random patterns with the add-one rule. NaN items are dropped; NaN when no item
    is left.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    observed = x.mean()
    tol = 1e-12 * max(1.0, float(np.abs(x).max()))
    if x.size <= 16:
        patterns = ((np.arange(2**x.size)[:, None] >> np.arange(x.size)) & 1) * 2 - 1
        means = patterns @ x / x.size
        return float(np.mean(means >= observed - tol))
    signs = as_generator(seed).choice(np.array([-1.0, 1.0]), size=(n_flips, x.size))
    means = signs @ x / x.size
    return float((1 + np.sum(means >= observed - tol)) / (1 + n_flips))
