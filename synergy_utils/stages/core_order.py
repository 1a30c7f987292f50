"""The claim-1 core as a removal order: each head's synergy beyond persistence and redundancy.

The claim-1 block statistic (:mod:`synergy_utils.stages.core_block`) fits, over all unordered
pairs of heads,

    Δsts_ij = b0 + b_mm·[middle–middle] + b_mix·[mixed]
              + c1·(s_i + s_j) + c2·min(s_i, s_j) + c3·Δrtr_ij + e_ij

(``s``: self-information of a head's lag-1 autocorrelation, nats; Δ: value minus the null's
mean, averaged over prompts). :func:`core_scores` takes the same fit and removes only the
covariates: a pair's *adjusted synergy* is ``Δsts_ij − c1·(s_i + s_j) − c2·min(s_i, s_j) −
c3·Δrtr_ij``, and a head's score is the mean over its partners, in nats per pair: its synergy
beyond the null that persistence and redundancy do not explain. The region terms are in the
fit so that a core whose pairs are also redundant is not explained away by ``c3`` (fitted
without them, a dense middle core is lost: its pairs' Δrtr absorbs their synergy); they are
not subtracted, so the middle heads of a core rank first.

:func:`ranking_replicates` recomputes the scores on bootstrap resamples of the ranking prompts,
the ranking noise that a removal experiment with a fixed order leaves out. Numpy only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..stats.resampling import bootstrap_indices, bootstrap_weights
from .core_block import head_persistence, pair_regions, self_information, symmetric_pairs

#: Name of the order in the ablation stage.
CORE_ORDER = "core"


def _pair_inputs(delta_sts: Any, delta_rtr: Any, persistence: Any):
    sts = np.asarray(delta_sts, dtype=np.float64)
    rtr = np.asarray(delta_rtr, dtype=np.float64)
    rho = np.asarray(persistence, dtype=np.float64)
    if sts.ndim != 3 or sts.shape != rtr.shape or sts.shape[1] != sts.shape[2]:
        raise ValueError(
            f"delta_sts and delta_rtr must both be (n_prompts, N, N), got {sts.shape} and "
            f"{rtr.shape}"
        )
    if rho.ndim != 2 or rho.size != sts.shape[1]:
        raise ValueError(f"persistence must be (n_layers, n_heads) with N = {sts.shape[1]} heads")
    i, j, region = pair_regions(*rho.shape)
    return symmetric_pairs(sts, i, j), symmetric_pairs(rtr, i, j), rho, i, j, region


def _scores_from_means(sts, rtr, s, i, j, region, n_nodes: int) -> np.ndarray:
    """(R, n_nodes) partner means of the adjusted pair synergy for (R, n_pairs) pair means."""
    out = np.full((sts.shape[0], n_nodes), np.nan)
    for r in range(sts.shape[0]):
        keep = np.isfinite(sts[r]) & np.isfinite(rtr[r]) & np.isfinite(s[i]) & np.isfinite(s[j])
        ii, jj = i[keep], j[keep]
        covariates = np.column_stack([s[ii] + s[jj], np.minimum(s[ii], s[jj]), rtr[r, keep]])
        regions = np.column_stack([np.ones(ii.size), region[keep] == 2, region[keep] == 1])
        design = np.column_stack([regions, covariates])
        coef, *_ = np.linalg.lstsq(design, sts[r, keep], rcond=None)
        adjusted = sts[r, keep] - covariates @ coef[3:]
        total = np.bincount(ii, adjusted, n_nodes) + np.bincount(jj, adjusted, n_nodes)
        count = np.bincount(ii, None, n_nodes) + np.bincount(jj, None, n_nodes)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[r] = total / count
    return out


def core_scores(delta_sts: Any, delta_rtr: Any, persistence: Any) -> np.ndarray:
    """Synergy beyond persistence and redundancy of every head (module notes), nats per pair.

    ``delta_sts``, ``delta_rtr``: ``(P, N, N)`` per-prompt Δ of sts and rtr (as
    ``delta_prompt`` of :func:`synergy_utils.stats.pair_null.null_corrected_atoms`; NaN
    diagonal); ``persistence``: ``(L, H)`` lag-1 autocorrelations, ``N = L · H``. Returns
    ``(L, H)``; a head without a finite pair is NaN.
    """
    sts, rtr, rho, i, j, region = _pair_inputs(delta_sts, delta_rtr, persistence)
    s = self_information(rho.reshape(-1))
    means = _scores_from_means(
        sts.mean(axis=0)[None], rtr.mean(axis=0)[None], s, i, j, region, rho.size
    )
    return means[0].reshape(rho.shape)


def ranking_replicates(
    delta_sts: Any, delta_rtr: Any, persistence: Any, n_rankings: int, seed: int = 0
) -> np.ndarray:
    """``(n_rankings, L, H)`` core scores on bootstrap resamples of the ranking prompts
    (resample ``r`` from :func:`synergy_utils.stats.resampling.bootstrap_indices`); the
    persistence is kept (a head's persistence varies far less between prompts than its Δ)."""
    if n_rankings < 1:
        raise ValueError(f"n_rankings must be >= 1, got {n_rankings}")
    sts, rtr, rho, i, j, region = _pair_inputs(delta_sts, delta_rtr, persistence)
    n_prompts = sts.shape[0]
    weights = bootstrap_weights(bootstrap_indices(n_prompts, n_rankings, seed), n_prompts)
    weights = weights / n_prompts
    s = self_information(rho.reshape(-1))
    means = _scores_from_means(weights @ sts, weights @ rtr, s, i, j, region, rho.size)
    return means.reshape((n_rankings,) + rho.shape)


def core_inputs(results_dir: str | Path, series: Any = None) -> tuple[np.ndarray, ...]:
    """``(delta_sts, delta_rtr, persistence)`` from a run folder: ``cores_null_mmi.nc`` (the
    cores chapter's circular-shift null, ``delta_prompt``) and ``series.nc`` (or ``series``)."""
    import xarray as xr

    from ..results import netcdf_engine
    from .ablation_orders import cores_file

    folder = Path(results_dir)
    path = cores_file(folder, "cores_null_mmi.nc")
    with xr.open_dataset(path, engine=netcdf_engine()) as ds:
        per_prompt = ds["delta_prompt"].load()
    if series is None:
        from ..series import HeadSeries

        series = HeadSeries.load(folder / "series.nc")
    values = getattr(series, "values", series)
    return (
        per_prompt.sel(atom="sts").values,
        per_prompt.sel(atom="rtr").values,
        head_persistence(values),
    )


def core_rankings(
    delta_sts: Any, delta_rtr: Any, persistence: Any, n_rankings: int = 1, seed: int = 0
) -> np.ndarray:
    """``(n_rankings, L, H)``: row 0 the core scores of all ranking prompts
    (:func:`core_scores`), rows 1.. :func:`ranking_replicates` (ranking noise)."""
    full = core_scores(delta_sts, delta_rtr, persistence)[None]
    if n_rankings < 1:
        raise ValueError(f"n_rankings must be >= 1, got {n_rankings}")
    if n_rankings == 1:
        return full
    replicates = ranking_replicates(delta_sts, delta_rtr, persistence, n_rankings - 1, seed)
    return np.concatenate([full, replicates])
