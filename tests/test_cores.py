"""Synergistic cores: known answers on constructed head arrays, and the controls."""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats as sps

from synergy_utils import phiid
from synergy_utils.lm import interventions, loading
from synergy_utils.report import claims, tables
from synergy_utils.results import netcdf_engine
from synergy_utils.stages import controls, cores, graphs
from synergy_utils.stats import nulls, resampling
from synergy_utils.summary import Summary

from .conftest import make_cores_section, make_tiny_llama, make_tiny_tokenizer


def crossed_pairs_series(
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
    """Synthetic ``(P, T, L, H)`` series: crossed transfer in the middle layers, which MMI
    books as synergy (CCS as transfer), a shared driver (redundancy) elsewhere.

    Middle-third layers (:func:`thirds`): heads ``(0, 1), (2, 3), ...`` form pairs with
    crossed dynamics ``x_{t+1} = c y_t + e``, ``y_{t+1} = c x_t + e'`` (each head's past
    predicts only its partner's future: for c = 0.8 the pair's ``sts`` is 1.02 nats and
    neither series is autocorrelated at lag 1); an odd last head is white noise. Outer layers:
    every head is one shared AR(1) driver (coefficient ``driver_ar``) plus independent white
    noise of size ``noise``, so they are mutually *redundant*. Unit-variance innovations.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n_prompts, n_steps, n_layers, n_heads))
    _, middle, _ = cores.thirds(n_layers)
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


@pytest.fixture(scope="module")
def planted():
    """6 layers x 4 heads: crossed pairs in layers 2-3, a shared AR(1) driver elsewhere."""
    values = crossed_pairs_series(n_prompts=6, n_steps=100, n_layers=6, n_heads=4, seed=1)
    return values, cores.head_atom_scores(values, progress=False)


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


def test_crossed_pairs_come_out_on_top_under_mmi(planted):
    _, scores = planted
    sts = scores["sts_matrix"].values
    rows, cols = np.triu_indices(24, 1)
    top = np.argsort(-sts[rows, cols])[:4]
    planted_pairs = {(n, n + 1) for layer in (2, 3) for n in (4 * layer, 4 * layer + 2)}
    assert {(int(rows[k]), int(cols[k])) for k in top} == planted_pairs
    # the crossed pair's population MMI sts is 1.02 nats
    assert sts[8, 9] == pytest.approx(1.0217, abs=0.15)
    synergy = cores.mean_head_scores(scores, "sts")
    redundancy = cores.mean_head_scores(scores, "rtr")
    for method in cores.GRADIENT_METHODS:
        gradient = cores.synergy_gradient(synergy, redundancy, method)
        top_heads = np.argsort(-gradient.reshape(-1))[:8]
        assert set(top_heads // 4) == {2, 3}, method
        boot = cores.bootstrap_profile(
            scores["sts"], scores["rtr"], method, n_bootstrap=200, seed=0
        )
        assert boot["method"] == method
        assert set(np.argsort(-boot["profile"])[:2]) == {2, 3}
        assert boot["inverted_u_ci"][0] > 0.5
        assert boot["curvature_ci"][1] < 0  # concave: an inverted U


def test_nan_and_bad_input_are_clear_errors():
    values = np.zeros((2, 10, 3, 2))
    values[0, 5, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cores.head_atom_scores(values, progress=False)
    with pytest.raises(ValueError, match="shape"):
        cores.head_atom_scores(np.zeros((10, 6)), progress=False)
    with pytest.raises(ValueError, match="unknown atom"):
        cores.head_atom_scores(np.ones((1, 10, 2, 2)), atoms=("syn",), progress=False)


def test_constant_head_is_nan_and_counted():
    values = np.random.default_rng(0).standard_normal((2, 40, 3, 2))
    values[:, :, 1, 0] = 3.0
    with pytest.warns(RuntimeWarning, match="degenerate"):
        scores = cores.head_atom_scores(values, progress=False)
    assert np.isnan(scores["sts"].sel(layer=1, head=0)).all()
    assert np.isfinite(scores["sts"].sel(layer=0)).all()
    assert scores.attrs["n_degenerate_pairs"] == 2 * 5
    gradient = cores.synergy_gradient(
        cores.mean_head_scores(scores, "sts"), cores.mean_head_scores(scores, "rtr")
    )
    assert np.isnan(gradient[1, 0]) and np.isfinite(np.delete(gradient.reshape(-1), 2)).all()


# --- gradient and profile -------------------------------------------------------------------


def test_gradient_ranks_with_ties_match_scipy():
    synergy = np.array([[0.3, 0.1, 0.3], [0.2, 0.2, 0.5]])
    redundancy = np.array([[0.1, 0.1, 0.4], [0.0, 0.4, 0.4]])
    luppi = cores.synergy_gradient(synergy, redundancy, "luppi")
    expected = sps.rankdata(synergy.ravel()) - sps.rankdata(redundancy.ravel())
    np.testing.assert_array_equal(luppi.ravel(), expected)
    assert luppi[0, 0] == 4.5 - 2.5  # tied ranks averaged
    diff = cores.synergy_gradient(synergy, redundancy, "diff")
    np.testing.assert_array_equal(diff.ravel(), sps.rankdata((synergy - redundancy).ravel()))
    # the batched version used by the bootstrap agrees row by row
    rng = np.random.default_rng(0)
    s, r = rng.integers(0, 4, (5, 12)).astype(float), rng.integers(0, 4, (5, 12)).astype(float)
    for method in cores.GRADIENT_METHODS:
        rows = cores._gradient_rows(s, r, method)
        for k in range(5):
            np.testing.assert_array_equal(rows[k], cores.synergy_gradient(s[k], r[k], method))
    assert cores.DEFAULT_GRADIENT_METHOD == "luppi"
    with pytest.raises(ValueError, match="unknown gradient method"):
        cores.synergy_gradient(synergy, redundancy, "rank")
    with pytest.raises(ValueError, match="shapes differ"):
        cores.synergy_gradient(synergy, redundancy[:, :2])


def test_layer_profile_thirds_and_shape_statistics():
    gradient = np.array([[0.0, 0.0], [4.0, 6.0], [10.0, 10.0], [1.0, 3.0]])
    np.testing.assert_allclose(cores.layer_profile(gradient), [0.0, 0.5, 1.0, 0.2])
    np.testing.assert_allclose(cores.layer_depth(5), [0, 0.25, 0.5, 0.75, 1])
    sizes = {n: tuple(s.stop - s.start for s in cores.thirds(n)) for n in (3, 4, 5, 7, 18, 30)}
    assert sizes == {
        3: (1, 1, 1),
        4: (1, 2, 1),
        5: (2, 1, 2),
        7: (2, 3, 2),
        18: (6, 6, 6),
        30: (10, 10, 10),
    }
    profile = np.array([0.0, 0.5, 1.0, 0.2])  # middle {0.5, 1.0}, outer {0.0, 0.2}
    assert cores.inverted_u(profile) == pytest.approx(0.75 - 0.1)
    np.testing.assert_allclose(cores.inverted_u(np.stack([profile, 1 - profile])), [0.65, -0.65])
    depth = cores.layer_depth(9)
    assert cores.quadratic_curvature(1 + 2 * depth - 3 * depth**2) == pytest.approx(-3)
    assert np.isnan(cores.layer_profile(np.ones((4, 3)))).all()  # a flat profile has no scale
    with pytest.raises(ValueError, match="at least 3 layers"):
        cores.inverted_u(np.array([0.0, 1.0]))


def test_bootstrap_is_seeded_and_brackets_the_estimate(planted):
    _, scores = planted
    a = cores.bootstrap_profile(scores["sts"], scores["rtr"], n_bootstrap=100, seed=3)
    b = cores.bootstrap_profile(scores["sts"], scores["rtr"], n_bootstrap=100, seed=3)
    np.testing.assert_array_equal(a["boot_inverted_u"], b["boot_inverted_u"])
    assert a["profile_ci"].shape == (6, 2) and a["boot_profiles"].shape == (100, 6)
    assert a["inverted_u_ci"][0] <= a["inverted_u"] <= a["inverted_u_ci"][1]
    # a replicate that draws every prompt once equals the point estimate
    weights = np.ones((1, 6))
    syn = resampling.weighted_nanmean(weights, scores["sts"].values.reshape(6, -1))
    np.testing.assert_allclose(syn.reshape(6, 4), cores.mean_head_scores(scores, "sts"))


# --- controls -------------------------------------------------------------------------------


def test_circular_shift_rolls_each_series():
    values = np.random.default_rng(0).standard_normal((2, 15, 3, 2))
    shifted = nulls.circular_shift(values, seed=4)
    for p in range(2):
        for layer in range(3):
            for head in range(2):
                x, y = values[p, :, layer, head], shifted[p, :, layer, head]
                assert any(np.array_equal(np.roll(x, k), y) for k in range(15))


def test_null_band_contains_pure_noise_profile():
    values = np.random.default_rng(3).standard_normal((4, 80, 9, 3))
    scores = cores.head_atom_scores(values, progress=False)
    observed = cores.bootstrap_profile(scores["sts"], scores["rtr"], n_bootstrap=50)
    null = cores.circular_shift_null(values, n_shuffles=40, seed=1, progress=False)
    assert null["band"].shape == (9, 2) and null["null_profiles"].shape == (40, 9)
    assert cores.fraction_inside(observed["profile"], null["band"]) >= 8 / 9
    assert cores.fraction_inside(cores.layer_means(observed["gradient"]), null["band_raw"]) >= 8 / 9
    assert nulls.empirical_p_value(observed["inverted_u"], null["null_inverted_u"]) > 0.05


def test_null_absorbs_an_autocorrelation_inverted_u():
    """Independent heads whose persistence peaks mid-depth: MMI gives an 'inverted U' of
    synergy that the circular-shift null reproduces, so the claim is not supported."""
    phi = 0.1 + 0.8 * np.sin(np.pi * np.arange(9) / 8)
    values = _ar1_heads(phi, n_prompts=4, n_steps=80, n_heads=3, seed=2)
    scores = cores.head_atom_scores(values, progress=False)
    boot = cores.bootstrap_profile(scores["sts"], scores["rtr"], "diff", n_bootstrap=100)
    assert boot["inverted_u_ci"][0] > 0  # the artefact looks like an inverted U ...
    null = cores.circular_shift_null(values, n_shuffles=20, seed=0, method="diff", progress=False)
    p_null = nulls.empirical_p_value(boot["inverted_u"], null["null_inverted_u"])
    assert p_null > 0.05  # ... but no more than in series with the timing destroyed
    baseline = controls.independent_baseline(scores)
    assert baseline["pair_pearson"] > 0.9 and baseline["ratio"] == pytest.approx(1, abs=0.25)
    est = resampling.interval(boot["inverted_u"], boot["inverted_u_ci"])
    section = make_cores_section(
        est["value"],
        est["ci_low"],
        est["ci_high"],
        p_null=p_null,
        baseline_r=baseline["pair_pearson"],
    )
    assert claims.raw_profile_reading(section) == "inverted U, not beyond its null"
    assert "not beyond its null" in claims.raw_profile_paragraph(section)


def test_independent_baseline_matches_two_min_self_information():
    values = _ar1_heads(np.array([0.9, 0.5, 0.7]), n_prompts=3, n_steps=2000, n_heads=1, seed=5)
    scores = cores.head_atom_scores(values, progress=False)
    a = phiid.self_information(values[0].reshape(2000, 3))
    assert a[0] == pytest.approx(-0.5 * math.log(1 - 0.81), abs=0.08)
    expected = 2 * np.minimum(a[:, None], a[None, :])
    np.testing.assert_allclose(
        scores["sts_baseline_matrix"].values[0, 1],
        np.mean([2 * min(*phiid.self_information(v.reshape(2000, 3))[:2]) for v in values]),
        rtol=1e-10,
    )
    # observed sts of independent series is close to 2 min(a_x, a_y)
    assert scores["sts_matrix"].values[0, 2] == pytest.approx(expected[0, 2], abs=0.1)
    assert controls.independent_baseline(scores)["ratio"] == pytest.approx(1, abs=0.15)


def test_split_half_rho_is_one_for_duplicated_prompts(planted):
    _, scores = planted
    one = scores["sts"].isel(prompt=[0]).values
    red = scores["rtr"].isel(prompt=[0]).values
    duplicated_s, duplicated_r = np.repeat(one, 8, axis=0), np.repeat(red, 8, axis=0)
    result = controls.split_half_rho(duplicated_s, duplicated_r, seed=0, n_splits=5)
    assert result["rho"] == pytest.approx(1.0) and result["spearman_brown"] == pytest.approx(1)
    assert result["method"] == "luppi"
    real = controls.split_half_rho(scores["sts"], scores["rtr"], "diff", seed=0)
    assert 0.5 < real["rho"] <= 1 and real["method"] == "diff"


def test_syn_red_correlation_matches_scipy():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((5, 4))
    r = 0.5 * s + rng.standard_normal((5, 4))
    result = controls.syn_red_correlation(s, r)
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
    result = graphs.graph_metrics(m, top_fraction=7 / 15, seed=0)
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
    assert graphs.graph_metrics(np.ones((5, 5)), top_fraction=1.0)["modularity"] == pytest.approx(0)


def test_compare_graphs_names_both(planted):
    _, scores = planted
    result = graphs.compare_graphs(scores["sts_matrix"], scores["rtr_matrix"], seed=0)
    assert result["synergy"]["n_edges"] == result["redundancy"]["n_edges"] == round(0.1 * 276)
    assert isinstance(result["synergy_more_efficient"], bool)


# --- model controls -------------------------------------------------------------------------


def test_model_copies_leave_the_original_alone():
    import torch

    model = make_tiny_llama(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    noisy = interventions.randomised_model(model, seed=1, noise_std=10.0)
    weight = "model.layers.0.self_attn.q_proj.weight"
    delta = noisy.state_dict()[weight] - before[weight]
    assert float(delta.std()) == pytest.approx(10.0, rel=0.1)
    again = interventions.randomised_model(model, seed=1, noise_std=10.0)
    assert torch.equal(again.state_dict()[weight], noisy.state_dict()[weight])
    perturbed = interventions.perturbed_model(model, relative_std=0.1, seed=0)
    delta = perturbed.state_dict()[weight] - before[weight]
    assert float(delta.std()) == pytest.approx(0.1 * float(before[weight].std()), rel=0.15)
    norm = "model.layers.0.input_layernorm.weight"  # all ones: zero spread, left unchanged
    assert torch.equal(perturbed.state_dict()[norm], before[norm])
    fresh = interventions.reinitialised_model(model, seed=2)
    assert type(fresh) is type(model) and fresh.config.to_dict() == model.config.to_dict()
    assert not torch.equal(fresh.state_dict()[weight], before[weight])
    assert torch.equal(
        interventions.reinitialised_model(model, seed=2).state_dict()[weight],
        fresh.state_dict()[weight],
    )
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


# --- outputs and words ----------------------------------------------------------------------


def _section(values, scores, *, n_shuffles=5, model_controls=None):
    """The ``cores`` section of the planted system, as the chapter builds it."""
    boot = cores.bootstrap_profile(scores["sts"], scores["rtr"], n_bootstrap=50)
    other = cores.bootstrap_profile(scores["sts"], scores["rtr"], "diff", n_bootstrap=50)
    null = cores.circular_shift_null(values, n_shuffles=n_shuffles, progress=False)
    synergy = cores.mean_head_scores(scores, "sts")
    redundancy = cores.mean_head_scores(scores, "rtr")
    section = controls.cores_section(
        model="planted",
        scores=scores,
        boot=boot,
        other_boot=other,
        null=null,
        syn_red=controls.syn_red_correlation(synergy, redundancy),
        split_half=controls.split_half_rho(scores["sts"], scores["rtr"]),
        baseline=controls.independent_baseline(scores),
        graphs=graphs.compare_graphs(scores["sts_matrix"], scores["rtr_matrix"]),
        model_controls=model_controls or {},
        control_prompts=[0, 1, 2],
        provenance={"parameters": {"seed": 0}},
    )
    return section, boot, null


def test_result_files_and_summary(planted, tmp_path):
    from synergy_utils.results import save_dataset, save_table
    from synergy_utils.summary import read_summary, write_section

    values, scores = planted
    synergy, redundancy = (
        cores.mean_head_scores(scores, "sts"),
        cores.mean_head_scores(scores, "rtr"),
    )
    table = cores.head_scores_table(synergy, redundancy)
    assert list(table.columns) == [
        "layer",
        "head",
        "synergy",
        "redundancy",
        "gradient_luppi",
        "gradient_diff",
    ]
    assert len(table) == 24 and table.loc[5, "layer"] == 1 and table.loc[5, "head"] == 1
    save_table(table, tmp_path / "head_scores.csv", {"parameters": {}})
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "head_scores.csv"), table, check_dtype=False
    )
    assert (tmp_path / "head_scores.provenance.json").exists()
    section, boot, null = _section(values, scores, n_shuffles=2)
    ds = cores.cores_dataset(scores, boot, null, extra_profiles={"reinitialised": np.zeros(6)})
    save_dataset(ds, tmp_path / "cores.nc", {"seed": 0})
    with xr.open_dataset(tmp_path / "cores.nc", engine=netcdf_engine()) as back:
        assert back.attrs["gradient_method"] == "luppi"
        assert back["profile_reinitialised"].size == 6
        assert json.loads(back.attrs["provenance"]) == {"seed": 0}
        np.testing.assert_allclose(back["sts_matrix"], scores["sts_matrix"])
    section.verdict = claims.raw_profile_reading(section)
    write_section(tmp_path, "cores", section)
    written = read_summary(tmp_path).cores
    assert len(written.layer_profile) == 6
    assert written.inverted_u.value == pytest.approx(boot["inverted_u"])
    assert written.method == "luppi" and written.null.n_shuffles == 2
    assert written.graphs.synergy.efficiency == pytest.approx(section.graphs.synergy.efficiency)
    assert written.verdict == section.verdict


def test_the_raw_profile_reading_needs_its_null():
    def reading(*args, **kwargs):
        return claims.raw_profile_reading(make_cores_section(*args, **kwargs))

    assert reading(0.4, 0.2, 0.6, p_null=0.01) == "inverted U beyond its null"
    assert reading(0.4, 0.2, 0.6, p_null=0.4) == "inverted U, not beyond its null"
    assert reading(0.4, 0.2, 0.6) == "inverted U, no null run"
    assert reading(0.1, -0.1, 0.3, p_null=0.01) == "no shape established"
    assert reading(-0.4, -0.6, -0.2, p_null=0.01) == "no inverted U (middle not higher)"


def test_raw_profile_paragraph_follows_the_numbers_and_does_not_over_claim():
    from synergy_utils.summary import Estimate, ModelControl

    untrained = ModelControl("reinitialised", 20, [], Estimate(-0.1, -0.2, 0.0), None, None)
    yes = claims.raw_profile_paragraph(
        make_cores_section(
            0.4, 0.2, 0.6, p_null=0.01, rho=0.9, syn_red_r=-0.5,
            model_controls={"reinitialised copy": untrained},
        )
    )  # fmt: skip
    assert "supported" not in yes  # the raw profile is a control: it gives no claim verdict
    assert "On M, with 60 prompts and the luppi gradient" in yes
    assert "0.40 above" in yes and "0.20" in yes and "beyond its null" in yes
    assert "negatively correlated" in yes
    assert "below the trained model's interval" in yes  # intervals, not "half the value"
    assert "reliability, not validity" in yes
    u_shape = claims.raw_profile_paragraph(make_cores_section(-0.4, -0.6, -0.2))
    assert "0.40 below" in u_shape and "no circular-shift null was run" in u_shape
    within_null = claims.raw_profile_paragraph(
        make_cores_section(0.4, 0.2, 0.6, p_null=0.4, syn_red_r=0.8, baseline_r=0.95)
    )
    assert "not beyond its null" in within_null and "does not show the two are equal" in within_null
    assert "cancels what the two rankings share" in within_null
    assert "a correlation, not the share" in within_null
    overlap = ModelControl("randomised", 20, [], Estimate(0.3, 0.1, 0.5), None, None)
    text = claims.raw_profile_paragraph(
        make_cores_section(0.4, 0.2, 0.6, p_null=0.01, model_controls={"copy": overlap})
    )
    assert "the two intervals overlap" in text and "architecture" not in text


def test_cores_section_feeds_table_and_verdict(planted):
    values, scores = planted
    control = controls.analyse_values(values[:3], n_bootstrap=20)
    section, boot, null = _section(
        values,
        scores,
        model_controls={
            "reinitialised copy": {"kind": "reinitialised", "result": control},
            "perturbed copy": {"kind": "perturbed", "result": control},
        },
    )
    assert section.null.p_value == pytest.approx(1 / 6)  # beats all 5 shuffles
    assert section.other_method.null_p_value == pytest.approx(1 / 6)
    assert -1 <= section.null.profile_corr <= 1
    same = cores.null_for_method(null, "luppi")
    np.testing.assert_allclose(same["null_inverted_u"], null["null_inverted_u"])
    np.testing.assert_allclose(same["band"], null["band"])
    table = tables.controls_table(section)
    assert list(table.columns) == ["control", "value", "ci_low", "ci_high", "reading"]
    assert len(table) == 11 and table["reading"].str.len().min() > 5
    assert table.loc[0, "value"] == pytest.approx(boot["inverted_u"])
    assert "luppi" in table.loc[0, "control"] and "diff" in table.loc[1, "control"]
    text = claims.raw_profile_paragraph(section)
    assert "reinitialised copy" in text and "perturbed copy" not in text
    comparison = tables.model_comparison_table({"all": {**boot, "scores": scores}, "half": control})
    assert comparison["prompts"].tolist() == [6, 3]
    rows = tables.verdict_rows(Summary(cores=section))
    assert rows[0][3] == "not run"  # no null-corrected assessment in this section


def test_control_prompts_and_re_recording_on_a_tiny_model(tmp_path):
    from synergy_utils.lm.recording import record_head_series, record_like

    np.testing.assert_array_equal(controls.control_prompt_indices(60, 4), [0, 20, 39, 59])
    np.testing.assert_array_equal(controls.control_prompt_indices(3, 5), [0, 1, 2])
    model, tokenizer = make_tiny_llama(seed=0), make_tiny_tokenizer()
    prompts = [("numerical", "a b c"), ("pos_tagging", "d e"), ("numerical", "f g h i")]
    series = record_head_series(model, tokenizer, prompts, 12, template="base", progress=False)
    copy = interventions.reinitialised_model(model, seed=1)
    again = record_like(series, copy, tokenizer, [0, 2], cache_dir=tmp_path)
    assert again.values.shape == (2, 12, 2, 4)
    assert again.prompts == [series.prompts[0], series.prompts[2]]
    assert again.metadata["template"] == "base" and again.metadata["reduction"] == "l2"
    same = record_like(series, model, tokenizer, [1])
    np.testing.assert_allclose(same.values[0], series.values[1], rtol=1e-5, atol=1e-6)
    assert loading.model_available(None) in (True, False)
    assert not loading.model_available(str(tmp_path / "no-such-model"))
