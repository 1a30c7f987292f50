"""Phase-transition stage: does the synergistic core switch on as tasks get harder?

The control parameter is task difficulty (a number from :mod:`synergy_utils.stages.tasks`, or
the rank of a prompt category). For every difficulty level the model generates answers to
``n_per_level`` prompts while the per-head time series are recorded; all-pairs ΦID then gives
each head a synergy (``sts``) and a redundancy (``rtr``) score **per prompt**.

Order parameters, one value per prompt (the gradient is computed from that prompt's own head
scores, not from scores averaged over prompts, so that they have an across-prompt spread):

``middle_minus_outer``
    rank gradient of the prompt's head scores (Luppi: rank(sts) - rank(rtr)), averaged per
    layer and min-max scaled to [0, 1] (the layer profile); then the mean of the middle third
    of the layers minus the mean of the outer two thirds
    (:func:`synergy_utils.stages.cores.inverted_u`). Range [-1, 1]; positive = inverted U.
``middle_sts_share``
    the share of the total head ``sts`` carried by heads in the middle third of the layers
    (about 1/3 when synergy is spread evenly over depth).

:func:`analyse_sweep` gives, per level, the mean of an order parameter with a bootstrap CI
over prompts, its across-prompt variance (*susceptibility*) and the task accuracy with a
Wilson CI; against difficulty, a logistic and a straight line compared by BIC
(:mod:`synergy_utils.stats.fits`) and a circular-shift null band. The claim-3 rule that
turns these numbers into a verdict is :func:`synergy_utils.report.claims.transition_verdict`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ..results import load_dataset, save_dataset
from ..stats.fits import accuracy_statistics, fit_transition, level_statistics
from ..stats.nulls import circular_shift
from ..stats.resampling import CI_LEVEL, percentile_interval
from . import cores
from .prompts import CATEGORIES, select_prompts
from .tasks import (
    CATEGORY_FAMILY,
    TASK_FAMILIES,
    Task,
    check_answer,
    generate_tasks,
    parse_answer,
)

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
#: The order parameter the verdict is based on.
PRIMARY_ORDER_PARAMETER = "middle_minus_outer"


def null_band(null_values: Any, ci_level: float = CI_LEVEL) -> dict[str, Any]:
    """The circular-shift null band of a level-mean order parameter.

    Args:
        null_values: (K, S, N) order parameter per level, shuffle and prompt under the null.

    Returns:
        ``low``/``high`` (K,) per-level band of the null's level means across shuffles;
        ``pooled`` [low, high], the central ``ci_level`` of all null level means (levels and
        shuffles pooled, so any drift of the null with difficulty widens it); ``width`` of the
        pooled band; ``mean`` (K,).
    """
    table = np.asarray(null_values, dtype=float)
    if table.ndim != 3:
        raise ValueError(f"null_values must be (levels, shuffles, prompts), got {table.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level_means = np.nanmean(table, axis=2)  # (K, S)
    band = percentile_interval(level_means, ci_level, axis=1)
    low, high = band[:, 0], band[:, 1]
    pooled = percentile_interval(level_means.ravel(), ci_level)
    return {
        "low": np.asarray(low),
        "high": np.asarray(high),
        "mean": np.nanmean(level_means, axis=1),
        "pooled": [float(pooled[0]), float(pooled[1])],
        "width": float(pooled[1] - pooled[0]),
        "ci_level": ci_level,
        "n_shuffles": int(table.shape[1]),
    }


def middle_third(n_layers: int) -> np.ndarray:
    """(L,) bool: the middle third of the layers, as :func:`cores.thirds` cuts them."""

    mask = np.zeros(n_layers, dtype=bool)
    mask[cores.thirds(n_layers)[1]] = True
    return mask


def order_parameters(sts: Any, rtr: Any, method: str = "luppi") -> dict[str, np.ndarray]:
    """Per-prompt order parameters from per-prompt head scores.

    Args:
        sts, rtr: (P, L, H) each head's synergy / redundancy score for each prompt.
        method: gradient form of :func:`cores.synergy_gradient` ("luppi" ranks each atom).

    Returns:
        ``profile`` (P, L) scaled layer profile of each prompt's gradient,
        ``middle_minus_outer`` (P,) and ``middle_sts_share`` (P,).
    """
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
        gradient = np.asarray(cores.synergy_gradient(sts[p], rtr[p], method=method))
        profile[p] = np.asarray(cores.layer_profile(gradient), dtype=float)
        inverted_u[p] = float(cores.inverted_u(profile[p]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        total = np.nansum(sts, axis=(1, 2))
        share = np.nansum(sts[:, middle], axis=(1, 2)) / np.where(total > 0, total, np.nan)
    return {"profile": profile, "middle_minus_outer": inverted_u, "middle_sts_share": share}


def _head_scores(values: np.ndarray, tau: int, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    scores = cores.head_atom_scores(
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
        if not 0 <= int(level) < len(CATEGORIES):
            raise ValueError(f"category rank must be in 0..{len(CATEGORIES) - 1}, got {level}")
        return [text for _, text in select_prompts(n, [CATEGORIES[int(level)]])], None
    if family not in TASK_FAMILIES:
        raise ValueError(
            f"unknown family {family!r}; choose from {TASK_FAMILIES + (CATEGORY_FAMILY,)}"
        )
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
    output, :func:`synergy_utils.lm.recording.record_head_series`), the replies checked
    against the answers, per-prompt head scores (:func:`cores.head_atom_scores`, all pairs,
    lag ``tau``), the order parameters, and ``n_shuffles`` circular-shift surrogates of the
    order parameters.

    With ``cache_dir`` each finished level is saved there (keyed on the model's weights, the
    family, level and every setting) and reused, so an interrupted sweep resumes.

    Returns:
        Dataset with dims (level, item[, layer, head, shuffle]): text variables ``prompt``,
        ``answer``, ``text``, ``parsed``; ``correct`` (1/0, NaN for categories); ``sts``,
        ``rtr`` (level, item, layer, head); ``profile`` (level, item, layer); each order
        parameter (level, item) and its null (level, shuffle, item). Settings in ``attrs``.
    """
    from ..lm.recording import model_fingerprint

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
        part = _read_cached_level(path)
        if part is None:
            part = _sweep_level(model, tokenizer, level, settings, cache, batch_size, progress)
            if path is not None:
                save_dataset(part, path)
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


def _read_cached_level(path: Path | None) -> xr.Dataset | None:
    """A finished level from the cache; a damaged file is reported and redone (None)."""
    if path is None or not path.exists():
        return None
    try:
        return load_dataset(path)
    except (OSError, ValueError, KeyError) as err:
        warnings.warn(f"damaged cache file {path} ({err}); recomputing it", stacklevel=3)
        return None


def _sweep_level(
    model: Any,
    tokenizer: Any,
    level: int,
    settings: Mapping[str, Any],
    cache: Path | None,
    batch_size: int,
    progress: bool,
) -> xr.Dataset:
    """Generate, record and analyse the prompts of one level (see :func:`run_phase_sweep`)."""
    from ..lm.recording import record_head_series

    family = settings["family"]
    prompts, tasks = level_prompts(family, level, settings["n_per_level"], settings["seed"])
    series = record_head_series(
        model,
        tokenizer,
        prompts,
        settings["max_new_tokens"],
        template=settings["template"],
        batch_size=batch_size,
        cache_dir=None if cache is None else cache / "series",
        progress=progress,
    )
    analysed = analyse_level(
        series.values,
        tau=settings["tau"],
        estimator=settings["estimator"],
        method=settings["method"],
        n_shuffles=settings["n_shuffles"],
        seed=settings["seed"] + 1000 * level,
    )
    return _level_dataset(level, prompts, tasks, list(series.texts), analysed)


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
    ci_level: float = CI_LEVEL,
    seed: int = 0,
    null: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Level statistics, fits and null band of one order parameter of a sweep.

    The null band comes from the sweep's own circular shifts; ``null`` supplies one (e.g.
    the real model's, for judging the randomised model) when the sweep has none.

    Returns a dict with ``levels``, ``order`` (:func:`level_statistics`), ``accuracy``
    (:func:`accuracy_statistics`), ``fit`` (:func:`fit_transition`), ``null``
    (:func:`null_band`, or None without shuffles).
    """
    if order_parameter not in ORDER_PARAMETERS:
        raise ValueError(f"unknown order parameter {order_parameter!r}: {list(ORDER_PARAMETERS)}")
    levels = ds["level"].values.astype(float)
    values = ds[order_parameter].transpose("level", "item").values
    order = level_statistics(levels, values, n_bootstrap, ci_level, seed)
    fit = fit_transition(levels, values, n_bootstrap, ci_level, seed)
    null_name = f"null_{order_parameter}"
    has_null = null_name in ds and ds.sizes.get("shuffle", 0) > 0
    if has_null:
        null = null_band(ds[null_name].transpose("level", "shuffle", "item").values, ci_level)
    return {
        "order_parameter": order_parameter,
        "levels": levels,
        "order": order,
        "accuracy": accuracy_statistics(ds["correct"].transpose("level", "item").values, ci_level),
        "fit": fit,
        "null": null,
    }


def level_profiles(ds: xr.Dataset) -> np.ndarray:
    """(K, L) scaled layer profile per level, from the prompt-averaged gradient of each level
    (scores averaged over the level's prompts first, as in the reference method)."""
    method = ds.attrs.get("method", "luppi")
    rows = []
    for level in ds["level"].values:
        part = ds.sel(level=level)
        sts = part["sts"].mean("item").transpose("layer", "head").values
        rtr = part["rtr"].mean("item").transpose("layer", "head").values
        gradient = cores.synergy_gradient(sts, rtr, method=method)
        rows.append(np.asarray(cores.layer_profile(gradient), dtype=float))
    return np.array(rows)


def phase_summary(
    ds: xr.Dataset,
    result: Mapping[str, Any],
    verdict: Mapping[str, Any],
    *,
    secondary: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
    random_result: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``phase`` entry of ``summary.json`` from :func:`analyse_sweep` results.

    Args:
        result: the primary order parameter's analysis.
        verdict: the claim-3 rule applied to it
            (:func:`synergy_utils.report.claims.transition_verdict`).
        secondary: (analysis, verdict) of the other order parameter, reported beside it.
        random_result: (analysis, verdict) of the same order parameter on the randomised
            model's sweep.
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
        "critical_difficulty": verdict["critical_difficulty"],
        "transition_supported": bool(verdict["supported"]),
        "criteria": verdict["criteria"],
        "rule": verdict["rule"],
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
        other, other_verdict = secondary
        so = other["order"]
        summary["secondary"] = {
            "order_parameter_name": other["order_parameter"],
            "order_parameter": per_level(so["mean"], so["ci_low"], so["ci_high"]),
            "susceptibility": [float(v) for v in so["variance"]],
            "delta_bic": other["fit"]["delta_bic"],
            "midpoint": other["fit"]["midpoint"],
            "transition_supported": bool(other_verdict["supported"]),
            "criteria": other_verdict["criteria"],
        }
    if random_result is not None:
        rnd, rnd_verdict = random_result
        ro = rnd["order"]
        summary["random_model"] = {
            "order_parameter": per_level(ro["mean"], ro["ci_low"], ro["ci_high"]),
            "delta_bic": rnd["fit"]["delta_bic"],
            "jump": rnd["fit"]["jump"],
            "transition_supported": bool(rnd_verdict["supported"]),
        }
    return summary
