"""The claim-1 statistic: middle–middle pairs against outer–outer pairs, adjusted.

A head's partner mean (its Δ averaged over all other heads) dilutes a core by the share of
partners outside it, and a raw middle-minus-outer contrast reads shared drive × persistence as
depth. The block statistic compares *pairs*: every unordered pair of heads is middle–middle
(both heads in the middle third of the layers), outer–outer (both outside it) or mixed, and

    Δsts_ij = b0 + b_mm·[middle–middle] + b_mix·[mixed]
              + c1·(s_i + s_j) + c2·min(s_i, s_j) + c3·Δrtr_ij + e_ij

is fitted over all pairs by least squares, where ``s`` is a head's self-information
``-½ log(1 - ρ²)`` (ρ: its lag-1 autocorrelation, averaged over prompts: MMI books
persistence as synergy, and shared input removes part of it, the more so the more persistent
the pair) and ``Δrtr`` the pair's redundancy beyond the same null. ``b_mm`` is the
*adjusted contrast*: how much more synergy beyond the null a middle–middle pair has than an
outer–outer pair of the same persistence and redundancy, in nats per pair. Intervals come from
a bootstrap over prompts (the pair means and the fit are recomputed for every resample); the
minimum detectable effect is ``(z_{1-α/2} + z_{power}) × SE``, the smallest per-pair core the
rule's interval test finds with the stated power (``docs/validation.md`` checks it against
planted cores). The raw numbers (block means, their difference) are kept beside it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats as sps

from ..series import thirds
from ..stats.resampling import bootstrap_indices, bootstrap_weights, percentile_interval
from ..summary import BlockTest, Test

#: Covariates of the block regression, in order (see the module docstring).
BLOCK_COVARIATES: tuple[str, ...] = ("s_i + s_j", "min(s_i, s_j)", "delta_rtr")
#: Power at which the minimum detectable effect is stated.
POWER = 0.8


def head_persistence(values: Any) -> np.ndarray:
    """``(L, H)`` lag-1 autocorrelation of every head, the mean over prompts of each
    prompt's own estimate, from ``(P, T, L, H)`` series (NaN for a constant series)."""
    x = np.asarray(getattr(values, "values", values), dtype=np.float64)
    centred = x - x.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (centred[:, 1:] * centred[:, :-1]).sum(axis=1) / (centred**2).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(rho, axis=0)


def self_information(rho: Any) -> np.ndarray:
    """Gaussian lag-1 self-information ``-½ log(1 - ρ²)`` (nats) of autocorrelations ``ρ``."""
    r = np.clip(np.asarray(rho, dtype=np.float64), -0.999999, 0.999999)
    return -0.5 * np.log1p(-(r**2))


def pair_regions(n_layers: int, n_heads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unordered pairs ``i < j`` of the ``L × H`` heads (node ``layer * H + head``) and
    their region: 2 middle–middle, 1 mixed, 0 outer–outer. Returns ``(i, j, region)``."""
    _, middle, _ = thirds(n_layers)
    layer = np.arange(n_layers * n_heads) // n_heads
    in_middle = (layer >= middle.start) & (layer < middle.stop)
    i, j = np.triu_indices(n_layers * n_heads, 1)
    return i, j, in_middle[i].astype(int) + in_middle[j].astype(int)


def block_design(persistence: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, their region (:func:`pair_regions`) and the fixed columns of the
    block regression, ``(n_pairs, 5)``: intercept, middle–middle, mixed, ``s_i + s_j`` and
    ``min(s_i, s_j)``, where ``s`` is the self-information of ``persistence`` ``(L, H)``
    (NaN rows where a head's persistence is undefined; the callers drop them)."""
    n_layers, n_heads = persistence.shape
    i, j, region = pair_regions(n_layers, n_heads)
    s = self_information(np.asarray(persistence, dtype=np.float64).reshape(-1))
    fixed = np.column_stack(
        [np.ones(i.size), region == 2, region == 1, s[i] + s[j], np.minimum(s[i], s[j])]
    ).astype(np.float64)
    return i, j, region, fixed


def adjusted_contrasts_of(
    delta_sts: np.ndarray, delta_rtr: np.ndarray, persistence: np.ndarray
) -> np.ndarray:
    """``(R,)`` adjusted contrast (nats per pair) of each of ``R`` sets of ``(R, N, N)`` pair Δ
    of sts and rtr, e.g. one prompt's observed pairs and each of its surrogates: the block
    regression (:func:`block_design`, built once, and :func:`adjusted_contrasts`) fitted over
    the pairs where that set's sts and rtr are finite. NaN for a set without a middle–middle
    and an outer–outer pair to compare. Chapter 04 uses it as its order parameter."""
    i, j, region, fixed = block_design(persistence)
    sts = symmetric_pairs(np.asarray(delta_sts, dtype=np.float64), i, j)
    rtr = symmetric_pairs(np.asarray(delta_rtr, dtype=np.float64), i, j)
    usable = np.isfinite(fixed).all(axis=1)
    out = np.full(sts.shape[0], np.nan)
    for r in range(sts.shape[0]):
        keep = usable & np.isfinite(sts[r]) & np.isfinite(rtr[r])
        if not ((region[keep] == 2).any() and (region[keep] == 0).any()):
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            try:
                out[r] = adjusted_contrasts(sts[r][None, keep], rtr[r][None, keep], fixed[keep])[0]
            except np.linalg.LinAlgError:
                pass
    return out


def symmetric_pairs(per_prompt: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``(P, n_pairs)`` mean of the two orders of every pair from ``(P, N, N)`` values."""
    return 0.5 * (per_prompt[:, i, j] + per_prompt[:, j, i])


def adjusted_contrasts(sts: np.ndarray, rtr: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """``(R,)`` middle–middle coefficient of the block regression, one fit per row.

    ``sts``, ``rtr``: ``(R, n_pairs)`` pair means (the data and its bootstrap resamples);
    ``fixed``: ``(n_pairs, k)`` the columns that do not change between rows (intercept, region
    indicators, persistence terms; column 1 is the middle–middle indicator). The design of
    row r is ``[fixed, rtr[r]]``; the normal equations are solved for all rows at once.
    """
    k = fixed.shape[1]
    gram = np.empty((sts.shape[0], k + 1, k + 1))
    gram[:, :k, :k] = fixed.T @ fixed
    cross = rtr @ fixed  # (R, k)
    gram[:, :k, k] = cross
    gram[:, k, :k] = cross
    gram[:, k, k] = np.einsum("rp,rp->r", rtr, rtr)
    moments = np.concatenate([sts @ fixed, np.einsum("rp,rp->r", rtr, sts)[:, None]], axis=1)
    scale = np.sqrt(np.einsum("rii->ri", gram))  # equilibrate: the columns differ in size
    scale[scale == 0] = 1.0
    equilibrated = gram / (scale[:, :, None] * scale[:, None, :])
    coef = np.linalg.solve(equilibrated, (moments / scale)[:, :, None])[:, :, 0]
    return coef[:, 1] / scale[:, 1]


def _test(value: float, replicates: np.ndarray, ci_level: float) -> Test:
    """A :class:`Test` from an estimate and its bootstrap replicates: percentile interval and
    the one-sided normal p of ``value > 0`` with the bootstrap standard error."""
    low, high = percentile_interval(replicates, ci_level)
    se = float(np.nanstd(replicates, ddof=1))
    p = float(sps.norm.sf(value / se)) if se > 0 else float("nan")
    return Test(value=float(value), ci_low=float(low), ci_high=float(high), p=p)


def split_half_reliability(head_scores: np.ndarray) -> float:
    """Split-half reliability of head scores: ``head_scores`` is ``(2, n_heads)``, the scores
    computed on the even and on the odd prompts; their Pearson correlation ``r``, corrected to
    the full set of prompts by Spearman–Brown (``2r / (1 + r)``; a negative ``r`` is returned
    as it is). Pearson rather than Spearman: a sparse core (a few heads far above the rest) is
    reproducible although the ranks of the many heads without synergy are noise."""
    a, b = head_scores
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    r = float(np.corrcoef(a[ok], b[ok])[0, 1])
    return 2 * r / (1 + r) if r > 0 else r


def _head_scores(pairs: np.ndarray, i, j, n_nodes: int) -> np.ndarray:
    """``(n_nodes,)`` partner mean of pair values ``(n_pairs,)``."""
    total = np.bincount(i, pairs, n_nodes) + np.bincount(j, pairs, n_nodes)
    return total / (n_nodes - 1)


def block_test(
    delta_sts: np.ndarray,
    delta_rtr: np.ndarray,
    persistence: np.ndarray,
    *,
    null: str,
    ci_level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    power: float = POWER,
) -> BlockTest:
    """The block statistic under one null.

    ``delta_sts``, ``delta_rtr``: ``(P, N, N)`` per-prompt Δ of sts and rtr (value minus the
    null's mean; NaN diagonal); ``persistence``: ``(L, H)`` lag-1 autocorrelations
    (:func:`head_persistence`), ``N = L · H``. ``null`` names the null in the result.
    """
    n_layers, n_heads = persistence.shape
    n_prompts, n_nodes = delta_sts.shape[0], n_layers * n_heads
    i, j, region, fixed = block_design(persistence)
    sts = symmetric_pairs(delta_sts, i, j)
    rtr = symmetric_pairs(delta_rtr, i, j)
    keep = np.isfinite(sts).all(axis=0) & np.isfinite(rtr).all(axis=0)
    keep &= np.isfinite(fixed).all(axis=1)
    i, j, region, sts, rtr = i[keep], j[keep], region[keep], sts[:, keep], rtr[:, keep]
    fixed = fixed[keep]
    counts = bootstrap_weights(bootstrap_indices(n_prompts, n_bootstrap, seed), n_prompts)
    weights = np.vstack([np.ones(n_prompts), counts]) / n_prompts  # row 0: the data
    sts_means, rtr_means = weights @ sts, weights @ rtr  # (1 + B, n_pairs)
    mm, oo = region == 2, region == 0
    middle, outer = sts_means[:, mm].mean(axis=1), sts_means[:, oo].mean(axis=1)
    adjusted = adjusted_contrasts(sts_means, rtr_means, fixed)
    se = float(np.std(adjusted[1:], ddof=1))
    z = sps.norm.ppf(1 - (1 - ci_level) / 2) + sps.norm.ppf(power)
    even, odd = weights_half(n_prompts)
    halves = np.stack([_head_scores(w @ sts, i, j, n_nodes) for w in (even, odd)])
    head = _head_scores(sts_means[0], i, j, n_nodes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        persistence_corr = sps.spearmanr(head, persistence.reshape(-1), nan_policy="omit")
    return BlockTest(
        null=null,
        middle=_test(middle[0], middle[1:], ci_level),
        outer=_test(outer[0], outer[1:], ci_level),
        raw_contrast=_test(middle[0] - outer[0], middle[1:] - outer[1:], ci_level),
        adjusted_contrast=_test(adjusted[0], adjusted[1:], ci_level),
        middle_rtr=_test(*_block_mean(rtr_means, mm), ci_level),
        dominance=_test(*_block_mean(sts_means - rtr_means, mm), ci_level),
        se=se,
        mde=float(z * se),
        power=float(power),
        reliability=split_half_reliability(halves),
        persistence_corr=float(persistence_corr.statistic),
        n_middle_pairs=int(mm.sum()),
        n_outer_pairs=int(oo.sum()),
        n_pairs=int(i.size),
    )


def _block_mean(means: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    block = means[:, mask].mean(axis=1)
    return float(block[0]), block[1:]


def weights_half(n_prompts: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean weights over the even and over the odd prompts (split-half reliability)."""
    even = (np.arange(n_prompts) % 2 == 0).astype(np.float64)
    odd = 1.0 - even
    return even / even.sum(), odd / max(odd.sum(), 1.0)
