"""The published record's statistics (``synergy_utils.stages.published``) and the shipped files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synergy_utils.stages.published import (
    area_ratio,
    layer_table,
    profile_statistics,
    quadratic_coefficient,
    rank_agreement,
    read_reference,
    third_shares,
)


def _slow_layer_table(layers, scores, n_layers):
    """Obvious reference: sort, count, average by loops."""
    n = len(scores)
    order = sorted(range(n), key=lambda i: -scores[i])
    top = set(order[: int(round(0.25 * n))])
    rank = {}
    for i in range(n):  # average rank among ties, 0..1
        below = sum(scores[j] < scores[i] for j in range(n))
        equal = sum(scores[j] == scores[i] for j in range(n))
        rank[i] = (below + (equal - 1) / 2) / (n - 1)
    rows = []
    for layer in range(n_layers):
        mine = [i for i in range(n) if layers[i] == layer]
        rows.append((len(mine), sum(i in top for i in mine), np.mean([rank[i] for i in mine])))
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layer_table_matches_a_slow_reference(seed):
    rng = np.random.default_rng(seed)
    layers = np.repeat(np.arange(7), 5)
    scores = rng.integers(0, 12, size=layers.size).astype(float)  # ties on purpose
    table = layer_table(layers, scores)
    got = list(zip(table["n_heads"], table["n_top"], table["mean_rank"], strict=True))
    for (n, k, r), (n2, k2, r2) in zip(got, _slow_layer_table(layers, scores, 7), strict=True):
        assert (n, k) == (n2, k2) and r == pytest.approx(r2, abs=1e-12)
    assert table["depth"].tolist() == pytest.approx(np.arange(7) / 6)


def test_third_shares_count_the_top_quartile_of_each_third():
    # 6 layers x 2 heads; the 3 best heads (top quartile of 12) sit in layers 2 and 3
    layers = np.repeat(np.arange(6), 2)
    scores = np.zeros(12)
    scores[[4, 5, 6]] = [3, 2, 1]
    shares = third_shares(layer_table(layers, scores))
    assert shares == {"early": 0.0, "middle": 0.75, "late": 0.0}


def test_quadratic_coefficient_is_exact_on_a_quadratic_profile():
    depth = np.linspace(0, 1, 9)
    table = pd.DataFrame({"depth": depth, "mean_rank": 0.2 + 1.0 * depth - 1.3 * depth**2})
    assert quadratic_coefficient(table) == pytest.approx(-1.3, abs=1e-10)


def test_an_inverted_u_of_scores_gives_a_negative_quadratic_and_a_middle_top():
    layers = np.repeat(np.arange(12), 6)
    depth = layers / 11
    scores = -((depth - 0.5) ** 2) + 0.001 * np.random.default_rng(0).normal(size=layers.size)
    stats = profile_statistics(layer_table(layers, scores))
    assert stats["quadratic"] < -0.5
    assert stats["top_share_middle"] > 0.6 > stats["top_share_early"] + stats["top_share_late"]


def test_area_ratio_is_exact_on_straight_lines_and_stops_at_the_window():
    fractions = np.linspace(0, 1, 11)
    order = np.where(fractions <= 0.4, 2 * fractions, 100.0)  # beyond the window: ignored
    randoms = [fractions, 1.0 * fractions]
    assert area_ratio(fractions, order, randoms) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="window"):
        area_ratio([0.5, 0.9], [0, 1], [[0, 1]])


def test_rank_agreement_and_errors():
    a = np.arange(10.0)
    assert rank_agreement(a, a**3) == pytest.approx(1.0)
    assert rank_agreement(a, -a) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="heads"):
        rank_agreement(a, a[:5])
    with pytest.raises(ValueError, match="differ"):
        layer_table([0, 1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="3 or more layers"):
        layer_table([0, 1, 1], [1.0, 2.0, 3.0])


def test_the_shipped_reference_files():
    ref = read_reference()
    llama = ref.table("pedrou2000/Synergy_Redundancy_LLMs", "meta-llama/Llama-3.2-1B")
    assert len(llama) == 16 and llama["n_heads"].sum() == 512 and llama["n_top"].sum() == 128
    shares = third_shares(llama)  # thirds of 16 layers: 5 / 6 / 5
    assert round(shares["middle"], 2) == 0.60
    assert round(shares["early"], 2) == 0.05 and round(shares["late"], 2) == 0.03
    assert quadratic_coefficient(llama) < 0
    gemma = ref.agreement[ref.agreement["what"].str.startswith("the same model")]
    assert round(float(gemma["spearman"].iloc[0]), 2) == 0.15
    qwen = ref.models[ref.models["label"] == "Qwen3-4B-Base"]
    assert round(float(qwen["area_ratio_0_40"].iloc[0]), 1) == 3.0
    for source in ref.models["source"].unique():
        meta = ref.provenance["sources"][source]
        assert len(meta["commit"]) == 40 and meta["paths"] and "licence" in meta
    with pytest.raises(KeyError, match="no published"):
        ref.table("nowhere", "no-model")


def test_the_ablation_ratio_table_puts_ours_beside_the_published_window():
    from synergy_utils.report.published import THIS_BOOK, ablation_ratio_table
    from synergy_utils.summary import AblationGiven, Estimate

    given = AblationGiven(
        order="core", mode="zero", window=0.4, step=0.1, coefficient=Estimate(0.1, -0.1, 0.3),
        coefficient_mde=0.2, contrast=Estimate(0.01, -0.02, 0.04), contrast_mde=0.05,
        matched_ratio=Estimate(1.07, 0.8, 1.4), share_beaten=0.6, mode_ratios={}, n_heads=270,
        n_orders=3, n_rankings=2, n_prompts=42, n_single_prompts=6, covariates=["norm"],
    )  # fmt: skip
    table = ablation_ratio_table({"SmolLM2-135M-Instruct": given})
    published = read_reference().models.dropna(subset=["area_ratio_0_40"])
    assert len(table) == len(published) + 1 and set(table["window"]) == {"0–40 %"}
    np.testing.assert_allclose(table["area ratio"][:-1], published["area_ratio_0_40"])
    ours = table.iloc[-1]
    assert ours["source"] == THIS_BOOK and ours["area ratio"] == 1.07
    assert ours["95 % CI"] == "[0.80, 1.40]" and "matched" in ours["order / baseline"]
