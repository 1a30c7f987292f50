"""Accuracy under perturbation: checkable tasks answered by the intact model and with the top,
the bottom or a random share of heads (by each removal order) perturbed.

The perturbation is the predecessor's: Gaussian noise on the heads' query-projection rows and
output-projection columns (``weights-noise`` of :func:`synergy_utils.lm.interventions.ablated`),
its standard deviation ``relative_std`` times each weight matrix's own. The predecessor did not
report its scale; :func:`calibrate_noise` picks it on separate tasks and head sets so that a
random share of heads roughly halves the intact accuracy, and the chapter reports it.

Replies are greedy and stop at the end-of-sequence token; all tasks of a condition run in one
batch with their shared prompt prefix computed once
(:func:`synergy_utils.lm.teacher_forcing.greedy_replies`). Draw ``d`` of every condition uses
the noise seed ``seed * 1000 + d`` (paired across orders); random head sets are nested
prefixes of seeded permutations, so a random 10 % lies inside the random 25 % of the same draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from ..lm.decoding import eos_token_ids, pad_token_id, render_prompt
from ..lm.interventions import Head, ablated
from ..lm.teacher_forcing import greedy_replies
from ..stats.resampling import bootstrap_indices, percentile_interval, wilson_interval

#: Head groups of one order: its first ``fraction`` (top), its last (bottom), or random heads.
HEAD_GROUPS: tuple[str, ...] = ("top", "bottom", "random")
INTACT = "intact"


def head_group(
    order: np.ndarray, group: str, fraction: float = 0.25, rng: np.random.Generator | None = None
) -> list[Head]:
    """floor(fraction * n_total) heads of a removal order (n_total, 2): the first (``"top"``,
    the highest scores), the last (``"bottom"``) or a ``"random"`` choice (needs ``rng``)."""
    order = np.asarray(order, dtype=int)
    if group not in HEAD_GROUPS:
        raise ValueError(f"unknown head group {group!r}; choose one of {HEAD_GROUPS}")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    k = int(math.floor(fraction * len(order) + 1e-9))
    if group == "top":
        chosen = order[:k]
    elif group == "bottom":
        chosen = order[len(order) - k :]
    else:
        if rng is None:
            raise ValueError("group 'random' needs rng")
        chosen = order[rng.permutation(len(order))[:k]]
    return sorted((int(layer), int(head)) for layer, head in chosen)


def distinct_tasks(family: str, difficulty: int, n: int, seed: int = 0) -> list[Any]:
    """Up to ``n`` tasks of :func:`synergy_utils.stages.tasks.generate_tasks` with distinct
    prompts, in the order drawn: a repeated problem gets the same greedy reply, so repeats
    would add no information but narrow the intervals. Small families run out (one-digit
    addition has 100 problems: ``n >= 100`` gives all of them)."""
    from .tasks import generate_tasks

    seen: set[str] = set()
    out = []
    for task in generate_tasks(family, difficulty, max(50 * n, 1000), seed):
        if task.prompt not in seen and len(out) < n:
            seen.add(task.prompt)
            out.append(task)
    return out


def _random_order(n_total: int, n_heads: int, seed: int, draw: int) -> np.ndarray:
    permutation = np.random.default_rng([seed, 1000 + draw]).permutation(n_total)
    return np.stack([permutation // n_heads, permutation % n_heads], axis=1)


def perturbation_conditions(
    orders: Mapping[str, np.ndarray],
    *,
    fraction: float = 0.25,
    n_draws: int = 2,
    n_random_sets: int = 4,
    sweep_fractions: Sequence[float] = (),
    sweep_orders: Sequence[str] = ("synergy", "random"),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Every condition of the accuracy test, one dict each: ``order``, ``group``, ``fraction``,
    ``draw``, ``heads``, ``noise_seed``.

    The intact model; the top and the bottom ``fraction`` of every order, ``n_draws`` noise
    draws each; ``n_random_sets`` random sets (each its own draw); and, for the accuracy
    against the fraction perturbed, the top of each of ``sweep_orders`` (``"random"``: random
    sets) at each of ``sweep_fractions``, ``n_draws`` draws each.
    """
    if n_draws < 1 or n_random_sets < 1:
        raise ValueError(f"n_draws and n_random_sets must be >= 1, got {n_draws}, {n_random_sets}")
    first = np.asarray(next(iter(orders.values())))
    n_total = len(first)
    n_heads = int(first[:, 1].max()) + 1
    conditions = [dict(order=INTACT, group=INTACT, fraction=0.0, draw=0, heads=[], noise_seed=0)]

    def add(order: str, group: str, frac: float, draws: int) -> None:
        for d in range(draws):
            if group == "random":
                heads = head_group(_random_order(n_total, n_heads, seed, d), "top", frac)
            else:
                heads = head_group(orders[order], group, frac)
            conditions.append(
                dict(
                    order=order,
                    group=group,
                    fraction=float(frac),
                    draw=d,
                    heads=heads,
                    noise_seed=seed * 1000 + d,
                )
            )

    for name in orders:
        for group in ("top", "bottom"):
            add(name, group, fraction, n_draws)
    add("random", "random", fraction, n_random_sets)
    for frac in sweep_fractions:
        if math.isclose(frac, fraction):
            continue
        for name in sweep_orders:
            if name == "random":
                add("random", "random", frac, n_draws)
            elif name in orders:
                add(name, "top", frac, n_draws)
    return conditions


def task_replies(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    share_prefix: bool = True,
    batch_size: int | None = None,
) -> list[str]:
    """Greedy replies (stopping at EOS) to token-id prompts, decoded without special tokens."""
    eos, pad = eos_token_ids(model, tokenizer), pad_token_id(model, tokenizer)
    size = batch_size or len(prompt_ids)
    texts: list[str] = []
    for start in range(0, len(prompt_ids), size):
        ids = greedy_replies(
            model,
            prompt_ids[start : start + size],
            max_new_tokens,
            eos_token_ids=eos,
            pad_token_id=pad,
            share_prefix=share_prefix,
        )
        texts += tokenizer.batch_decode(ids, skip_special_tokens=True)
    return texts


def accuracy_under_perturbation(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Any],
    orders: Mapping[str, np.ndarray],
    *,
    relative_std: float = 0.5,
    max_new_tokens: int = 10,
    template: str = "auto",
    share_prefix: bool = True,
    batch_size: int | None = None,
    check: Callable[[Any, str], bool] | None = None,
    progress: bool = True,
    **condition_kw: Any,
) -> xr.Dataset:
    """Task accuracy of the intact model and with head groups perturbed by weight noise.

    ``orders``: named removal orders (n_total, 2) (:func:`.ablation_orders.head_orders`,
    random ones are drawn here); ``condition_kw`` goes to :func:`perturbation_conditions`.

    Returns
    -------
    Dataset with ``correct`` (condition, task) 1.0 / 0.0 and ``reply`` (text); per-condition
    coordinates ``order``, ``group``, ``fraction``, ``draw``, ``n_heads``, ``noise_seed``.
    """
    if check is None:
        from .tasks import check_answer as check
    if len(tasks) == 0:
        raise ValueError("no tasks")
    named = {k: v for k, v in orders.items() if not str(k).startswith("random_")}
    conditions = perturbation_conditions(named, **condition_kw)
    prompt_ids = [render_prompt(tokenizer, t.prompt, template) for t in tasks]
    correct = np.zeros((len(conditions), len(tasks)))
    replies = np.full((len(conditions), len(tasks)), "", dtype=object)
    for c, cond in enumerate(tqdm(conditions, desc="accuracy conditions", disable=not progress)):
        kw = {"relative_std": relative_std, "seed": cond["noise_seed"]} if cond["heads"] else {}
        with ablated(model, cond["heads"], "weights-noise" if cond["heads"] else "zero", **kw):
            texts = task_replies(
                model,
                tokenizer,
                prompt_ids,
                max_new_tokens,
                share_prefix=share_prefix,
                batch_size=batch_size,
            )
        correct[c] = [float(check(t, x)) for t, x in zip(tasks, texts, strict=True)]
        replies[c] = texts
    column = {
        key: ("condition", [c[key] for c in conditions])
        for key in ("order", "group", "fraction", "draw", "noise_seed")
    }
    return xr.Dataset(
        {
            "correct": (("condition", "task"), correct),
            "reply": (("condition", "task"), replies.astype(str)),
        },
        coords={
            "condition": np.arange(len(conditions)),
            **column,
            "n_heads": ("condition", [len(c["heads"]) for c in conditions]),
            "task": np.arange(len(tasks)),
            "task_prompt": ("task", [t.prompt for t in tasks]),
            "task_answer": ("task", [str(t.answer) for t in tasks]),
        },
        attrs={"relative_std": float(relative_std), "mode": "weights-noise"},
    )


def reply_agreement(
    reference: Any,
    candidate: Any,
    tokenizer: Any,
    tasks: Sequence[Any],
    *,
    max_new_tokens: int = 10,
    template: str = "auto",
    min_agreement: float = 0.95,
    max_accuracy_gap: float = 0.05,
    check: Callable[[Any, str], bool] | None = None,
) -> dict[str, Any]:
    """Whether ``candidate`` (e.g. a bfloat16 copy) answers the tasks as ``reference`` does:
    the share of tasks judged the same way, both accuracies, and ``passed`` when the share is
    at least ``min_agreement`` and the accuracies differ by at most ``max_accuracy_gap``."""
    if check is None:
        from .tasks import check_answer as check
    ids = [render_prompt(tokenizer, t.prompt, template) for t in tasks]
    judged = {}
    for name, model in (("reference", reference), ("candidate", candidate)):
        texts = task_replies(model, tokenizer, ids, max_new_tokens)
        judged[name] = np.array([check(t, x) for t, x in zip(tasks, texts, strict=True)])
    agreement = float(np.mean(judged["reference"] == judged["candidate"]))
    gap = abs(float(judged["reference"].mean() - judged["candidate"].mean()))
    return {
        "n_tasks": len(tasks),
        "agreement": agreement,
        "accuracy_reference": float(judged["reference"].mean()),
        "accuracy_candidate": float(judged["candidate"].mean()),
        "min_agreement": float(min_agreement),
        "max_accuracy_gap": float(max_accuracy_gap),
        "passed": bool(agreement >= min_agreement and gap <= max_accuracy_gap),
    }


def accuracy_table(
    accuracy: xr.Dataset, n_bootstrap: int = 1000, seed: int = 0, ci_level: float = 0.95
) -> pd.DataFrame:
    """One row per (order, group, fraction): accuracy (mean over draws and tasks) with

    * ``sd_draws``: sd (ddof 1) of the per-draw accuracies (NaN with one draw);
    * ``ci_low``/``ci_high``: percentile bootstrap resampling tasks and draws with replacement;
    * ``wilson_low``/``wilson_high``: Wilson interval over the tasks at the mean accuracy.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({k: accuracy[k].values for k in ("order", "group", "fraction")})
    rows = []
    for (order, group, fraction), part in frame.groupby(["order", "group", "fraction"], sort=False):
        values = accuracy["correct"].values[part.index.to_numpy()]  # (draws, tasks)
        n_draws, n_tasks = values.shape
        per_draw = values.mean(axis=1)
        acc = float(per_draw.mean())
        d_idx = bootstrap_indices(n_draws, n_bootstrap, rng)
        t_idx = bootstrap_indices(n_tasks, n_bootstrap, rng)
        boot = values[d_idx[:, :, None], t_idx[:, None, :]].mean(axis=(1, 2))
        ci_low, ci_high = percentile_interval(boot, ci_level)
        w_low, w_high = wilson_interval(acc * n_tasks, n_tasks, ci_level)
        rows.append(
            dict(
                order=str(order),
                group=str(group),
                fraction=float(fraction),
                n_heads=int(accuracy["n_heads"].values[part.index[0]]),
                n_draws=int(n_draws),
                n_tasks=int(n_tasks),
                accuracy=acc,
                sd_draws=float(per_draw.std(ddof=1)) if n_draws > 1 else math.nan,
                ci_low=float(ci_low),
                ci_high=float(ci_high),
                wilson_low=w_low,
                wilson_high=w_high,
            )
        )
    return pd.DataFrame(rows)


def accuracy_gap(
    accuracy: xr.Dataset,
    order: str,
    fraction: float,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> dict[str, float]:
    """Accuracy with the top ``fraction`` of ``order`` perturbed minus accuracy with random
    head sets of the same size perturbed (all random sets pooled), paired over tasks.

    ``accuracy``: :func:`accuracy_under_perturbation`'s dataset. Negative: perturbing the
    order's top heads costs more accuracy than perturbing random heads (the direction in which
    a larger KL says the order hurts more). Returns ``value``, ``ci_low``, ``ci_high``
    (percentile bootstrap over tasks, the same resample for both arms), ``order_accuracy``,
    ``random_accuracy`` and ``n_tasks``.
    """
    orders, groups = accuracy["order"].values, accuracy["group"].values
    near = np.isclose(accuracy["fraction"].values, fraction)
    arms = {
        "order": (orders == order) & (groups == "top") & near,
        "random": (orders == "random") & (groups == "random") & near,
    }
    for name, rows in arms.items():
        if not rows.any():
            raise ValueError(f"no {name} condition ({order!r}) at fraction {fraction:g}")
    correct = np.asarray(accuracy["correct"].values, dtype=float)
    per_task = {name: correct[rows].mean(axis=0) for name, rows in arms.items()}  # (task,)
    gap = per_task["order"] - per_task["random"]
    tasks = bootstrap_indices(gap.size, n_bootstrap, seed)
    low, high = percentile_interval(gap[tasks].mean(axis=1), ci_level)
    return {
        "value": float(gap.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "order_accuracy": float(per_task["order"].mean()),
        "random_accuracy": float(per_task["random"].mean()),
        "n_tasks": int(gap.size),
    }


def calibrate_noise(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Any],
    n_total: int,
    n_heads: int,
    *,
    scales: Sequence[float] = (0.25, 0.5, 0.75, 1.0),
    fraction: float = 0.25,
    n_sets: int = 2,
    seed: int = 0,
    max_new_tokens: int = 10,
    template: str = "auto",
    check: Callable[[Any, str], bool] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """The weight-noise scale at which a random ``fraction`` of heads halves the accuracy.

    Runs on its own ``tasks`` and random head sets (seeds apart from the test's): the intact
    accuracy, then the mean accuracy over ``n_sets`` random sets at each scale. ``chosen`` is
    the scale where the accuracy falls to half the intact one, interpolated linearly between
    the two grid points around it (the smallest or largest scale when the grid misses it).
    """
    if check is None:
        from .tasks import check_answer as check
    ids = [render_prompt(tokenizer, t.prompt, template) for t in tasks]

    def score(heads: list[Head], scale: float, noise_seed: int) -> float:
        kw = {"relative_std": scale, "seed": noise_seed} if heads else {}
        with ablated(model, heads, "weights-noise" if heads else "zero", **kw):
            texts = task_replies(model, tokenizer, ids, max_new_tokens)
        return float(np.mean([check(t, x) for t, x in zip(tasks, texts, strict=True)]))

    intact = score([], 0.0, 0)
    accuracy = []
    for scale in tqdm(list(scales), desc="noise calibration", disable=not progress):
        sets = [
            head_group(_random_order(n_total, n_heads, seed + 7919, d), "top", fraction)
            for d in range(n_sets)
        ]
        accuracy.append(
            float(np.mean([score(h, scale, seed * 1000 + 500 + d) for d, h in enumerate(sets)]))
        )
    target = intact / 2
    return {
        "scales": [float(s) for s in scales],
        "accuracy": accuracy,
        "intact": intact,
        "target": target,
        "chosen": _crossing(list(scales), accuracy, target),
        "n_tasks": len(tasks),
        "n_sets": int(n_sets),
        "fraction": float(fraction),
    }


def _crossing(scales: Sequence[float], accuracy: Sequence[float], target: float) -> float:
    """First scale where ``accuracy`` (along increasing ``scales``) reaches ``target`` or
    below, interpolated linearly from the previous grid point."""
    for i, acc in enumerate(accuracy):
        if acc <= target:
            if i == 0:
                return float(scales[0])
            a0, a1, s0, s1 = accuracy[i - 1], acc, scales[i - 1], scales[i]
            t = (a0 - target) / (a0 - a1) if a0 != a1 else 1.0
            return round(float(s0 + t * (s1 - s0)), 3)
    return float(scales[-1])
