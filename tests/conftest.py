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
    """A minimal ``phase`` section: three families, a transition in two of them (supported)
    or in none (not supported: a drift in one, no change in the others)."""
    from synergy_utils import summary as S

    findings = (
        ["transition", "transition", "no change"]
        if supported
        else ["smooth drift", "no change", "no change"]
    )
    level = {"mean": 0.5, "ci": [0.3, 0.7]}

    def analyses(finding: str) -> dict:
        critical = {"value": 3.2, "ci": [2.5, 4.0]} if finding == "transition" else None
        entry = {"finding": finding, "criteria": {}, "critical_difficulty": critical}
        return {"answer_span": {"delta_sts_contrast": entry}}

    families = {
        name: {
            "difficulty": [1.0, 2.0, 3.0, 4.0],
            "n_per_level": 10,
            "calibration": None,
            "accuracy": [level] * 4,
            "span_length": {"mean": [10.0] * 4, "min": [8.0] * 4, "max": [12.0] * 4},
            "analyses": analyses(finding),
            "finding": finding,
        }
        for name, finding in zip(
            ("copy_list", "digit_sum", "addition_bounded"), findings, strict=True
        )
    }
    return S.Phase(
        families=list(families),
        model="M",
        verdict_window="answer_span",
        order_parameter_name="delta_sts_contrast",
        order_parameter_definition="",
        finding="transition" if supported else "smooth drift",
        verdict="supported" if supported else "not supported",
        transition_supported=supported,
        family_results=families,
        rule="",
    )


def make_ablation_section(value: float, low: float, high: float, **fields):
    """A minimal ``ablation`` section in which the synergy order's area ratio against the
    random orders and against every confound is ``value [low, high]``; any keyword sets a
    field (e.g. ``auc_ratio`` to give orders their own ratios, ``accuracy`` rows)."""
    from synergy_utils import summary as S

    roles = {
        "synergy": "synergy",
        "gradient_luppi": "alternative",
        "output_norm": "confound",
        "self_information": "confound",
        "sts": "confound",
        "rtr": "confound",
    }
    compared = [name for name in roles if name != "synergy"] + ["random"]
    ratios = {name: S.Ratio(value, low, high, 1000) for name in compared}
    steps = {name: [S.Estimate(0.0, 0.0, 0.0), S.Estimate(1.0, 0.9, 1.1)] for name in roles}
    base = dict(
        model="M",
        synergy_order="synergy",
        orders={name: name for name in roles},
        order_roles=roles,
        ranking_prompts="PROMPTS",
        ablation_prompts="HELD_OUT_PROMPTS",
        n_ranking_prompts=60,
        n_prompts=42,
        n_new_tokens=32,
        n_random_orders=10,
        ablation_mode="zero",
        n_total_heads=270,
        fractions=[0.0, 0.25],
        n_heads_removed=[0, 67],
        auc={name: S.Estimate(0.1, 0.09, 0.11) for name in [*roles, "random"]},
        auc_ratio=ratios,
        reverse_auc_ratio=dict(ratios),
        kl_steps=steps,
        reverse_kl_steps=dict(steps),
        precision="float32",
        precision_check={},
        relative_noise_std=0.5,
        noise_calibration={},
        accuracy=[],
        task_family="addition",
        task_difficulty=1,
        accuracy_fraction=0.25,
        runtime_seconds=1.0,
        timings={},
        verdict="",
        provenance={},
    )
    return S.Ablation(**{**base, **fields})


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
        blocks={n: make_block(n, middle, contrast, dominance) for n in ("circular", "shuffle")},
        n_derangements=11,
    )
    return judge(evidence)


def make_block(null: str, middle, contrast, dominance=None, mde: float = 0.004):
    """A claim-1 block test whose adjusted and raw contrast are ``contrast`` and whose
    middle–middle Δsts is ``middle`` (``(value, ci_low, ci_high, p)`` tuples)."""
    from synergy_utils import summary as S

    flat = S.Test(0.0, -0.001, 0.001, 0.5)
    return S.BlockTest(
        null=null, middle=S.Test(*middle), outer=flat, raw_contrast=S.Test(*contrast),
        adjusted_contrast=S.Test(*contrast), middle_rtr=flat,
        dominance=S.Test(*(dominance or middle)), se=mde / 2.8, mde=mde, power=0.8,
        reliability=0.9, persistence_corr=0.0, n_middle_pairs=120, n_outer_pairs=496,
        n_pairs=1128,
    )  # fmt: skip
