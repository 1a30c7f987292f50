"""Synergistic cores: known answers on constructed head arrays, and the controls."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats as sps

from synergy_utils import analysis as A
from synergy_utils import phiid
from synergy_utils.results import netcdf_engine

from .conftest import make_tiny_llama, make_tiny_tokenizer


@pytest.fixture(scope="module")
def planted():
    """6 layers x 4 heads: crossed pairs in layers 2-3, a shared AR(1) driver elsewhere."""
    values = A.planted_core_series(n_prompts=6, n_steps=100, n_layers=6, n_heads=4, seed=1)
    return values, A.head_atom_scores(values, progress=False)


def _ar1_heads(phi: np.ndarray, n_prompts: int, n_steps: int, n_heads: int, seed: int):
    """Independent AR(1) heads, coefficient ``phi[layer]``: shape (P, T, L, H)."""
    rng = np.random.default_rng(seed)
    n_layers = phi.size
    x = np.zeros((n_prompts, n_steps + 100, n_layers, n_heads))
    for t in range(1, n_steps + 100):
        x[:, t] = phi[None, :, None] * x[:, t - 1] + rng.standard_normal(
            (n_prompts, n_layers, n_heads)
        )
    return x[:, 100:]


# --- head scores --------------------------------------------------------------------------


def test_head_scores_equal_direct_phiid_means(planted):
    values, scores = planted
    flat = values.reshape(6, 100, 24)
    mean_atoms = phiid.phiid_pairwise_stack(flat, reduce="mean")
    np.testing.assert_allclose(scores["sts_matrix"], mean_atoms[phiid.ATOM_INDEX["sts"]])
    np.testing.assert_allclose(scores["rtr_matrix"], mean_atoms[phiid.ATOM_INDEX["rtr"]])
    np.testing.assert_allclose(scores["tdmi_matrix"], phiid.tdmi(mean_atoms), atol=1e-12)
    one = phiid.phiid_pairwise(flat[2])
    expected = np.nanmean(one[phiid.ATOM_INDEX["sts"]], axis=1).reshape(6, 4)
    np.testing.assert_allclose(scores["sts"].isel(prompt=2), expected)
    # node order is layer-major, and the metadata says so
    assert scores["source_layer"].values[5] == 1 and scores["source_head"].values[5] == 1
    assert scores.attrs["estimator"] == "gaussian" and scores.attrs["units"] == "nats"
    assert scores["sts"].dims == ("prompt", "layer", "head")


def test_planted_synergistic_pairs_come_out_on_top(planted):
    _, scores = planted
    sts = scores["sts_matrix"].values
    rows, cols = np.triu_indices(24, 1)
    top = np.argsort(-sts[rows, cols])[:4]
    planted_pairs = {(n, n + 1) for layer in (2, 3) for n in (4 * layer, 4 * layer + 2)}
    assert {(int(rows[k]), int(cols[k])) for k in top} == planted_pairs
    # the crossed pair's population sts is 1.02 nats (SCIENCE.md table)
    assert sts[8, 9] == pytest.approx(1.0217, abs=0.15)
    synergy = A.mean_head_scores(scores, "sts")
    redundancy = A.mean_head_scores(scores, "rtr")
    for method in A.GRADIENT_METHODS:
        gradient = A.synergy_gradient(synergy, redundancy, method)
        top_heads = np.argsort(-gradient.reshape(-1))[:8]
        assert set(top_heads // 4) == {2, 3}, method
        boot = A.bootstrap_profile(scores["sts"], scores["rtr"], method, n_boot=200, seed=0)
        assert boot["method"] == method
        assert set(np.argsort(-boot["profile"])[:2]) == {2, 3}
        assert boot["inverted_u_ci"][0] > 0.5
        assert boot["curvature_ci"][1] < 0  # concave: an inverted U


def test_nan_and_bad_input_are_clear_errors():
    values = np.zeros((2, 10, 3, 2))
    values[0, 5, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        A.head_atom_scores(values, progress=False)
    with pytest.raises(ValueError, match="shape"):
        A.head_atom_scores(np.zeros((10, 6)), progress=False)
    with pytest.raises(ValueError, match="unknown atom"):
        A.head_atom_scores(np.ones((1, 10, 2, 2)), atoms=("syn",), progress=False)


def test_constant_head_is_nan_and_counted():
    values = np.random.default_rng(0).standard_normal((2, 40, 3, 2))
    values[:, :, 1, 0] = 3.0
    with pytest.warns(RuntimeWarning, match="degenerate"):
        scores = A.head_atom_scores(values, progress=False)
    assert np.isnan(scores["sts"].sel(layer=1, head=0)).all()
    assert np.isfinite(scores["sts"].sel(layer=0)).all()
    assert scores.attrs["n_degenerate_pairs"] == 2 * 5
    gradient = A.synergy_gradient(
        A.mean_head_scores(scores, "sts"), A.mean_head_scores(scores, "rtr")
    )
    assert np.isnan(gradient[1, 0]) and np.isfinite(np.delete(gradient.reshape(-1), 2)).all()


# --- gradient and profile -------------------------------------------------------------------


def test_gradient_ranks_with_ties_match_scipy():
    synergy = np.array([[0.3, 0.1, 0.3], [0.2, 0.2, 0.5]])
    redundancy = np.array([[0.1, 0.1, 0.4], [0.0, 0.4, 0.4]])
    luppi = A.synergy_gradient(synergy, redundancy, "luppi")
    expected = sps.rankdata(synergy.ravel()) - sps.rankdata(redundancy.ravel())
    np.testing.assert_array_equal(luppi.ravel(), expected)
    assert luppi[0, 0] == 4.5 - 2.5  # tied ranks averaged
    diff = A.synergy_gradient(synergy, redundancy, "diff")
    np.testing.assert_array_equal(diff.ravel(), sps.rankdata((synergy - redundancy).ravel()))
    # the batched version used by the bootstrap agrees row by row
    rng = np.random.default_rng(0)
    s, r = rng.integers(0, 4, (5, 12)).astype(float), rng.integers(0, 4, (5, 12)).astype(float)
    for method in A.GRADIENT_METHODS:
        rows = A._gradient_rows(s, r, method)
        for k in range(5):
            np.testing.assert_array_equal(rows[k], A.synergy_gradient(s[k], r[k], method))
    assert A.DEFAULT_GRADIENT_METHOD == "luppi"
    with pytest.raises(ValueError, match="unknown gradient method"):
        A.synergy_gradient(synergy, redundancy, "rank")
    with pytest.raises(ValueError, match="shapes differ"):
        A.synergy_gradient(synergy, redundancy[:, :2])


def test_layer_profile_thirds_and_shape_statistics():
    gradient = np.array([[0.0, 0.0], [4.0, 6.0], [10.0, 10.0], [1.0, 3.0]])
    np.testing.assert_allclose(A.layer_profile(gradient), [0.0, 0.5, 1.0, 0.2])
    np.testing.assert_allclose(A.layer_depth(5), [0, 0.25, 0.5, 0.75, 1])
    sizes = {n: tuple(s.stop - s.start for s in A.thirds(n)) for n in (3, 4, 5, 7, 18, 30)}
    assert sizes == {
        3: (1, 1, 1),
        4: (1, 2, 1),
        5: (2, 1, 2),
        7: (2, 3, 2),
        18: (6, 6, 6),
        30: (10, 10, 10),
    }
    profile = np.array([0.0, 0.5, 1.0, 0.2])  # middle {0.5, 1.0}, outer {0.0, 0.2}
    assert A.inverted_u(profile) == pytest.approx(0.75 - 0.1)
    np.testing.assert_allclose(A.inverted_u(np.stack([profile, 1 - profile])), [0.65, -0.65])
    depth = A.layer_depth(9)
    assert A.quadratic_curvature(1 + 2 * depth - 3 * depth**2) == pytest.approx(-3)
    assert np.isnan(A.layer_profile(np.ones((4, 3)))).all()  # a flat profile has no scale
    with pytest.raises(ValueError, match="at least 3 layers"):
        A.inverted_u(np.array([0.0, 1.0]))


def test_bootstrap_is_seeded_and_brackets_the_estimate(planted):
    _, scores = planted
    a = A.bootstrap_profile(scores["sts"], scores["rtr"], n_boot=100, seed=3)
    b = A.bootstrap_profile(scores["sts"], scores["rtr"], n_boot=100, seed=3)
    np.testing.assert_array_equal(a["boot_inverted_u"], b["boot_inverted_u"])
    assert a["profile_ci"].shape == (6, 2) and a["boot_profiles"].shape == (100, 6)
    assert a["inverted_u_ci"][0] <= a["inverted_u"] <= a["inverted_u_ci"][1]
    # a replicate that draws every prompt once equals the point estimate
    weights = np.ones((1, 6))
    syn = A._weighted_nanmean_rows(weights, scores["sts"].values.reshape(6, -1)) / 6 * 6
    np.testing.assert_allclose(syn.reshape(6, 4), A.mean_head_scores(scores, "sts"))


# --- controls -------------------------------------------------------------------------------


def test_circular_shift_rolls_each_series():
    values = np.random.default_rng(0).standard_normal((2, 15, 3, 2))
    shifted = A.circular_shift(values, seed=4)
    for p in range(2):
        for layer in range(3):
            for head in range(2):
                x, y = values[p, :, layer, head], shifted[p, :, layer, head]
                assert any(np.array_equal(np.roll(x, k), y) for k in range(15))


def test_null_band_contains_pure_noise_profile():
    values = np.random.default_rng(3).standard_normal((4, 80, 9, 3))
    scores = A.head_atom_scores(values, progress=False)
    observed = A.bootstrap_profile(scores["sts"], scores["rtr"], n_boot=50)
    null = A.circular_shift_null(values, n_shuffles=40, seed=1, progress=False)
    assert null["band"].shape == (9, 2) and null["null_profiles"].shape == (40, 9)
    assert A.fraction_inside(observed["profile"], null["band"]) >= 8 / 9
    assert A.fraction_inside(A.layer_means(observed["gradient"]), null["band_raw"]) >= 8 / 9
    assert A.null_p_value(observed["inverted_u"], null["null_inverted_u"]) > 0.05


def test_null_absorbs_an_autocorrelation_inverted_u():
    """Independent heads whose persistence peaks mid-depth: MMI gives an 'inverted U' of
    synergy that the circular-shift null reproduces, so the verdict is 'not supported'."""
    phi = 0.1 + 0.8 * np.sin(np.pi * np.arange(9) / 8)
    values = _ar1_heads(phi, n_prompts=4, n_steps=80, n_heads=3, seed=2)
    scores = A.head_atom_scores(values, progress=False)
    boot = A.bootstrap_profile(scores["sts"], scores["rtr"], "diff", n_boot=100)
    assert boot["inverted_u_ci"][0] > 0  # the artefact looks like an inverted U ...
    null = A.circular_shift_null(values, n_shuffles=20, seed=0, method="diff", progress=False)
    p_null = A.null_p_value(boot["inverted_u"], null["null_inverted_u"])
    assert p_null > 0.05  # ... but no more than in series with the timing destroyed
    baseline = A.independent_baseline(scores)
    assert baseline["pair_pearson"] > 0.9 and baseline["ratio"] == pytest.approx(1, abs=0.25)
    stats = {
        "inverted_u": A.interval(boot["inverted_u"], boot["inverted_u_ci"]),
        "null_p_value": p_null,
        "baseline_corr": baseline["pair_pearson"],
    }
    assert "not supported" in A.verdict_paragraph(stats)


def test_independent_baseline_matches_two_min_self_information():
    values = _ar1_heads(np.array([0.9, 0.5, 0.7]), n_prompts=3, n_steps=2000, n_heads=1, seed=5)
    scores = A.head_atom_scores(values, progress=False)
    a = A.self_information(values[0].reshape(2000, 3))
    assert a[0] == pytest.approx(-0.5 * math.log(1 - 0.81), abs=0.08)
    expected = 2 * np.minimum(a[:, None], a[None, :])
    np.testing.assert_allclose(
        scores["sts_baseline_matrix"].values[0, 1],
        np.mean([2 * min(*A.self_information(v.reshape(2000, 3))[:2]) for v in values]),
        rtol=1e-10,
    )
    # observed sts of independent series is close to 2 min(a_x, a_y)
    assert scores["sts_matrix"].values[0, 2] == pytest.approx(expected[0, 2], abs=0.1)
    assert A.independent_baseline(scores)["ratio"] == pytest.approx(1, abs=0.15)


def test_tdmi_normalised_is_share_of_tdmi(planted):
    _, scores = planted
    shares = A.tdmi_normalised(scores)
    np.testing.assert_allclose(shares["sts"], scores["sts"] / scores["tdmi"])
    assert float(shares["sts"].max()) <= 1.0 + 1e-9


def test_split_half_rho_is_one_for_duplicated_prompts(planted):
    _, scores = planted
    one = scores["sts"].isel(prompt=[0]).values
    red = scores["rtr"].isel(prompt=[0]).values
    duplicated_s, duplicated_r = np.repeat(one, 8, axis=0), np.repeat(red, 8, axis=0)
    result = A.split_half_rho(duplicated_s, duplicated_r, seed=0, n_splits=5)
    assert result["rho"] == pytest.approx(1.0) and result["spearman_brown"] == pytest.approx(1)
    assert result["method"] == "luppi"
    real = A.split_half_rho(scores["sts"], scores["rtr"], "diff", seed=0)
    assert 0.5 < real["rho"] <= 1 and real["method"] == "diff"


def test_syn_red_correlation_matches_scipy():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((5, 4))
    r = 0.5 * s + rng.standard_normal((5, 4))
    result = A.syn_red_correlation(s, r)
    ref = sps.pearsonr(s.ravel(), r.ravel())
    assert result["r"] == pytest.approx(ref.statistic)
    ci = ref.confidence_interval(0.95)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert result["n"] == 20


# --- graphs ---------------------------------------------------------------------------------


def test_graph_metrics_match_networkx_on_the_thresholded_graph():
    # two triangles {0,1,2}, {3,4,5} with strong edges, one weaker bridge 2-3, weak rest
    m = np.full((6, 6), 0.01)
    for a, b in [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5)]:
        m[a, b] = m[b, a] = 1.0
    m[2, 3] = m[3, 2] = 0.5
    np.fill_diagonal(m, np.nan)
    result = A.graph_metrics(m, top_fraction=7 / 15, seed=0)
    graph = nx.Graph()
    graph.add_nodes_from(range(6))
    graph.add_weighted_edges_from(
        [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (3, 4, 1.0), (3, 5, 1.0), (4, 5, 1.0), (2, 3, 0.5)]
    )
    assert result["n_edges"] == 7 and result["threshold"] == 0.5
    assert result["efficiency"] == pytest.approx(nx.global_efficiency(graph))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=0)
    assert result["modularity"] == pytest.approx(
        nx.community.modularity(graph, communities, weight="weight")
    )
    assert result["n_communities"] == 2
    # weighted: the bridge has length 2, so e.g. d(2, 3) = 2 and d(0, 5) = 4
    lengths = {
        (0, 1): 1,
        (0, 2): 1,
        (1, 2): 1,
        (3, 4): 1,
        (3, 5): 1,
        (4, 5): 1,
        (2, 3): 2,
        (0, 3): 3,
        (1, 3): 3,
        (2, 4): 3,
        (2, 5): 3,
        (0, 4): 4,
        (0, 5): 4,
        (1, 4): 4,
        (1, 5): 4,
    }
    assert result["efficiency_weighted"] == pytest.approx(sum(1 / d for d in lengths.values()) / 15)
    # the triangles are the obvious modules; a complete graph has none
    assert result["modularity"] > 0.3
    assert A.graph_metrics(np.ones((5, 5)), top_fraction=1.0)["modularity"] == pytest.approx(0)


def test_compare_graphs_names_both(planted):
    _, scores = planted
    graphs = A.compare_graphs(scores["sts_matrix"], scores["rtr_matrix"], seed=0)
    assert graphs["synergy"]["n_edges"] == graphs["redundancy"]["n_edges"] == round(0.1 * 276)
    assert isinstance(graphs["synergy_more_efficient"], bool)


# --- model controls -------------------------------------------------------------------------


def test_model_copies_leave_the_original_alone():
    import torch

    model = make_tiny_llama(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    noisy = A.randomised_model(model, seed=1, noise_std=10.0)
    weight = "model.layers.0.self_attn.q_proj.weight"
    delta = noisy.state_dict()[weight] - before[weight]
    assert float(delta.std()) == pytest.approx(10.0, rel=0.1)
    again = A.randomised_model(model, seed=1, noise_std=10.0)
    assert torch.equal(again.state_dict()[weight], noisy.state_dict()[weight])
    perturbed = A.perturbed_model(model, relative_std=0.1, seed=0)
    delta = perturbed.state_dict()[weight] - before[weight]
    assert float(delta.std()) == pytest.approx(0.1 * float(before[weight].std()), rel=0.15)
    norm = "model.layers.0.input_layernorm.weight"  # all ones: zero spread, left unchanged
    assert torch.equal(perturbed.state_dict()[norm], before[norm])
    fresh = A.reinitialised_model(model, seed=2)
    assert type(fresh) is type(model) and fresh.config.to_dict() == model.config.to_dict()
    assert not torch.equal(fresh.state_dict()[weight], before[weight])
    assert torch.equal(
        A.reinitialised_model(model, seed=2).state_dict()[weight], fresh.state_dict()[weight]
    )
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


# --- outputs and words ----------------------------------------------------------------------


def test_result_files_and_summary(planted, tmp_path):
    from synergy_utils.results import merge_summary, read_json

    _, scores = planted
    synergy, redundancy = A.mean_head_scores(scores, "sts"), A.mean_head_scores(scores, "rtr")
    table = A.head_scores_table(synergy, redundancy)
    assert list(table.columns) == [
        "layer",
        "head",
        "synergy",
        "redundancy",
        "gradient_luppi",
        "gradient_diff",
    ]
    assert len(table) == 24 and table.loc[5, "layer"] == 1 and table.loc[5, "head"] == 1
    A.write_head_scores(tmp_path, table, {"parameters": {}})
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "head_scores.csv"), table, check_dtype=False
    )
    boot = A.bootstrap_profile(scores["sts"], scores["rtr"], n_boot=20)
    null = A.circular_shift_null(
        np.zeros((1, 10, 3, 2))
        + np.arange(10)[None, :, None, None]
        + np.random.default_rng(0).standard_normal((1, 10, 3, 2)),
        n_shuffles=2,
        progress=False,
    )
    null["band"] = np.zeros((6, 2))  # shape only matters here
    null["null_profiles"] = np.zeros((2, 6))
    ds = A.cores_dataset(
        scores, boot, null, extra_profiles={"reinitialised": np.zeros(6)}, provenance={"seed": 0}
    )
    A.write_cores_dataset(tmp_path, ds)
    with xr.open_dataset(tmp_path / "cores.nc", engine=netcdf_engine()) as back:
        assert back.attrs["gradient_method"] == "luppi"
        assert back["profile_reinitialised"].size == 6
        np.testing.assert_allclose(back["sts_matrix"], scores["sts_matrix"])
    graphs = A.compare_graphs(scores["sts_matrix"], scores["rtr_matrix"])
    summary = A.cores_summary(
        model="planted",
        boot=boot,
        null=null,
        syn_red=A.syn_red_correlation(synergy, redundancy),
        split_half=A.split_half_rho(scores["sts"], scores["rtr"]),
        graphs=graphs,
        random_models={"reinitialised": boot},
    )
    merge_summary(tmp_path, summary)
    written = read_json(tmp_path / "summary.json")
    for key in (
        "model",
        "layer_profile",
        "inverted_u",
        "syn_red_corr",
        "split_half_rho",
        "null_profile_band",
        "graph",
        "random_model_profile",
        "cores",
    ):
        assert key in written, key
    assert len(written["layer_profile"]) == 6
    assert set(written["inverted_u"]) >= {"value", "ci_low", "ci_high"}
    assert written["cores"]["gradient_method"] == "luppi"
    assert set(written["graph"]["synergy"]) >= {"efficiency", "modularity"}


def _stats(value, low, high, **extra):
    return {"inverted_u": {"value": value, "ci_low": low, "ci_high": high}, **extra}


def test_verdict_paragraph_follows_the_numbers():
    yes = A.verdict_paragraph(
        _stats(
            0.4,
            0.2,
            0.6,
            null_p_value=0.01,
            model="M",
            n_prompts=60,
            split_half_rho=0.9,
            syn_red_corr=-0.5,
            random_model_inverted_u={"reinitialised copy": -0.1},
        )
    )
    assert "supported" in yes and "not supported" not in yes
    assert "On M, with 60 prompts and the luppi gradient" in yes
    assert "0.40 above" in yes and "0.20" in yes
    assert "negatively correlated" in yes and "architecture alone" in yes
    spans_zero = A.verdict_paragraph(_stats(0.1, -0.1, 0.3, null_p_value=0.01))
    assert "not supported" in spans_zero and "includes zero" in spans_zero
    u_shape = A.verdict_paragraph(_stats(-0.4, -0.6, -0.2))
    assert "not supported" in u_shape and "U rather than" in u_shape and "0.40 below" in u_shape
    within_null = A.verdict_paragraph(
        _stats(0.4, 0.2, 0.6, null_p_value=0.4, syn_red_corr=0.8, baseline_corr=0.95)
    )
    assert "not supported" in within_null and "circular-shift null" in within_null
    assert "positively correlated" in within_null and "autocorrelation" in within_null
    assert A.inverted_u_verdict(_stats(0.4, 0.2, 0.6)) == "supported"  # no null run
    assert "no circular-shift null was run" in A.verdict_paragraph(_stats(0.4, 0.2, 0.6))


def test_collect_stats_feeds_table_and_verdict(planted):
    values, scores = planted
    boot = A.bootstrap_profile(scores["sts"], scores["rtr"], n_boot=50)
    other = A.bootstrap_profile(scores["sts"], scores["rtr"], "diff", n_boot=50)
    null = A.circular_shift_null(values, n_shuffles=5, progress=False)
    synergy, redundancy = A.mean_head_scores(scores, "sts"), A.mean_head_scores(scores, "rtr")
    control = A.analyse_values(values[:3], n_boot=20)
    stats = A.collect_stats(
        model="planted",
        boot=boot,
        other_boot=other,
        null=null,
        tdmi_boot=A.bootstrap_profile(*A.tdmi_normalised(scores).data_vars.values(), n_boot=20),
        baseline=A.independent_baseline(scores),
        split_half=A.split_half_rho(scores["sts"], scores["rtr"]),
        syn_red=A.syn_red_correlation(synergy, redundancy),
        graphs=A.compare_graphs(scores["sts_matrix"], scores["rtr_matrix"]),
        random_models={"reinitialised copy": control},
        other_models={"perturbed copy": control},
        discrete_boot=A.analyse_values(values, estimator="discrete", n_boot=20),
        n_prompts=6,
    )
    assert stats["null_p_value"] == pytest.approx(1 / 6)  # beats all 5 shuffles
    assert stats["other_method"]["null_p_value"] == pytest.approx(1 / 6)
    assert -1 <= stats["null_profile_corr"] <= 1
    same = A.null_for_method(null, "luppi")
    np.testing.assert_allclose(same["null_inverted_u"], null["null_inverted_u"])
    np.testing.assert_allclose(same["band"], null["band"])
    assert set(stats["random_model_inverted_u"]) == {"reinitialised copy"}
    table = A.controls_table(stats)
    assert list(table.columns) == ["control", "value", "ci_low", "ci_high", "reading"]
    assert len(table) == 13 and table["reading"].str.len().min() > 5
    assert table.loc[0, "value"] == pytest.approx(boot["inverted_u"])
    assert "luppi" in table.loc[0, "control"] and "diff" in table.loc[1, "control"]
    text = A.verdict_paragraph(stats)
    assert ("not supported" in text) == (A.inverted_u_verdict(stats) == "not supported")
    assert "reinitialised copy" in text and "perturbed copy" not in text
    comparison = A.model_comparison_table({"all": {**boot, "scores": scores}, "half": control})
    assert comparison["prompts"].tolist() == [6, 3]


def test_control_prompts_and_re_recording_on_a_tiny_model(tmp_path):
    from synergy_utils.extraction import record_head_series

    np.testing.assert_array_equal(A.control_prompt_indices(60, 4), [0, 20, 39, 59])
    np.testing.assert_array_equal(A.control_prompt_indices(3, 5), [0, 1, 2])
    model, tokenizer = make_tiny_llama(seed=0), make_tiny_tokenizer()
    prompts = [("numerical", "a b c"), ("pos_tagging", "d e"), ("numerical", "f g h i")]
    series = record_head_series(model, tokenizer, prompts, 12, template="base", progress=False)
    copy = A.reinitialised_model(model, seed=1)
    again = A.record_control_series(
        copy, tokenizer, series, [0, 2], cache_dir=tmp_path, progress=False
    )
    assert again.values.shape == (2, 12, 2, 4)
    assert again.prompts == [series.prompts[0], series.prompts[2]]
    assert again.metadata["template"] == "base" and again.metadata["reduction"] == "l2"
    same = A.record_control_series(model, tokenizer, series, [1], progress=False)
    np.testing.assert_allclose(same.values[0], series.values[1], rtol=1e-5, atol=1e-6)
    assert A.model_available(None) in (True, False)
    assert not A.model_available(str(tmp_path / "no-such-model"))
