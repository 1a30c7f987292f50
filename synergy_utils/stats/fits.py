"""Fits of a quantity against a control parameter: logistic versus straight line.

Inputs are ``levels`` (K,) increasing values of the control parameter (e.g. task difficulty)
and ``values`` (K, N): one value per level and item, NaN for a missing item. A logistic
(baseline, amplitude, midpoint, width) and a line are fitted by least squares and compared by
BIC.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, special

from .resampling import CI_LEVEL, percentile_interval, wilson_interval


def _as_level_table(levels: Sequence[float], values: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(levels, dtype=float)
    y = np.asarray(values, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 1 or y.ndim != 2 or y.shape[0] != x.size:
        raise ValueError(
            f"values must have shape (n_levels, n_items) with n_levels = {x.size}, got {y.shape}"
        )
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"levels must be strictly increasing, got {x.tolist()}")
    return x, y


def level_statistics(
    levels: Sequence[float],
    values: Any,
    n_bootstrap: int = 1000,
    ci_level: float = CI_LEVEL,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Mean, bootstrap CI and across-item variance of ``values`` at each level.

    Args:
        levels: (K,) increasing difficulty levels.
        values: (K, N) one value per level and prompt; NaN marks a missing prompt.
        n_bootstrap: resamples of the prompts of each level (with replacement).

    Returns:
        dict of (K,) arrays: ``n`` (valid prompts), ``mean``, ``ci_low``, ``ci_high``,
        ``variance`` (the susceptibility, ddof = 1; NaN below 2 prompts) and its bootstrap
        ``variance_ci_low``/``variance_ci_high``.
    """
    _, y = _as_level_table(levels, values)
    rng = np.random.default_rng(seed)
    out = {
        k: np.full(y.shape[0], np.nan)
        for k in ("mean", "ci_low", "ci_high", "variance", "variance_ci_low", "variance_ci_high")
    }
    out["n"] = np.zeros(y.shape[0], dtype=int)
    for k, row in enumerate(y):
        valid = row[np.isfinite(row)]
        out["n"][k] = valid.size
        if valid.size == 0:
            continue
        out["mean"][k] = valid.mean()
        draws = valid[rng.integers(0, valid.size, size=(n_bootstrap, valid.size))]
        out["ci_low"][k], out["ci_high"][k] = percentile_interval(draws.mean(axis=1), ci_level)
        if valid.size >= 2:
            out["variance"][k] = valid.var(ddof=1)
            lo, hi = percentile_interval(draws.var(axis=1, ddof=1), ci_level)
            out["variance_ci_low"][k], out["variance_ci_high"][k] = lo, hi
    return out


def accuracy_statistics(correct: Any, ci_level: float = CI_LEVEL) -> dict[str, np.ndarray]:
    """Per-level accuracy with Wilson CIs from a (K, N) array of 1/0 (NaN = not checkable)."""
    table = np.asarray(correct, dtype=float)
    out = {k: np.full(table.shape[0], np.nan) for k in ("accuracy", "ci_low", "ci_high")}
    out["n"] = np.zeros(table.shape[0], dtype=int)
    for k, row in enumerate(table):
        valid = row[np.isfinite(row)]
        out["n"][k] = valid.size
        if valid.size:
            out["accuracy"][k] = valid.mean()
            out["ci_low"][k], out["ci_high"][k] = wilson_interval(
                int(valid.sum()), valid.size, ci_level
            )
    return out


def logistic(x: Any, baseline: float, amplitude: float, midpoint: float, width: float) -> Any:
    """``baseline + amplitude / (1 + exp(-(x - midpoint) / width))``."""
    return baseline + amplitude * special.expit((np.asarray(x, dtype=float) - midpoint) / width)


def _moments(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Levels with data, their means and counts, and the within-level sum of squares."""
    counts = np.isfinite(y).sum(axis=1)
    keep = counts > 0
    if keep.sum() < 3:
        raise ValueError("need at least 3 levels with data to compare a logistic with a line")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(y, axis=1)
    within = float(np.nansum((y - means[:, None]) ** 2))
    return x[keep], means[keep], counts[keep].astype(float), within


def _information(rss: float, n: int, k: int) -> dict[str, float]:
    """Gaussian log-likelihood, AIC and BIC of a least-squares fit (k includes the noise)."""
    rss = max(rss, 1e-300)
    loglik = -0.5 * n * (math.log(2 * math.pi * rss / n) + 1)
    return {
        "rss": rss,
        "n": n,
        "k": k,
        "loglik": loglik,
        "aic": 2 * k - 2 * loglik,
        "bic": k * math.log(n) - 2 * loglik,
    }


def _fit_bounds(x: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    span = float(x[-1] - x[0])
    step = float(np.median(np.diff(x)))
    return (x[0] - span / 2, x[-1] + span / 2), (0.05 * step, 2.0 * span)


def _logistic_on_means(
    x: np.ndarray, means: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, float]:
    """Weighted least-squares logistic through level means: (params, between-level RSS).

    A grid over (midpoint, width), solving baseline and amplitude exactly for each, then a
    bounded ``curve_fit`` polish from the best grid point.
    """
    (mid_lo, mid_hi), (w_lo, w_hi) = _fit_bounds(x)
    mids = np.linspace(mid_lo, mid_hi, 81)
    widths = np.geomspace(w_lo, w_hi, 30)
    s = special.expit((x[None, None, :] - mids[:, None, None]) / widths[None, :, None])
    w = counts / counts.sum()
    sw, sx, sy = 1.0, (w * s).sum(-1), (w * means).sum()
    sxx, sxy = (w * s * s).sum(-1), (w * s * means).sum(-1)
    denom = sw * sxx - sx * sx
    safe = np.abs(denom) > 1e-12
    amp = np.where(safe, (sw * sxy - sx * sy) / np.where(safe, denom, 1.0), 0.0)
    base = (sy - amp * sx) / sw
    rss = (counts * (means - base[..., None] - amp[..., None] * s) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmin(rss), rss.shape)
    best = np.array([base[i, j], amp[i, j], mids[i], widths[j]])
    best_rss = float(rss[i, j])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            polished, _ = optimize.curve_fit(
                logistic,
                x,
                means,
                p0=best,
                sigma=1 / np.sqrt(counts),
                bounds=([-np.inf, -np.inf, mid_lo, w_lo], [np.inf, np.inf, mid_hi, w_hi]),
                maxfev=2000,
            )
        polished_rss = float((counts * (means - logistic(x, *polished)) ** 2).sum())
        if polished_rss < best_rss:
            best, best_rss = polished, polished_rss
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        pass
    return best, best_rss


def fit_logistic(levels: Sequence[float], values: Any) -> dict[str, Any]:
    """Least-squares logistic of ``values`` (K, N) against ``levels`` (K,).

    Fitting every prompt's value is the same as a count-weighted fit of the level means plus
    the (fixed) within-level sum of squares, which is what is done. The midpoint is bounded to
    the tested range widened by half its span on each side, the width to [0.05 x level step,
    2 x span]. Returns ``params`` (baseline, amplitude, midpoint, width), ``jump`` (the fitted
    change from the lowest to the highest level) and rss/n/k/loglik/aic/bic (k = 5).
    """
    x, y = _as_level_table(levels, values)
    xk, means, counts, within = _moments(x, y)
    params, between = _logistic_on_means(xk, means, counts)
    names = ("baseline", "amplitude", "midpoint", "width")
    fitted = logistic(np.array([x[0], x[-1]]), *params)
    return {
        "params": dict(zip(names, map(float, params), strict=True)),
        "jump": float(fitted[1] - fitted[0]),
        **_information(within + between, int(counts.sum()), 5),
    }


def fit_linear(levels: Sequence[float], values: Any) -> dict[str, Any]:
    """Least-squares straight line of ``values`` (K, N) against ``levels`` (K,) (k = 3)."""
    x, y = _as_level_table(levels, values)
    xk, means, counts, within = _moments(x, y)
    slope, intercept = np.polyfit(xk, means, 1, w=np.sqrt(counts))
    between = float((counts * (means - intercept - slope * xk) ** 2).sum())
    return {
        "params": {"intercept": float(intercept), "slope": float(slope)},
        "jump": float(slope * (x[-1] - x[0])),
        **_information(within + between, int(counts.sum()), 3),
    }


# --- flat, line and logistic, fitted to many level-mean tables at once ----------------------

#: Parameters of each model compared by :func:`batch_fits` (the noise variance included).
MODEL_PARAMETERS: dict[str, int] = {"flat": 2, "line": 3, "logistic": 5}
#: Midpoints and widths of the logistic grid of :func:`batch_fits`.
GRID_SHAPE: tuple[int, int] = (121, 40)


def _bic(rss: np.ndarray, n: float, k: int) -> np.ndarray:
    rss = np.maximum(rss, 1e-300)
    return k * math.log(n) + n * (np.log(2 * math.pi * rss / n) + 1)


def _weighted_moments(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Weighted covariance of ``a`` and ``b`` over the last axis (``w`` sums to 1)."""
    return (w * a * b).sum(-1) - (w * a).sum(-1) * (w * b).sum(-1)


def batch_fits(
    levels: Sequence[float], means: Any, counts: Any, within: Any
) -> dict[str, np.ndarray]:
    """Flat, line and logistic least-squares fits of many level-mean tables at once.

    A least-squares fit to every item equals a count-weighted fit to the level means plus the
    within-level sum of squares, so only ``means`` (B, K), ``counts`` (K,) and ``within`` (B,)
    are needed. The logistic is the best point of a grid of :data:`GRID_SHAPE` (midpoint,
    width) pairs, with baseline and amplitude solved exactly at each (midpoint range: the
    tested range widened by half its span each side; width 0.05 level steps to 2 spans,
    geometric). Returns (B,) arrays: ``bic_flat``, ``bic_line``, ``bic_logistic`` (Gaussian
    likelihood, k of :data:`MODEL_PARAMETERS`), ``mean``, ``slope``, ``intercept``,
    ``change`` (the line's change over the range), ``baseline``, ``amplitude``,
    ``midpoint``, ``width`` and ``jump`` (the logistic's change from the first to the last
    level).
    """
    x = np.asarray(levels, dtype=float)
    y = np.atleast_2d(np.asarray(means, dtype=float))
    c = np.asarray(counts, dtype=float)
    n = float(c.sum())
    w = c / n
    (mid_lo, mid_hi), (w_lo, w_hi) = _fit_bounds(x)
    mids = np.linspace(mid_lo, mid_hi, GRID_SHAPE[0])
    widths = np.geomspace(w_lo, w_hi, GRID_SHAPE[1])
    s = special.expit((x[None, None, :] - mids[:, None, None]) / widths[None, :, None])
    var_y = _weighted_moments(w, y, y)  # (B,)
    mean = (w * y).sum(-1)
    var_x = _weighted_moments(w, x, x)
    cov_xy = _weighted_moments(w, y, x[None, :])
    slope = cov_xy / var_x
    var_s = _weighted_moments(w, s, s)  # (M, W)
    mean_s = (w * s).sum(-1)
    cov_sy = np.einsum("k,mwk,bk->bmw", w, s, y) - mean_s[None] * mean[:, None, None]
    safe = var_s > 1e-12
    explained = np.where(safe, cov_sy**2 / np.where(safe, var_s, 1.0), 0.0)
    flat_index = np.argmax(explained.reshape(y.shape[0], -1), axis=1)
    i, j = np.unravel_index(flat_index, var_s.shape)
    rows = np.arange(y.shape[0])
    amplitude = cov_sy[rows, i, j] / np.where(safe[i, j], var_s[i, j], 1.0)
    baseline = mean - amplitude * mean_s[i, j]
    within = np.asarray(within, dtype=float)
    rss_flat = within + n * var_y
    rss_line = within + n * np.maximum(var_y - cov_xy**2 / var_x, 0.0)
    rss_logistic = within + n * np.maximum(var_y - explained[rows, i, j], 0.0)
    ends = special.expit((x[[0, -1]][None, :] - mids[i][:, None]) / widths[j][:, None])
    return {
        "bic_flat": _bic(rss_flat, n, MODEL_PARAMETERS["flat"]),
        "bic_line": _bic(rss_line, n, MODEL_PARAMETERS["line"]),
        "bic_logistic": _bic(rss_logistic, n, MODEL_PARAMETERS["logistic"]),
        "mean": mean,
        "slope": slope,
        "intercept": mean - slope * (w * x).sum(),
        "change": slope * (x[-1] - x[0]),
        "baseline": baseline,
        "amplitude": amplitude,
        "midpoint": mids[i],
        "width": widths[j],
        "jump": amplitude * (ends[:, 1] - ends[:, 0]),
    }


def _valid_rows(y: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(np.isfinite(row)) for row in y]


def _table_moments(
    y: np.ndarray, index: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level means (B, K), within-level sums of squares (B,) and variances (B, K) of the items
    ``index[k]`` (B, n_k) of each level of ``y`` (K, N)."""
    means, variances, within = [], [], 0.0
    for k, idx in enumerate(index):
        draws = y[k][idx]  # (B, n_k)
        m = draws.mean(axis=-1)
        ss = ((draws - m[:, None]) ** 2).sum(axis=-1)
        means.append(m)
        variances.append(ss / max(draws.shape[-1] - 1, 1))
        within = within + ss
    return np.stack(means, -1), np.asarray(within), np.stack(variances, -1)


def _susceptibility_ratio(
    chi: np.ndarray, levels: np.ndarray, midpoint: float
) -> tuple[np.ndarray, list[int]]:
    """(B,) ratio of the larger susceptibility of the two levels bracketing ``midpoint`` to
    the mean of the two end levels', and those two level indices (NaN ratio when a
    bracketing level is an end level or the midpoint lies outside the range)."""
    above = int(np.searchsorted(levels, midpoint, side="right"))
    near = [above - 1, above]
    if above - 1 < 1 or above > levels.size - 2:
        return np.full(chi.shape[0], np.nan), near
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = chi[:, near].max(axis=1) / chi[:, [0, -1]].mean(axis=1)
    return ratio, near


#: Fewest levels (each with at least two items) :func:`transition_statistics` works with.
MIN_LEVELS = 4


def _model_summary(fits: dict[str, np.ndarray]) -> dict[str, Any]:
    """The point fits (B = 1) of :func:`batch_fits` as plain numbers, BICs and their gaps."""
    point = {k: float(v[0]) for k, v in fits.items()}
    bic = {m: point[f"bic_{m}"] for m in MODEL_PARAMETERS}
    return {
        "bic": bic,
        "best": min(bic, key=bic.get),
        "delta_bic": {
            "line_minus_logistic": bic["line"] - bic["logistic"],
            "flat_minus_logistic": bic["flat"] - bic["logistic"],
            "flat_minus_line": bic["flat"] - bic["line"],
        },
        "flat": {"mean": point["mean"]},
        "line": {"intercept": point["intercept"], "slope": point["slope"]},
        "logistic": {k: point[k] for k in ("baseline", "amplitude", "midpoint", "width")},
        "jump": point["jump"],
        "change": point["change"],
    }


def _null_summary(
    x: np.ndarray, null: np.ndarray, counts: np.ndarray, observed: dict[str, Any], ci: float
) -> dict[str, Any]:
    """Jumps of the null sweeps (one per surrogate, fitted like the observed sweep), the
    observed jump's and change's z against them, and the null's per-level band."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(null, axis=2)  # (S, K)
        within = np.nansum((null - means[:, :, None]) ** 2, axis=(1, 2))
    fits = batch_fits(x, means, counts, within)
    out: dict[str, Any] = {"n_sweeps": int(null.shape[0])}
    for key in ("jump", "change"):
        draws = fits[key][np.isfinite(fits[key])]
        centre = float(draws.mean()) if draws.size else math.nan
        spread = float(draws.std(ddof=1)) if draws.size > 1 else math.nan
        z = (observed[key] - centre) / spread if spread > 0 else math.nan
        out[key] = {
            "values": [float(v) for v in fits[key]],
            "mean": centre,
            "sd": spread,
            "z": float(z),
        }
    band = percentile_interval(means, ci, axis=0)
    out["band"] = {"low": [float(v) for v in band[:, 0]], "high": [float(v) for v in band[:, 1]]}
    out["level_mean"] = [float(v) for v in np.nanmean(means, axis=0)]
    return out


def _bootstrap_rule(
    x: np.ndarray,
    y: np.ndarray,
    null_mean: np.ndarray | None,
    midpoint: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Resample items within levels; fit every resample (and the same resample of the
    null-mean sweep); per resample the BIC-best model, midpoint, jump, change, excess jump
    and change over the null, the susceptibility peak and the near-midpoint ratio."""
    valid = _valid_rows(y)
    index = [v[rng.integers(0, v.size, size=(n_bootstrap, v.size))] for v in valid]
    counts = np.array([v.size for v in valid], dtype=float)
    means, within, chi = _table_moments(y, index)
    fits = batch_fits(x, means, counts, within)
    bics = np.stack([fits[f"bic_{m}"] for m in MODEL_PARAMETERS])
    out = {
        "best": np.argmin(bics, axis=0),
        "midpoint": fits["midpoint"],
        "jump": fits["jump"],
        "change": fits["change"],
        "peak": x[np.argmax(chi, axis=1)],
        "ratio": _susceptibility_ratio(chi, x, midpoint)[0],
    }
    if null_mean is not None:
        n_means, n_within, _ = _table_moments(null_mean, index)
        null_fits = batch_fits(x, n_means, counts, n_within)
        out["excess_jump"] = fits["jump"] - null_fits["jump"]
        out["excess_change"] = fits["change"] - null_fits["change"]
    return out


def _interval(draws: np.ndarray, ci: float) -> list[float]:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return [math.nan, math.nan]
    return [float(v) for v in percentile_interval(draws, ci)]


def transition_statistics(
    levels: Sequence[float],
    values: Any,
    null_values: Any = None,
    *,
    n_bootstrap: int = 1000,
    ci_level: float = CI_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """Every number the claim-3 rule reads, for one order parameter of one sweep.

    Args:
        levels: (K,) increasing difficulty levels.
        values: (K, N) order parameter per level and item (NaN = item not analysed).
        null_values: (S, K, N) the same under each of S surrogates (a null sweep per
            surrogate, fitted exactly like the observed one), or None.
        n_bootstrap: resamples of the items within each level.

    Levels with fewer than two items are dropped (``dropped_levels``); with fewer than
    :data:`MIN_LEVELS` left the result has ``testable`` False and a ``reason``. Otherwise:
    ``order`` (:func:`level_statistics`); ``models`` (flat, line and logistic fits of
    :func:`batch_fits`, their BICs, the best, the gaps); ``bootstrap`` (the share of resamples
    in which each model has the lowest BIC, percentile intervals of the midpoint, jump and
    change); ``susceptibility`` (per-level variance, the interval of the level where it peaks
    over resamples, and the ratio of the larger variance of the two levels bracketing the
    midpoint to the mean of the two end levels', with its interval); ``null`` (the null
    sweeps' jumps and changes with the observed z-scores, the per-level band, and intervals of
    the observed jump and change minus those of the null-mean sweep under the same
    resampling), or None.
    """
    x, y = _as_level_table(levels, values)
    keep = np.isfinite(y).sum(axis=1) >= 2
    out: dict[str, Any] = {
        "levels": x[keep].tolist(),
        "dropped_levels": x[~keep].tolist(),
        "n_items": [int(v) for v in np.isfinite(y[keep]).sum(axis=1)],
        "ci_level": ci_level,
        "n_bootstrap": n_bootstrap,
    }
    if keep.sum() < MIN_LEVELS:
        return {**out, "testable": False, "reason": f"fewer than {MIN_LEVELS} levels with data"}
    x, y = x[keep], y[keep]
    null = None if null_values is None else np.asarray(null_values, dtype=float)[:, keep]
    valid = _valid_rows(y)
    counts = np.array([v.size for v in valid], dtype=float)
    means, within, _ = _table_moments(y, [v[None, :] for v in valid])
    models = _model_summary(batch_fits(x, means, counts, within))
    midpoint = models["logistic"]["midpoint"]
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        null_mean = None if null is None else np.nanmean(null, axis=0)
    boot = _bootstrap_rule(x, y, null_mean, midpoint, n_bootstrap, rng)
    order = level_statistics(x, y, n_bootstrap, ci_level, seed)
    chi = np.asarray(order["variance"], dtype=float)
    ratio, near = _susceptibility_ratio(chi[None, :], x, midpoint)
    out.update(testable=True, order=order, models=models)
    out["bootstrap"] = {
        "best_share": {
            m: float(np.mean(boot["best"] == i)) for i, m in enumerate(MODEL_PARAMETERS)
        },
        "midpoint_ci": _interval(boot["midpoint"], ci_level),
        "jump_ci": _interval(boot["jump"], ci_level),
        "change_ci": _interval(boot["change"], ci_level),
    }
    out["susceptibility"] = {
        "values": chi.tolist(),
        "peak_level": float(x[int(np.nanargmax(chi))]) if np.isfinite(chi).any() else math.nan,
        "peak_level_ci": _interval(boot["peak"], ci_level),
        "near_levels": [float(x[i]) for i in near if 0 <= i < x.size],
        "ratio": float(ratio[0]),
        "ratio_ci": _interval(boot["ratio"], ci_level),
    }
    out["null"] = None
    if null is not None and null.shape[0] >= 2:
        out["null"] = _null_summary(x, null, counts, models, ci_level)
        out["null"]["excess_jump_ci"] = _interval(boot["excess_jump"], ci_level)
        out["null"]["excess_change_ci"] = _interval(boot["excess_change"], ci_level)
    return out
