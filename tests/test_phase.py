"""Phase-transition analysis: statistics on synthetic data with known answers, the decision
rule, order parameters from planted head scores, and one tiny end-to-end sweep."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synergy_utils.report import claims
from synergy_utils.report.claims import transition_verdict
from synergy_utils.stages import phase
from synergy_utils.stages.phase import null_band, order_parameters, parse_levels
from synergy_utils.stats.fits import (
    accuracy_statistics,
    fit_linear,
    fit_logistic,
    fit_transition,
    level_statistics,
    logistic,
)
from synergy_utils.stats.resampling import wilson_interval

LEVELS = np.arange(1, 9, dtype=float)


def _verdict(result):
    """The claim-3 rule applied to an :func:`phase.analyse_sweep` result."""
    return transition_verdict(result["fit"], result["null"], result["order"]["variance"])


PLANTED_MIDPOINT = 4.5


def planted_transition(seed: int, n: int = 10) -> np.ndarray:
    """A sigmoid in the mean (0.1 -> 0.5, midpoint 4.5) whose across-prompt spread peaks at
    the midpoint, as fluctuations do at a critical point."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-(LEVELS - PLANTED_MIDPOINT) / 0.5))
    sd = 0.03 + 0.12 * 4 * p * (1 - p)
    return (0.1 + 0.4 * p)[:, None] + sd[:, None] * rng.standard_normal((LEVELS.size, n))


def linear_ramp(seed: int, n: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.1 + 0.06 * LEVELS[:, None] + 0.1 * rng.standard_normal((LEVELS.size, n))


def pure_noise(seed: int, n: int = 10) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal((LEVELS.size, n))


def null_values(seed: int, n: int = 10, shuffles: int = 10) -> np.ndarray:
    """A flat null with the same prompt-level spread as the noise above."""
    rng = np.random.default_rng(seed + 99)
    return 0.1 + 0.1 * rng.standard_normal((LEVELS.size, shuffles, n))


def detect(values: np.ndarray, seed: int, n_bootstrap: int = 200) -> tuple[dict, dict]:
    fit = fit_transition(LEVELS, values, n_bootstrap=n_bootstrap, seed=seed)
    chi = level_statistics(LEVELS, values, n_bootstrap=50)["variance"]
    return fit, transition_verdict(fit, null_band(null_values(seed)), chi)


# --- the detector on synthetic data ----------------------------------------------------


def test_planted_sigmoid_is_found_and_its_midpoint_covered():
    fit, verdict = detect(planted_transition(0), seed=0)
    assert verdict["supported"], verdict["criteria"]
    assert all(c["passed"] for c in verdict["criteria"].values())
    lo, hi = verdict["critical_difficulty"]["ci"]
    assert LEVELS[0] < lo < hi < LEVELS[-1]
    assert abs(verdict["critical_difficulty"]["value"] - PLANTED_MIDPOINT) < 0.5
    assert fit["jump"]["value"] == pytest.approx(0.4, abs=0.1)
    assert fit["delta_bic"] > claims.transition.DELTA_BIC_THRESHOLD


def test_bootstrap_ci_covers_planted_midpoint_in_most_replicates():
    covered, found = 0, 0
    for seed in range(1, 9):
        fit, verdict = detect(planted_transition(seed), seed=seed, n_bootstrap=150)
        lo, hi = fit["midpoint"]["ci"]
        covered += lo <= PLANTED_MIDPOINT <= hi
        found += verdict["supported"]
    assert found == 8
    # nominal 95 %; percentile bootstraps with 10 prompts per level run a little low (about
    # 90 % over 60 replicates of this design)
    assert covered >= 6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_ramp_is_not_a_transition(seed):
    fit, verdict = detect(linear_ramp(seed), seed=seed)
    assert not verdict["supported"]
    assert verdict["critical_difficulty"] is None
    assert not verdict["criteria"]["sigmoid_beats_line"]["passed"]
    assert fit["delta_bic"] < 0  # the two extra parameters do not pay for themselves
    assert fit["linear"]["params"]["slope"] == pytest.approx(0.06, abs=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pure_noise_is_not_a_transition(seed):
    _, verdict = detect(pure_noise(seed), seed=seed)
    assert not verdict["supported"]
    assert not verdict["criteria"]["jump_exceeds_null"]["passed"]


def test_logistic_fit_recovers_exact_parameters_without_noise():
    truth = (0.2, -0.7, 3.3, 0.8)
    x = np.linspace(0, 8, 9)
    values = np.repeat(logistic(x, *truth)[:, None], 3, axis=1)
    fit = fit_logistic(x, values)
    got = fit["params"]
    assert [got["baseline"], got["amplitude"], got["midpoint"], got["width"]] == pytest.approx(
        truth, abs=1e-4
    )
    assert fit["n"] == 27 and fit["k"] == 5
    assert fit["jump"] == pytest.approx(logistic(8, *truth) - logistic(0, *truth), abs=1e-5)


def test_linear_fit_and_information_criteria_match_hand_computation():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    values = np.array([[1.0, 1.2], [2.1, 1.9], [2.8, 3.2], [4.0, 4.1]])
    fit = fit_linear(x, values)
    slope, intercept = np.polyfit(np.repeat(x, 2), values.ravel(), 1)
    assert fit["params"]["slope"] == pytest.approx(slope)
    assert fit["params"]["intercept"] == pytest.approx(intercept)
    rss = float(((values.ravel() - intercept - slope * np.repeat(x, 2)) ** 2).sum())
    n = 8
    loglik = -n / 2 * (math.log(2 * math.pi * rss / n) + 1)
    assert fit["rss"] == pytest.approx(rss)
    assert fit["bic"] == pytest.approx(3 * math.log(n) - 2 * loglik)
    assert fit["aic"] == pytest.approx(6 - 2 * loglik)


def test_missing_prompts_are_skipped():
    values = planted_transition(0)
    values[2, :4] = np.nan
    values[5, 0] = np.nan
    stats = level_statistics(LEVELS, values, n_bootstrap=100)
    assert stats["n"].tolist() == [10, 10, 6, 10, 10, 9, 10, 10]
    assert stats["mean"][2] == pytest.approx(np.nanmean(values[2]))
    assert fit_logistic(LEVELS, values)["n"] == 75


# --- per-level statistics --------------------------------------------------------------


def test_level_statistics_mean_variance_and_ci():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 40)) + np.array([[0.0], [1.0], [2.0]])
    stats = level_statistics([1, 2, 3], values, n_bootstrap=500, seed=1)
    assert stats["mean"] == pytest.approx(values.mean(axis=1))
    assert stats["variance"] == pytest.approx(values.var(axis=1, ddof=1))
    assert np.all(stats["ci_low"] < stats["mean"]) and np.all(stats["mean"] < stats["ci_high"])
    # the bootstrap CI of a mean is about +-1.96 standard errors wide
    se = values.std(axis=1, ddof=1) / math.sqrt(40)
    assert (stats["ci_high"] - stats["ci_low"]) == pytest.approx(2 * 1.96 * se, rel=0.25)
    assert np.all(stats["variance_ci_low"] < stats["variance"])


def test_wilson_interval_known_values():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    acc = accuracy_statistics([[1, 1, 0, np.nan], [0, 0, 0, 0]])
    assert acc["accuracy"] == pytest.approx([2 / 3, 0.0])
    assert acc["n"].tolist() == [3, 4]


def test_null_band_pools_levels_and_shuffles():
    null = np.zeros((3, 4, 2))
    null[1] += 1.0  # the null drifts at one level: the pooled band must include the drift
    band = null_band(null)
    assert band["low"].tolist() == [0.0, 1.0, 0.0]
    assert band["pooled"][0] == pytest.approx(0.0) and band["pooled"][1] == pytest.approx(1.0)
    assert band["width"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="levels, shuffles, prompts"):
        null_band(np.zeros((3, 4)))


# --- the rule, criterion by criterion ----------------------------------------------------


def _fit(delta_bic=20.0, jump=0.5, midpoint=4.5, ci=(4.0, 5.0)):
    return {
        "levels": LEVELS.tolist(),
        "delta_bic": delta_bic,
        "midpoint": {"value": midpoint, "ci": list(ci)},
        "jump": {"value": jump},
    }


CHI_PEAK_AT_5 = np.array([1, 1, 1, 2, 5, 2, 1, 1], dtype=float)
NULL = {"width": 0.2}


def test_verdict_passes_when_every_criterion_holds():
    verdict = transition_verdict(_fit(), NULL, CHI_PEAK_AT_5)
    assert verdict["supported"]
    assert verdict["critical_difficulty"] == {"value": 4.5, "ci": [4.0, 5.0]}
    assert str(claims.transition.DELTA_BIC_THRESHOLD).rstrip("0").rstrip(".") in verdict["rule"]


@pytest.mark.parametrize(
    ("fit", "null", "chi", "failing"),
    [
        (_fit(delta_bic=5.9), NULL, CHI_PEAK_AT_5, "sigmoid_beats_line"),
        (_fit(jump=-0.15), NULL, CHI_PEAK_AT_5, "jump_exceeds_null"),
        (_fit(), None, CHI_PEAK_AT_5, "jump_exceeds_null"),
        (_fit(ci=(0.5, 5.0)), NULL, CHI_PEAK_AT_5, "midpoint_ci_in_range"),
        (_fit(ci=(4.0, 8.5)), NULL, CHI_PEAK_AT_5, "midpoint_ci_in_range"),
        (_fit(ci=(4.0, math.nan)), NULL, CHI_PEAK_AT_5, "midpoint_ci_in_range"),
        (_fit(), NULL, np.array([9, 1, 1, 2, 5, 2, 1, 1.0]), "susceptibility_peak_near_midpoint"),
    ],
)
def test_verdict_fails_on_each_criterion(fit, null, chi, failing):
    verdict = transition_verdict(fit, null, chi)
    assert not verdict["supported"]
    assert verdict["critical_difficulty"] is None
    assert [k for k, c in verdict["criteria"].items() if not c["passed"]] == [failing]


def test_negative_jump_counts_by_size_and_peak_one_level_away_is_near():
    # a downward transition; the susceptibility peaks at level 5, outside the midpoint's CI
    # but one level above level 4, the level nearest the midpoint 4.4
    chi = np.array([1, 1, 1, 1, 6, 2, 1, 1], dtype=float)
    verdict = transition_verdict(_fit(jump=-0.5, midpoint=4.4, ci=(4.1, 4.7)), NULL, chi)
    assert verdict["supported"]


def test_verdict_shape_checks():
    with pytest.raises(ValueError, match="susceptibility"):
        transition_verdict(_fit(), NULL, np.ones(3))


# --- order parameters from head scores ------------------------------------------------


def test_order_parameters_on_planted_middle_core():
    n_layers, n_heads = 6, 3
    sts = np.ones((2, n_layers, n_heads))
    rtr = np.ones((2, n_layers, n_heads))
    middle = phase.middle_third(n_layers)
    assert middle.tolist() == [False, False, True, True, False, False]
    sts[0][middle] = 4.0  # prompt 0: synergy concentrated in the middle, redundancy outside
    rtr[0][~middle] = 3.0
    sts[1][~middle] = 4.0  # prompt 1: the opposite (a U)
    rtr[1][middle] = 3.0
    sts[:, :, 0] += np.linspace(0, 0.1, n_layers)  # break exact ties inside each group
    out = order_parameters(sts, rtr)
    assert out["profile"].shape == (2, n_layers)
    assert out["middle_minus_outer"][0] > 0.9
    assert out["middle_minus_outer"][1] < -0.9
    share = sts[0][middle].sum() / sts[0].sum()
    assert out["middle_sts_share"][0] == pytest.approx(share)
    assert out["middle_sts_share"][1] == pytest.approx(sts[1][middle].sum() / sts[1].sum())


def test_parse_levels_and_level_prompts():
    assert parse_levels("", "arithmetic_chain") == phase._default_levels("arithmetic_chain")
    assert parse_levels("1, 3,5", "addition") == [1, 3, 5]
    with pytest.raises(ValueError, match="increasing"):
        parse_levels("3,1,2", "addition")
    with pytest.raises(ValueError, match="integers"):
        parse_levels("a,b", "addition")
    prompts, tasks = phase.level_prompts("list_reversal", 4, 3, seed=2)
    assert len(prompts) == 3 and [t.prompt for t in tasks] == prompts
    from synergy_utils.stages.prompts import select_prompts

    prompts, tasks = phase.level_prompts("categories", 2, 4)
    assert tasks is None
    assert prompts == [text for _, text in select_prompts(4, ["numerical"])]
    with pytest.raises(ValueError, match="category rank"):
        phase.level_prompts("categories", 6, 2)


# --- a tiny end-to-end sweep ------------------------------------------------------------


@pytest.fixture
def one_torch_thread():
    """Tiny matrices gain nothing from threads, and lose a lot on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sweep_end_to_end_on_a_tiny_model_with_cache(tmp_path, monkeypatch, one_torch_thread):
    from .conftest import make_tiny_llama, make_tiny_tokenizer

    model = make_tiny_llama(n_layers=3, max_positions=512)
    tokenizer = make_tiny_tokenizer()
    kwargs = dict(
        family="addition",
        levels=[1, 2, 3, 4],
        n_per_level=3,
        max_new_tokens=12,
        seed=0,
        cache_dir=tmp_path,
        progress=False,
        n_shuffles=2,
        template="base",
    )
    ds = phase.run_phase_sweep(model, tokenizer, **kwargs)
    assert dict(ds.sizes) == {"level": 4, "item": 3, "layer": 3, "head": 4, "shuffle": 2}
    assert set(np.unique(ds["correct"].values)) <= {0.0, 1.0}
    assert np.isfinite(ds["middle_minus_outer"].values).all()
    assert ((ds["middle_sts_share"] > 0) & (ds["middle_sts_share"] < 1)).all()
    assert ds["null_middle_minus_outer"].dims == ("level", "shuffle", "item")
    # the prompts are the generator's
    expected = phase.level_prompts("addition", 3, 3, seed=0)[0]
    assert ds["prompt"].sel(level=3).values.tolist() == expected

    # a second run reads every level from the cache without generating
    import synergy_utils.lm.recording as extraction

    def refuse(*args, **kwargs):
        raise AssertionError("generated again despite the cache")

    monkeypatch.setattr(extraction, "record_head_series", refuse)
    again = phase.run_phase_sweep(model, tokenizer, **kwargs)
    np.testing.assert_array_equal(again["sts"].values, ds["sts"].values)
    assert again["text"].values.tolist() == ds["text"].values.tolist()

    result = phase.analyse_sweep(ds, n_bootstrap=50)
    assert result["null"] is not None and result["null"]["n_shuffles"] == 2
    secondary = phase.analyse_sweep(ds, "middle_sts_share", n_bootstrap=50)
    summary = phase.phase_summary(
        ds,
        result,
        _verdict(result),
        secondary=(secondary, _verdict(secondary)),
        random_result=(result, _verdict(result)),
    )
    for key in (
        "family",
        "difficulty",
        "order_parameter",
        "susceptibility",
        "accuracy",
        "critical_difficulty",
        "transition_supported",
        "rule",
        "fit",
    ):
        assert key in summary
    assert summary["difficulty"] == [1.0, 2.0, 3.0, 4.0]
    assert len(summary["order_parameter"]) == 4
    text = claims.transition_paragraph(summary)
    assert "addition" in text and "ΔBIC" in text
    assert ("no transition" in text) == (not summary["transition_supported"])
    assert phase.level_profiles(ds).shape == (4, 3)


def test_verdict_paragraph_reports_a_supported_transition():
    import xarray as xr

    values = planted_transition(0)
    correct = (np.arange(10)[None, :] < np.linspace(10, 0, 8)[:, None]).astype(float)
    ds = xr.Dataset(
        {
            "middle_minus_outer": (("level", "item"), values),
            "null_middle_minus_outer": (("level", "shuffle", "item"), null_values(0)),
            "correct": (("level", "item"), correct),
        },
        coords={"level": LEVELS.astype(int)},
        attrs={"family": "addition", "model": "synthetic"},
    )
    result = phase.analyse_sweep(ds, n_bootstrap=200)
    summary = phase.phase_summary(ds, result, _verdict(result))
    assert summary["transition_supported"]
    assert summary["accuracy"][0]["mean"] == 1.0 and summary["accuracy"][-1]["mean"] == 0.0
    text = claims.transition_paragraph(summary)
    assert "support a transition" in text
    assert f"{summary['critical_difficulty']['value']:.2f}" in text


def test_phase_figures_draw_from_an_analysis():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    from synergy_utils.report import figures_phase

    ds = xr.Dataset(
        {
            "middle_minus_outer": (("level", "item"), planted_transition(0)),
            "null_middle_minus_outer": (("level", "shuffle", "item"), null_values(0)),
            "correct": (("level", "item"), np.ones((8, 10))),
        },
        coords={"level": LEVELS.astype(int)},
    )
    result = phase.analyse_sweep(ds, n_bootstrap=50)
    figures = [
        figures_phase.plot_phase_accuracy(result, family="addition"),
        figures_phase.plot_order_parameter(result, random_result=result),
        figures_phase.plot_susceptibility(result),
        figures_phase.plot_level_profiles(np.random.default_rng(0).random((8, 6)), LEVELS),
    ]
    for fig in figures:
        assert fig.axes and all(ax.get_xlabel() for ax in fig.axes[:1])
        plt.close(fig)
