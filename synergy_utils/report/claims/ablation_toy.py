"""The claim-4 rules on a toy of known truth: damage = norm + β · sd(norm) · synergy + noise.

Heads on an (n_layers, n_heads) grid; a head's projected norm is lognormal and grows with
depth; its synergy is standard normal, independent of the norm or correlated with it at
``correlation``; its self-information is 0.3 · synergy + noise (persistence tracks synergy,
damage ignores it). Removing head ``i`` on prompt ``p`` does damage ``norm_i + β · sd(norm) ·
synergy_i + e_i + ε_ip`` (head noise ``e``, prompt noise ``ε``, both in sd(norm)); removing a
set does the sum. :func:`replicate` applies the rule given norm and layer
(:mod:`.ablation_given`) and the comparison rule of :mod:`.ablation` (synergy order against
the norm order and random orders) to one draw; :func:`validate` counts verdicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...stages.matched_orders import matched_contrast, matched_random_orders, score_order
from ...stages.synergy_regression import synergy_coefficient
from ...summary import SUPPORTED, Ratio
from .ablation import compare_orders, comparison_verdict
from .ablation_given import assess, evidence

#: The window of the order statistic (fraction of heads removed) and its step.
WINDOW, STEP = 0.4, 0.05


def simulate_toy(
    beta: float, correlation: float = 0.0, seed: int = 0, *, n_layers: int = 20,
    n_heads: int = 10, n_prompts: int = 12, head_noise: float = 0.5, prompt_noise: float = 1.0,
) -> dict[str, np.ndarray]:  # fmt: skip
    """One toy draw: ``damage`` (n_layers, n_heads, n_prompts) and ``synergy``, ``norm``,
    ``self_information`` (n_layers, n_heads)."""
    rng = np.random.default_rng([seed, 22])
    shape = (n_layers, n_heads)
    norm = rng.lognormal(0.0, 0.3, shape) * (1 + np.arange(n_layers)[:, None] / n_layers)
    z = (norm - norm.mean()) / norm.std()
    synergy = correlation * z + np.sqrt(1 - correlation**2) * rng.normal(size=shape)
    sd = norm.std()
    head = norm + beta * sd * synergy + head_noise * sd * rng.normal(size=shape)
    damage = head[..., None] + prompt_noise * sd * rng.normal(size=(*shape, n_prompts))
    info = 0.3 * synergy + rng.normal(size=shape)
    return {"damage": damage, "synergy": synergy, "norm": norm, "self_information": info}


def order_area(damage: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Area under the cumulative damage curve over 0–:data:`WINDOW` of heads removed, in
    :data:`STEP` steps (trapezoid against the fraction): ``orders`` (..., n_total, 2) ->
    (..., n_prompts)."""
    n_total = orders.shape[-2]
    fractions = np.arange(0, WINDOW + STEP / 2, STEP)
    counts = np.floor(fractions * n_total + 1e-9).astype(int)
    per_head = damage[orders[..., 0], orders[..., 1]]  # (..., n_total, n_prompts)
    cumulative = np.concatenate(
        [np.zeros_like(per_head[..., :1, :]), np.cumsum(per_head, axis=-2)], axis=-2
    )[..., counts, :]
    return np.trapezoid(cumulative, fractions, axis=-2)


def _ratio(num: np.ndarray, den: np.ndarray, rng: np.random.Generator, n: int) -> Ratio:
    """Prompt-mean area ratio, bootstrap over prompts (paired) and, for (orders, prompts)
    denominators, over orders."""
    den = np.atleast_2d(den)
    p = rng.integers(0, num.size, size=(n, num.size))
    o = rng.integers(0, den.shape[0], size=(n, den.shape[0]))
    boot = num[p].mean(1) / den[o[:, :, None], p[:, None, :]].mean((1, 2))
    low, high = np.percentile(boot, [2.5, 97.5])
    return Ratio(float(num.mean() / den.mean()), float(low), float(high), n)


def replicate(
    beta: float, correlation: float, seed: int, n_orders: int = 100, n_bootstrap: int = 300
) -> dict[str, object]:
    """Both rules on one toy draw: the new verdict and its statistics, and the old one."""
    toy = simulate_toy(beta, correlation, seed)
    damage = toy["damage"]
    tested = order_area(damage, score_order(toy["synergy"]))
    matched = order_area(damage, matched_random_orders(toy["synergy"], toy["norm"], n_orders, seed))
    coef = synergy_coefficient(
        damage, toy["synergy"], toy["norm"], toy["self_information"], n_bootstrap, seed
    )
    new = assess(evidence(coef, matched_contrast(tested, matched, n_bootstrap, seed)))
    rng = np.random.default_rng([seed, 4])
    n_total = damage.shape[0] * damage.shape[1]
    perms = np.stack([rng.permutation(n_total) for _ in range(n_orders)])
    random = order_area(damage, np.stack(np.unravel_index(perms, damage.shape[:2]), axis=-1))
    norm_area = order_area(damage, score_order(toy["norm"]))
    ratios = {"random": _ratio(tested, random, rng, n_bootstrap),
              "output_norm": _ratio(tested, norm_area, rng, n_bootstrap)}  # fmt: skip
    old = comparison_verdict(compare_orders(ratios, {}, {"output_norm": "confound"}))
    e = new.evidence
    return {"beta": beta, "correlation": correlation, "seed": seed, "verdict": new.verdict,
            "old_verdict": old, "coefficient": e.coefficient, "coefficient_mde": e.coefficient_mde,
            "contrast_above": e.contrast_low > 0}  # fmt: skip


#: The toy cases of the validation: (β, correlation of synergy with norm).
CASES: tuple[tuple[float, float], ...] = ((0.5, 0.0), (0.0, 0.0), (0.0, 0.6), (0.5, 0.6))


def validate(n_replicates: int, cases=CASES, **kwargs) -> pd.DataFrame:
    """Share of each verdict per case over ``n_replicates`` seeds, new and old rule."""
    rows = [replicate(b, c, s, **kwargs) for b, c in cases for s in range(n_replicates)]
    frame = pd.DataFrame(rows)
    out = frame.groupby(["beta", "correlation"]).agg(
        supported=("verdict", lambda v: np.mean(v == SUPPORTED)),
        not_supported=("verdict", lambda v: np.mean(v == "not supported")),
        inconclusive=("verdict", lambda v: np.mean(v == "inconclusive")),
        contrast_above_0=("contrast_above", "mean"),
        old_rule_supported=("old_verdict", lambda v: np.mean(v == SUPPORTED)),
        mean_coefficient=("coefficient", "mean"),
        mean_mde=("coefficient_mde", "mean"),
    )
    return out.reset_index()
