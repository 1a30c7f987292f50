"""The chapter across model families: the reduced study of each model, resuming, skipping,
the section and its rule, the table and the figure, on tiny random models of two families."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from synergy_utils.report import figures_models, tables  # noqa: E402
from synergy_utils.report.claims.ablation import ratios_verdict  # noqa: E402
from synergy_utils.report.claims.universality import models_section  # noqa: E402
from synergy_utils.stages import across_models  # noqa: E402
from synergy_utils.summary import (  # noqa: E402
    NOT_SUPPORTED,
    SUPPORTED,
    ModelAblation,
    Ratio,
    Summary,
    read_summary,
    write_section,
)

from .conftest import make_tiny_llama, make_tiny_tokenizer  # noqa: E402

SIZE = across_models.StudySize(
    n_prompts=4, max_new_tokens=24, n_shuffles=19, n_untrained_prompts=2, n_bootstrap=50,
    n_held_out=2, ablation_tokens=4, fraction_step=0.1, max_fraction=0.1, n_random=1,
)  # fmt: skip


def _tiny_qwen(n_layers: int = 6):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(1)
    config = Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        pad_token_id=0, eos_token_id=1, bos_token_id=1,
    )  # fmt: skip
    return Qwen2ForCausalLM(config).eval()


@pytest.fixture(scope="module")
def two_families(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("families")
    folders = []
    for name, model in (("tiny-llama", make_tiny_llama(n_layers=6)), ("tiny-qwen", _tiny_qwen())):
        folder = root / name
        model.save_pretrained(folder)
        make_tiny_tokenizer().save_pretrained(folder)
        folders.append(str(folder))
    return folders


@pytest.fixture(scope="module")
def studied(two_families, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    studies, maps, skipped = across_models.study_models(
        two_families, SIZE, results, log=lambda message: None
    )
    return results, studies, maps, skipped


def test_parse_models_expands_bundled_and_drops_repeats():
    assert across_models.parse_models("bundled") == list(across_models.BUNDLED_FAMILIES)
    assert across_models.parse_models(" a, b ,a,, ") == ["a", "b"]
    assert across_models.parse_models(["x", "bundled"])[0] == "x"
    with pytest.raises(ValueError, match="no model named"):
        across_models.parse_models(" , ")


def test_each_model_is_studied_at_the_reduced_size(studied):
    _, studies, maps, skipped = studied
    assert skipped == {}
    assert [s.family for s in studies] == ["llama", "qwen2"]
    for study in studies:
        assert (study.n_layers, study.n_heads) == (6, 4)
        assert (study.n_prompts, study.n_steps) == (SIZE.n_prompts, SIZE.max_new_tokens)
        assert study.n_untrained_prompts == SIZE.n_untrained_prompts
        assert set(study.evidence) == set(study.untrained) == {"mmi", "ccs"}
        for evidence in [*study.evidence.values(), *study.untrained.values()]:
            assert evidence.n_surrogates == SIZE.n_shuffles and evidence.n_layers == 6
            assert len(evidence.layer_delta["sts"].value) == 6
        assert study.evidence["ccs"].redundancy == "ccs"
        assert -1 <= study.syn_red.r <= 1 and study.split_half.n_splits > 0
        ablation = study.ablation
        assert ablation.n_heads_removed == [0, 2] and ablation.n_random_orders == 1
        compared = {"sts", "rtr", "output_norm", "self_information", "random"}
        assert set(ablation.auc_ratio) == compared
        assert ablation.order_roles["output_norm"] == "confound"
        given = ablation.given  # claim 4 given norm: numbers only, the report applies the rule
        assert given.order == "core" and given.window == SIZE.given_window and given.verdict == ""
        assert given.n_heads == 24 and given.n_rankings == SIZE.n_rankings
        assert given.n_orders == SIZE.n_matched
        assert given.n_prompts == SIZE.n_held_out and list(given.mode_ratios) == ["zero"]
    head_map = maps[next(iter(maps))]
    assert head_map["delta_sts_mmi"].shape == (6, 4)
    assert "untrained_delta_sts_ccs" in head_map


def test_a_finished_model_is_reused_and_a_damaged_one_redone(studied, two_families, monkeypatch):
    results, studies, _, _ = studied
    calls = []
    real = across_models.study_model

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(across_models, "study_model", counting)
    again, _, _ = across_models.study_models(two_families, SIZE, results, log=lambda m: None)
    assert calls == [] and [s.model for s in again] == [s.model for s in studies]
    assert again[0].evidence["mmi"].contrast == studies[0].evidence["mmi"].contrast
    damaged = Path(results) / "models" / f"{across_models.slug(two_families[1])}.json"
    damaged.write_text("{ not json")
    with pytest.warns(UserWarning, match="unreadable"):
        across_models.study_models(two_families, SIZE, results, log=lambda m: None)
    assert calls == [two_families[1]]


def test_other_settings_are_not_reused(studied, two_families, monkeypatch):
    results = studied[0]
    other = across_models.StudySize(**{**SIZE.__dict__, "n_shuffles": 20})
    assert other.digest() != SIZE.digest()
    assert across_models.stored_study(Path(results) / "models", two_families[0], other) is None


def test_a_bundled_model_that_is_not_installed_is_skipped(tmp_path, monkeypatch):
    from synergy_utils.lm import loading

    monkeypatch.setattr(loading, "model_available", lambda name: False)
    studies, _, skipped = across_models.study_models(
        ["gemma-3-270m"], SIZE, tmp_path, log=lambda m: None
    )
    assert studies == [] and "not installed" in skipped["gemma-3-270m"]


def test_section_table_figure_and_landing_page_agree(studied, tmp_path):
    _, studies, _, skipped = studied
    section = models_section(studies, {**skipped, "missing-model": "not installed"}, {"n": 1})
    assert section.universality.n_families == 2
    assert section.universality.statement.startswith("holds in ")
    assert "missing-model" in section.verdict_paragraph
    write_section(tmp_path, "models", section)
    stored = read_summary(tmp_path)
    row = tables.universality_row(stored)
    assert row[2] == section.universality.statement and row[3] == section.universality.verdict
    table = tables.models_table(stored.models)
    assert list(table["family"]) == ["llama", "qwen2"]
    assert "claim 1, CCS" in table and "ablation / random" in table
    assert "claim 4 given norm" in table and "matched ratio 0–40 %" in table
    assert set(table["claim 4 given norm"]) <= {"supported", "not supported", "inconclusive"}
    assert "Claim 4 given norm and layer: **" in section.verdict_paragraph
    fig = figures_models.plot_models(stored.models.models)
    assert len(fig.axes) == 5


def test_landing_page_row_without_the_chapter_says_not_run():
    assert tables.universality_row(Summary())[3] == "not run"


def _ablation(ratios: dict[str, tuple[float, float, float]]) -> ModelAblation:
    roles = {"synergy": "synergy", "sts": "confound", "norm": "confound"}  # norm: output norm
    return ModelAblation(
        orders={}, order_roles=roles,
        auc_ratio={k: Ratio(*v, 100) for k, v in ratios.items()},
        reverse_auc_ratio={k: Ratio(*v, 100) for k, v in ratios.items()},
        n_prompts=4, n_new_tokens=8, n_random_orders=3, fractions=[0, 0.1], n_heads_removed=[0, 2],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ({"random": (2, 1.5, 3), "sts": (1.5, 1.1, 2), "norm": (1.4, 1.2, 2)}, SUPPORTED),
        ({"random": (0.8, 0.6, 0.95), "sts": (1.5, 1.1, 2), "norm": (2, 1, 3)}, NOT_SUPPORTED),
        ({"random": (2, 1.5, 3), "sts": (0.5, 0.3, 0.7), "norm": (2, 1.2, 3)}, NOT_SUPPORTED),
        ({"random": (2, 1.5, 3), "sts": (1.1, 0.9, 1.3), "norm": (2, 1.2, 3)}, "inconclusive"),
    ],
)  # fmt: skip
def test_reduced_ablation_uses_the_claim4_rule(ratios, expected):
    assert ratios_verdict(_ablation(ratios)) == expected
    assert ratios_verdict(None) == "not run"


def test_the_published_record_table_and_figure(studied):
    from synergy_utils.report import published
    from synergy_utils.stages.cores import synergy_gradient
    from synergy_utils.stages.published import layer_table, profile_statistics

    _, studies, maps, _ = studied
    table = published.record_table(studies, maps)
    ours = table[table["source"] == published.THIS_BOOK]
    assert len(ours) == 2 * len(studies) and set(ours["score"]) == {"raw", "null-corrected"}
    assert (table["source"] == "pedrou2000/Synergy_Redundancy_LLMs").sum() == 4
    # the raw row is the published statistic on the model's raw MMI head scores
    study = studies[0]
    raw = synergy_gradient(maps[study.name]["sts"].values, maps[study.name]["rtr"].values)
    layers = [layer for layer in range(study.n_layers) for _ in range(study.n_heads)]
    expected = profile_statistics(layer_table(layers, raw.reshape(-1)))
    row = ours[(ours["score"] == "raw")].iloc[0]
    assert row["middle"] == pytest.approx(expected["top_share_middle"])
    assert row["quadratic"] == pytest.approx(expected["quadratic"])
    given = study.ablation.given  # measured: the core / matched ratio over the rule's window
    assert row["window"] == f"0–{100 * given.window:.0f} % (core / matched)"
    assert row["area ratio"] == given.matched_ratio.value
    corrected = ours[ours["score"] == "null-corrected"].iloc[0]["claim 1 (MMI / CCS)"]
    assert corrected.count(" / ") == 1
    profiles = published.record_profiles(studies, maps)
    assert len(profiles["published"]) == 10 and len(profiles["raw"]) == len(studies)
    fig = figures_models.plot_published_record(profiles)
    assert len(fig.axes) == 3
    assert "Spearman +0.15 over 272 heads" in published.agreement_sentence()
    assert "`marimeireles/rep-synergy-llm` at 1312685" in published.sources_sentence()


def test_the_single_head_passes_can_be_a_seeded_sample(two_families):
    from dataclasses import replace

    size = replace(SIZE, n_single_heads=10)
    study, _ = across_models.study_model(two_families[0], size)
    given = study.ablation.given
    assert given.n_heads == 10 and given.n_orders == SIZE.n_matched
    assert size.digest() != SIZE.digest()  # a stored study of all heads is not reused
