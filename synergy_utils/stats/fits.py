"""Fits of a quantity against a control parameter: logistic versus straight line.

Inputs are ``levels`` (K,) increasing values of the control parameter (e.g. task difficulty)
and ``values`` (K, N): one value per level and item, NaN for a missing item. A logistic
(baseline, amplitude, midpoint, width) and a line are fitted by least squares and compared by
BIC; :func:`bootstrap_logistic` resamples items within levels for intervals.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, special, stats

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


def compare_fits(levels: Sequence[float], values: Any) -> dict[str, Any]:
    """Logistic vs straight line: both fits, ΔBIC and ΔAIC (line minus logistic; positive
    favours the logistic) and an approximate F-test of the two extra parameters (the line is
    the logistic's wide-width limit, so nesting holds only approximately)."""
    logi, line = fit_logistic(levels, values), fit_linear(levels, values)
    n = logi["n"]
    df_num, df_den = 2, n - 4
    if df_den > 0 and logi["rss"] > 0:
        f_stat = max(0.0, (line["rss"] - logi["rss"]) / df_num / (logi["rss"] / df_den))
        p_value = float(stats.f.sf(f_stat, df_num, df_den))
    else:
        f_stat, p_value = float("nan"), float("nan")
    return {
        "logistic": logi,
        "linear": line,
        "delta_bic": line["bic"] - logi["bic"],
        "delta_aic": line["aic"] - logi["aic"],
        "f_test": {"f": f_stat, "df": [df_num, df_den], "p_value": p_value},
    }


def bootstrap_logistic(
    levels: Sequence[float],
    values: Any,
    n_bootstrap: int = 1000,
    ci_level: float = CI_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """Bootstrap the logistic fit, resampling prompts with replacement within each level.

    Returns the samples (``midpoint``, ``width``, ``jump``, each (n_bootstrap,)) and their
    percentile CIs (``midpoint_ci``, ``width_ci``, ``jump_ci``).
    """
    x, y = _as_level_table(levels, values)
    rng = np.random.default_rng(seed)
    rows = [row[np.isfinite(row)] for row in y]
    keep = np.array([r.size > 0 for r in rows])
    xk = x[keep]
    counts = np.array([r.size for r in rows if r.size], dtype=float)
    samples = {k: np.full(n_bootstrap, np.nan) for k in ("midpoint", "width", "jump")}
    for b in range(n_bootstrap):
        means = np.array([r[rng.integers(0, r.size, r.size)].mean() for r in rows if r.size])
        params, _ = _logistic_on_means(xk, means, counts)
        samples["midpoint"][b], samples["width"][b] = params[2], params[3]
        ends = logistic(np.array([x[0], x[-1]]), *params)
        samples["jump"][b] = ends[1] - ends[0]
    out: dict[str, Any] = {"n_bootstrap": n_bootstrap, "ci_level": ci_level, "samples": samples}
    for key, draws in samples.items():
        out[f"{key}_ci"] = [float(v) for v in percentile_interval(draws, ci_level)]
    return out


def fit_transition(
    levels: Sequence[float],
    values: Any,
    n_bootstrap: int = 1000,
    ci_level: float = CI_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """Logistic vs line (:func:`compare_fits`) plus bootstrap CIs of midpoint, width, jump.

    Args:
        levels: (K,) increasing difficulty levels.
        values: (K, N) order parameter per level and prompt (NaN = missing).
    """
    x, _ = _as_level_table(levels, values)
    comparison = compare_fits(levels, values)
    boot = bootstrap_logistic(levels, values, n_bootstrap, ci_level, seed)
    params = comparison["logistic"]["params"]
    return {
        "levels": x.tolist(),
        **comparison,
        "midpoint": {"value": params["midpoint"], "ci": boot["midpoint_ci"]},
        "width": {"value": params["width"], "ci": boot["width_ci"]},
        "jump": {"value": comparison["logistic"]["jump"], "ci": boot["jump_ci"]},
        "n_bootstrap": n_bootstrap,
        "ci_level": ci_level,
    }
