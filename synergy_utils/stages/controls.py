"""Controls that tell structure from estimator artefact, on the same recording and on
other networks: TDMI-normalised atoms, the independent-series baseline, split-half
reliability, the synergy–redundancy correlation, the discrete estimator, and re-recordings
with untrained, perturbed or other models.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats as sps

from ..stats.nulls import empirical_p_value
from ..stats.resampling import interval, percentile_interval
from ..summary import (
    Baseline,
    BatteryRow,
    CoreAssessment,
    CoreEvidence,
    Cores,
    Correlation,
    Estimate,
    GraphMetrics,
    Graphs,
    ModelControl,
    OtherGradient,
    ShiftNull,
    SplitHalf,
)
from .cores import (
    DEFAULT_GRADIENT_METHOD,
    GRADIENT_METHODS,
    SYNERGY_ATOM,
    _check_method,
    _nanmean,
    _per_prompt,
    bootstrap_profile,
    fraction_inside,
    head_atom_scores,
    layer_depth,
    mean_head_scores,
    null_for_method,
    synergy_gradient,
)
from .graphs import EFFICIENCY_DEFINITION, MODULARITY_DEFINITION


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
    synergy: np.ndarray, redundancy: np.ndarray, ci_level: float = 0.95
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
    interval = result.confidence_interval(confidence_level=ci_level)
    return {
        "r": float(result.statistic),
        "ci_low": float(interval.low),
        "ci_high": float(interval.high),
        "p_value": float(result.pvalue),
        "n": int(s.size),
        "rho": float(sps.spearmanr(s, r_)[0]),
    }


def analyse_values(
    values: Any,
    *,
    tau: int = 1,
    estimator: str = "gaussian",
    method: str = DEFAULT_GRADIENT_METHOD,
    n_bootstrap: int = 200,
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
    boot = bootstrap_profile(
        scores["sts"], scores["rtr"], method, n_bootstrap=n_bootstrap, seed=seed
    )
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


#: Untrained or perturbed copies of the studied model, by kind: label and how to make it.
COPY_KINDS: dict[str, str] = {
    "reinitialised": "re-initialised copy",
    "randomised": "randomised copy (N(0, 10²))",
    "perturbed": "perturbed copy ({std:g} × std)",
}


def model_control_plan(
    run_random_model: bool, perturbation_std: float
) -> list[tuple[str, str, Any]]:
    """The copies of the model a control run re-records: ``(kind, label, argument)`` in order,
    ``kind`` one of :data:`COPY_KINDS`. (Other model families are compared in the chapter
    across models, :mod:`synergy_utils.stages.across_models`.)"""
    plan: list[tuple[str, str, Any]] = []
    if run_random_model:
        plan += [("reinitialised", COPY_KINDS["reinitialised"], None)]
        plan += [("randomised", COPY_KINDS["randomised"], 10.0)]
    if perturbation_std > 0:
        label = COPY_KINDS["perturbed"].format(std=perturbation_std)
        plan += [("perturbed", label, float(perturbation_std))]
    return plan


def run_model_controls(
    series: Any,
    plan: Sequence[tuple[str, str, Any]],
    indices: Sequence[int],
    *,
    model_name: str | None = None,
    tau: int = 1,
    method: str = DEFAULT_GRADIENT_METHOD,
    n_bootstrap: int = 200,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Re-record prompts ``indices`` of ``series`` with every network of ``plan`` and analyse
    each with :func:`analyse_values`.

    Copies are made from ``model_name`` (loaded once). Returns ``label -> {"kind", "result"}``.
    """
    from ..lm import interventions
    from ..lm.loading import load_model
    from ..lm.recording import record_like

    out: dict[str, dict[str, Any]] = {}
    copies = list(plan)
    if copies:
        model, tokenizer = load_model(model_name)
        recorded_from = str(series.metadata.get("model", ""))
        if recorded_from and model.config.name_or_path != recorded_from:
            warnings.warn(
                f"the series were recorded from {recorded_from!r} but model_name loads "
                f"{model.config.name_or_path!r}; the copies are made from the latter",
                stacklevel=2,
            )
        for kind, label, argument in copies:
            if kind == "reinitialised":
                copy = interventions.reinitialised_model(model, seed=seed)
            elif kind == "randomised":
                copy = interventions.randomised_model(model, seed=seed, noise_std=argument)
            else:
                copy = interventions.perturbed_model(model, relative_std=argument, seed=seed)
            recorded = record_like(series, copy, tokenizer, indices, cache_dir=cache_dir)
            out[label] = {
                "kind": kind,
                "result": _analyse(recorded, tau, method, n_bootstrap, seed),
            }
            del copy
        del model
    return out


def _analyse(recorded: Any, tau: int, method: str, n_bootstrap: int, seed: int) -> dict:
    return analyse_values(recorded, tau=tau, method=method, n_bootstrap=n_bootstrap, seed=seed)


# --------------------------------------------------------------------------------------
# The chapter's numbers as one typed summary section
# --------------------------------------------------------------------------------------


def shift_null_summary(boot: Mapping[str, Any], null: Mapping[str, Any]) -> ShiftNull:
    """The raw inverted-U statistic against its circular-shift null (:class:`ShiftNull`)."""
    null_values = np.asarray(null["null_inverted_u"], dtype=np.float64)
    profile = np.asarray(boot["profile"], dtype=np.float64)
    mean_null = _nanmean(np.asarray(null["null_profiles"], dtype=np.float64), axis=0)
    ok = np.isfinite(mean_null) & np.isfinite(profile)
    band = np.asarray(null["band"], dtype=np.float64)
    return ShiftNull(
        n_shuffles=int(null["n_shuffles"]),
        ci_level=float(null["ci_level"]),
        band_low=list(band[:, 0]),
        band_high=list(band[:, 1]),
        p_value=empirical_p_value(boot["inverted_u"], null_values),
        mean=Estimate(
            **interval(np.nanmean(null_values), percentile_interval(null_values, null["ci_level"]))
        ),
        fraction_inside=fraction_inside(profile, band),
        profile_corr=_safe_corr(profile[ok], mean_null[ok], sps.pearsonr),
    )


def other_gradient_summary(
    other_boot: Mapping[str, Any], null: Mapping[str, Any] | None
) -> OtherGradient:
    """The inverted-U statistic of the other gradient method, against the same null."""
    out = OtherGradient(
        method=other_boot["method"],
        inverted_u=Estimate(**interval(other_boot["inverted_u"], other_boot["inverted_u_ci"])),
    )
    if null is not None and "null_synergy" in null:
        other_null = null_for_method(null, other_boot["method"])["null_inverted_u"]
        out.null_p_value = empirical_p_value(other_boot["inverted_u"], other_null)
        out.null_mean = float(np.nanmean(other_null))
    return out


def model_control_summary(label: str, entry: Mapping[str, Any]) -> ModelControl:
    """One re-recorded network of :func:`run_model_controls` as a :class:`ModelControl`."""
    res = entry.get("result")
    if res is None:
        return ModelControl(
            kind=entry["kind"],
            n_prompts=None,
            layer_profile=[],
            inverted_u=Estimate(None),
            syn_red_corr=None,
            split_half_rho=None,
            skipped=entry.get("skipped", "not run"),
        )
    return ModelControl(
        kind=entry["kind"],
        n_prompts=int(res["scores"].sizes["prompt"]),
        layer_profile=list(np.asarray(res["profile"], dtype=float)),
        inverted_u=Estimate(**interval(res["inverted_u"], res["inverted_u_ci"])),
        syn_red_corr=res.get("syn_red_corr"),
        split_half_rho=res.get("split_half_rho"),
    )


def cores_section(
    *,
    model: str,
    scores: xr.Dataset,
    boot: Mapping[str, Any],
    other_boot: Mapping[str, Any],
    null: Mapping[str, Any] | None,
    syn_red: Mapping[str, Any],
    split_half: Mapping[str, Any],
    baseline: Mapping[str, Any],
    graphs: Mapping[str, Any],
    model_controls: Mapping[str, Mapping[str, Any]],
    control_prompts: Sequence[int],
    provenance: Mapping[str, Any],
    assessments: Mapping[str, CoreAssessment] | None = None,
    delta_controls: Mapping[str, CoreEvidence] | None = None,
    battery: Sequence[BatteryRow] = (),
) -> Cores:
    """Every number of the synergistic-cores chapter as the typed ``cores`` section.

    ``assessments`` (claim 1 per redundancy function), ``delta_controls`` and ``battery``
    come from the null-corrected analysis; the paragraph fields are left empty for the
    report layer.
    """
    return Cores(
        model=model,
        method=boot["method"],
        gradient_definition=GRADIENT_METHODS[boot["method"]],
        ci_level=float(boot["ci_level"]),
        n_prompts=int(scores.sizes["prompt"]),
        tau=int(scores.attrs.get("tau", 1)),
        layer_profile=list(np.asarray(boot["profile"], dtype=float)),
        inverted_u=Estimate(**interval(boot["inverted_u"], boot["inverted_u_ci"])),
        curvature=Estimate(**interval(boot["curvature"], boot["curvature_ci"])),
        other_method=other_gradient_summary(other_boot, null),
        null=None if null is None else shift_null_summary(boot, null),
        syn_red=Correlation(**syn_red),
        split_half=SplitHalf(**{k: v for k, v in split_half.items() if k != "rhos"}),
        baseline=Baseline(**{k: baseline[k] for k in _BASELINE_KEYS}),
        graphs=Graphs(
            synergy=GraphMetrics(**{k: graphs["synergy"][k] for k in _GRAPH_KEYS}),
            redundancy=GraphMetrics(**{k: graphs["redundancy"][k] for k in _GRAPH_KEYS}),
            synergy_more_efficient=bool(graphs["synergy_more_efficient"]),
            redundancy_more_modular=bool(graphs["redundancy_more_modular"]),
            top_fraction=float(graphs["synergy"]["top_fraction"]),
            efficiency_definition=EFFICIENCY_DEFINITION,
            modularity_definition=MODULARITY_DEFINITION,
        ),
        model_controls={
            label: model_control_summary(label, entry) for label, entry in model_controls.items()
        },
        control_prompts=[int(i) for i in control_prompts],
        verdict="; ".join(f"{r}: {a.verdict}" for r, a in (assessments or {}).items()),
        verdict_paragraph="",
        provenance=dict(provenance),
        assessments=dict(assessments or {}),
        delta_controls=dict(delta_controls or {}),
        battery=list(battery),
    )


_BASELINE_KEYS = ("pair_pearson", "pair_spearman", "ratio", "head_pearson")
_GRAPH_KEYS = ("efficiency", "efficiency_weighted", "modularity", "n_communities", "n_edges")
