"""Does the synergistic core appear as a phase transition when tasks get harder?

The control parameter is task difficulty (a number from :mod:`synergy_utils.tasks`, or the
rank of a prompt category). For every difficulty level the model generates answers to
``n_per_level`` prompts while the per-head time series are recorded; all-pairs PhiID then
gives each head a synergy (``sts``) and a redundancy (``rtr``) score **per prompt**.

Order parameters, one value per prompt (the gradient is computed from that prompt's own head
scores, not from scores averaged over prompts, so that they have an across-prompt spread):

``middle_minus_outer``
    rank gradient of the prompt's head scores (Luppi: rank(sts) - rank(rtr)), averaged per
    layer and min-max scaled to [0, 1] (the layer profile); then the mean of the middle third
    of the layers minus the mean of the outer two thirds (:func:`analysis.inverted_u`).
    Range [-1, 1]; positive = inverted U.
``middle_sts_share``
    the share of the total head ``sts`` carried by heads in the middle third of the layers
    (about 1/3 when synergy is spread evenly over depth).

Per level: the mean of each order parameter with a bootstrap CI over prompts, its
across-prompt variance (*susceptibility*, which peaks at a critical point in physical
systems), and the task accuracy with a Wilson CI. Against difficulty: a logistic fit
(baseline, amplitude, midpoint, width) and a straight line, compared by BIC; a bootstrap over
prompts within levels for the midpoint and width; a circular-shift null band (each head's
series rotated by its own random offset, which keeps every head's autocorrelation and
destroys the alignment between heads); and the same sweep on a randomised model.

:func:`transition_verdict` applies the decision rule :data:`RULE`.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import optimize, special, stats

from .results import load_dataset, save_dataset
from .tasks import CATEGORY_FAMILY, FAMILIES, Task, check_answer, generate_tasks, parse_answer

#: A logistic must beat a straight line by more than this many BIC units ("strong" evidence
#: on the Kass-Raftery scale).
DELTA_BIC_THRESHOLD = 6.0
#: Confidence level of every interval in this module.
CI_LEVEL = 0.95
#: The order parameters, with a short description for tables and plots.
ORDER_PARAMETERS: dict[str, str] = {
    "middle_minus_outer": "middle-third minus outer-thirds mean of the scaled gradient profile",
    "middle_sts_share": "share of total sts carried by middle-third heads",
}
#: Axis labels with units.
ORDER_PARAMETER_LABELS: dict[str, str] = {
    "middle_minus_outer": "middle minus outer thirds\n(scaled gradient, range −1 to 1)",
    "middle_sts_share": "middle-third share of sts\n(fraction of total)",
}
#: Readable names of the rule's criteria, numbered as in :data:`RULE`.
CRITERIA_LABELS: dict[str, str] = {
    "sigmoid_beats_line": "(1) logistic beats line by ΔBIC",
    "jump_exceeds_null": "(2) change exceeds null band",
    "midpoint_ci_in_range": "(3) midpoint CI inside tested range",
    "susceptibility_peak_near_midpoint": "(4) susceptibility peak near midpoint",
}
#: The order parameter the verdict is based on.
PRIMARY_ORDER_PARAMETER = "middle_minus_outer"

RULE = (
    "A transition is supported only if all four hold: (1) a logistic curve of the order "
    "parameter against difficulty beats a straight line by ΔBIC = BIC(line) − BIC(logistic) "
    f"> {DELTA_BIC_THRESHOLD:g}; (2) the change of the fitted logistic across the tested "
    "range exceeds the width of the circular-shift null band (the central "
    f"{CI_LEVEL:.0%} of the null's level means, pooled over levels); (3) the "
    f"{CI_LEVEL:.0%} bootstrap CI of the midpoint (prompts resampled within levels) lies "
    "inside the tested range; (4) the susceptibility (across-prompt variance) peaks inside "
    "that CI or at most one tested level away from the level nearest the midpoint."
)


# --- per-level summaries --------------------------------------------------------------


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


def _percentile_ci(samples: np.ndarray, ci: float, axis: int = 0) -> tuple[Any, Any]:
    tail = 100 * (1 - ci) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(samples, [tail, 100 - tail], axis=axis)
    return low, high


def level_statistics(
    levels: Sequence[float],
    values: Any,
    n_bootstrap: int = 1000,
    ci: float = CI_LEVEL,
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
        out["ci_low"][k], out["ci_high"][k] = _percentile_ci(draws.mean(axis=1), ci)
        if valid.size >= 2:
            out["variance"][k] = valid.var(ddof=1)
            lo, hi = _percentile_ci(draws.var(axis=1, ddof=1), ci)
            out["variance_ci_low"][k], out["variance_ci_high"][k] = lo, hi
    return out


def wilson_interval(successes: int, n: int, ci: float = CI_LEVEL) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ((NaN, NaN) for n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + ci / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # the interval always contains p; clip rounding error at the ends
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def accuracy_statistics(correct: Any, ci: float = CI_LEVEL) -> dict[str, np.ndarray]:
    """Per-level accuracy with Wilson CIs from a (K, N) array of 1/0 (NaN = not checkable)."""
    table = np.asarray(correct, dtype=float)
    out = {k: np.full(table.shape[0], np.nan) for k in ("accuracy", "ci_low", "ci_high")}
    out["n"] = np.zeros(table.shape[0], dtype=int)
    for k, row in enumerate(table):
        valid = row[np.isfinite(row)]
        out["n"][k] = valid.size
        if valid.size:
            out["accuracy"][k] = valid.mean()
            out["ci_low"][k], out["ci_high"][k] = wilson_interval(int(valid.sum()), valid.size, ci)
    return out


# --- logistic vs linear -----------------------------------------------------------------


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
    ci: float = CI_LEVEL,
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
    out: dict[str, Any] = {"n_bootstrap": n_bootstrap, "ci_level": ci, "samples": samples}
    for key, draws in samples.items():
        out[f"{key}_ci"] = [float(v) for v in _percentile_ci(draws, ci)]
    return out


def fit_transition(
    levels: Sequence[float],
    values: Any,
    n_bootstrap: int = 1000,
    ci: float = CI_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """Logistic vs line (:func:`compare_fits`) plus bootstrap CIs of midpoint, width, jump.

    Args:
        levels: (K,) increasing difficulty levels.
        values: (K, N) order parameter per level and prompt (NaN = missing).
    """
    x, _ = _as_level_table(levels, values)
    comparison = compare_fits(levels, values)
    boot = bootstrap_logistic(levels, values, n_bootstrap, ci, seed)
    params = comparison["logistic"]["params"]
    return {
        "levels": x.tolist(),
        **comparison,
        "midpoint": {"value": params["midpoint"], "ci": boot["midpoint_ci"]},
        "width": {"value": params["width"], "ci": boot["width_ci"]},
        "jump": {"value": comparison["logistic"]["jump"], "ci": boot["jump_ci"]},
        "n_bootstrap": n_bootstrap,
        "ci_level": ci,
    }


# --- null band and the verdict -------------------------------------------------------------


def null_band(null_values: Any, ci: float = CI_LEVEL) -> dict[str, Any]:
    """The circular-shift null band of a level-mean order parameter.

    Args:
        null_values: (K, S, N) order parameter per level, shuffle and prompt under the null.

    Returns:
        ``low``/``high`` (K,) per-level band of the null's level means across shuffles;
        ``pooled`` [low, high], the central ``ci`` of all null level means (levels and
        shuffles pooled, so any drift of the null with difficulty widens it); ``width`` of the
        pooled band; ``mean`` (K,).
    """
    table = np.asarray(null_values, dtype=float)
    if table.ndim != 3:
        raise ValueError(f"null_values must be (levels, shuffles, prompts), got {table.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level_means = np.nanmean(table, axis=2)  # (K, S)
    low, high = _percentile_ci(level_means, ci, axis=1)
    pooled = _percentile_ci(level_means.ravel(), ci)
    return {
        "low": np.asarray(low),
        "high": np.asarray(high),
        "mean": np.nanmean(level_means, axis=1),
        "pooled": [float(pooled[0]), float(pooled[1])],
        "width": float(pooled[1] - pooled[0]),
        "ci_level": ci,
        "n_shuffles": int(table.shape[1]),
    }


def _criterion(passed: bool, **numbers: Any) -> dict[str, Any]:
    return {"passed": bool(passed), **numbers}


def transition_verdict(
    fit: Mapping[str, Any],
    null: Mapping[str, Any] | None,
    susceptibility: Sequence[float],
    *,
    delta_bic_threshold: float = DELTA_BIC_THRESHOLD,
) -> dict[str, Any]:
    """Apply :data:`RULE` to a :func:`fit_transition` result, a :func:`null_band` (None when
    no null was computed: criterion 2 then fails as untested) and the (K,) susceptibility.

    Returns ``supported`` (bool), ``criteria`` (each with ``passed`` and its numbers),
    ``critical_difficulty`` ({value, ci} if supported, else None) and the ``rule``.
    """
    levels = np.asarray(fit["levels"], dtype=float)
    chi = np.asarray(susceptibility, dtype=float)
    if chi.shape != levels.shape:
        raise ValueError(f"susceptibility has shape {chi.shape}, levels {levels.shape}")
    mid = float(fit["midpoint"]["value"])
    mid_lo, mid_hi = (float(v) for v in fit["midpoint"]["ci"])
    jump = float(fit["jump"]["value"])
    criteria: dict[str, Any] = {}
    criteria["sigmoid_beats_line"] = _criterion(
        fit["delta_bic"] > delta_bic_threshold,
        delta_bic=float(fit["delta_bic"]),
        threshold=delta_bic_threshold,
    )
    if null is None:
        criteria["jump_exceeds_null"] = _criterion(
            False, jump=jump, null_width=None, note="no null computed"
        )
    else:
        criteria["jump_exceeds_null"] = _criterion(
            abs(jump) > null["width"], jump=jump, null_width=float(null["width"])
        )
    finite_ci = math.isfinite(mid_lo) and math.isfinite(mid_hi)
    criteria["midpoint_ci_in_range"] = _criterion(
        finite_ci and levels[0] <= mid_lo and mid_hi <= levels[-1],
        midpoint=mid,
        ci=[mid_lo, mid_hi],
        tested_range=[levels[0], levels[-1]],
    )
    if np.all(~np.isfinite(chi)):
        criteria["susceptibility_peak_near_midpoint"] = _criterion(
            False, peak_level=None, note="no susceptibility"
        )
    else:
        peak = int(np.nanargmax(chi))
        nearest = int(np.argmin(np.abs(levels - mid)))
        inside = bool(finite_ci and mid_lo <= levels[peak] <= mid_hi)
        adjacent = abs(peak - nearest) <= 1
        criteria["susceptibility_peak_near_midpoint"] = _criterion(
            inside or adjacent,
            peak_level=float(levels[peak]),
            level_nearest_midpoint=float(levels[nearest]),
            inside_midpoint_ci=inside,
            within_one_level=adjacent,
        )
    supported = all(c["passed"] for c in criteria.values())
    return {
        "supported": supported,
        "criteria": criteria,
        "critical_difficulty": {"value": mid, "ci": [mid_lo, mid_hi]} if supported else None,
        "rule": RULE,
    }


# --- order parameters from head scores -------------------------------------------------


def middle_third(n_layers: int) -> np.ndarray:
    """(L,) bool: the middle third of the layers, as :func:`analysis.thirds` cuts them."""
    from .analysis import thirds

    mask = np.zeros(n_layers, dtype=bool)
    mask[thirds(n_layers)[1]] = True
    return mask


def order_parameters(sts: Any, rtr: Any, method: str = "luppi") -> dict[str, np.ndarray]:
    """Per-prompt order parameters from per-prompt head scores.

    Args:
        sts, rtr: (P, L, H) each head's synergy / redundancy score for each prompt.
        method: gradient form of :func:`analysis.synergy_gradient` ("luppi" ranks each atom).

    Returns:
        ``profile`` (P, L) scaled layer profile of each prompt's gradient,
        ``middle_minus_outer`` (P,) and ``middle_sts_share`` (P,).
    """
    from . import analysis

    sts, rtr = np.asarray(sts, dtype=float), np.asarray(rtr, dtype=float)
    if sts.shape != rtr.shape or sts.ndim != 3:
        raise ValueError(f"sts and rtr must both be (P, L, H), got {sts.shape} and {rtr.shape}")
    n_prompts, n_layers, _ = sts.shape
    middle = middle_third(n_layers)
    profile = np.full((n_prompts, n_layers), np.nan)
    inverted_u = np.full(n_prompts, np.nan)
    for p in range(n_prompts):
        if not (np.isfinite(sts[p]).any() and np.isfinite(rtr[p]).any()):
            continue
        gradient = np.asarray(analysis.synergy_gradient(sts[p], rtr[p], method=method))
        profile[p] = np.asarray(analysis.layer_profile(gradient), dtype=float)
        inverted_u[p] = float(analysis.inverted_u(profile[p]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        total = np.nansum(sts, axis=(1, 2))
        share = np.nansum(sts[:, middle], axis=(1, 2)) / np.where(total > 0, total, np.nan)
    return {"profile": profile, "middle_minus_outer": inverted_u, "middle_sts_share": share}


def _head_scores(values: np.ndarray, tau: int, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    from . import analysis

    scores = analysis.head_atom_scores(
        values,
        tau=tau,
        estimator=estimator,
        atoms=("sts", "rtr"),
        progress=False,
        include_tdmi=False,
    )
    sts = scores["sts"].transpose("prompt", "layer", "head").values
    rtr = scores["rtr"].transpose("prompt", "layer", "head").values
    return np.asarray(sts, dtype=float), np.asarray(rtr, dtype=float)


def analyse_level(
    values: Any,
    *,
    tau: int = 1,
    estimator: str = "gaussian",
    method: str = "luppi",
    n_shuffles: int = 0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Head scores and order parameters of one level's series, plus circular-shift nulls.

    Args:
        values: (P, T, L, H) per-head series of the level's prompts.

    Returns:
        ``sts``, ``rtr`` (P, L, H); ``profile`` (P, L); ``middle_minus_outer``,
        ``middle_sts_share`` (P,); ``null_middle_minus_outer``, ``null_middle_sts_share``
        (S, P) for ``n_shuffles`` = S circular-shift surrogates.
    """
    values = np.asarray(values)
    if values.ndim != 4:
        raise ValueError(f"values must be (P, T, L, H), got shape {values.shape}")
    from .analysis import circular_shift

    sts, rtr = _head_scores(values, tau, estimator)
    out = {"sts": sts, "rtr": rtr, **order_parameters(sts, rtr, method)}
    rng = np.random.default_rng(seed)
    n_prompts = values.shape[0]
    for name in ORDER_PARAMETERS:
        out[f"null_{name}"] = np.full((n_shuffles, n_prompts), np.nan)
    for s in range(n_shuffles):
        null_sts, null_rtr = _head_scores(circular_shift(values, rng), tau, estimator)
        null = order_parameters(null_sts, null_rtr, method)
        for name in ORDER_PARAMETERS:
            out[f"null_{name}"][s] = null[name]
    return out


# --- the sweep ---------------------------------------------------------------------------


def level_prompts(
    family: str, level: int, n: int, seed: int = 0
) -> tuple[list[str], list[Task] | None]:
    """The prompts of one level: generated tasks, or for ``"categories"`` the first ``n``
    prompts of the category of rank ``level`` (0..5; no checkable answers, tasks None)."""
    if family == CATEGORY_FAMILY:
        from .prompts import CATEGORIES, select_prompts

        if not 0 <= int(level) < len(CATEGORIES):
            raise ValueError(f"category rank must be in 0..{len(CATEGORIES) - 1}, got {level}")
        return [text for _, text in select_prompts(n, [CATEGORIES[int(level)]])], None
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES + (CATEGORY_FAMILY,)}")
    tasks = generate_tasks(family, level, n, seed)
    return [t.prompt for t in tasks], tasks


def _level_dataset(
    level: int,
    prompts: list[str],
    tasks: list[Task] | None,
    texts: list[str],
    analysed: dict[str, np.ndarray],
) -> xr.Dataset:
    n = len(prompts)
    if tasks is None:
        answers, parsed, correct = [""] * n, [""] * n, np.full(n, np.nan)
    else:
        answers = [t.answer for t in tasks]
        parsed = [parse_answer(x, t.family) or "" for t, x in zip(tasks, texts, strict=True)]
        correct = np.array([float(check_answer(t, x)) for t, x in zip(tasks, texts, strict=True)])
    item = ("item",)
    data = {
        "prompt": (item, np.array(prompts, dtype=str)),
        "answer": (item, np.array(answers, dtype=str)),
        "text": (item, np.array(texts, dtype=str)),
        "parsed": (item, np.array(parsed, dtype=str)),
        "correct": (item, correct),
        "sts": (("item", "layer", "head"), analysed["sts"]),
        "rtr": (("item", "layer", "head"), analysed["rtr"]),
        "profile": (("item", "layer"), analysed["profile"]),
    }
    for name in ORDER_PARAMETERS:
        data[name] = (item, analysed[name])
        data[f"null_{name}"] = (("shuffle", "item"), analysed[f"null_{name}"])
    ds = xr.Dataset(data, coords={"item": np.arange(n)})
    return ds.expand_dims(level=[int(level)])


def run_phase_sweep(
    model: Any,
    tokenizer: Any,
    family: str,
    levels: Sequence[int] | None = None,
    n_per_level: int = 10,
    max_new_tokens: int = 48,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    *,
    n_shuffles: int = 0,
    tau: int = 1,
    estimator: str = "gaussian",
    method: str = "luppi",
    batch_size: int = 8,
    template: str = "auto",
) -> xr.Dataset:
    """Generate, record, score and summarise every difficulty level of ``family``.

    For each level: ``n_per_level`` prompts (:func:`level_prompts`), greedy generation of
    ``max_new_tokens`` tokens with per-head series recorded (L2 norm of each head's attention
    output, :func:`extraction.record_head_series`), the replies checked against the answers,
    per-prompt head scores (:func:`analysis.head_atom_scores`, all pairs, lag ``tau``), the
    order parameters, and ``n_shuffles`` circular-shift surrogates of the order parameters.

    With ``cache_dir`` each finished level is saved there (keyed on the model's weights, the
    family, level and every setting) and reused, so an interrupted sweep resumes.

    Returns:
        Dataset with dims (level, item[, layer, head, shuffle]): text variables ``prompt``,
        ``answer``, ``text``, ``parsed``; ``correct`` (1/0, NaN for categories); ``sts``,
        ``rtr`` (level, item, layer, head); ``profile`` (level, item, layer); each order
        parameter (level, item) and its null (level, shuffle, item). Settings in ``attrs``.
    """
    from tqdm import tqdm

    from .extraction import model_fingerprint, netcdf_engine, record_head_series

    levels = [int(v) for v in (levels if levels else _default_levels(family))]
    if n_per_level < 2:
        raise ValueError("n_per_level must be >= 2 (the susceptibility is a variance)")
    settings = {
        "family": family,
        "n_per_level": n_per_level,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "n_shuffles": n_shuffles,
        "tau": tau,
        "estimator": estimator,
        "method": method,
        "template": template,
    }
    fingerprint = model_fingerprint(model)
    cache = Path(cache_dir) if cache_dir is not None else None
    parts = []
    for level in tqdm(levels, desc=f"{family} levels", disable=not progress):
        key = hashlib.sha1(
            json.dumps({**settings, "level": level, "model": fingerprint}, sort_keys=True).encode()
        ).hexdigest()[:16]
        path = cache / f"phase_{family}_{level}_{key}.nc" if cache else None
        if path is not None and path.exists():
            parts.append(xr.load_dataset(path, engine=netcdf_engine()))
            continue
        prompts, tasks = level_prompts(family, level, n_per_level, seed)
        series = record_head_series(
            model,
            tokenizer,
            prompts,
            max_new_tokens,
            template=template,
            batch_size=batch_size,
            cache_dir=None if cache is None else cache / "series",
            progress=progress,
        )
        analysed = analyse_level(
            series.values,
            tau=tau,
            estimator=estimator,
            method=method,
            n_shuffles=n_shuffles,
            seed=seed + 1000 * level,
        )
        part = _level_dataset(level, prompts, tasks, list(series.texts), analysed)
        if path is not None:
            from .results import atomic_path

            with atomic_path(path) as tmp:
                part.to_netcdf(tmp, engine=netcdf_engine())
        parts.append(part)
    ds = xr.concat(parts, dim="level")
    ds.attrs.update(
        {
            k: json.dumps(v) if not isinstance(v, (int, float, str)) else v
            for k, v in settings.items()
        }
    )
    ds.attrs["model_fingerprint"] = fingerprint
    ds.attrs["model"] = str(getattr(model.config, "name_or_path", ""))
    return ds


#: Sweeps are written and read like every other labelled result file.
save_sweep = save_dataset
load_sweep = load_dataset


def _default_levels(family: str) -> list[int]:
    from .tasks import difficulty_levels

    return difficulty_levels(family)


def parse_levels(levels: str | Sequence[int] | None, family: str) -> list[int]:
    """Levels from a notebook parameter: "" or None = the family's defaults, else "1,2,4"."""
    if levels is None or (isinstance(levels, str) and not levels.strip()):
        return _default_levels(family)
    if isinstance(levels, str):
        try:
            parsed = [int(part) for part in levels.split(",") if part.strip()]
        except ValueError as err:
            raise ValueError(f"levels must be comma-separated integers, got {levels!r}") from err
    else:
        parsed = [int(v) for v in levels]
    if sorted(set(parsed)) != parsed or len(parsed) < 3:
        raise ValueError(f"levels must be at least 3 increasing integers, got {parsed}")
    return parsed


# --- analysis of a sweep -------------------------------------------------------------------


def analyse_sweep(
    ds: xr.Dataset,
    order_parameter: str = PRIMARY_ORDER_PARAMETER,
    *,
    n_bootstrap: int = 1000,
    ci: float = CI_LEVEL,
    seed: int = 0,
    null: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Level statistics, fits, null band and verdict of one order parameter of a sweep.

    The null band comes from the sweep's own circular shifts; ``null`` supplies one (e.g.
    the real model's, for judging the randomised model) when the sweep has none.

    Returns a dict with ``levels``, ``order`` (:func:`level_statistics`), ``accuracy``
    (:func:`accuracy_statistics`), ``fit`` (:func:`fit_transition`), ``null``
    (:func:`null_band`, or None without shuffles) and ``verdict``.
    """
    if order_parameter not in ORDER_PARAMETERS:
        raise ValueError(f"unknown order parameter {order_parameter!r}: {list(ORDER_PARAMETERS)}")
    levels = ds["level"].values.astype(float)
    values = ds[order_parameter].transpose("level", "item").values
    order = level_statistics(levels, values, n_bootstrap, ci, seed)
    fit = fit_transition(levels, values, n_bootstrap, ci, seed)
    null_name = f"null_{order_parameter}"
    has_null = null_name in ds and ds.sizes.get("shuffle", 0) > 0
    if has_null:
        null = null_band(ds[null_name].transpose("level", "shuffle", "item").values, ci)
    verdict = transition_verdict(fit, null, order["variance"])
    return {
        "order_parameter": order_parameter,
        "levels": levels,
        "order": order,
        "accuracy": accuracy_statistics(ds["correct"].transpose("level", "item").values, ci),
        "fit": fit,
        "null": null,
        "verdict": verdict,
    }


def level_profiles(ds: xr.Dataset) -> np.ndarray:
    """(K, L) scaled layer profile per level, from the prompt-averaged gradient of each level
    (scores averaged over the level's prompts first, as in the reference method)."""
    from . import analysis

    method = ds.attrs.get("method", "luppi")
    rows = []
    for level in ds["level"].values:
        part = ds.sel(level=level)
        sts = part["sts"].mean("item").transpose("layer", "head").values
        rtr = part["rtr"].mean("item").transpose("layer", "head").values
        gradient = analysis.synergy_gradient(sts, rtr, method=method)
        rows.append(np.asarray(analysis.layer_profile(gradient), dtype=float))
    return np.array(rows)


def phase_summary(
    ds: xr.Dataset,
    result: Mapping[str, Any],
    *,
    secondary: Mapping[str, Any] | None = None,
    random_result: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``phase`` entry of ``summary.json`` from :func:`analyse_sweep` results.

    Args:
        result: the primary order parameter's analysis; decides ``transition_supported``.
        secondary: the other order parameter's analysis, reported beside it.
        random_result: the same analysis on the randomised model's sweep.
    """
    levels = np.asarray(result["levels"], dtype=float)
    order, acc, fit = result["order"], result["accuracy"], result["fit"]

    def per_level(mean, low, high):
        return [
            {"mean": float(m), "ci": [float(lo), float(hi)]}
            for m, lo, hi in zip(mean, low, high, strict=True)
        ]

    summary: dict[str, Any] = {
        "family": ds.attrs.get("family"),
        "model": ds.attrs.get("model"),
        "difficulty": levels.tolist(),
        "n_per_level": int(ds.sizes["item"]),
        "max_new_tokens": ds.attrs.get("max_new_tokens"),
        "order_parameter_name": result["order_parameter"],
        "order_parameter_definition": ORDER_PARAMETERS[result["order_parameter"]],
        "order_parameter": per_level(order["mean"], order["ci_low"], order["ci_high"]),
        "susceptibility": [float(v) for v in order["variance"]],
        "accuracy": per_level(acc["accuracy"], acc["ci_low"], acc["ci_high"]),
        "critical_difficulty": result["verdict"]["critical_difficulty"],
        "transition_supported": bool(result["verdict"]["supported"]),
        "criteria": result["verdict"]["criteria"],
        "rule": result["verdict"]["rule"],
        "fit": {
            "logistic": fit["logistic"],
            "linear": fit["linear"],
            "delta_bic": fit["delta_bic"],
            "delta_aic": fit["delta_aic"],
            "f_test": fit["f_test"],
            "midpoint": fit["midpoint"],
            "width": fit["width"],
            "jump": fit["jump"],
            "n_bootstrap": fit["n_bootstrap"],
            "ci_level": fit["ci_level"],
        },
        "null_band": None
        if result["null"] is None
        else {
            "pooled": result["null"]["pooled"],
            "width": result["null"]["width"],
            "per_level": [
                [float(lo), float(hi)]
                for lo, hi in zip(result["null"]["low"], result["null"]["high"], strict=True)
            ],
            "n_shuffles": result["null"]["n_shuffles"],
        },
    }
    if secondary is not None:
        so = secondary["order"]
        summary["secondary"] = {
            "order_parameter_name": secondary["order_parameter"],
            "order_parameter": per_level(so["mean"], so["ci_low"], so["ci_high"]),
            "susceptibility": [float(v) for v in so["variance"]],
            "delta_bic": secondary["fit"]["delta_bic"],
            "midpoint": secondary["fit"]["midpoint"],
            "transition_supported": bool(secondary["verdict"]["supported"]),
            "criteria": secondary["verdict"]["criteria"],
        }
    if random_result is not None:
        ro = random_result["order"]
        summary["random_model"] = {
            "order_parameter": per_level(ro["mean"], ro["ci_low"], ro["ci_high"]),
            "delta_bic": random_result["fit"]["delta_bic"],
            "jump": random_result["fit"]["jump"],
            "transition_supported": bool(random_result["verdict"]["supported"]),
        }
    return summary


def _fmt_ci(ci: Sequence[float], digits: int = 2) -> str:
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def verdict_paragraph(summary: Mapping[str, Any]) -> str:
    """A paragraph stating the verdict from a :func:`phase_summary` dict, numbers included."""
    levels = summary["difficulty"]
    order, acc = summary["order_parameter"], summary["accuracy"]
    crit = summary["criteria"]
    lvl = [f"{v:g}" for v in levels]
    parts = [
        f"Task family **{summary['family']}**, difficulty levels {', '.join(lvl)} "
        f"({summary['n_per_level']} prompts each)."
    ]
    if all(a["mean"] is not None and math.isfinite(a["mean"]) for a in acc):
        parts.append(
            f"Accuracy went from {acc[0]['mean']:.0%} (95% CI {_fmt_ci(acc[0]['ci'], 2)}) at "
            f"level {lvl[0]} to {acc[-1]['mean']:.0%} ({_fmt_ci(acc[-1]['ci'], 2)}) at level "
            f"{lvl[-1]}."
        )
    else:
        parts.append("These prompts have no checkable answers, so accuracy is not reported.")
    parts.append(
        f"The order parameter ({summary['order_parameter_definition']}) was "
        f"{order[0]['mean']:.3f} {_fmt_ci(order[0]['ci'], 3)} at the easiest level and "
        f"{order[-1]['mean']:.3f} {_fmt_ci(order[-1]['ci'], 3)} at the hardest."
    )
    c1 = crit["sigmoid_beats_line"]
    parts.append(
        f"A logistic curve {'beat' if c1['passed'] else 'did not beat'} a straight line by "
        f"the rule's margin (ΔBIC = {c1['delta_bic']:.1f}; threshold {c1['threshold']:g})."
    )
    c2 = crit["jump_exceeds_null"]
    if c2.get("null_width") is None:
        parts.append(
            f"Its fitted change over the tested range was {c2['jump']:.3f}; "
            "no circular-shift null was computed, so the change is untested."
        )
    else:
        parts.append(
            f"Its fitted change over the tested range, {c2['jump']:.3f}, was "
            f"{'larger' if c2['passed'] else 'not larger'} than the width of the circular-shift "
            f"null band ({c2['null_width']:.3f})."
        )
    c3 = crit["midpoint_ci_in_range"]
    parts.append(
        f"The fitted midpoint was {c3['midpoint']:.2f} with 95% bootstrap CI "
        f"{_fmt_ci(c3['ci'])}, {'inside' if c3['passed'] else 'not inside'} the tested range "
        f"{lvl[0]}–{lvl[-1]}."
    )
    c4 = crit["susceptibility_peak_near_midpoint"]
    if c4.get("peak_level") is not None:
        if c4.get("within_one_level"):
            where = "within one level of the midpoint"
        elif c4.get("inside_midpoint_ci"):
            where = "inside the midpoint's CI"
        else:
            where = "away from the midpoint"
        parts.append(f"The susceptibility peaked at level {c4['peak_level']:g}, {where}.")
    if summary["transition_supported"]:
        cd = summary["critical_difficulty"]
        parts.append(
            f"**Verdict: the data support a transition**, at critical difficulty "
            f"{cd['value']:.2f} (95% CI {_fmt_ci(cd['ci'])})."
        )
    else:
        failed = [CRITERIA_LABELS.get(name, name) for name, c in crit.items() if not c["passed"]]
        parts.append(
            "**Verdict: no transition is supported** (failed: " + "; ".join(failed) + "); the "
            "order parameter's change with difficulty is reported as a drift or as no change, "
            "not as a phase transition."
        )
    rnd = summary.get("random_model")
    if rnd:
        parts.append(
            f"On the randomised model the order parameter changed by {rnd['jump']['value']:.3f} "
            f"across the same levels (ΔBIC = {rnd['delta_bic']:.1f}; transition "
            f"{'supported' if rnd['transition_supported'] else 'not supported'})."
        )
    return " ".join(parts)
