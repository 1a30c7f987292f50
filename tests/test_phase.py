"""Phase-transition stage: the rule on planted sweeps (error rates below stated bounds), each
criterion on its own, the fits against hand computations, the calibration on synthetic
accuracy curves, the per-prompt null against ``null_corrected_atoms``, where an answer ends,
the recording's natural stop, and one tiny end-to-end sweep."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from synergy_utils.report import claims
from synergy_utils.report.claims import transition
from synergy_utils.report.claims.transition import overall_finding, transition_verdict
from synergy_utils.report.claims.transition_checks import PLANTED, planted_sweep, rule_error_rates
from synergy_utils.stages import phase
from synergy_utils.stages.phase_scores import answer_end, prompt_scores
from synergy_utils.stats.fits import (
    batch_fits,
    fit_linear,
    fit_logistic,
    level_statistics,
    logistic,
    transition_statistics,
)
from synergy_utils.stats.resampling import wilson_interval

# --- the rule on planted sweeps ---------------------------------------------------------

#: Bounds on the rule's error rates that the tests hold it to (over N_SEEDS seeds per kind;
#: docs/phase.md gives the rates over 200 seeds).
N_SEEDS = 30
MAX_FALSE_TRANSITION = 0.04  # at most 1 of 30 sweeps without a transition called one
MAX_MISSED = 0.2  # at most 6 of 30 planted transitions missed
MIN_RIGHT = 0.9  # ramps called drifts, flat lines and noise called no change


@pytest.fixture(scope="module")
def error_rates():
    kinds = ["sigmoid", "ramp", "flat", "noise", "null_drift"]
    return rule_error_rates(N_SEEDS, kinds=kinds, n_bootstrap=150).set_index("kind")


def test_planted_transitions_are_found(error_rates):
    assert error_rates.loc["sigmoid", "missed"] <= MAX_MISSED


@pytest.mark.parametrize("kind", ["ramp", "flat", "noise", "null_drift"])
def test_no_transition_is_called_where_none_is_planted(error_rates, kind):
    assert error_rates.loc[kind, "false_transition"] <= MAX_FALSE_TRANSITION
    assert error_rates.loc[kind, "right"] >= MIN_RIGHT, error_rates.loc[kind].to_dict()


def test_planted_midpoint_is_recovered_and_covered():
    covered = 0
    for seed in range(8):
        levels, values, null = planted_sweep("sigmoid", seed)
        stats = transition_statistics(levels, values, null, n_bootstrap=200, seed=seed)
        lo, hi = stats["bootstrap"]["midpoint_ci"]
        covered += lo <= 4.0 <= hi
        assert stats["models"]["logistic"]["midpoint"] == pytest.approx(4.0, abs=0.5)
        assert stats["models"]["jump"] == pytest.approx(0.4, abs=0.1)
    assert covered >= 6  # nominal 95 %; percentile intervals of 10 prompts run a little low


def test_planted_kinds_have_their_truths_and_shapes():
    assert {p.truth for p in PLANTED.values()} == set(transition.FINDINGS)
    levels, values, null = planted_sweep("ramp", 0, n_levels=6, n_items=5, n_null=4)
    assert levels.tolist() == [1, 2, 3, 4, 5, 6] and values.shape == (6, 5)
    assert null.shape == (4, 6, 5)
    with pytest.raises(ValueError, match="planted kind"):
        planted_sweep("step", 0)


# --- the rule, criterion by criterion ---------------------------------------------------


def _analysis(**changes):
    """Statistics of a clear transition (every criterion passes); ``changes`` overrides
    entries by dotted path, e.g. ``{"bootstrap.midpoint_ci": [0.5, 4]}``."""
    analysis = {
        "testable": True,
        "levels": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "models": {
            "delta_bic": {
                "line_minus_logistic": 20.0,
                "flat_minus_logistic": 60.0,
                "flat_minus_line": 40.0,
            },
            "logistic": {"baseline": 0.1, "amplitude": 0.4, "midpoint": 4.0, "width": 0.5},
            "jump": 0.4,
            "change": 0.45,
        },
        "bootstrap": {"best_share": {"logistic": 0.9}, "midpoint_ci": [3.6, 4.4]},
        "null": {
            "n_sweeps": 12,
            "jump": {"z": 8.0, "mean": 0.0, "sd": 0.05},
            "change": {"z": 8.0, "mean": 0.0, "sd": 0.05},
            "excess_jump_ci": [0.3, 0.5],
            "excess_change_ci": [0.35, 0.55],
        },
        "susceptibility": {
            "ratio": 9.0,
            "ratio_ci": [3.0, 30.0],
            "near_levels": [3.0, 4.0],
            "peak_level": 4.0,
            "peak_level_ci": [4.0, 5.0],
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = analysis
        for key in parents:
            node = node[key]
        node[leaf] = value
    return analysis


def _failed(verdict):
    return [k for k, c in verdict["criteria"].items() if not c["passed"]]


def test_verdict_is_a_transition_when_every_criterion_holds():
    verdict = transition_verdict(_analysis())
    assert verdict["finding"] == "transition" and verdict["supported"]
    assert verdict["critical_difficulty"] == {"value": 4.0, "ci": [3.6, 4.4]}
    assert _failed(verdict) == []
    assert f"{transition.DELTA_BIC_THRESHOLD:g}" in verdict["rule"]


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        ({"models.delta_bic.line_minus_logistic": 5.9}, "sigmoid_preferred"),
        ({"models.delta_bic.flat_minus_logistic": 5.9}, "sigmoid_preferred"),
        ({"bootstrap.best_share": {"logistic": 0.4}}, "sigmoid_preferred"),
        ({"bootstrap.midpoint_ci": [0.5, 4.4]}, "midpoint_inside"),
        ({"bootstrap.midpoint_ci": [3.6, 7.5]}, "midpoint_inside"),
        # without a finite midpoint CI the peak cannot be placed either
        ({"bootstrap.midpoint_ci": [3.6, math.nan]}, "midpoint_inside, susceptibility_peak"),
        ({"null.jump": {"z": 1.5, "mean": 0.3, "sd": 0.05}}, "jump_beyond_null"),
        ({"null.excess_jump_ci": [-0.05, 0.5]}, "jump_beyond_null"),
        ({"susceptibility.ratio_ci": [0.8, 30.0]}, "susceptibility_peak"),
        ({"susceptibility.ratio_ci": [math.nan, math.nan]}, "susceptibility_peak"),
        ({"susceptibility.peak_level_ci": [6.0, 7.0]}, "susceptibility_peak"),
    ],
)
def test_each_transition_criterion_fails_on_its_own(changes, failing):
    verdict = transition_verdict(_analysis(**changes))
    assert _failed(verdict) == failing.split(", ")
    assert verdict["finding"] == "smooth drift"  # the change itself is still there
    assert verdict["critical_difficulty"] is None and not verdict["supported"]


def test_drift_needs_the_flat_line_beaten_and_a_change_beyond_the_null():
    ramp = {"models.delta_bic.line_minus_logistic": -4.0}
    assert transition_verdict(_analysis(**ramp))["finding"] == "smooth drift"
    flat = {
        **ramp,
        "models.delta_bic.flat_minus_line": 3.0,
        "models.delta_bic.flat_minus_logistic": 1.0,
    }
    assert transition_verdict(_analysis(**flat))["finding"] == "no change"
    shared = {**ramp, "null.change": {"z": 0.5, "mean": 0.4, "sd": 0.1}}
    assert transition_verdict(_analysis(**shared))["finding"] == "no change"
    no_null = transition_verdict(_analysis(null=None))
    assert no_null["finding"] == "no change"
    assert no_null["criteria"]["jump_beyond_null"]["note"] == "no null computed"


def test_a_downward_jump_counts_by_its_size():
    down = _analysis(
        **{
            "models.jump": -0.4,
            "null.jump": {"z": -8.0, "mean": 0.0, "sd": 0.05},
            "null.excess_jump_ci": [-0.5, -0.3],
        }
    )
    assert transition_verdict(down)["finding"] == "transition"


def test_untestable_analyses_say_so():
    verdict = transition_verdict({"testable": False, "reason": "fewer than 4 levels"})
    assert verdict["finding"] == "not testable" and verdict["criteria"] == {}


@pytest.mark.parametrize(
    ("findings", "expected", "word"),
    [
        (["transition", "transition", "no change"], "transition", "supported"),
        (["transition", "smooth drift", "no change"], "mixed", "inconclusive"),
        (["smooth drift", "no change", "no change"], "smooth drift", "not supported"),
        (["no change", "no change", "not testable"], "no change", "not supported"),
        (["transition", "not testable"], "transition", "supported"),
        (["not testable"], "not testable", "not run"),
    ],
)
def test_families_combine_into_the_claim_verdict(findings, expected, word):
    overall = overall_finding({f"f{i}": v for i, v in enumerate(findings)})
    assert (overall["finding"], overall["verdict"]) == (expected, word)


def test_landing_page_reads_the_same_rule():
    from synergy_utils.report import tables
    from synergy_utils.summary import Summary

    from .conftest import make_phase_section

    for supported, word in ((True, "supported"), (False, "not supported")):
        section = make_phase_section(supported)
        assert claims.phase_verdict(section) == word
        row = [r for r in tables.verdict_rows(Summary(phase=section)) if r[0].startswith("3 ")]
        assert row[0][3] == word
        assert "copy_list: " in row[0][2]
    assert claims.phase_verdict(None) == "not run"


# --- fits --------------------------------------------------------------------------------


def test_batch_fits_match_the_line_and_flat_by_hand_and_find_an_exact_logistic():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([[1.0, 1.2], [2.1, 1.9], [2.8, 3.2], [4.0, 4.1], [5.2, 4.9]])
    means, within = y.mean(1), float(((y - y.mean(1, keepdims=True)) ** 2).sum())
    fits = batch_fits(x, means[None], [2] * 5, [within])
    line = fit_linear(x, y)
    assert fits["slope"][0] == pytest.approx(line["params"]["slope"])
    assert fits["bic_line"][0] == pytest.approx(line["bic"])
    rss_flat = float(((y - y.mean()) ** 2).sum())
    assert fits["bic_flat"][0] == pytest.approx(
        2 * math.log(10) + 10 * (math.log(2 * math.pi * rss_flat / 10) + 1)
    )
    truth = (0.2, -0.7, 4.0, 0.8)
    xs = np.arange(1.0, 8.0)
    exact = batch_fits(xs, logistic(xs, *truth)[None], [3] * 7, [0.0])
    assert exact["midpoint"][0] == pytest.approx(4.0, abs=0.06)
    assert exact["jump"][0] == pytest.approx(logistic(7, *truth) - logistic(1, *truth), abs=0.02)
    polished = fit_logistic(xs, np.repeat(logistic(xs, *truth)[:, None], 3, axis=1))
    assert polished["params"]["midpoint"] == pytest.approx(4.0, abs=1e-4)


def test_transition_statistics_drop_thin_levels_and_refuse_too_few():
    levels, values, null = planted_sweep("sigmoid", 0)
    values[2, 1:] = np.nan  # one prompt left: dropped
    stats = transition_statistics(levels, values, null, n_bootstrap=50)
    assert stats["testable"] and stats["dropped_levels"] == [3.0]
    assert len(stats["levels"]) == 6 and len(stats["null"]["band"]["low"]) == 6
    values[3:, 1:] = np.nan
    few = transition_statistics(levels, values, null, n_bootstrap=50)
    assert not few["testable"] and "levels" in few["reason"]


def test_transition_statistics_are_reproducible_per_seed():
    levels, values, null = planted_sweep("ramp", 3)
    a = transition_statistics(levels, values, null, n_bootstrap=100, seed=5)
    b = transition_statistics(levels, values, null, n_bootstrap=100, seed=5)
    for key in ("bootstrap", "susceptibility", "null"):
        assert json.dumps(a[key]) == json.dumps(b[key])


def test_level_statistics_and_wilson_intervals():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 40)) + np.array([[0.0], [1.0], [2.0]])
    stats = level_statistics([1, 2, 3], values, n_bootstrap=500, seed=1)
    assert stats["mean"] == pytest.approx(values.mean(axis=1))
    assert stats["variance"] == pytest.approx(values.var(axis=1, ddof=1))
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


# --- calibration --------------------------------------------------------------------------


def _accuracy(level, midpoint, width):
    return 1 / (1 + np.exp((np.asarray(level, dtype=float) - midpoint) / width))


@pytest.mark.parametrize(("midpoint", "width"), [(9.0, 1.5), (30.0, 8.0), (5.0, 0.6)])
def test_calibration_lays_the_grid_around_the_cliff(midpoint, width):
    candidates = np.unique(np.round(np.geomspace(2, 6 * midpoint, 7)))
    scan = _accuracy(candidates, midpoint, width)
    cal = phase.calibrate_grid(candidates, scan, [50] * candidates.size, bounds=(2, 1000))
    grid = np.array(cal["grid"])
    assert grid.size == 7 and np.all(np.diff(grid) > 0) and grid[0] >= 2
    assert _accuracy(grid[0], midpoint, width) >= 0.8
    assert _accuracy(grid[-1], midpoint, width) <= 0.2
    assert grid[1] <= midpoint <= grid[-2]  # the cliff inside, with levels on either side
    assert cal["x_high"] < midpoint < cal["x_low"]


def test_calibration_of_a_noisy_scan_and_of_a_cliff_at_the_lowest_level():
    rng = np.random.default_rng(1)
    candidates = np.array([3, 5, 7, 10, 13, 16])
    hits = rng.binomial(20, _accuracy(candidates, 8.0, 1.5)) / 20
    grid = phase.calibrate_grid(candidates, hits, [20] * 6, bounds=(2, 60))["grid"]
    assert grid[0] <= 6 and grid[-1] >= 10
    # a noisy scan whose fit is far too sharp: the grid still reaches the measured 0 % at 16
    noisy = phase.calibrate_grid([4, 8, 16, 32, 64], [1.0, 0.8, 0.0, 0.0, 0.6], [5] * 5)
    assert noisy["grid"][0] <= 8 and noisy["grid"][-1] >= 16
    sharp = phase.calibrate_grid([2, 3, 4, 5, 6], [1.0, 0.2, 0.0, 0.0, 0.0], bounds=(2, 20))
    assert sharp["grid"] == [2, 3, 4, 5, 6, 7, 8]  # starts at the bound, one level apart
    with pytest.raises(ValueError, match="increasing"):
        phase.calibrate_grid([3, 2], [1.0, 0.0])


# --- the per-prompt null, the order parameters, the answer's end ---------------------------


def test_prompt_scores_give_the_delta_of_null_corrected_atoms():
    from synergy_utils.stats.pair_null import null_corrected_atoms

    rng = np.random.default_rng(0)
    x = rng.standard_normal((14, 6, 3)).cumsum(0) * 0.3 + rng.standard_normal((14, 6, 3))
    scores = prompt_scores(x, n_surrogates=8, seed=3)
    reference = null_corrected_atoms(x[None], atoms=("sts", "rtr"), n_surrogates=8, seed=3)
    np.testing.assert_allclose(
        scores["delta_sts"], reference["head_delta"].sel(atom="sts").values[0], atol=1e-12
    )
    np.testing.assert_allclose(
        scores["sts"], reference["head_observed"].sel(atom="sts").values, atol=1e-12
    )
    for name in phase.ORDER_PARAMETERS:
        assert scores[f"null_{name}"].shape == (8,)
    middle = phase.middle_third(6)
    contrast = scores["delta_sts"][middle].mean() - scores["delta_sts"][~middle].mean()
    assert scores["delta_sts_contrast"] == pytest.approx(contrast)
    # the order parameter is claim 1's block statistic on this one prompt
    from synergy_utils.stages.core_block import block_test, head_persistence

    delta = reference["delta_prompt"]
    claim1 = block_test(
        delta.sel(atom="sts").values, delta.sel(atom="rtr").values, head_persistence(x[None]),
        null="circular", n_bootstrap=2,
    )  # fmt: skip
    assert scores["block_contrast"] == pytest.approx(claim1.adjusted_contrast.value, abs=1e-12)
    assert np.isfinite(scores["null_block_contrast"]).all()
    with pytest.raises(ValueError, match="T >= 7"):
        prompt_scores(x[:5])


def test_a_planted_middle_core_raises_the_null_corrected_contrast():
    """Pairs of mutually driving heads (each one's future follows the other's past, which
    MMI books as synergy, about 1 nat) in the middle layers only; every other head an
    independent AR(0.5) series, as persistent as the coupled ones."""
    rng = np.random.default_rng(2)
    n_steps, n_layers, n_heads = 80, 6, 3
    x = np.zeros((n_steps, n_layers, n_heads))
    noise = rng.standard_normal(x.shape)
    middle = phase.middle_third(n_layers)
    for t in range(1, n_steps):
        x[t] = 0.5 * x[t - 1] + noise[t]
        for layer in np.flatnonzero(middle):
            x[t, layer, 0] = 0.8 * x[t - 1, layer, 1] + noise[t, layer, 0]
            x[t, layer, 1] = 0.8 * x[t - 1, layer, 0] + noise[t, layer, 1]
    scores = prompt_scores(x, n_surrogates=12, seed=0)
    coupled, outer = scores["delta_sts"][middle, :2].mean(), scores["delta_sts"][~middle].mean()
    assert coupled > 0.01 and coupled > 10 * abs(outer)  # one coupled partner of 17
    assert scores["delta_sts_contrast"] > 0.005
    assert scores["delta_sts_contrast"] > np.abs(scores["null_delta_sts_contrast"]).max()
    assert scores["block_contrast"] > np.abs(scores["null_block_contrast"]).max()


def test_the_answer_ends_at_the_token_that_completes_it():
    def parse(text):
        return claims_parse(text, "copy_list")

    from synergy_utils.stages.tasks import parse_answer as claims_parse

    reply = [
        "The",
        "The list",
        "The list is",
        " [0",
        " [0,",
        " [0, 1",
        " [0, 1,",
        " [0, 1, 2",
        " [0, 1, 2]",
        " [0, 1, 2].",
    ]
    prefixes = ["".join(reply[: k + 1]).replace("  ", " ") for k in range(len(reply))]
    prefixes = [p if i < 3 else "The list is" + reply[i] for i, p in enumerate(prefixes)]
    assert answer_end(prefixes, parse) == ("0, 1, 2", 7)
    numbers = ["2", "2 +", "2 + 3", "2 + 3 =", "2 + 3 = 5", "2 + 3 = 5."]
    assert answer_end(numbers, lambda t: claims_parse(t, "digit_sum")) == ("5", 4)
    assert answer_end(["I", "I do", "I do not know"], parse) == (None, 2)
    assert answer_end([], parse) == (None, -1)


# --- recording: the natural end -------------------------------------------------------


class ForceEos:
    """Forward hook on the LM head: EOS becomes the top logit of row ``row`` at forward pass
    ``at`` (one hook per row)."""

    def __init__(self, row: int, at: int):
        self.row, self.at, self.calls = row, at, 0

    def __call__(self, module, args, output):
        if self.calls == self.at:
            output = output.clone()
            output[self.row, -1, 1] = 1e4  # eos id of the tiny models
        self.calls += 1
        return output


@pytest.fixture
def one_torch_thread():
    """Tiny matrices gain nothing from threads, and lose a lot on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_recording_stops_after_every_natural_end(one_torch_thread):
    from synergy_utils.lm.recording import record_head_series

    from .conftest import make_tiny_llama, make_tiny_tokenizer

    model, tokenizer = make_tiny_llama(n_layers=2), make_tiny_tokenizer()
    prompts = ["1 + 2 =", "3 + 4 + 5 ="]  # batched shortest first: row 0 is prompt 0
    reference = record_head_series(model, tokenizer, prompts, 12, template="base", progress=False)

    def forced(**options):
        hooks = [
            model.lm_head.register_forward_hook(ForceEos(0, 3)),
            model.lm_head.register_forward_hook(ForceEos(1, 6)),
        ]
        try:
            return record_head_series(
                model, tokenizer, prompts, 12, template="base", progress=False, **options
            )
        finally:
            for hook in hooks:
                hook.remove()

    natural = forced(natural_stop_after=5)
    stopped = forced(stop_at_eos=True)
    assert natural.metadata["eos_steps"] == [3, 6]
    assert natural.metadata["n_forward_passes"] == 7  # past both natural ends and >= 5 steps
    assert np.isfinite(natural.values[:, :7]).all() and np.isnan(natural.values[:, 7:]).all()
    assert stopped.metadata["eos_steps"] == [3, 6]
    for row, end in enumerate([3, 6]):
        # up to the natural end the suppressed run is the stopping run
        np.testing.assert_allclose(
            natural.values[row, : end + 1], stopped.values[row, : end + 1], rtol=1e-5
        )
        generated = natural.generated_ids(row).tolist()
        assert generated[:end] == stopped.generated_ids(row).tolist()[:end]
        assert 1 not in generated  # EOS itself stays suppressed
    # before the first natural end the values are those of a plain recording
    np.testing.assert_allclose(natural.values[:, :4], reference.values[:, :4], rtol=1e-5)
    with pytest.raises(ValueError, match="natural_stop_after"):
        record_head_series(model, tokenizer, prompts, 4, progress=False, natural_stop_after=9)


# --- parameters ---------------------------------------------------------------------------


def test_parse_families_and_levels():
    assert phase.parse_families("") == list(phase.DEFAULT_FAMILIES)
    assert phase.parse_families("digit_sum, copy_list") == ["digit_sum", "copy_list"]
    with pytest.raises(ValueError, match="distinct names"):
        phase.parse_families("digit_sum,sudoku")
    assert phase.parse_levels("", "copy_list") is None
    assert phase.parse_levels("1, 3,5", "addition") == [1, 3, 5]
    per_family = "copy_list: 2,4,6; digit_sum: 2,3,4"
    assert phase.parse_levels(per_family, "digit_sum") == [2, 3, 4]
    assert phase.parse_levels(per_family, "addition_bounded") is None
    with pytest.raises(ValueError, match="increasing"):
        phase.parse_levels("3,1,2", "addition")
    with pytest.raises(ValueError, match="integers"):
        phase.parse_levels("a,b", "addition")


# --- a tiny end-to-end sweep ------------------------------------------------------------


def test_sweep_end_to_end_on_a_tiny_model(tmp_path, monkeypatch, one_torch_thread):
    from synergy_utils.summary import check_section

    from .conftest import make_tiny_llama, make_tiny_tokenizer

    model = make_tiny_llama(n_layers=3, max_positions=512)
    tokenizer = make_tiny_tokenizer()
    kwargs = dict(
        family="digit_sum",
        levels=[2, 3, 4, 5],
        n_per_level=3,
        fixed_window=8,
        seed=0,
        cache_dir=tmp_path,
        progress=False,
        n_shuffles=3,
        template="base",
        batch_size=6,
    )
    ds = phase.run_phase_sweep(model, tokenizer, **kwargs)
    assert dict(ds.sizes) == {
        "level": 4,
        "item": 3,
        "window": 2,
        "surrogate": 3,
        "layer": 3,
        "head": 4,
    }
    assert set(np.unique(ds["correct"].values)) <= {0.0, 1.0}
    window = ds.sel(window="fixed_window")
    assert (window["n_steps"].values == 8).all()
    assert np.isfinite(window["delta_sts_contrast"].values).all()
    span = ds.sel(window="answer_span")
    scored = span["n_steps"].values > 0
    assert (span["n_steps"].values[scored] == ds["span_length"].values[scored]).all()
    assert ds["prompt"].sel(level=3).values.tolist() == phase.level_prompts("digit_sum", 3, 3)[0]

    import synergy_utils.lm.recording as recording

    def refuse(*args, **kwargs):
        raise AssertionError("recorded again despite the cache")

    monkeypatch.setattr(recording, "record_head_series", refuse)
    again = phase.run_phase_sweep(model, tokenizer, **kwargs)
    np.testing.assert_array_equal(again["sts"].values, ds["sts"].values)

    analyses = phase.analyse_family(ds, n_bootstrap=50)
    assert set(analyses) == {"answer_span", "fixed_window"}
    verdicts = {w: {n: transition_verdict(a) for n, a in by.items()} for w, by in analyses.items()}
    from synergy_utils.stages.phase_analysis import family_summary

    result = family_summary(ds, analyses, verdicts)
    overall = overall_finding({"digit_sum": result["finding"]})
    section = phase.phase_summary(
        {"digit_sum": result},
        overall,
        model="tiny",
        rule=transition.TRANSITION_RULE,
        settings={"seed": 0},
    )
    check_section("phase", section)  # the schema accepts it
    text = claims.transition_paragraph(section)
    assert "digit_sum" in text and "Verdict" in text
    assert phase.level_profiles(ds, "fixed_window").shape == (4, 3)


def test_a_fixed_window_sweep_and_the_figures(tmp_path, one_torch_thread):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synergy_utils.report import figures_phase

    from .conftest import make_tiny_llama, make_tiny_tokenizer

    model = make_tiny_llama(n_layers=3, max_positions=512)
    ds = phase.run_phase_sweep(
        model,
        make_tiny_tokenizer(),
        "copy_list",
        [2, 3, 4, 5],
        3,
        8,
        progress=False,
        windows=("fixed_window",),
        n_shuffles=3,
        template="base",
    )
    assert list(ds["window"].values) == ["fixed_window"]
    analyses = {"copy_list": phase.analyse_family(ds, n_bootstrap=50)}
    levels, values, null = planted_sweep("sigmoid", 0)
    planted = transition_statistics(levels, values, null, n_bootstrap=50)
    planted.update(
        order_parameter="delta_sts_contrast",
        window="answer_span",
        family="planted",
        all_levels=levels.tolist(),
        accuracy={"accuracy": np.linspace(1, 0, 7), "ci_low": np.zeros(7), "ci_high": np.ones(7)},
    )
    calibration = phase.calibrate_grid([2, 4, 8, 16], [1.0, 0.9, 0.3, 0.0], bounds=(2, 60))
    calibration["scan"] = {"levels": [2, 4, 8, 16], "accuracy": [1.0, 0.9, 0.3, 0.0], "n": [5] * 4}
    figs = [
        figures_phase.plot_families(
            analyses, phase.PRIMARY_ORDER_PARAMETER, random_analyses=analyses
        ),
        figures_phase.plot_order_parameter(planted),
        figures_phase.plot_susceptibility(planted),
        figures_phase.plot_calibration({"copy_list": calibration}),
        figures_phase.plot_level_profiles(
            phase.level_profiles(ds, "fixed_window", "delta"), ds["level"].values
        ),
    ]
    for fig in figs:
        panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.axison]
        assert panels and all(ax.get_xlabel() and ax.get_ylabel() for ax in panels)
        plt.close(fig)
