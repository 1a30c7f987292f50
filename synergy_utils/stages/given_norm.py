"""Claim 4 given norm and layer, on a model: single-head damage and matched-order areas.

Two measurements feed the rule of :mod:`synergy_utils.report.claims.ablation_given`:

* :func:`single_head_damage`: the teacher-forced KL(clean ‖ ablated) of removing each head
  *alone*, one forward pass per head (started at the head's layer, the layers below replayed);
  regressed on the head's synergy with norm, layer third and self-information as covariates
  (:func:`synergy_utils.stages.synergy_regression.synergy_coefficient`);
* :func:`window_areas`: the area under the cumulative KL curve over the first ``window`` share
  of heads removed (0–40 %, the predecessor paper's window), for the order under test and for
  random orders matched to it head for head on layer third and projected-norm decile
  (:func:`synergy_utils.stages.matched_orders.matched_random_orders`), once per ranking
  replicate, so that the contrast's interval carries the ranking noise.

:func:`given_norm_study` runs both for the claim-1 core order (:mod:`.core_order`) in every
ablation mode asked for (``zero`` decides; ``mean`` and ``resample`` are shown beside it) and
returns labelled arrays and the two statistics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ..lm.architectures import head_layout
from ..lm.teacher_forcing import TeacherForcedBatch, clean_pass, kl_under_ablation
from ..summary import AblationGiven, Estimate
from .ablation import removal_counts
from .matched_orders import Contrast, matched_contrast, matched_random_orders, score_order
from .synergy_regression import Coefficient, synergy_coefficient

#: Share of all heads removed up to which the order areas are taken (Urbina-Rodriguez et al.).
WINDOW = 0.4
#: The mode that decides the verdict; the others are shown beside it.
VERDICT_MODE = "zero"
GIVEN_MODES: tuple[str, ...] = ("zero", "mean", "resample")


def single_head_damage(
    model: Any,
    batch: TeacherForcedBatch,
    *,
    clean: Any = None,
    mode: str = "zero",
    heads: np.ndarray | None = None,
    progress: bool = False,
    **ablation_kw: Any,
) -> np.ndarray:
    """``(n_layers, n_heads, n_prompts)`` KL(clean ‖ ablated) in nats per token of removing
    each head alone (one pass per head, :func:`kl_under_ablation`); ``heads``: optional
    (n_layers, n_heads) booleans, the heads to measure (the others are NaN)."""
    layout = head_layout(model)
    grid = (layout.n_layers, layout.n_heads)
    chosen = np.ones(grid, bool) if heads is None else np.asarray(heads, bool)
    if chosen.shape != grid:
        raise ValueError(f"heads must be {grid} booleans, got shape {chosen.shape}")
    pairs = np.argwhere(chosen)
    sets = [[(int(layer), int(head))] for layer, head in pairs]
    kl = kl_under_ablation(
        model, batch, sets, clean=clean, mode=mode, progress=progress, **ablation_kw
    )
    out = np.full(grid + (batch.n_prompts,), np.nan)
    out[pairs[:, 0], pairs[:, 1]] = kl[:, :, 0]
    return out


def single_head_sample(shape: tuple[int, int], n_single_heads: int, seed: int = 0) -> np.ndarray:
    """(n_layers, n_heads) booleans: ``n_single_heads`` heads drawn without replacement (from
    ``numpy.random.default_rng([seed, 7])``), every head for 0 or at least all of them."""
    n_total = int(np.prod(shape))
    if n_single_heads < 0:
        raise ValueError(f"n_single_heads must be >= 0, got {n_single_heads}")
    chosen = np.zeros(n_total, bool)
    if n_single_heads == 0 or n_single_heads >= n_total:
        chosen[:] = True
    else:
        chosen[np.random.default_rng([seed, 7]).choice(n_total, n_single_heads, replace=False)] = (
            True
        )
    return chosen.reshape(shape)


def window_areas(
    model: Any,
    batch: TeacherForcedBatch,
    orders: np.ndarray,
    counts: Sequence[int],
    *,
    clean: Any = None,
    mode: str = "zero",
    progress: bool = False,
    **ablation_kw: Any,
) -> np.ndarray:
    """Area under each order's KL(clean ‖ ablated) curve per prompt, nats × share of heads.

    ``orders``: (..., n_total, 2) removal orders; ``counts``: heads removed at the curve's
    points (from 0). Trapezoid rule over the share removed. Returns (..., n_prompts).
    """
    orders = np.asarray(orders, dtype=np.int64)
    lead, n_total = orders.shape[:-2], orders.shape[-2]
    flat = orders.reshape((-1, n_total, 2))
    sets = [[tuple(map(int, h)) for h in order[:n]] for order in flat for n in counts]
    kl = kl_under_ablation(
        model, batch, sets, clean=clean, mode=mode, progress=progress, **ablation_kw
    )[:, :, 0].reshape(len(flat), len(counts), batch.n_prompts)
    x = np.asarray(counts, dtype=float) / n_total
    area = np.trapezoid(kl, x, axis=1)
    return area.reshape(lead + (batch.n_prompts,))


def head_covariates(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    series: Any,
    max_new_tokens: int = 8,
    tau: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """``(norm, self_information)``, each (n_layers, n_heads): the mean projected output norm
    of every head (what zeroing removes: the norm of its contribution after the output
    projection, :func:`synergy_utils.lm.recording.record_head_series` with
    ``reduction="projected"``, on ``prompts``) and the self-information of its ranking series
    (nats, lag ``tau``)."""
    from ..lm.recording import record_head_series
    from .ablation_orders import series_scores

    projected = record_head_series(
        model, tokenizer, list(prompts), max_new_tokens, reduction="projected",
        batch_size=len(prompts),
    )  # fmt: skip
    norm = np.nanmean(np.asarray(projected.values, dtype=np.float64), axis=(0, 1))
    return norm, series_scores(series, tau)["self_information"]


@dataclass
class GivenNormResult:
    """What :func:`given_norm_study` measured: the coefficient, the matched contrast of each
    mode (``contrasts[VERDICT_MODE]`` decides), and the arrays behind them."""

    coefficient: Coefficient
    contrasts: dict[str, Contrast]
    single_head: xr.Dataset
    areas: xr.Dataset
    window: float
    step: float
    seconds: dict[str, float] = field(default_factory=dict)


def _filled(core: np.ndarray) -> np.ndarray:
    """Scores with a head without a finite score (no finite pair) set below every other head
    of its ranking, so that it is removed last."""
    out = core.copy()
    for row in out:
        bad = ~np.isfinite(row)
        if bad.all():
            raise ValueError("no head has a finite core score")
        row[bad] = row[~bad].min() - 1.0
    return out


def tested_order(core: np.ndarray) -> np.ndarray:
    """(n_total, 2) ``(layer, head)`` removal order of one ranking's (n_layers, n_heads) core
    scores, highest first; heads without a finite score last."""
    return score_order(_filled(np.asarray(core, dtype=float)[None])[0])


def _matched_sets(core: np.ndarray, norm: np.ndarray, n_matched: int, seed: int):
    """(R, n_total, 2) tested orders and (R, M, n_total, 2) matched orders, one per ranking."""
    tested = np.stack([score_order(c) for c in core])
    matched = np.stack(
        [
            matched_random_orders(c, norm, n_matched, seed=seed + 1000 * r)
            for r, c in enumerate(core)
        ]
    )
    return tested, matched


def given_norm_study(
    model: Any,
    batch: TeacherForcedBatch,
    core: np.ndarray,
    norm: np.ndarray,
    self_information: np.ndarray,
    *,
    single_batch: TeacherForcedBatch | None = None,
    window: float = WINDOW,
    fraction_step: float = 0.1,
    n_matched: int = 8,
    n_single_heads: int = 0,
    modes: Sequence[str] = GIVEN_MODES,
    means: np.ndarray | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    reuse_residual: bool = True,
    progress: bool = False,
) -> GivenNormResult:
    """Single-head damage and matched-order areas of the core order (module notes).

    ``core``: (R, n_layers, n_heads) scores, row 0 the full ranking set and rows 1.. bootstrap
    re-rankings (:func:`.core_order.ranking_replicates`), or (n_layers, n_heads);
    ``norm``: projected output norm per head; ``self_information``: nats per head.
    ``batch``: held-out prompts for the order areas; ``single_batch``: the prompts of the
    single-head passes (default ``batch``); ``n_single_heads``: heads measured alone (0: all;
    a seeded random sample otherwise, :func:`single_head_sample`). The other modes than
    :data:`VERDICT_MODE` use ranking row 0 only. ``means``: head means for mode ``mean``
    (required if it is asked). ``reuse_residual``: start each pass at its lowest ablated
    layer (:func:`~synergy_utils.lm.teacher_forcing.kl_under_ablation`; False only to time it).
    """
    core = np.asarray(core, dtype=float)
    core = _filled(core[None] if core.ndim == 2 else core)
    unknown = sorted(set(modes) - set(GIVEN_MODES))
    if unknown or VERDICT_MODE not in modes:
        raise ValueError(f"modes must include {VERDICT_MODE!r} and lie in {GIVEN_MODES}: {modes}")
    if "resample" in modes and batch.n_prompts < 2:
        raise ValueError("mode 'resample' needs at least 2 held-out prompts")
    if "mean" in modes and means is None:
        raise ValueError("mode 'mean' needs means (interventions.head_mean_outputs)")
    layout = head_layout(model)
    counts = removal_counts(layout.n_total, fraction_step, window)
    seconds: dict[str, float] = {}
    clean = clean_pass(model, batch, record_layers=True)
    started = time.perf_counter()
    single_batch = batch if single_batch is None else single_batch
    single_clean = clean if single_batch is batch else None
    measured = single_head_sample((layout.n_layers, layout.n_heads), n_single_heads, seed)
    single = single_head_damage(
        model, single_batch, clean=single_clean, heads=measured, progress=progress,
        reuse_residual=reuse_residual,
    )  # fmt: skip
    seconds["single_head"] = round(time.perf_counter() - started, 1)
    coefficient = synergy_coefficient(
        single, core, norm, self_information, n_bootstrap=n_bootstrap, seed=seed, heads=measured
    )
    tested, matched = _matched_sets(core, norm, n_matched, seed)
    contrasts, area_arrays = {}, {}
    for mode in modes:
        started = time.perf_counter()
        kw = {"means": means} if mode == "mean" else {}
        kw["reuse_residual"] = reuse_residual
        rows = slice(None) if mode == VERDICT_MODE else slice(0, 1)
        both = np.concatenate([tested[rows, None], matched[rows]], axis=1)
        area = window_areas(
            model, batch, both, counts, clean=clean, mode=mode, progress=progress, **kw
        )
        contrasts[mode] = matched_contrast(
            area[:, 0], area[:, 1:], n_bootstrap=n_bootstrap, seed=seed
        )
        padded = np.full((core.shape[0],) + area.shape[1:], np.nan)
        padded[: area.shape[0]] = area
        area_arrays[mode] = padded
        seconds[f"areas_{mode}"] = round(time.perf_counter() - started, 1)
    return GivenNormResult(
        coefficient=coefficient,
        contrasts=contrasts,
        single_head=_single_dataset(single, core[0], norm, self_information),
        areas=_areas_dataset(area_arrays, counts, layout.n_total),
        window=float(window),
        step=float(fraction_step),
        seconds=seconds,
    )


def _single_dataset(single, core, norm, self_information) -> xr.Dataset:
    dims = ("layer", "head")
    return xr.Dataset(
        {
            "kl": (dims + ("prompt",), single),
            "core": (dims, core),
            "norm": (dims, np.asarray(norm, dtype=float)),
            "self_information": (dims, np.asarray(self_information, dtype=float)),
        },
        coords={d: np.arange(n) for d, n in zip(dims + ("prompt",), single.shape, strict=True)},
        attrs={
            "description": (
                "KL(clean || ablated) in nats per token of removing each head alone (kl), "
                "the head's core score (nats per pair), projected output norm and "
                "self-information (nats)"
            )
        },
    )


def _areas_dataset(areas: dict[str, np.ndarray], counts, n_total: int) -> xr.Dataset:
    modes = list(areas)
    stacked = np.stack([areas[m] for m in modes])  # (mode, ranking, order, prompt)
    n_orders = stacked.shape[2]
    return xr.Dataset(
        {"area": (("mode", "ranking", "order", "prompt"), stacked)},
        coords={
            "mode": modes,
            "ranking": np.arange(stacked.shape[1]),
            "order": ["core"] + [f"matched_{m}" for m in range(n_orders - 1)],
            "prompt": np.arange(stacked.shape[3]),
        },
        attrs={
            "counts": list(map(int, counts)),
            "window": float(counts[-1] / n_total),
            "description": (
                "area under the KL(clean || ablated) curve (nats x share of heads removed) "
                "over the window, per prompt; order 'core' is the claim-1 core order of the "
                "ranking replicate, matched_m random orders matched to it on layer third and "
                "projected-norm decile; ranking 0 is the full ranking set (the only one for "
                "the modes other than zero)"
            ),
        },
    )


def _estimate(value: float, low: float, high: float) -> Estimate:
    return Estimate(*(float(v) if np.isfinite(v) else None for v in (value, low, high)))


def given_summary(
    result: GivenNormResult,
    *,
    order: str,
    n_prompts: int,
    n_single_prompts: int,
    accuracy: Mapping[str, float] | None = None,
    accuracy_fraction: float | None = None,
) -> AblationGiven:
    """The numbers of ``result`` as the summary's :class:`~synergy_utils.summary.AblationGiven`
    (``verdict`` and ``reason`` empty: the report layer's rule fills them,
    ``synergy_utils.report.claims.ablation_given.with_verdict``); ``accuracy``: the
    :func:`.ablation_accuracy.accuracy_gap` of ``order`` at ``accuracy_fraction``, if measured."""
    from .synergy_regression import Z_ALPHA, Z_POWER

    c, k = result.coefficient, result.contrasts[VERDICT_MODE]
    gap = None if accuracy is None else _estimate(
        *(float(accuracy[key]) for key in ("value", "ci_low", "ci_high"))
    )  # fmt: skip
    return AblationGiven(
        order=order,
        mode=VERDICT_MODE,
        window=result.window,
        step=result.step,
        coefficient=_estimate(c.value, c.ci_low, c.ci_high),
        coefficient_mde=float(c.mde),
        contrast=_estimate(k.value, k.ci_low, k.ci_high),
        contrast_mde=float((Z_ALPHA + Z_POWER) * k.se),
        matched_ratio=_estimate(k.ratio, k.ratio_low, k.ratio_high),
        share_beaten=float(k.share_beaten),
        mode_ratios={
            m: _estimate(v.ratio, v.ratio_low, v.ratio_high) for m, v in result.contrasts.items()
        },
        n_heads=int(c.n_heads),
        n_orders=int(k.n_orders),
        n_rankings=int(k.n_rankings),
        n_prompts=int(n_prompts),
        n_single_prompts=int(n_single_prompts),
        covariates=list(c.covariates),
        seconds=dict(result.seconds),
        accuracy_gap=gap,
        accuracy_fraction=accuracy_fraction,
    )
