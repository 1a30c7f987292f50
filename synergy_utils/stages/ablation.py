"""Ablation stage: does removing the synergistic core break the model?

Two experiments, both built on :func:`synergy_utils.lm.interventions.ablated`:

* **Cumulative ablation curves** (:func:`ablation_curves`): heads are removed in decreasing
  gradient order (``synergy_first``), increasing order (``redundancy_first``) and seeded
  random orders (``random_0``, ...), ``step`` heads at a time. At each step the ablated model
  reads the clean model's greedy continuation (teacher forcing, one batched forward pass for
  all prompts) and the per-token KL divergence between the clean and the ablated next-token
  distributions is averaged over the generated tokens of each prompt, in both directions:
  ``kl_clean_ablated`` = KL(p_clean || p_ablated) (the paper's) and ``kl_ablated_clean`` =
  KL(p_ablated || p_clean). :func:`auc_ratio` compares areas under the curves with a bootstrap
  over prompts and random orders.
* **Accuracy under perturbation** (:func:`accuracy_under_perturbation`): accuracy on checkable
  tasks of the intact model and with the top / bottom / a random ``fraction`` of heads
  perturbed, with confidence intervals over tasks and random draws (:func:`accuracy_table`).

:func:`ablation_summary` collects the headline numbers for ``summary.json``; the claim-4
rule and its wording live in :mod:`synergy_utils.report.claims`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from ..lm.architectures import head_layout
from ..lm.decoding import generate_answers, pad_token_id
from ..lm.interventions import MODES, Head, ablated
from ..lm.teacher_forcing import (
    KL_METRICS,
    Continuations,
    TeacherForcedBatch,
    greedy_continuations,
    kl_under_ablation,
    teacher_forced_batch,
)
from ..stats.resampling import bootstrap_indices, percentile_interval, wilson_interval

KL_LABELS: dict[str, str] = {
    "kl_clean_ablated": "KL(clean ‖ ablated)",
    "kl_ablated_clean": "KL(ablated ‖ clean)",
}
#: Columns of ``head_scores.csv`` chosen by ``gradient_method``.
GRADIENT_COLUMNS: dict[str, str] = {"luppi": "gradient_luppi", "diff": "gradient_diff"}
HEAD_GROUPS: tuple[str, ...] = ("synergistic", "redundant", "random")


def load_head_scores(path: str | Path, gradient_method: str = "luppi") -> np.ndarray:
    """Head scores (n_layers, n_heads) from ``head_scores.csv`` (or a folder holding it).

    ``gradient_method``: ``"luppi"`` (column ``gradient_luppi``: rank(synergy) -
    rank(redundancy)), ``"diff"`` (``gradient_diff``: ranks of synergy - redundancy), or the
    name of any other numeric column (e.g. ``"synergy"``).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "head_scores.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: run notebooks/03_synergistic_cores.ipynb with the same "
            "results_dir first (it writes head_scores.csv)"
        )
    table = pd.read_csv(path)
    column = GRADIENT_COLUMNS.get(gradient_method, gradient_method)
    missing = {"layer", "head", column} - set(table.columns)
    if missing:
        raise ValueError(
            f"{path} lacks columns {sorted(missing)}; gradient_method must be one of "
            f"{sorted(GRADIENT_COLUMNS)} or a column name"
        )
    if table.duplicated(["layer", "head"]).any():
        raise ValueError(f"{path} has duplicate (layer, head) rows")
    n_layers, n_heads = int(table["layer"].max()) + 1, int(table["head"].max()) + 1
    if len(table) != n_layers * n_heads:
        raise ValueError(f"{path}: expected one row per head of a {n_layers} x {n_heads} grid")
    scores = np.full((n_layers, n_heads), np.nan)
    scores[table["layer"].to_numpy(int), table["head"].to_numpy(int)] = table[column].to_numpy(
        float
    )
    if not np.isfinite(scores).all():
        raise ValueError(f"{path}: column {column!r} has missing or non-finite values")
    return scores


def _check_scores(scores: Any, model: Any = None) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (n_layers, n_heads), got shape {scores.shape}")
    if model is not None:
        layout = head_layout(model)
        if scores.shape != (layout.n_layers, layout.n_heads):
            raise ValueError(
                f"scores have shape {scores.shape} but the model has "
                f"{layout.n_layers} layers x {layout.n_heads} heads"
            )
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    return scores


def head_orders(scores: Any, n_random: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Removal orders over all heads, each an int array (n_total, 2) of (layer, head).

    ``synergy_first``: decreasing score; ``redundancy_first``: increasing score (ties broken
    by layer-major head index); ``random_k``: permutation from ``default_rng([seed, k])``.
    """
    scores = _check_scores(scores)
    n_layers, n_heads = scores.shape
    flat = scores.reshape(-1)
    pairs = np.stack(np.unravel_index(np.arange(flat.size), scores.shape), axis=1)
    orders = {
        "synergy_first": pairs[np.argsort(-flat, kind="stable")],
        "redundancy_first": pairs[np.argsort(flat, kind="stable")],
    }
    for k in range(int(n_random)):
        orders[f"random_{k}"] = pairs[np.random.default_rng([seed, k]).permutation(flat.size)]
    return orders


def removal_counts(n_total: int, step: int = 5, max_fraction: float = 0.25) -> list[int]:
    """Numbers of heads removed: 0, step, 2 step, ..., up to floor(max_fraction * n_total)
    (the last value is included even when it is not a multiple of ``step``)."""
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    if not 0 < max_fraction <= 1:
        raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction}")
    n_max = int(math.floor(max_fraction * n_total + 1e-9))
    counts = list(range(0, n_max + 1, step))
    if counts[-1] != n_max:
        counts.append(n_max)
    return counts


def curves_on_batch(
    model: Any,
    batch: TeacherForcedBatch,
    orders: Mapping[str, np.ndarray],
    counts: Sequence[int],
    *,
    clean_logprobs: Any = None,
    mode: str = "zero",
    batch_size: int | None = None,
    progress: bool = False,
    **ablation_kw: Any,
) -> xr.Dataset:
    """Teacher-forced KL after removing the first ``n`` heads of each order, for ``n`` in
    ``counts``; one forward pass (all prompts) per (order, n). See :func:`ablation_curves`."""
    layout = head_layout(model)
    names = list(orders)
    head_sets = [[tuple(map(int, h)) for h in orders[name][:n]] for name in names for n in counts]
    kl = kl_under_ablation(
        model,
        batch,
        head_sets,
        clean_logprobs=clean_logprobs,
        mode=mode,
        batch_size=batch_size,
        progress=progress,
        **ablation_kw,
    ).reshape(len(names), len(counts), batch.n_prompts, len(KL_METRICS))
    counts_arr = np.asarray(counts, dtype=int)
    order_layer = np.stack([np.asarray(orders[n])[:, 0] for n in names])
    order_head = np.stack([np.asarray(orders[n])[:, 1] for n in names])
    return xr.Dataset(
        {
            "kl": (("order", "n_removed", "prompt", "metric"), kl),
            "order_layer": (("order", "rank"), order_layer),
            "order_head": (("order", "rank"), order_head),
        },
        coords={
            "order": names,
            "n_removed": counts_arr,
            "fraction": ("n_removed", counts_arr / layout.n_total),
            "prompt": np.arange(batch.n_prompts),
            "metric": list(KL_METRICS),
            "rank": np.arange(order_layer.shape[1]),
        },
        attrs={
            "mode": mode,
            "n_layers": layout.n_layers,
            "n_heads": layout.n_heads,
            "n_total": layout.n_total,
            "n_new_tokens": int(batch.target_ids.shape[1]),
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
    order_by: Any,
    step: int = 5,
    max_fraction: float = 0.25,
    n_random: int = 5,
    seed: int = 0,
    *,
    max_new_tokens: int = 48,
    generation_batch_size: int = 8,
    batch_size: int | None = None,
    template: str = "auto",
    padding_side: str = "left",
    mode: str = "zero",
    progress: bool = True,
    **ablation_kw: Any,
) -> xr.Dataset:
    """Cumulative ablation curves (the behavioural ablation of Urbina-Rodriguez et al. 2026).

    Parameters
    ----------
    prompts
        Texts (the clean model's greedy continuations of ``max_new_tokens`` tokens are
        generated first) or ready :class:`Continuations` (``tokenizer`` may then be None).
    order_by
        Head scores (n_layers, n_heads), e.g. the synergy gradient; higher = more synergistic.
    step, max_fraction
        Heads removed per step and the largest fraction of all heads removed.
    n_random, seed
        Number of seeded random orders.
    batch_size
        ``None``: one forward pass per step for all prompts; an int splits rows (memory).
    mode, ablation_kw
        Passed to :func:`ablated` (the paper zeroes heads).

    Returns
    -------
    Dataset with ``kl`` (order, n_removed, prompt, metric) in nats per token; coordinates
    ``order`` (synergy_first, redundancy_first, random_0, ...), ``n_removed`` with
    ``fraction``, ``metric`` (:data:`KL_METRICS`); ``order_layer``/``order_head`` (order,
    rank) hold each removal order.
    """
    scores = _check_scores(order_by, model)
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
    pad = pad_token_id(model, tokenizer)
    batch = teacher_forced_batch(continuations, pad, padding_side)
    layout = head_layout(model)
    counts = removal_counts(layout.n_total, step, max_fraction)
    orders = head_orders(scores, n_random, seed)
    ds = curves_on_batch(
        model,
        batch,
        orders,
        counts,
        mode=mode,
        batch_size=batch_size,
        progress=progress,
        **ablation_kw,
    )
    ds.attrs.update(
        step=int(step),
        max_fraction=float(max_fraction),
        n_random=int(n_random),
        seed=int(seed),
        padding_side=padding_side,
    )
    if continuations.prompts is not None:
        ds = ds.assign_coords(prompt_text=("prompt", list(continuations.prompts)))
    ds["generated_ids"] = (("prompt", "token"), continuations.generated_ids)
    return ds


def random_orders(curves: xr.Dataset) -> list[str]:
    return [str(o) for o in curves["order"].values if str(o).startswith("random_")]


def curve_auc(curves: xr.Dataset, metric: str = "kl_clean_ablated") -> xr.DataArray:
    """Area under each prompt's KL curve against the fraction of heads removed (trapezoid):
    (order, prompt), in nats per token x fraction."""
    kl = curves["kl"].sel(metric=metric).transpose("order", "prompt", "n_removed")
    x = curves["fraction"].values
    area = np.trapezoid(kl.values, x=x, axis=-1)
    return xr.DataArray(
        area,
        dims=("order", "prompt"),
        coords={"order": curves["order"].values, "prompt": curves["prompt"].values},
    )


def auc_ratio(
    curves: xr.Dataset,
    numerator: str = "synergy_first",
    denominator: str = "random",
    metric: str = "kl_clean_ablated",
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> dict[str, float]:
    """Ratio of areas under the mean curves, ``numerator`` / ``denominator``, with a CI.

    ``denominator="random"`` averages over all random orders. The percentile bootstrap
    resamples prompts (paired: the same prompts in numerator and denominator) and, for a random
    denominator, random orders, with replacement.

    Returns ``{"value", "ci_low", "ci_high", "n_bootstrap"}`` (NaN when the denominator area
    is 0 or there is no random order).
    """
    area = curve_auc(curves, metric)
    rand_names = random_orders(curves)
    num = area.sel(order=numerator).values  # (P,)
    if denominator == "random":
        if not rand_names:
            return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_bootstrap": 0}
        den = area.sel(order=rand_names).values  # (R, P)
    else:
        den = area.sel(order=[denominator]).values
    n_rand, n_prompts = den.shape

    def ratio(n: float, d: float) -> float:
        return n / d if d > 0 else math.nan

    value = ratio(num.mean(), den.mean())
    rng = np.random.default_rng(seed)
    p_idx = bootstrap_indices(n_prompts, n_bootstrap, rng)
    r_idx = bootstrap_indices(n_rand, n_bootstrap, rng)
    num_b = num[p_idx].mean(axis=1)
    den_by_order = den[:, p_idx].mean(axis=2)  # (R, B)
    den_b = np.take_along_axis(den_by_order.T, r_idx, axis=1).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(den_b > 0, num_b / den_b, np.nan)
    low, high = (float(v) for v in percentile_interval(ratios, ci_level))
    return {"value": float(value), "ci_low": low, "ci_high": high, "n_bootstrap": int(n_bootstrap)}


def kl_at(
    curves: xr.Dataset, n_removed: int | None = None, metric: str = "kl_clean_ablated"
) -> dict[str, float]:
    """Mean KL over prompts after removing ``n_removed`` heads (default: the last count):
    synergy-first, redundancy-first, and the mean and sd (ddof 1) over random orders."""
    if n_removed is None:
        n_removed = int(curves["n_removed"].values[-1])
    kl = curves["kl"].sel(metric=metric, n_removed=n_removed).mean("prompt")
    rand = kl.sel(order=random_orders(curves)).values
    return {
        "n_removed": int(n_removed),
        "fraction": float(n_removed / curves.attrs["n_total"]),
        "synergy": float(kl.sel(order="synergy_first")),
        "redundancy": float(kl.sel(order="redundancy_first")),
        "random_mean": float(rand.mean()) if rand.size else math.nan,
        "random_sd": float(rand.std(ddof=1)) if rand.size > 1 else math.nan,
    }


def head_group(
    scores: Any, group: str, fraction: float = 0.25, rng: np.random.Generator | None = None
) -> list[Head]:
    """The top (``"synergistic"``), bottom (``"redundant"``) or a ``"random"`` ``fraction`` of
    heads by score; floor(fraction * n_total) heads."""
    scores = _check_scores(scores)
    if group not in HEAD_GROUPS:
        raise ValueError(f"unknown head group {group!r}; choose one of {HEAD_GROUPS}")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    k = int(math.floor(fraction * scores.size + 1e-9))
    orders = head_orders(scores, 0)
    if group == "synergistic":
        chosen = orders["synergy_first"][:k]
    elif group == "redundant":
        chosen = orders["redundancy_first"][:k]
    else:
        if rng is None:
            raise ValueError("group 'random' needs rng")
        pairs = orders["synergy_first"]
        chosen = pairs[rng.choice(len(pairs), size=k, replace=False)]
    return sorted((int(layer), int(head)) for layer, head in chosen)


def accuracy_conditions(modes: Sequence[str], n_draws: int) -> list[dict[str, Any]]:
    """The perturbation conditions and how many draws each gets: intact (1); ``zero`` on the
    synergistic / redundant core (deterministic: 1) and on random heads (``n_draws``);
    noise modes on every group (``n_draws``)."""
    conditions = [{"mode": "none", "group": "intact", "n_draws": 1}]
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown ablation mode {mode!r}; choose from {MODES}")
        for group in HEAD_GROUPS:
            deterministic = mode in ("zero", "mean") and group != "random"
            conditions.append(
                {"mode": mode, "group": group, "n_draws": 1 if deterministic else int(n_draws)}
            )
    return conditions


def accuracy_under_perturbation(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Any],
    scores: Any,
    *,
    fraction: float = 0.25,
    modes: Sequence[str] = ("weights-noise", "zero"),
    relative_std: float = 1.0,
    noise_std: float | None = None,
    means: np.ndarray | None = None,
    n_draws: int = 3,
    seed: int = 0,
    max_new_tokens: int = 24,
    batch_size: int = 8,
    template: str = "auto",
    check: Callable[[Any, str], bool] | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Task accuracy of the intact model and with head groups perturbed.

    Draw ``d`` of a random group uses ``default_rng([seed, d])`` for the heads, the same heads
    in every mode (paired); noise draw ``d`` uses noise seed ``seed * 1000 + d``.
    ``relative_std`` is the ``weights-noise`` scale relative to each weight matrix's std.

    Returns
    -------
    Dataset with ``correct`` (condition, draw, task): 1.0 / 0.0, NaN where a condition has
    fewer draws; ``reply`` (same dims, text); per-condition coordinates ``mode``, ``group``,
    ``n_heads``.
    """
    if check is None:
        from .tasks import check_answer as check
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    if len(tasks) == 0:
        raise ValueError("no tasks")
    scores = _check_scores(scores, model)
    conditions = accuracy_conditions(modes, n_draws)
    correct = np.full((len(conditions), n_draws, len(tasks)), np.nan)
    replies = np.full((len(conditions), n_draws, len(tasks)), "", dtype=object)
    n_heads = np.zeros(len(conditions), dtype=int)
    prompts = [t.prompt for t in tasks]
    jobs = [(c, d) for c, cond in enumerate(conditions) for d in range(cond["n_draws"])]
    for c, d in tqdm(jobs, desc="accuracy conditions", disable=not progress):
        cond = conditions[c]
        if cond["group"] == "intact":
            heads: list[Head] = []
            kw: dict[str, Any] = {}
            mode = "zero"
        else:
            rng = np.random.default_rng([seed, d])
            heads = head_group(scores, cond["group"], fraction, rng)
            mode = cond["mode"]
            kw = {
                "zero": {},
                "mean": {"means": means},
                "noise": {"std": noise_std, "seed": seed * 1000 + d},
                "weights-noise": {"relative_std": relative_std, "seed": seed * 1000 + d},
            }[mode]
        n_heads[c] = len(heads)
        with ablated(model, heads, mode, **kw):
            texts = generate_answers(
                model, tokenizer, prompts, max_new_tokens, batch_size, template
            )
        correct[c, d] = [float(check(t, x)) for t, x in zip(tasks, texts, strict=True)]
        replies[c, d] = texts
    return xr.Dataset(
        {
            "correct": (("condition", "draw", "task"), correct),
            "reply": (("condition", "draw", "task"), replies.astype(str)),
        },
        coords={
            "condition": [f"{c['mode']}/{c['group']}" for c in conditions],
            "mode": ("condition", [c["mode"] for c in conditions]),
            "group": ("condition", [c["group"] for c in conditions]),
            "n_heads": ("condition", n_heads),
            "draw": np.arange(n_draws),
            "task": np.arange(len(tasks)),
            "task_prompt": ("task", prompts),
            "task_answer": ("task", [str(t.answer) for t in tasks]),
        },
        attrs={
            "fraction": float(fraction),
            "relative_std": float(relative_std),
            "noise_std": float(noise_std) if noise_std is not None else float("nan"),
            "seed": int(seed),
        },
    )


def accuracy_table(
    accuracy: xr.Dataset, n_bootstrap: int = 1000, seed: int = 0, ci_level: float = 0.95
) -> pd.DataFrame:
    """One row per condition: accuracy (mean over draws and tasks) with

    * ``sd_draws``: sd (ddof 1) of the per-draw accuracies (NaN with one draw);
    * ``ci_low``/``ci_high``: percentile bootstrap resampling tasks and draws with replacement;
    * ``wilson_low``/``wilson_high``: Wilson interval over tasks at the mean accuracy.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for c, name in enumerate(accuracy["condition"].values):
        values = accuracy["correct"].values[c]
        values = values[~np.isnan(values).all(axis=1)]  # (draws, tasks)
        n_draws, n_tasks = values.shape
        per_draw = values.mean(axis=1)
        acc = float(per_draw.mean())
        d_idx = bootstrap_indices(n_draws, n_bootstrap, rng)
        t_idx = bootstrap_indices(n_tasks, n_bootstrap, rng)
        boot = values[d_idx[:, :, None], t_idx[:, None, :]].mean(axis=(1, 2))
        ci_low, ci_high = percentile_interval(boot, ci_level)
        w_low, w_high = wilson_interval(acc * n_tasks, n_tasks, ci_level)
        rows.append(
            {
                "condition": str(name),
                "mode": str(accuracy["mode"].values[c]),
                "group": str(accuracy["group"].values[c]),
                "n_heads": int(accuracy["n_heads"].values[c]),
                "n_draws": int(n_draws),
                "n_tasks": int(n_tasks),
                "accuracy": acc,
                "sd_draws": float(per_draw.std(ddof=1)) if n_draws > 1 else math.nan,
                "ci_low": float(ci_low),
                "ci_high": float(ci_high),
                "wilson_low": w_low,
                "wilson_high": w_high,
            }
        )
    return pd.DataFrame(rows)


# --- summary and verdict ----------------------------------------------------------------


def ablation_summary(
    curves: xr.Dataset,
    accuracy: pd.DataFrame | None = None,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    relative_noise_std: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Headline numbers for ``summary.json["ablation"]`` (KL at the largest fraction removed,
    area ratios with bootstrap CIs for both KL directions, the accuracy table)."""
    out: dict[str, Any] = {}
    for metric, prefix in (("kl_clean_ablated", ""), ("kl_ablated_clean", "reverse_")):
        at = kl_at(curves, metric=metric)
        out["fraction"] = at["fraction"]
        out["n_heads_removed"] = at["n_removed"]
        out[f"{prefix}kl_synergy"] = at["synergy"]
        out[f"{prefix}kl_redundancy"] = at["redundancy"]
        out[f"{prefix}kl_random_mean"] = at["random_mean"]
        out[f"{prefix}kl_random_sd"] = at["random_sd"]
        for num, den, key in (
            ("synergy_first", "random", "auc_ratio_synergy_random"),
            ("redundancy_first", "random", "auc_ratio_redundancy_random"),
            ("synergy_first", "redundancy_first", "auc_ratio_synergy_redundancy"),
        ):
            out[f"{prefix}{key}"] = auc_ratio(curves, num, den, metric, n_bootstrap, seed)
    out["n_prompts"] = int(curves.sizes["prompt"])
    out["n_random_orders"] = len(random_orders(curves))
    out["n_new_tokens"] = int(curves.attrs.get("n_new_tokens", 0))
    out["ablation_mode"] = curves.attrs.get("mode", "zero")
    out["n_total_heads"] = int(curves.attrs["n_total"])
    out["relative_noise_std"] = relative_noise_std
    out["accuracy"] = [] if accuracy is None else accuracy.to_dict(orient="records")
    out.update(extra)
    return out
