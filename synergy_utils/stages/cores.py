"""Synergistic cores: all-pairs ΦID of the attention heads, the synergy–redundancy gradient,
and its layer profile with bootstrap intervals and a circular-shift null.

Data flow (shapes; ``P`` prompts, ``T`` decoding steps, ``L`` layers, ``H`` heads per layer,
``N = L * H`` heads, numbered layer-major: node ``n = layer * H + head``):

1. :func:`head_atom_scores` runs the pairwise ΦID engine (:mod:`synergy_utils.phiid`) on each
   prompt's ``(T, N)`` series and returns, per prompt, each head's mean atom over its partners
   (``(P, L, H)``) and the prompt-mean pair matrices (``(N, N)``), in nats.
2. :func:`synergy_gradient` turns mean synergy (``sts``) and redundancy (``rtr``) into a rank
   gradient, by one of two named methods (:data:`GRADIENT_METHODS`; default ``"luppi"``).
3. :func:`layer_profile` averages the gradient over each layer's heads and scales it to
   [0, 1]; :func:`inverted_u` and :func:`quadratic_curvature` summarise its shape,
   :func:`bootstrap_profile` gives intervals by resampling prompts and
   :func:`circular_shift_null` the same statistics on series whose inter-head timing is gone.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps

from .. import phiid
from ..results import to_jsonable
from ..series import thirds  # noqa: F401  (re-exported: stages use cores.thirds)
from ..stats.nulls import shift_null
from ..stats.resampling import (
    bootstrap_indices,
    bootstrap_weights,
    percentile_interval,
    weighted_nanmean,
)

#: Atom used as synergy and as redundancy (Luppi et al. 2022; Urbina-Rodriguez et al. 2026).
SYNERGY_ATOM = "sts"
REDUNDANCY_ATOM = "rtr"

#: The two gradient definitions, by name. ``"luppi"`` is the default everywhere.
GRADIENT_METHODS: dict[str, str] = {
    "luppi": "rank(mean sts) - rank(mean rtr), tied ranks averaged (Luppi et al. 2022)",
    "diff": "rank(mean(sts - rtr)), tied ranks averaged (code of Urbina-Rodriguez et al. 2026)",
}
DEFAULT_GRADIENT_METHOD = "luppi"


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
    redundancy
        Redundancy function of the engine (``"mmi"``).
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
    array = as_values(values)
    if not np.isfinite(array).all():
        raise ValueError(
            "head series contain NaN or inf (e.g. a prompt stopped early at EOS); record with "
            "stop_at_eos=False for equal-length series, or drop those prompts"
        )
    n_prompts, n_steps, n_layers, n_heads = array.shape
    if not 1 <= tau < n_steps - 2:
        raise ValueError(f"tau={tau} needs 1 <= tau < n_steps - 2 (n_steps={n_steps})")
    atoms = list(atoms)
    for atom in atoms:
        if atom not in phiid.ATOMS:
            raise ValueError(f"unknown atom {atom!r}; ΦID atoms are {list(phiid.ATOMS)}")
    names = atoms + (["tdmi"] if include_tdmi and "tdmi" not in atoms else [])
    acc = _ScoreAccumulator(names, n_prompts, n_layers * n_heads)
    for p in _progress(range(n_prompts), progress, desc=f"ΦID ({estimator}) per prompt"):
        x = array[p].reshape(n_steps, n_layers * n_heads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrices = phiid.phiid_pairwise(x, tau=tau, redundancy=redundancy, estimator=estimator)
        acc.add(p, matrices, phiid.self_information(x, tau))
        del matrices
    acc.warn_degenerate()
    attrs = {
        "tau": tau,
        "estimator": estimator,
        "redundancy": redundancy,
        "units": phiid.UNITS.get(estimator, "nats"),
        "n_prompts": n_prompts,
        "n_steps": n_steps,
        "n_degenerate_pairs": acc.n_degenerate,
        "node_order": "layer-major: node = layer * n_heads + head",
    }
    return acc.dataset(n_layers, n_heads, attrs)


class _ScoreAccumulator:
    """Per-prompt partner means and running pair sums of the atoms, prompt by prompt."""

    def __init__(self, names: list[str], n_prompts: int, n_nodes: int) -> None:
        self.names = names
        self.per_prompt = {name: np.full((n_prompts, n_nodes), np.nan) for name in names}
        self.sums = {name: np.zeros((n_nodes, n_nodes)) for name in names + ["baseline"]}
        self.counts = np.zeros((n_nodes, n_nodes))
        self.self_info = np.full((n_prompts, n_nodes), np.nan)
        self.off_diagonal = ~np.eye(n_nodes, dtype=bool)
        self.n_degenerate = 0
        self.n_prompts = n_prompts

    def add(self, p: int, matrices: np.ndarray, self_info: np.ndarray) -> None:
        finite = np.isfinite(matrices).all(axis=0) & self.off_diagonal
        self.n_degenerate += int((~finite & self.off_diagonal).sum() // 2)
        self.counts += finite
        self.self_info[p] = self_info
        baseline = 2.0 * np.minimum(self_info[:, None], self_info[None, :])
        self.sums["baseline"] += np.where(finite, baseline, 0.0)
        for name in self.names:
            m = phiid.tdmi(matrices) if name == "tdmi" else matrices[phiid.ATOM_INDEX[name]]
            m = np.where(finite, m, np.nan)
            self.per_prompt[name][p] = _nanmean(m, axis=1)
            self.sums[name] += np.nan_to_num(m, nan=0.0)

    def warn_degenerate(self) -> None:
        if self.n_degenerate:
            n_nodes = self.counts.shape[0]
            warnings.warn(
                f"{self.n_degenerate} head pairs (summed over {self.n_prompts} prompts, of "
                f"{self.n_prompts * n_nodes * (n_nodes - 1) // 2}) were degenerate (constant or "
                "collinear series) and left out as NaN",
                RuntimeWarning,
                stacklevel=3,
            )

    def dataset(self, n_layers: int, n_heads: int, attrs: dict[str, Any]) -> xr.Dataset:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = {
                name: np.where(self.counts > 0, s / self.counts, np.nan)
                for name, s in self.sums.items()
            }
        n_nodes = n_layers * n_heads
        layer_of = np.repeat(np.arange(n_layers), n_heads)
        head_of = np.tile(np.arange(n_heads), n_layers)
        coords = {
            "prompt": np.arange(self.n_prompts),
            "layer": np.arange(n_layers),
            "head": np.arange(n_heads),
            "source": np.arange(n_nodes),
            "target": np.arange(n_nodes),
            "source_layer": ("source", layer_of),
            "source_head": ("source", head_of),
            "target_layer": ("target", layer_of),
            "target_head": ("target", head_of),
        }
        units = attrs["units"]
        grid = ("prompt", "layer", "head")
        data_vars: dict[str, Any] = {}
        for name in self.names:
            data_vars[name] = (
                grid,
                self.per_prompt[name].reshape(self.n_prompts, n_layers, n_heads),
                {"units": units, "long_name": f"mean {name} over partners, per prompt"},
            )
            data_vars[f"{name}_matrix"] = (
                ("source", "target"),
                means[name],
                {"units": units, "long_name": f"{name} of each pair, mean over prompts"},
            )
        data_vars["self_information"] = (
            grid,
            self.self_info.reshape(self.n_prompts, n_layers, n_heads),
            {"units": "nats", "long_name": f"Gaussian I(x_t; x_t+{attrs['tau']}) of each head"},
        )
        data_vars["sts_baseline_matrix"] = (
            ("source", "target"),
            means["baseline"],
            {"units": "nats", "long_name": "independent-series sts 2 min(a_x, a_y), prompt mean"},
        )
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def mean_head_scores(scores: xr.Dataset, atom: str) -> np.ndarray:
    """Head score ``(L, H)``: the per-prompt scores of ``atom`` averaged over prompts."""
    return _nanmean(np.asarray(scores[atom].values, dtype=np.float64), axis=0)


def _progress(iterable, progress: bool, desc: str):
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False)


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
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
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
        ``method``, ``n_bootstrap``, ``ci_level``, point estimates from all prompts (``gradient``
        ``(L, H)``, ``profile`` ``(L,)``, ``inverted_u``, ``curvature``), their intervals
        ``profile_ci`` ``(L, 2)``, ``inverted_u_ci`` ``(2,)``, ``curvature_ci`` ``(2,)``, and
        the replicates ``boot_profiles`` ``(n_bootstrap, L)``, ``boot_inverted_u``,
        ``boot_curvature`` ``(n_bootstrap,)``.
    """
    _check_method(method)
    syn, red = _per_prompt(per_prompt_synergy), _per_prompt(per_prompt_redundancy)
    if syn.shape != red.shape:
        raise ValueError(f"shapes differ: {syn.shape} vs {red.shape}")
    n_prompts, n_layers, n_heads = syn.shape
    point = profile_statistics(_nanmean(syn, 0), _nanmean(red, 0), method)
    weights = bootstrap_weights(bootstrap_indices(n_prompts, n_bootstrap, seed), n_prompts)
    boot_syn = weighted_nanmean(weights, syn.reshape(n_prompts, -1))
    boot_red = weighted_nanmean(weights, red.reshape(n_prompts, -1))
    boot_gradient = _gradient_rows(boot_syn, boot_red, method).reshape(
        n_bootstrap, n_layers, n_heads
    )
    boot_profiles = layer_profile(boot_gradient)
    boot_inv = inverted_u(boot_profiles)
    boot_curv = quadratic_curvature(boot_profiles)
    return {
        **point,
        "n_bootstrap": n_bootstrap,
        "ci_level": ci_level,
        "seed": seed,
        "profile_ci": percentile_interval(boot_profiles, ci_level),
        "inverted_u_ci": percentile_interval(boot_inv, ci_level),
        "curvature_ci": percentile_interval(boot_curv, ci_level),
        "boot_profiles": boot_profiles,
        "boot_inverted_u": np.atleast_1d(boot_inv),
        "boot_curvature": np.atleast_1d(boot_curv),
    }


def circular_shift_null(
    values: Any,
    n_shuffles: int = 20,
    seed: int = 0,
    *,
    tau: int = 1,
    estimator: str = "gaussian",
    method: str = DEFAULT_GRADIENT_METHOD,
    ci_level: float = 0.95,
    progress: bool = True,
) -> dict[str, Any]:
    """Circular-shift null of the gradient and the layer profile.

    Each replicate rolls every head's series by an independent random shift within each
    prompt (:func:`synergy_utils.stats.nulls.circular_shift`), reruns
    :func:`head_atom_scores` and recomputes the gradient (method ``method``), the scaled
    profile and its inverted-U statistic. What survives the shift comes from each series on
    its own (its level and autocorrelation, which MMI counts as synergy), not from timing
    between heads.

    Returns
    -------
    dict
        ``null_profiles`` ``(n_shuffles, L)`` (scaled), ``band`` ``(L, 2)`` (pointwise
        percentile band at level ``ci_level``), ``null_layer_means`` and ``band_raw`` (the same,
        unscaled, rank units), ``null_inverted_u`` and ``null_curvature`` ``(n_shuffles,)``,
        ``null_synergy`` and ``null_redundancy`` ``(n_shuffles, L, H)`` (mean head scores,
        nats), and ``method``, ``n_shuffles``, ``seed``, ``ci_level``.
    """
    _check_method(method)
    array = as_values(values)

    def mean_scores(shifted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = head_atom_scores(
            shifted, tau=tau, estimator=estimator, progress=False, include_tdmi=False
        )
        return mean_head_scores(scores, SYNERGY_ATOM), mean_head_scores(scores, REDUNDANCY_ATOM)

    replicates = shift_null(array, mean_scores, n_shuffles, seed, progress=progress)
    null_syn = np.stack([syn for syn, _ in replicates])
    null_red = np.stack([red for _, red in replicates])
    return {**null_profiles(null_syn, null_red, method, ci_level), "seed": seed}


def null_profiles(
    null_synergy: np.ndarray,
    null_redundancy: np.ndarray,
    method: str = DEFAULT_GRADIENT_METHOD,
    ci_level: float = 0.95,
) -> dict[str, Any]:
    """Gradient profiles of null head scores ``(S, L, H)`` (one per surrogate): the scaled
    profiles, their pointwise band, the inverted-U statistics (the layout of
    :func:`circular_shift_null`, which is this on fresh circular shifts)."""
    _check_method(method)
    null_syn = np.asarray(null_synergy, dtype=np.float64)
    null_red = np.asarray(null_redundancy, dtype=np.float64)
    n_shuffles, n_layers, n_heads = null_syn.shape
    gradients = _gradient_rows(
        null_syn.reshape(n_shuffles, -1), null_red.reshape(n_shuffles, -1), method
    ).reshape(n_shuffles, n_layers, n_heads)
    raw = layer_means(gradients)
    profiles = minmax_scale(raw)
    return {
        "method": method,
        "n_shuffles": n_shuffles,
        "ci_level": ci_level,
        "null_profiles": profiles,
        "band": percentile_interval(profiles, ci_level),
        "null_layer_means": raw,
        "band_raw": percentile_interval(raw, ci_level),
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
        "band": percentile_interval(profiles, null.get("ci_level", 0.95)),
        "null_inverted_u": np.atleast_1d(inverted_u(profiles)),
    }


def fraction_inside(profile: np.ndarray, band: np.ndarray) -> float:
    """Share of layers whose profile value lies inside the ``(L, 2)`` band (ends included)."""
    profile = np.asarray(profile, dtype=np.float64)
    band = np.asarray(band, dtype=np.float64)
    ok = np.isfinite(profile) & np.isfinite(band).all(axis=1)
    inside = (profile >= band[:, 0] - 1e-12) & (profile <= band[:, 1] + 1e-12)
    return float(inside[ok].mean()) if ok.any() else float("nan")


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
            "n_bootstrap": int(boot["n_bootstrap"]),
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
        ds.attrs["provenance"] = json.dumps(to_jsonable(dict(provenance)))
    return ds
