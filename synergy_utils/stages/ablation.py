"""Ablation stage: does removing the synergistic core break the model, and is it synergy?

Two experiments, both built on :func:`synergy_utils.lm.interventions.ablated`:

* **Cumulative ablation curves** (:func:`ablation_curves`): heads are removed in the order of
  each score of :mod:`.ablation_orders` (the null-corrected synergy gradient under test, other
  synergy measures, the confounds output norm, self-information, ``sts`` and ``rtr`` alone)
  and in seeded random orders, 5 % of the heads at a time. At each step the ablated model
  reads the clean model's greedy continuation of a **held-out** prompt (teacher forcing, one
  batched pass for all prompts) and the per-token KL divergence between the clean and the
  ablated next-token distributions is averaged over the generated tokens of each prompt, in
  both directions: ``kl_clean_ablated`` = KL(p_clean || p_ablated) (the predecessor's) and
  ``kl_ablated_clean``. :func:`order_comparisons` compares the synergy order with every other
  one: areas under the curves and per-step KL with bootstrap intervals over prompts and
  random orders.
* **Accuracy under perturbation** (:mod:`.ablation_accuracy`).

:func:`ablation_summary` collects the headline numbers for ``summary.json``; the claim-4
rule and its wording live in :mod:`synergy_utils.report.claims.ablation`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..lm.architectures import head_layout
from ..lm.decoding import pad_token_id
from ..lm.teacher_forcing import (
    KL_METRICS,
    Continuations,
    TeacherForcedBatch,
    clean_pass,
    greedy_continuations,
    kl_under_ablation,
    teacher_forced_batch,
)
from ..stats.resampling import bootstrap_indices, percentile_interval
from .ablation_accuracy import (  # noqa: F401  (re-exported: the stage's public API)
    HEAD_GROUPS,
    accuracy_gap,
    accuracy_table,
    accuracy_under_perturbation,
    calibrate_noise,
    distinct_tasks,
    head_group,
    reply_agreement,
)
from .ablation_orders import (  # noqa: F401
    KL_LABELS,
    ORDER_DESCRIPTIONS,
    RANDOM,
    RANDOM_PREFIX,
    check_order_scores,
    head_orders,
    named_orders,
    order_role,
    order_scores,
    random_orders,
    rank_agreement,
)


def removal_counts(
    n_total: int, fraction_step: float = 0.05, max_fraction: float = 0.25
) -> list[int]:
    """Numbers of heads removed: ``floor(k * fraction_step * n_total)`` for k = 0, 1, ... up to
    ``max_fraction`` (for 270 heads, 5 % steps to 25 %: 0, 13, 27, 40, 54, 67)."""
    if not 0 < fraction_step <= 1:
        raise ValueError(f"fraction_step must be in (0, 1], got {fraction_step}")
    if not 0 < max_fraction <= 1:
        raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction}")
    n_steps = int(math.floor(max_fraction / fraction_step + 1e-9))
    counts = [int(math.floor(k * fraction_step * n_total + 1e-9)) for k in range(n_steps + 1)]
    counts = sorted(set(counts))
    if len(counts) < 2:
        raise ValueError(
            f"{n_total} heads with fraction_step={fraction_step} remove no head; use a larger step"
        )
    return counts


def curves_on_batch(
    model: Any,
    batch: TeacherForcedBatch,
    orders: Mapping[str, np.ndarray],
    counts: Sequence[int],
    *,
    reuse_residual: bool = True,
    mode: str = "zero",
    batch_size: int | None = None,
    progress: bool = False,
    **ablation_kw: Any,
) -> xr.Dataset:
    """Teacher-forced KL after removing the first ``n`` heads of each order, for ``n`` in
    ``counts``; one forward pass (all prompts) per (order, n). See :func:`ablation_curves`."""
    layout = head_layout(model)
    names = list(orders)
    started = time.perf_counter()
    clean = clean_pass(model, batch, batch_size, record_layers=reuse_residual)
    clean_seconds = time.perf_counter() - started
    head_sets = [[tuple(map(int, h)) for h in orders[name][:n]] for name in names for n in counts]
    started = time.perf_counter()
    kl = kl_under_ablation(
        model,
        batch,
        head_sets,
        clean=clean,
        reuse_residual=reuse_residual,
        mode=mode,
        batch_size=batch_size,
        progress=progress,
        **ablation_kw,
    ).reshape(len(names), len(counts), batch.n_prompts, len(KL_METRICS))
    ablated_seconds = time.perf_counter() - started
    first_layers = [min((h[0] for h in s), default=layout.n_layers) for s in head_sets if s]
    counts_arr = np.asarray(counts, dtype=int)
    return xr.Dataset(
        {
            "kl": (("order", "n_removed", "prompt", "metric"), kl),
            "order_layer": (("order", "rank"), np.stack([orders[n][:, 0] for n in names])),
            "order_head": (("order", "rank"), np.stack([orders[n][:, 1] for n in names])),
        },
        coords={
            "order": names,
            "role": ("order", [order_role(n) for n in names]),
            "n_removed": counts_arr,
            "fraction": ("n_removed", counts_arr / layout.n_total),
            "prompt": np.arange(batch.n_prompts),
            "metric": list(KL_METRICS),
            "rank": np.arange(layout.n_total),
        },
        attrs={
            "mode": mode,
            "n_layers": layout.n_layers,
            "n_heads": layout.n_heads,
            "n_total": layout.n_total,
            "n_new_tokens": int(batch.target_ids.shape[1]),
            "tokens_per_pass": batch.n_tokens,
            "shared_prefix_tokens": batch.prefix_length,
            "reuse_residual": int(bool(reuse_residual)),
            "mean_first_layer": float(np.mean(first_layers)) if first_layers else 0.0,
            "clean_seconds": round(clean_seconds, 2),
            "ablated_seconds": round(ablated_seconds, 2),
            "n_passes": len(first_layers),
            "description": (
                "Teacher-forced next-token KL (nats per token, mean over each prompt's "
                "generated tokens) after removing the first n_removed heads of each order. "
                "kl_clean_ablated = KL(p_clean || p_ablated), kl_ablated_clean = reverse."
            ),
        },
    )


def ablation_curves(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str] | Continuations,
    scores: Mapping[str, Any] | Any,
    fraction_step: float = 0.05,
    max_fraction: float = 0.25,
    n_random: int = 10,
    seed: int = 0,
    *,
    max_new_tokens: int = 32,
    generation_batch_size: int = 8,
    batch_size: int | None = None,
    template: str = "auto",
    padding_side: str = "left",
    share_prefix: bool = True,
    reuse_residual: bool = True,
    mode: str = "zero",
    progress: bool = True,
    **ablation_kw: Any,
) -> xr.Dataset:
    """Cumulative ablation curves (the behavioural ablation of Urbina-Rodriguez et al. 2026)
    for every order of ``scores`` and ``n_random`` random orders.

    Parameters
    ----------
    prompts
        Texts (the clean model's greedy continuations of ``max_new_tokens`` tokens are
        generated first, EOS suppressed) or ready :class:`Continuations` (``tokenizer`` may
        then be None). Use prompts the heads were *not* ranked on.
    scores
        Mapping name -> head scores (n_layers, n_heads), higher removed first (an array alone
        is the order ``"synergy"``); see :func:`.ablation_orders.head_orders`.
    fraction_step, max_fraction
        Share of all heads removed per step and the largest share (:func:`removal_counts`).
    share_prefix, reuse_residual
        The exact speed-ups of :mod:`synergy_utils.lm.teacher_forcing` (a prompt prefix
        shared by all prompts computed once; layers below the first ablated one replayed).
    batch_size
        ``None``: one forward pass per step for all prompts; an int splits rows (memory).
    mode, ablation_kw
        Passed to :func:`ablated` (the predecessor zeroes heads).

    Returns
    -------
    Dataset with ``kl`` (order, n_removed, prompt, metric) in nats per token; coordinates
    ``order`` (with its ``role``), ``n_removed`` with ``fraction``, ``metric``;
    ``order_layer``/``order_head`` (order, rank) hold each removal order; ``generated_ids``
    (prompt, token); timings and sizes in the attributes.
    """
    checked = check_order_scores(scores if isinstance(scores, Mapping) else {"synergy": scores})
    layout = head_layout(model)
    if next(iter(checked.values())).shape != (layout.n_layers, layout.n_heads):
        raise ValueError(
            f"scores have shape {next(iter(checked.values())).shape} but the model has "
            f"{layout.n_layers} layers x {layout.n_heads} heads"
        )
    started = time.perf_counter()
    if isinstance(prompts, Continuations):
        continuations = prompts
    else:
        if tokenizer is None:
            raise ValueError("a tokenizer is needed to encode text prompts")
        continuations = greedy_continuations(
            model,
            tokenizer,
            prompts,
            max_new_tokens,
            generation_batch_size,
            template,
            progress=progress,
        )
    generation_seconds = time.perf_counter() - started
    pad = pad_token_id(model, tokenizer)
    batch = teacher_forced_batch(continuations, pad, padding_side, share_prefix=share_prefix)
    counts = removal_counts(layout.n_total, fraction_step, max_fraction)
    orders = head_orders(checked, n_random, seed)
    ds = curves_on_batch(
        model,
        batch,
        orders,
        counts,
        reuse_residual=reuse_residual,
        mode=mode,
        batch_size=batch_size,
        progress=progress,
        **ablation_kw,
    )
    ds.attrs.update(
        fraction_step=float(fraction_step),
        max_fraction=float(max_fraction),
        n_random=int(n_random),
        seed=int(seed),
        padding_side=padding_side,
        generation_seconds=round(generation_seconds, 2),
    )
    if continuations.prompts is not None:
        ds = ds.assign_coords(prompt_text=("prompt", list(continuations.prompts)))
    ds["generated_ids"] = (("prompt", "token"), continuations.generated_ids)
    return ds


def check_disjoint(ranking: Sequence[str], ablation: Sequence[str]) -> None:
    """Raise ``ValueError`` if a prompt of the ablation set is also in the ranking set (the
    heads must be ranked on other text than they are tested on)."""
    overlap = sorted({t.strip() for t in ranking} & {t.strip() for t in ablation})
    if overlap:
        raise ValueError(
            f"{len(overlap)} ablation prompt(s) are also ranking prompts, e.g. {overlap[0]!r}"
        )


def curve_auc(curves: xr.Dataset, metric: str = "kl_clean_ablated") -> xr.DataArray:
    """Area under each prompt's KL curve against the fraction of heads removed (trapezoid):
    (order, prompt), in nats per token x fraction."""
    kl = curves["kl"].sel(metric=metric).transpose("order", "prompt", "n_removed")
    area = np.trapezoid(kl.values, x=curves["fraction"].values, axis=-1)
    return xr.DataArray(
        area,
        dims=("order", "prompt"),
        coords={"order": curves["order"].values, "prompt": curves["prompt"].values},
    )


def _order_values(curves: xr.Dataset, values: xr.DataArray, order: str) -> np.ndarray:
    """``values`` of ``order`` as (R, P, ...): R = 1 for a named order, all random orders
    for ``"random"``."""
    if order == RANDOM:
        names = random_orders(curves)
        if not names:
            raise ValueError("the curves have no random order")
        return values.sel(order=names).values
    return values.sel(order=[order]).values


def _resampled_means(values: np.ndarray, p_idx: np.ndarray, rng: np.random.Generator):
    """Bootstrap means of ``values`` (R, P, ...): prompts resampled by ``p_idx`` (B, P), and
    orders resampled with replacement when R > 1; returns (B, ...)."""
    n_orders = values.shape[0]
    by_order = values[:, p_idx].mean(axis=2)  # (R, B, ...)
    if n_orders == 1:
        return by_order[0]
    r_idx = bootstrap_indices(n_orders, p_idx.shape[0], rng)  # (B, R)
    return by_order[r_idx, np.arange(p_idx.shape[0])[:, None]].mean(axis=1)


def _estimate(value: float, boot: np.ndarray, ci_level: float) -> dict[str, float]:
    low, high = (float(v) for v in percentile_interval(boot[np.isfinite(boot)], ci_level))
    return {"value": float(value), "ci_low": low, "ci_high": high}


def auc_ratio(
    curves: xr.Dataset,
    numerator: str = "synergy",
    denominator: str = RANDOM,
    metric: str = "kl_clean_ablated",
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> dict[str, float]:
    """Ratio of areas under the prompt-mean curves, ``numerator`` / ``denominator``, with a
    percentile-bootstrap interval resampling prompts (paired: the same prompts in numerator
    and denominator) and, for ``"random"`` (all random orders pooled), random orders.

    Returns ``{"value", "ci_low", "ci_high", "n_bootstrap"}`` (NaN when the denominator's area
    is 0 or there is no random order).
    """
    area = curve_auc(curves, metric)
    num = _order_values(curves, area, numerator)
    try:
        den = _order_values(curves, area, denominator)
    except ValueError:
        return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_bootstrap": 0}
    rng = np.random.default_rng(seed)
    p_idx = bootstrap_indices(num.shape[1], n_bootstrap, rng)
    num_b, den_b = _resampled_means(num, p_idx, rng), _resampled_means(den, p_idx, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(den_b > 0, num_b / den_b, np.nan)
    value = num.mean() / den.mean() if den.mean() > 0 else math.nan
    if not np.isfinite(ratios).any():
        return {"value": value, "ci_low": math.nan, "ci_high": math.nan, "n_bootstrap": 0}
    return {**_estimate(value, ratios, ci_level), "n_bootstrap": int(n_bootstrap)}


def order_auc(
    curves: xr.Dataset,
    order: str,
    metric: str = "kl_clean_ablated",
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> dict[str, float]:
    """Area under the prompt-mean curve of ``order`` (``"random"``: pooled over the random
    orders) with a bootstrap interval over prompts (and random orders)."""
    values = _order_values(curves, curve_auc(curves, metric), order)
    rng = np.random.default_rng(seed)
    p_idx = bootstrap_indices(values.shape[1], n_bootstrap, rng)
    return _estimate(values.mean(), _resampled_means(values, p_idx, rng), ci_level)


def kl_steps(
    curves: xr.Dataset,
    order: str,
    metric: str = "kl_clean_ablated",
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> list[dict[str, float]]:
    """Prompt-mean KL of ``order`` at each number of heads removed, with bootstrap intervals
    over prompts (and random orders, for ``"random"``); one dict per ``n_removed``."""
    kl = curves["kl"].sel(metric=metric).transpose("order", "prompt", "n_removed")
    values = _order_values(curves, kl, order)  # (R, P, n)
    rng = np.random.default_rng(seed)
    p_idx = bootstrap_indices(values.shape[1], n_bootstrap, rng)
    boot = _resampled_means(values, p_idx, rng)  # (B, n)
    mean = values.mean(axis=(0, 1))
    return [_estimate(mean[i], boot[:, i], ci_level) for i in range(len(mean))]


def order_comparisons(
    curves: xr.Dataset,
    synergy_order: str = "synergy",
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> dict[str, Any]:
    """The synergy order against every other order (and the pooled random orders).

    Returns ``{"auc": {order: estimate}, "auc_ratio": {order: ratio}, "reverse_auc_ratio":
    {order: ratio}, "kl_steps": {order: [estimate per step]}, "reverse_kl_steps": ...}``,
    where a ratio is synergy-order area / that order's area; orders include ``"random"``.
    """
    if synergy_order not in named_orders(curves):
        raise ValueError(f"synergy_order {synergy_order!r} is not among {named_orders(curves)}")
    others = [o for o in named_orders(curves) if o != synergy_order]
    everyone = [synergy_order, *others] + ([RANDOM] if random_orders(curves) else [])
    out: dict[str, Any] = {key: {} for key in ("auc", "auc_ratio", "reverse_auc_ratio")}
    out.update(kl_steps={}, reverse_kl_steps={})
    for metric, prefix in (("kl_clean_ablated", ""), ("kl_ablated_clean", "reverse_")):
        for order in everyone:
            out[f"{prefix}kl_steps"][order] = kl_steps(
                curves, order, metric, n_bootstrap, seed, ci_level
            )
            if order != synergy_order:
                out[f"{prefix}auc_ratio"][order] = auc_ratio(
                    curves, synergy_order, order, metric, n_bootstrap, seed, ci_level
                )
    for order in everyone:
        out["auc"][order] = order_auc(curves, order, "kl_clean_ablated", n_bootstrap, seed)
    return out


def ratio_table(comparisons: Mapping[str, Any], synergy_order: str = "synergy") -> pd.DataFrame:
    """One row per compared order: its role, what it ranks by, and the area ratio synergy /
    order in both KL directions with intervals."""
    rows = []
    for order, ratio in comparisons["auc_ratio"].items():
        reverse = comparisons["reverse_auc_ratio"][order]
        rows.append(
            {
                "order": order,
                "role": order_role(order),
                "ranks by": ORDER_DESCRIPTIONS.get(order, order),
                f"{synergy_order} / order": ratio["value"],
                "ci_low": ratio["ci_low"],
                "ci_high": ratio["ci_high"],
                "reverse": reverse["value"],
                "reverse_ci_low": reverse["ci_low"],
                "reverse_ci_high": reverse["ci_high"],
            }
        )
    return pd.DataFrame(rows)


def precision_check(
    reference: Any,
    candidate: Any,
    batch: TeacherForcedBatch,
    head_sets: Sequence[Sequence[tuple[int, int]]],
    *,
    atol: float = 0.02,
    rtol: float = 0.15,
    mean_rtol: float = 0.03,
    mode: str = "zero",
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Teacher-forced KL of ``head_sets`` under ``candidate`` (e.g. a bfloat16 copy) against
    ``reference`` (float32), in both directions.

    Passes when, for every head set and direction, the prompt-mean KL agrees within
    ``mean_rtol`` (relative, plus 0.005 nats) and every per-prompt KL within ``atol + rtol *
    |ref|``. Returns the largest differences, the tolerances, ``passed`` and the seconds of one
    pass of each model (the speed-up the candidate brings).
    """
    timings, values = {}, {}
    for name, model in (("reference", reference), ("candidate", candidate)):
        started = time.perf_counter()
        values[name] = kl_under_ablation(
            model, batch, head_sets, mode=mode, batch_size=batch_size, reuse_residual=False
        )
        timings[name] = (time.perf_counter() - started) / (len(head_sets) + 1)
    ref, got = values["reference"], values["candidate"]  # (sets, prompts, 2)
    diff = np.abs(got - ref)
    mean_ref, mean_got = ref.mean(axis=1), got.mean(axis=1)
    mean_diff = np.abs(mean_got - mean_ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(ref) > 0, diff / np.abs(ref), 0.0)
        mean_rel = np.where(mean_ref > 0, mean_diff / mean_ref, 0.0)
    passed = (diff <= atol + rtol * np.abs(ref)).all() and (
        mean_diff <= 0.005 + mean_rtol * mean_ref
    ).all()
    return {
        "n_sets": len(head_sets),
        "n_prompts": int(ref.shape[1]),
        "max_abs_diff": float(diff.max()),
        "max_rel_diff": float(rel.max()),
        "max_mean_rel_diff": float(mean_rel.max()),
        "atol": float(atol),
        "rtol": float(rtol),
        "mean_rtol": float(mean_rtol),
        "passed": bool(passed),
        "seconds_per_pass_reference": round(timings["reference"], 3),
        "seconds_per_pass_candidate": round(timings["candidate"], 3),
    }


# --- summary ----------------------------------------------------------------------------------


def ablation_summary(
    curves: xr.Dataset,
    comparisons: Mapping[str, Any],
    accuracy: pd.DataFrame | None = None,
    *,
    synergy_order: str = "synergy",
    **extra: Any,
) -> dict[str, Any]:
    """Headline numbers for ``summary.json["ablation"]`` (the :class:`synergy_utils.summary.
    Ablation` fields that the curves, the comparisons and the accuracy table give; ``extra``
    adds the rest)."""
    names = named_orders(curves)
    out: dict[str, Any] = {
        "synergy_order": synergy_order,
        "orders": {n: ORDER_DESCRIPTIONS.get(n, n) for n in names},
        "order_roles": {n: order_role(n) for n in names},
        "n_prompts": int(curves.sizes["prompt"]),
        "n_new_tokens": int(curves.attrs.get("n_new_tokens", 0)),
        "n_random_orders": len(random_orders(curves)),
        "ablation_mode": str(curves.attrs.get("mode", "zero")),
        "n_total_heads": int(curves.attrs["n_total"]),
        "fractions": [float(f) for f in curves["fraction"].values],
        "n_heads_removed": [int(n) for n in curves["n_removed"].values],
        "accuracy": [] if accuracy is None else accuracy.to_dict(orient="records"),
    }
    for key in ("auc", "auc_ratio", "reverse_auc_ratio", "kl_steps", "reverse_kl_steps"):
        out[key] = comparisons[key]
    out.update(extra)
    return out
