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
