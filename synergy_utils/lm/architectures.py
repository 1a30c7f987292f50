"""Where each model family keeps its attention heads.

One table, :data:`MODEL_FAMILIES`, maps a Hugging Face ``config.model_type`` to the attribute
paths of the decoder layers, the attention module, its output projection (whose *input* is
the concatenation of the per-head attention outputs, the site we record and ablate) and its
query projection. Supporting a new family means adding one row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Family:
    """Attribute paths of one model family (dotted, relative to the object named)."""

    layers: str  #: from the model to the ``nn.ModuleList`` of decoder layers
    attention: str  #: from a decoder layer to its attention module
    out_proj: str  #: from the attention module to the output projection
    q_proj: str  #: from the attention module to the query (or fused qkv) projection
    qkv_layout: str = "separate"  #: "separate", "gpt2_fused" or "neox_fused"


_LLAMA_LIKE = Family("model.layers", "self_attn", "o_proj", "q_proj")

MODEL_FAMILIES: dict[str, Family] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "gemma3_text": _LLAMA_LIKE,
    "gpt2": Family("transformer.h", "attn", "c_proj", "c_attn", "gpt2_fused"),
    "gpt_neox": Family("gpt_neox.layers", "attention", "dense", "query_key_value", "neox_fused"),
    "phi": Family("model.layers", "self_attn", "dense", "q_proj"),
    "opt": Family("model.decoder.layers", "self_attn", "out_proj", "q_proj"),
}


class UnsupportedArchitectureError(ValueError):
    """The model's family is not in :data:`MODEL_FAMILIES`."""


@dataclass(frozen=True)
class HeadLayout:
    """Shape of a model's attention: ``n_layers`` x ``n_heads`` query heads of ``head_dim``."""

    model_type: str
    n_layers: int
    n_heads: int
    head_dim: int

    @property
    def n_total(self) -> int:
        return self.n_layers * self.n_heads


def _get(obj: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        obj = getattr(obj, name)
    return obj


def family_of(model: nn.Module) -> Family:
    """The :class:`Family` row for ``model``; a clear error when there is none."""
    return family_for_config(model.config)


def family_for_config(config: Any) -> Family:
    """The :class:`Family` row for a model config; a clear error when there is none."""
    model_type = getattr(config, "model_type", None)
    if model_type not in MODEL_FAMILIES:
        supported = ", ".join(sorted(MODEL_FAMILIES))
        raise UnsupportedArchitectureError(
            f"model_type {model_type!r} is not supported. Supported families: {supported}. "
            "To add one, add a row to synergy_utils.lm.architectures.MODEL_FAMILIES naming the "
            "decoder layers, the attention module and its output and query projections."
        )
    return MODEL_FAMILIES[model_type]


def head_layout(model: nn.Module) -> HeadLayout:
    """Layers, query heads per layer and head size, read from the config."""
    config = model.config
    family_of(model)
    n_heads = int(config.num_attention_heads)
    n_layers = int(config.num_hidden_layers)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    return HeadLayout(config.model_type, n_layers, n_heads, int(head_dim))


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    return _get(model, family_of(model).layers)


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """The attention module of every decoder layer, in depth order."""
    family = family_of(model)
    return [_get(layer, family.attention) for layer in decoder_layers(model)]


def output_projections(model: nn.Module) -> list[nn.Module]:
    """The attention output projection of every layer; its input holds the heads side by side.

    The projection's input has last dimension ``n_heads * head_dim`` with head ``h`` in
    ``[h * head_dim, (h + 1) * head_dim)`` for every supported family.
    """
    family = family_of(model)
    return [_get(attn, family.out_proj) for attn in attention_modules(model)]


def query_projections(model: nn.Module) -> list[nn.Module]:
    """The query (or fused query-key-value) projection of every layer."""
    family = family_of(model)
    return [_get(attn, family.q_proj) for attn in attention_modules(model)]


def is_conv1d(module: nn.Module) -> bool:
    """GPT-2's ``Conv1D`` stores its weight as (in, out), the transpose of ``nn.Linear``."""
    return type(module).__name__ == "Conv1D"


def out_proj_head_weight(model: nn.Module, layer: int, head: int) -> torch.Tensor:
    """View of the output-projection weight that multiplies head ``head``'s output.

    Shape (hidden, head_dim) for ``nn.Linear`` (columns), (head_dim, hidden) for ``Conv1D``
    (rows). Writing to the view writes to the model.
    """
    layout = head_layout(model)
    proj = output_projections(model)[layer]
    cols = slice(head * layout.head_dim, (head + 1) * layout.head_dim)
    return proj.weight[cols, :] if is_conv1d(proj) else proj.weight[:, cols]


def query_head_weight(model: nn.Module, layer: int, head: int) -> torch.Tensor:
    """View of the query-projection weight that produces head ``head``'s queries.

    Rows of ``q_proj`` (Llama-like, OPT, Phi), columns of GPT-2's fused ``c_attn`` (first
    third), or the head's query rows of GPT-NeoX's interleaved fused ``query_key_value``.
    """
    family = family_of(model)
    layout = head_layout(model)
    proj = query_projections(model)[layer]
    d = layout.head_dim
    if family.qkv_layout == "gpt2_fused":
        return proj.weight[:, head * d : (head + 1) * d]
    if family.qkv_layout == "neox_fused":
        start = head * 3 * d
        return proj.weight[start : start + d, :]
    return proj.weight[head * d : (head + 1) * d, :]


def head_output_weight_norms(model: nn.Module) -> torch.Tensor:
    """Frobenius norm of each head's block of the output projection, shape (n_layers, n_heads).

    A static, input-free view of how much each head can write into the residual stream.
    """
    layout = head_layout(model)
    with torch.no_grad():
        return torch.tensor(
            [
                [
                    float(out_proj_head_weight(model, layer, head).float().norm())
                    for head in range(layout.n_heads)
                ]
                for layer in range(layout.n_layers)
            ]
        )


def model_overview(model: nn.Module, tokenizer: Any) -> dict[str, Any]:
    """The numbers of the setup chapter: family, size and attention layout of ``model``
    (the fields of :class:`synergy_utils.summary.Setup` except the load time)."""
    layout = head_layout(model)
    family = family_of(model)
    return {
        "model": str(model.config.name_or_path),
        "family": layout.model_type,
        "n_parameters_millions": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "n_layers": layout.n_layers,
        "n_heads": layout.n_heads,
        "n_kv_heads": int(getattr(model.config, "num_key_value_heads", None) or layout.n_heads),
        "head_dim": layout.head_dim,
        "n_total_heads": layout.n_total,
        "n_ordered_pairs": layout.n_total * (layout.n_total - 1),
        "recording_site": f"input of {family.attention}.{family.out_proj}",
        "chat_template": getattr(tokenizer, "chat_template", None) is not None,
    }
