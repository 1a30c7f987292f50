"""Analysis of phase sweeps (:func:`synergy_utils.stages.phase.run_phase_sweep`): the
transition statistics of each window and order parameter, the prompt-averaged layer profiles
per level, and the ``phase`` section of ``summary.json``.

The verdicts themselves come from the report layer
(:func:`synergy_utils.report.claims.transition.transition_verdict`) and are passed in.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..stats.fits import accuracy_statistics, transition_statistics
from ..stats.resampling import CI_LEVEL
from . import cores
from .phase_scores import (
    ORDER_PARAMETERS,
    PRIMARY_ORDER_PARAMETER,
    RAW_ORDER_PARAMETER,
    VERDICT_WINDOW,
)


def _nan_stat(values: np.ndarray, func: Any) -> float:
    finite = values[np.isfinite(values)]
    return float(func(finite)) if finite.size else float("nan")


def pooled_spread(values: np.ndarray) -> float:
    """Pooled within-level SD of per-prompt values ``(K, N)`` (NaN ignored; levels with
    fewer than two values left out): the prompt-to-prompt spread the power check plants on."""
    rows = [row[np.isfinite(row)] for row in np.asarray(values, dtype=float)]
    rows = [row for row in rows if row.size >= 2]
    if not rows:
        return float("nan")
    sums = sum(float(((row - row.mean()) ** 2).sum()) for row in rows)
    return float(np.sqrt(sums / sum(row.size - 1 for row in rows)))


def analyse_sweep(
    ds: xr.Dataset,
    order_parameter: str = PRIMARY_ORDER_PARAMETER,
    window: str = VERDICT_WINDOW,
    *,
    n_bootstrap: int = 1000,
    ci_level: float = CI_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`~synergy_utils.stats.fits.transition_statistics` of one order parameter in one
    window of a sweep (its own surrogates as the null), with the task accuracy per level
    (Wilson intervals), the analysed series lengths, the prompt-to-prompt ``spread``
    (:func:`pooled_spread`) and ``n_null``, the number of null sweeps.

    Adds to the statistics: ``family``, ``window``, ``order_parameter``, ``accuracy``
    (:func:`~synergy_utils.stats.fits.accuracy_statistics` over all levels), ``all_levels``,
    ``n_analysed`` (prompts scored per level) and ``steps`` (mean, min and max series length
    of the scored prompts per level).
    """
    if order_parameter not in ORDER_PARAMETERS:
        raise ValueError(f"unknown order parameter {order_parameter!r}: {list(ORDER_PARAMETERS)}")
    windows = list(ds["window"].values)
    if window not in windows:
        raise ValueError(f"this sweep has windows {windows}, not {window!r}")
    part = ds.sel(window=window)
    levels = ds["level"].values.astype(float)
    values = part[order_parameter].transpose("level", "item").values
    null = part[f"null_{order_parameter}"].transpose("surrogate", "level", "item").values
    stats = transition_statistics(
        levels, values, null, n_bootstrap=n_bootstrap, ci_level=ci_level, seed=seed
    )
    steps = np.where(part["n_steps"].values > 0, part["n_steps"].values, np.nan).astype(float)
    steps = steps.reshape(levels.size, -1)
    stats.update(
        family=str(ds.attrs.get("family", "")),
        window=window,
        order_parameter=order_parameter,
        all_levels=levels.tolist(),
        accuracy=accuracy_statistics(ds["correct"].transpose("level", "item").values, ci_level),
        n_analysed=[int(v) for v in np.isfinite(values).sum(axis=1)],
        spread=pooled_spread(values),
        n_null=int(null.shape[0]),
        steps={
            key: [_nan_stat(row, func) for row in steps]
            for key, func in (("mean", np.mean), ("min", np.min), ("max", np.max))
        },
    )
    return stats


def analyse_family(
    ds: xr.Dataset,
    order_parameters: Sequence[str] = (PRIMARY_ORDER_PARAMETER, RAW_ORDER_PARAMETER),
    *,
    n_bootstrap: int = 1000,
    ci_level: float = CI_LEVEL,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`analyse_sweep` of every window of the sweep and every named order parameter:
    ``{window: {order_parameter: analysis}}``."""
    return {
        str(window): {
            name: analyse_sweep(
                ds, name, str(window), n_bootstrap=n_bootstrap, ci_level=ci_level, seed=seed
            )
            for name in order_parameters
        }
        for window in ds["window"].values
    }


def level_profiles(ds: xr.Dataset, window: str = VERDICT_WINDOW, kind: str = "gradient"):
    """(K, L) layer profile per level from the level's prompt-averaged head scores.

    ``kind="gradient"``: the scaled rank-gradient profile, scores averaged over the level's
    scored prompts first (as in the reference method); ``"delta"``: the layer means of the
    heads' null-corrected sts (Δsts, nats), averaged over the prompts.
    """
    method = json.loads(ds.attrs.get("settings", "{}")).get("method", "luppi")
    part = ds.sel(window=window)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for level in ds["level"].values:
            one = part.sel(level=level)
            if kind == "delta":
                delta = one["delta_sts"].transpose("item", "layer", "head").values
                rows.append(np.nanmean(delta, axis=(0, 2)))
                continue
            sts = np.nanmean(one["sts"].transpose("item", "layer", "head").values, axis=0)
            rtr = np.nanmean(one["rtr"].transpose("item", "layer", "head").values, axis=0)
            if not np.isfinite(sts).any():
                rows.append(np.full(sts.shape[0], np.nan))
                continue
            gradient = cores.synergy_gradient(sts, rtr, method=method)
            rows.append(np.asarray(cores.layer_profile(gradient), dtype=float))
    return np.array(rows)


# --- the summary section --------------------------------------------------------------------


def _per_level(mean: Any, low: Any, high: Any) -> list[dict[str, Any]]:
    return [
        {"mean": float(m), "ci": [float(lo), float(hi)]}
        for m, lo, hi in zip(mean, low, high, strict=True)
    ]


def compact_analysis(analysis: Mapping[str, Any], verdict: Mapping[str, Any]) -> dict[str, Any]:
    """What ``summary.json`` keeps of one :func:`analyse_sweep` result and its verdict."""
    out: dict[str, Any] = {
        "testable": bool(analysis.get("testable")),
        "levels": list(analysis["levels"]),
        "dropped_levels": list(analysis.get("dropped_levels", [])),
        "n_analysed": list(analysis.get("n_analysed", [])),
        "steps": analysis.get("steps"),
        "spread": analysis.get("spread"),
        "n_null": analysis.get("n_null"),
        "finding": verdict["finding"],
        "criteria": verdict["criteria"],
        "critical_difficulty": verdict.get("critical_difficulty"),
    }
    if not analysis.get("testable"):
        out["reason"] = analysis.get("reason", "")
        return out
    order = analysis["order"]
    out["order_parameter"] = _per_level(order["mean"], order["ci_low"], order["ci_high"])
    for key in ("models", "bootstrap", "susceptibility", "null"):
        out[key] = analysis[key]
    return out


def family_summary(
    ds: xr.Dataset,
    analyses: Mapping[str, Mapping[str, Mapping[str, Any]]],
    verdicts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    verdict_window: str = VERDICT_WINDOW,
    power: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One family's entry of the ``phase`` section: grid and calibration, accuracy and span
    lengths per level, every analysis with its verdict, the family's finding (that of the
    verdict window's null-corrected order parameter) and, when given, its testability and
    power (:func:`synergy_utils.report.claims.transition_power.family_power`)."""
    first = next(iter(next(iter(analyses.values())).values()))
    acc = first["accuracy"]
    span = ds["span_length"].transpose("level", "item").values.astype(float)
    return {
        "difficulty": [float(v) for v in ds["level"].values],
        "n_per_level": int(ds.sizes["item"]),
        "calibration": json.loads(ds.attrs.get("calibration", "null")),
        "accuracy": _per_level(acc["accuracy"], acc["ci_low"], acc["ci_high"]),
        "span_length": {
            key: [_nan_stat(row, func) for row in span]
            for key, func in (("mean", np.mean), ("min", np.min), ("max", np.max))
        },
        "analyses": {
            window: {
                name: compact_analysis(analysis, verdicts[window][name])
                for name, analysis in by_name.items()
            }
            for window, by_name in analyses.items()
        },
        "finding": verdicts[verdict_window][PRIMARY_ORDER_PARAMETER]["finding"],
        "power": None if power is None else dict(power),
    }


def phase_summary(
    families: Mapping[str, dict[str, Any]],
    overall: Mapping[str, Any],
    *,
    model: str,
    rule: str,
    settings: Mapping[str, Any],
    random_model: Mapping[str, dict[str, Any]] | None = None,
    verdict_window: str = VERDICT_WINDOW,
) -> dict[str, Any]:
    """The ``phase`` entry of ``summary.json`` (schema :class:`synergy_utils.summary.Phase`).

    Args:
        families: per family, :func:`family_summary`.
        overall: the finding across families and its verdict word
            (:func:`synergy_utils.report.claims.transition.overall_finding`).
        random_model: per family, :func:`family_summary` of the randomised model's sweep.
    """
    return {
        "families": list(families),
        "model": model,
        "verdict_window": verdict_window,
        "order_parameter_name": PRIMARY_ORDER_PARAMETER,
        "order_parameter_definition": ORDER_PARAMETERS[PRIMARY_ORDER_PARAMETER],
        "finding": overall["finding"],
        "verdict": overall["verdict"],
        "transition_supported": bool(overall["supported"]),
        "family_results": dict(families),
        "rule": rule,
        "settings": dict(settings),
        "random_model": None if random_model is None else dict(random_model),
    }
