"""Shared test fixtures. Tests are offline: the model hub is never contacted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def make_tiny_tokenizer(chat_template: str | None = None):
    """A word-level tokenizer over a small fixed vocabulary, built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words += [str(d) for d in range(10)] + ["Question", "Answer", ":", "?", "+", "=", ".", ","]
    vocab = {word: index for index, word in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def make_tiny_llama(seed: int = 0, n_layers: int = 2, max_positions: int = 128):
    """A random Llama model (4 query heads, 2 KV heads per layer) in float32."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A tiny random Llama model and tokenizer saved with save_pretrained."""
    folder = tmp_path / "tiny-llama"
    make_tiny_llama().save_pretrained(folder)
    make_tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> tuple[Path, Path]:
    """Run the whole pipeline with the quick profile once; (results_dir, html_dir)."""
    from synergy_utils.pipeline import run_pipeline

    out = tmp_path_factory.mktemp("quick-run")
    run_pipeline(
        "quick", project_dir=REPO, results_dir=out / "results", book_dir=out, progress=False
    )
    return out / "results", out / "_build" / "html"


# --- summary sections with chosen numbers (for the verdict rules and the book) ------------


def make_cores_section(value, low, high, p_null=None, **fields):
    """A minimal ``cores`` section with the given inverted U and circular-shift null p-value.

    Keyword shortcuts: ``syn_red_r``, ``rho`` (split-half), ``baseline_r``, ``graphs``
    (``(synergy_more_efficient, redundancy_more_modular)``); any other keyword sets a field.
    """
    from synergy_utils import summary as S

    null = None
    if p_null is not None:
        null = S.ShiftNull(
            n_shuffles=20,
            ci_level=0.95,
            band_low=[0.0] * 3,
            band_high=[1.0] * 3,
            p_value=p_null,
            mean=S.Estimate(0.1, 0.0, 0.2),
            fraction_inside=2 / 3,
            profile_corr=0.3,
        )
    more_efficient, more_modular = fields.pop("graphs", (False, False))
    syn = S.GraphMetrics(0.6 if more_efficient else 0.2, 0.1, 0.1 if more_modular else 0.5, 4, 10)
    red = S.GraphMetrics(0.4, 0.1, 0.3, 4, 10)
    base = dict(
        model="M",
        method="luppi",
        gradient_definition="",
        ci_level=0.95,
        n_prompts=60,
        tau=1,
        layer_profile=[0.0, 1.0, 0.0],
        inverted_u=S.Estimate(value, low, high),
        curvature=S.Estimate(None),
        other_method=S.OtherGradient("diff", S.Estimate(None)),
        null=null,
        syn_red=S.Correlation(fields.pop("syn_red_r", 0.0), None, None, None, 270, None),
        split_half=S.SplitHalf(fields.pop("rho", None), None, "luppi", 20, 0),
        baseline=S.Baseline(fields.pop("baseline_r", None), None, None, None),
        graphs=S.Graphs(syn, red, more_efficient, more_modular, 0.1, "", ""),
        model_controls={},
        control_prompts=[],
        verdict="",
        verdict_paragraph="",
        provenance={},
    )
    return S.Cores(**{**base, **fields})


def make_phase_section(supported: bool):
    """A minimal ``phase`` section whose transition is or is not supported."""
    from synergy_utils import summary as S

    level = S.LevelEstimate(0.1, [0.0, 0.2])
    criteria = {name: {"passed": supported} for name in ("a", "b", "c", "d")}
    return S.Phase(
        family="addition",
        model="M",
        difficulty=[1.0, 2.0, 3.0],
        n_per_level=10,
        max_new_tokens=48,
        order_parameter_name="middle_minus_outer",
        order_parameter_definition="",
        order_parameter=[level] * 3,
        susceptibility=[0.1] * 3,
        accuracy=[level] * 3,
        critical_difficulty={"value": 3.2, "ci": [2.5, 4.0]} if supported else None,
        transition_supported=supported,
        criteria=criteria,
        rule="",
        fit={"midpoint": {"value": 3.2, "ci": [2.5, 4.0]}},
        null_band=None,
    )


def make_ablation_section(value: float, low: float, high: float):
    """A minimal ``ablation`` section with the given synergy-first / random area ratio."""
    from synergy_utils import summary as S

    ratio = S.Ratio(value, low, high, 1000)
    return S.Ablation(
        fraction=0.25,
        n_heads_removed=67,
        kl_synergy=1.0,
        kl_redundancy=1.0,
        kl_random_mean=1.0,
        kl_random_sd=0.1,
        auc_ratio_synergy_random=ratio,
        auc_ratio_redundancy_random=ratio,
        auc_ratio_synergy_redundancy=ratio,
        reverse_kl_synergy=1.0,
        reverse_kl_redundancy=1.0,
        reverse_kl_random_mean=1.0,
        reverse_kl_random_sd=0.1,
        reverse_auc_ratio_synergy_random=ratio,
        reverse_auc_ratio_redundancy_random=ratio,
        reverse_auc_ratio_synergy_redundancy=ratio,
        n_prompts=16,
        n_random_orders=5,
        n_new_tokens=48,
        ablation_mode="zero",
        n_total_heads=270,
        relative_noise_std=0.5,
        accuracy=[],
        gradient_method="luppi",
        model="M",
        task_family="addition",
        task_difficulty=1,
        accuracy_fraction=0.25,
        runtime_seconds=1.0,
        verdict="",
        provenance={},
    )


def make_assessment(redundancy: str, middle, contrast, dominance=None, k: int = 100):
    """A claim-1 assessment (verdict by the rule) from ``(value, ci_low, ci_high, p)`` tuples."""
    from synergy_utils import summary as S
    from synergy_utils.report.claims.core import judge

    def test(v):
        return S.Test(*v)

    evidence = S.CoreEvidence(
        quantity="sts",
        redundancy=redundancy,
        estimator="gaussian",
        tau=1,
        n_prompts=12,
        n_steps=100,
        n_layers=12,
        n_heads=4,
        n_surrogates=k,
        min_shift=10,
        closure=True,
        ci_level=0.95,
        alpha=0.05,
        middle=test(middle),
        outer=test(middle),
        contrast=test(contrast),
        dominance=test(dominance or middle),
        layer_delta={},
        layer_share=[],
        middle_share=0.0,
        outer_share=0.0,
        n_significant_pairs=0,
        n_pairs=1,
    )
    return judge(evidence)
