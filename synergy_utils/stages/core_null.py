"""Null-corrected synergy by depth: the numbers behind the claim-1 rule.

From :func:`synergy_utils.stats.pair_null.null_corrected_atoms` (every pair's atom minus its
own circular-shift null, on the circular closure of each series), :func:`core_evidence`
averages each head's Δ over its partners and compares the middle third of the layers with
the outer thirds, prompt by prompt: means with percentile bootstrap intervals over prompts
and one-sided sign-flip p-values over prompts (:func:`synergy_utils.stats.nulls.sign_flip_p`),
per-layer profiles, shares of significant pairs, and, beside them, the raw rank-gradient
profile's inverted U against the same surrogates. The rule that turns these numbers into a
verdict is :func:`synergy_utils.report.claims.core.core_verdict`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..series import thirds
from ..stats.nulls import empirical_p_value, sign_flip_p
from ..stats.resampling import (
    bootstrap_indices,
    bootstrap_weights,
    percentile_interval,
    weighted_nanmean,
)
from ..summary import BlockTest, CoreEvidence, LayerTests, RawInvertedU, Test
from .core_block import block_test, head_persistence
from .cores import inverted_u, layer_profile, synergy_gradient

#: Quantities the claim-1 rule null-corrects: sts decides; rtr and Φ_WMS are shown beside it.
RULE_QUANTITIES: tuple[str, ...] = ("sts", "rtr", "phi_wms")


def _nanmean(a: np.ndarray, axis: Any) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def _test(per_prompt: np.ndarray, weights: np.ndarray, ci_level: float, seed: int) -> Test:
    """Mean of per-prompt values with a bootstrap interval over prompts and a sign-flip p."""
    low, high = percentile_interval(weighted_nanmean(weights, per_prompt), ci_level)
    return Test(
        value=float(_nanmean(per_prompt, None)),
        ci_low=float(low),
        ci_high=float(high),
        p=float(sign_flip_p(per_prompt, seed=seed)),
    )


def _raw_inverted_u(nulls: Any, alpha: float) -> RawInvertedU:
    """The inverted-U statistic of the raw rank(sts) − rank(rtr) profile and its null (the
    same statistic on every surrogate's prompt-mean head scores)."""
    syn = nulls["head_observed"].sel(atom="sts").values
    red = nulls["head_observed"].sel(atom="rtr").values
    profile = layer_profile(synergy_gradient(syn, red, "luppi"))
    observed = float(inverted_u(profile))
    null = np.array(
        [
            inverted_u(layer_profile(synergy_gradient(s, r, "luppi")))
            for s, r in zip(
                nulls["null_head_mean"].sel(atom="sts").values,
                nulls["null_head_mean"].sel(atom="rtr").values,
                strict=True,
            )
        ],
        dtype=np.float64,
    )
    p = empirical_p_value(observed, null, "greater")
    return RawInvertedU(
        observed=observed,
        null_mean=float(_nanmean(null, None)),
        p=p,
        n_null=int(np.isfinite(null).sum()),
        profile=[float(v) for v in profile],
        gradient="luppi: rank(mean sts) - rank(mean rtr)",
        beats_null=bool(observed > 0 and p < alpha),
    )


#: Default number of cyclic prompt derangements of the prompt-shuffle null.
N_DERANGEMENTS = 20


def claim_nulls(
    values: Any,
    *,
    redundancy: str = "mmi",
    tau: int = 1,
    n_surrogates: int = 200,
    n_derangements: int | None = N_DERANGEMENTS,
    alpha: float = 0.05,
    seed: int = 0,
    extra: tuple[str, ...] = (),
    progress: bool = False,
) -> tuple[Any, Any, np.ndarray]:
    """Both nulls of the claim-1 rule on ``(P, T, L, H)`` head series.

    Returns ``(circular, shuffle, persistence)``: the circular-shift null of sts, rtr and
    Φ_WMS (and ``extra`` quantities) with ``n_surrogates`` surrogates
    (:func:`~synergy_utils.stats.pair_null.null_corrected_atoms`), the prompt-shuffle null of
    sts and rtr over ``n_derangements`` cyclic derangements
    (:func:`~synergy_utils.stats.shuffle_null.prompt_shuffle_atoms`; ``None``: all ``P - 1``),
    and the heads' ``(L, H)`` lag-1 autocorrelations.
    """
    from ..stats.pair_null import null_corrected_atoms
    from ..stats.shuffle_null import prompt_shuffle_atoms

    array = np.asarray(getattr(values, "values", values), dtype=np.float64)
    circular = null_corrected_atoms(
        array, atoms=RULE_QUANTITIES + tuple(extra), redundancy=redundancy, tau=tau,
        n_surrogates=n_surrogates, alpha=alpha, seed=seed, progress=progress,
    )  # fmt: skip
    shuffle = prompt_shuffle_atoms(
        array, atoms=("sts", "rtr"), redundancy=redundancy, tau=tau,
        n_derangements=n_derangements, seed=seed, progress=progress,
    )  # fmt: skip
    return circular, shuffle, head_persistence(array)


def block_tests(
    circular: Any,
    shuffle: Any,
    persistence: np.ndarray,
    *,
    ci_level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, BlockTest]:
    """The block statistic (:func:`~synergy_utils.stages.core_block.block_test`) under the
    circular-shift null and, when given, the prompt-shuffle null."""
    out = {}
    for name, ds in (("circular", circular), ("shuffle", shuffle)):
        if ds is None:
            continue
        per_prompt = ds["delta_prompt"]
        out[name] = block_test(
            per_prompt.sel(atom="sts").values, per_prompt.sel(atom="rtr").values,
            np.asarray(persistence), null=name, ci_level=ci_level,
            n_bootstrap=n_bootstrap, seed=seed,
        )  # fmt: skip
    return out


def core_evidence(
    nulls: Any,
    *,
    quantity: str = "sts",
    against: str | None = "rtr",
    shuffle: Any = None,
    persistence: Any = None,
    ci_level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> CoreEvidence:
    """The claim-1 numbers of one null-corrected ``quantity`` (see the module docstring).

    ``against`` names the quantity whose Δ the middle heads' Δ is compared with
    (``dominance``: Δquantity − Δagainst; None: no such comparison). With ``persistence``
    (the heads' ``(L, H)`` lag-1 autocorrelations) and ``quantity="sts"``, the block
    statistic of the claim-1 rule is computed under the circular null ``nulls`` and the
    prompt-shuffle null ``shuffle`` (see :func:`claim_nulls`). Bootstraps draw prompts with
    ``n_bootstrap`` resamples from ``seed``.
    """
    present = list(nulls["atom"].values)
    for needed in (quantity,) + ((against,) if against else ()):
        if needed not in present:
            raise ValueError(f"the null-corrected quantities must include {needed!r}")
    head = nulls["head_delta"]  # (prompt, atom, layer, head)
    n_prompts, n_layers = head.sizes["prompt"], head.sizes["layer"]
    first, middle, last = thirds(n_layers)
    outer = np.r_[np.arange(first.start, first.stop), np.arange(last.start, last.stop)]
    weights = bootstrap_weights(bootstrap_indices(n_prompts, n_bootstrap, seed), n_prompts)

    def region(values: np.ndarray, layers: Any) -> np.ndarray:  # (P, L, H) -> (P,)
        return _nanmean(values[:, layers, :].reshape(values.shape[0], -1), axis=1)

    def delta(name: str) -> np.ndarray:
        return head.sel(atom=name).values

    def test(values: np.ndarray) -> Test:
        return _test(values, weights, ci_level, seed)

    mid, out = region(delta(quantity), middle), region(delta(quantity), outer)
    layer_delta = {}
    for name in [q for q in (quantity, *RULE_QUANTITIES) if q in present]:
        rows = [test(region(delta(name), [layer])) for layer in range(n_layers)]
        layer_delta[name] = LayerTests(
            *([getattr(r, k) for r in rows] for k in ("value", "ci_low", "ci_high", "p"))
        )
    share = nulls["layer_share"].sel(atom=quantity).values
    significant = nulls["significant"].sel(atom=quantity).values
    upper = np.triu(np.ones(significant.shape, dtype=bool), 1)
    attrs = nulls.attrs
    return CoreEvidence(
        quantity=quantity,
        redundancy=str(attrs.get("redundancy", "mmi")),
        estimator=str(attrs.get("estimator", "gaussian")),
        tau=int(attrs.get("tau", 1)),
        n_prompts=int(n_prompts),
        n_steps=int(attrs.get("n_steps", -1)),
        n_layers=int(n_layers),
        n_heads=int(head.sizes["head"]),
        n_surrogates=int(attrs.get("n_surrogates", nulls.sizes.get("surrogate", 0))),
        min_shift=int(attrs.get("min_shift", -1)),
        closure=bool(attrs.get("closure", True)),
        ci_level=float(ci_level),
        alpha=float(attrs.get("alpha", 0.05)),
        middle=test(mid),
        outer=test(out),
        contrast=test(mid - out),
        dominance=test(region(delta(quantity) - delta(against), middle)) if against else None,
        layer_delta=layer_delta,
        layer_share=[float(v) for v in share],
        middle_share=float(_nanmean(share[middle], None)),
        outer_share=float(_nanmean(share[outer], None)),
        n_significant_pairs=int(significant[upper].sum()),
        n_pairs=int(np.isfinite(nulls["q_value"].sel(atom=quantity).values[upper]).sum()),
        raw_inverted_u=_raw_inverted_u(nulls, float(attrs.get("alpha", 0.05)))
        if {"sts", "rtr"} <= set(present)
        else None,
        blocks=block_tests(
            nulls, shuffle, persistence, ci_level=ci_level, n_bootstrap=n_bootstrap, seed=seed
        )
        if persistence is not None and quantity == "sts" and against == "rtr"
        else {},
        n_derangements=int(shuffle.attrs["n_derangements"]) if shuffle is not None else 0,
    )


def chapter_nulls(
    values: Any,
    *,
    control_prompts: Any = None,
    n_shuffles: int = 200,
    n_control_shuffles: int = 20,
    n_derangements: int | None = N_DERANGEMENTS,
    tau: int = 1,
    seed: int = 0,
    n_bootstrap: int = 1000,
    ci_level: float = 0.95,
    progress: bool = False,
) -> tuple[dict[str, CoreEvidence], dict[str, CoreEvidence], dict[str, Any]]:
    """The null-corrected numbers of the synergistic-cores chapter.

    Returns ``(evidence, controls, nulls)``: ``evidence`` maps ``"mmi"`` and ``"ccs"`` to
    the claim-1 numbers of sts (against rtr, with the block statistic under both nulls:
    :func:`claim_nulls`); ``controls`` holds the two variants that, taken raw, carry the
    persistence artefact, here each against its own null: ``"tdmi_normalised"`` (sts / TDMI,
    MMI, same surrogates) and ``"discrete"`` (the binarised estimator, in bits, on
    ``control_prompts`` with ``n_control_shuffles`` surrogates: it is slower); ``nulls``
    holds the circular-shift datasets by redundancy function (and ``"discrete"``) and the
    prompt-shuffle datasets as ``"mmi_shuffle"``, ``"ccs_shuffle"``.
    """
    from ..stats.pair_null import null_corrected_atoms

    array = np.asarray(getattr(values, "values", values), dtype=np.float64)
    common = {"tau": tau, "seed": seed, "progress": progress}
    summarise = {"ci_level": ci_level, "n_bootstrap": n_bootstrap, "seed": seed}
    nulls: dict[str, Any] = {}
    evidence = {}
    for redundancy in ("mmi", "ccs"):
        extra = ("sts_share",) if redundancy == "mmi" else ()
        circular, shuffle, persistence = claim_nulls(
            array, redundancy=redundancy, n_surrogates=n_shuffles,
            n_derangements=n_derangements, extra=extra, **common,
        )  # fmt: skip
        nulls[redundancy], nulls[f"{redundancy}_shuffle"] = circular, shuffle
        evidence[redundancy] = core_evidence(
            circular, shuffle=shuffle, persistence=persistence, **summarise
        )
    subset = array if control_prompts is None else array[np.asarray(control_prompts)]
    nulls["discrete"] = null_corrected_atoms(
        subset, atoms=("sts",), estimator="discrete", n_surrogates=n_control_shuffles, **common
    )
    controls = {
        "tdmi_normalised": core_evidence(
            nulls["mmi"], quantity="sts_share", against=None, **summarise
        ),
        "discrete": core_evidence(nulls["discrete"], against=None, **summarise),
    }
    return evidence, controls, nulls
