"""One prompt's head scores, order parameters and circular-shift nulls (phase stage); and
where a reply's answer ends.

:func:`prompt_scores` takes one prompt's head series (any length T >= 7) and computes, on
each series' circular closure (:func:`~synergy_utils.stats.nulls.circular_closure`), the ΦID
``sts`` and ``rtr`` of every pair of heads, observed and under ``K`` circular-shift
surrogates (one offset per head per surrogate; a surrogate counts for a pair only if the
heads' relative offset is at least ``min_shift`` and was not already used for that pair).
This is the construction of :func:`synergy_utils.stats.pair_null.null_corrected_atoms`, for a
single prompt and without its tests over pairs (the phase stage needs one number per prompt
and many prompts, fast; ``tests/test_phase.py`` checks that the two give the same Δ).

The order parameters (:data:`ORDER_PARAMETERS`), one value per prompt:

``block_contrast`` (null-corrected; the verdict's)
    claim 1's statistic (:mod:`.core_block`) on one prompt: the pair Δsts regressed on
    middle–middle and mixed indicators, the pair's persistence (self-information of each
    head's lag-1 autocorrelation in this window) and its Δrtr; the middle–middle coefficient,
    in nats per pair (:func:`.core_block.adjusted_contrasts_of`). Claim 1's adjusted contrast
    is the same design and fit on the prompt means, so the two chapters share one statistic.
``delta_sts_contrast`` (null-corrected; the earlier verdict's)
    each head's Δsts (mean over partners of the pair's sts minus the mean of its valid
    surrogates), averaged over the middle third of the layers minus over the outer two
    thirds (the contrast of claim 1's :func:`synergy_utils.stages.core_null.core_evidence`),
    in nats. 0 when the middle heads are no more synergistic *with their partners, beyond
    each head's own persistence* than the outer heads.
``middle_minus_outer`` (raw; the earlier order parameter)
    the rank gradient rank(sts) − rank(rtr) of the prompt's head scores, averaged per layer,
    min-max scaled (the layer profile), middle third minus outer thirds; in [−1, 1].
``middle_sts_share`` (raw)
    the middle third's share of the summed head sts.

Each also gets ``K`` null values: the same statistic with one surrogate in the place of the
observed series (for Δ, that surrogate minus the mean of the other surrogates of the pair), so
that a sweep of null values per surrogate can be fitted like the observed sweep.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..stats.nulls import (
    circular_closure,
    default_min_shift,
    draw_offsets,
    pair_shift_mask,
    rotate,
)
from . import cores
from .core_block import adjusted_contrasts_of, head_persistence

#: The order parameters, with a short description for tables and plots.
ORDER_PARAMETERS: dict[str, str] = {
    "block_contrast": (
        "claim 1's adjusted contrast: null-corrected sts of middle-middle minus outer-outer "
        "pairs of heads, given persistence and redundancy (nats per pair)"
    ),
    "delta_sts_contrast": (
        "middle-third minus outer-thirds mean of the heads' null-corrected sts (Δsts, nats)"
    ),
    "middle_minus_outer": "middle-third minus outer-thirds mean of the scaled rank-gradient "
    "profile (raw)",
    "middle_sts_share": "share of total sts carried by middle-third heads (raw)",
}
#: Axis labels with units.
ORDER_PARAMETER_LABELS: dict[str, str] = {
    "block_contrast": "adjusted Δsts, middle–middle minus\nouter–outer pairs (nats per pair)",
    "delta_sts_contrast": "Δsts, middle minus outer thirds\n(nats)",
    "middle_minus_outer": "raw gradient, middle minus outer\n(scaled, −1 to 1)",
    "middle_sts_share": "middle-third share of sts\n(fraction of total)",
}
#: The verdict's order parameter, and the raw one reported beside it.
PRIMARY_ORDER_PARAMETER = "block_contrast"
RAW_ORDER_PARAMETER = "middle_minus_outer"
#: Shortest series (steps) a prompt's scores are computed on.
MIN_STEPS = 7
#: The two windows of every prompt's series. The verdict reads the fixed window: answer spans
#: lengthen with difficulty, and the order parameter drifts with series length, so the span
#: window confounds difficulty with length (it is reported beside, as a control).
WINDOWS: tuple[str, ...] = ("answer_span", "fixed_window")
VERDICT_WINDOW = "fixed_window"


def _nanmean(a: np.ndarray, axis: Any) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def middle_third(n_layers: int) -> np.ndarray:
    """(L,) bool: the middle third of the layers, as :func:`cores.thirds` cuts them."""
    mask = np.zeros(n_layers, dtype=bool)
    mask[cores.thirds(n_layers)[1]] = True
    return mask


def _surrogate_pairs(
    series: np.ndarray, n_surrogates: int, tau: int, min_shift: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed (A, N, N) and surrogate (K, A, N, N) sts and rtr of every pair, and which
    surrogate counts for which pair (K, N, N), for one prompt's (T, N) series.

    Under the closure a pair's surrogate depends only on the heads' relative offset, so a
    surrogate counts for a pair when that offset is far enough from 0 (``min_shift``), the
    pair is not degenerate, and no earlier surrogate had the same offset for the pair.
    """
    from ..phiid import phiid_pairwise_stack

    n_steps, n_nodes = series.shape
    offsets = draw_offsets(n_surrogates, n_nodes, n_steps, seed)
    copies = [series[None]] + [rotate(series[None], o) for o in offsets]
    stack = circular_closure(np.concatenate(copies), tau)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = phiid_pairwise_stack(stack, tau, "mmi", reduce=None, select=("sts", "rtr"))
    lags = np.mod(offsets[:, :, None] - offsets[:, None, :], n_steps)  # (K, N, N)
    valid = pair_shift_mask(offsets, n_steps, min_shift) & np.isfinite(values[1:, 0])
    for k in range(1, n_surrogates):
        valid[k] &= ~(lags[:k] == lags[k]).any(axis=0)
    return values[0], values[1:], valid


def _partner_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the last axis of ``values`` where ``mask`` holds (NaN where none does)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask, values, 0.0).sum(-1) / mask.sum(-1)


def _order_parameters(
    sts: np.ndarray, rtr: np.ndarray, delta: np.ndarray | None, method: str
) -> dict[str, float]:
    """The order parameters of one set of (L, H) head scores (``delta``: Δsts, or None)."""
    middle = middle_third(sts.shape[0])
    out = {"delta_sts_contrast": np.nan, "middle_minus_outer": np.nan, "middle_sts_share": np.nan}
    if delta is not None:
        out["delta_sts_contrast"] = float(
            _nanmean(delta[middle], None) - _nanmean(delta[~middle], None)
        )
    if np.isfinite(sts).any() and np.isfinite(rtr).any():
        gradient = np.asarray(cores.synergy_gradient(sts, rtr, method=method))
        out["middle_minus_outer"] = float(cores.inverted_u(cores.layer_profile(gradient)))
        total = np.nansum(sts)
        out["middle_sts_share"] = float(np.nansum(sts[middle]) / total) if total > 0 else np.nan
    return out


def prompt_scores(
    values: Any,
    *,
    n_surrogates: int = 16,
    tau: int = 1,
    min_shift: int | None = None,
    seed: int = 0,
    method: str = "luppi",
) -> dict[str, Any]:
    """Head scores, order parameters and their nulls for one prompt's (T, L, H) series.

    Returns ``sts``, ``rtr`` (L, H): each head's mean over partners (observed, on the
    closure); ``delta_sts`` (L, H): its null-corrected sts; per order parameter of
    :data:`ORDER_PARAMETERS` the observed value (float) and ``null_<name>`` (K,), the value
    with each surrogate in turn in the place of the observed series.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 3 or array.shape[0] < MIN_STEPS:
        raise ValueError(f"need one prompt's (T >= {MIN_STEPS}, L, H) series, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("the series contains NaN or inf; cut it to its finite steps first")
    n_steps, n_layers, n_heads = array.shape
    shift = default_min_shift(n_steps, tau) if min_shift is None else int(min_shift)
    observed, surrogates, valid = _surrogate_pairs(
        array.reshape(n_steps, -1), n_surrogates, tau, shift, seed
    )
    grid = (n_layers, n_heads)
    delta_pairs, null_pairs = _null_corrected(observed[0], surrogates[:, 0], valid)
    delta = _partner_mean(delta_pairs, np.isfinite(delta_pairs))
    null_delta = _partner_mean(null_pairs, np.isfinite(null_pairs))  # (K, N)
    head = _partner_mean(observed, np.isfinite(observed))  # (A, N), all partners
    null_head = _partner_mean(surrogates, np.isfinite(surrogates))  # (K, A, N)
    out: dict[str, Any] = {
        "sts": head[0].reshape(grid),
        "rtr": head[1].reshape(grid),
        "delta_sts": delta.reshape(grid),
        "n_steps": n_steps,
        "min_shift": shift,
    }
    head_parameters = _order_parameters(out["sts"], out["rtr"], out["delta_sts"], method)
    out.update(head_parameters)
    nulls = [
        _order_parameters(
            null_head[k, 0].reshape(grid),
            null_head[k, 1].reshape(grid),
            null_delta[k].reshape(grid),
            method,
        )
        for k in range(n_surrogates)
    ]
    for name in head_parameters:
        out[f"null_{name}"] = np.array([row[name] for row in nulls])
    rtr_pairs, null_rtr = _null_corrected(observed[1], surrogates[:, 1], valid)
    block = adjusted_contrasts_of(  # row 0 the observed pairs, then one row per surrogate
        np.concatenate([delta_pairs[None], null_pairs]),
        np.concatenate([rtr_pairs[None], null_rtr]),
        head_persistence(array[None]),
    )
    out["block_contrast"], out["null_block_contrast"] = float(block[0]), block[1:]
    return out


def _null_corrected(
    observed: np.ndarray, surrogates: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pair Δ of one atom: observed ``(N, N)`` minus the mean of the pair's valid surrogates,
    and per surrogate ``(K, N, N)`` that surrogate minus the mean of the pair's other valid
    ones (NaN where the surrogate does not count or no other one does)."""
    kept = np.where(valid, surrogates, 0.0)
    total, count = kept.sum(axis=0), valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = observed - total / count
        loo = (total[None] - kept) / (count - 1)  # each surrogate's leave-one-out null
    null = np.where(valid & (count >= 2)[None], surrogates - loo, np.nan)
    return delta, null


def answer_end(prefixes: Sequence[str], parse: Callable[[str], str | None]) -> tuple[Any, int]:
    """Where a reply's final answer is complete.

    ``prefixes[k]`` is the reply's text after its first ``k + 1`` tokens, the last being the
    whole (natural) reply. Returns ``(answer, k)``: the answer ``parse`` reads in the whole
    reply, and the first ``k`` from which every longer prefix reads the same answer (the
    token that completes it). Without an answer: ``(None, len(prefixes) - 1)``.
    """
    if not prefixes:
        return None, -1
    final = parse(prefixes[-1])
    end = len(prefixes) - 1
    if final is None:
        return None, end
    while end > 0 and parse(prefixes[end - 1]) == final:
        end -= 1
    return final, end
