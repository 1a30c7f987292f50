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
    # mixture-of-experts families: Llama-like attention; their routed experts are nodes too
    "mixtral": _LLAMA_LIKE,
    "qwen2_moe": _LLAMA_LIKE,
    "olmoe": _LLAMA_LIKE,
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


# --- nodes beyond attention heads ------------------------------------------------------------
#
# A *node* is one unit whose per-token activity is recorded as a time series. Attention heads
# (the table above) are the reference; two more kinds are read from the table below. Each row
# names where the kind lives in one family, so supporting a family is one row again. Neither
# kind has been checked on real weights (none was available offline); the
# tests check them on tiny random configurations against an independent recomputation.

#: Kinds of node: attention heads, routed experts of mixture-of-experts blocks, and heads of
#: Mamba2-style state-space mixers.
NODE_KINDS: tuple[str, ...] = ("attention", "experts", "ssm")

NODE_DESCRIPTIONS: dict[str, str] = {
    "attention": "attention heads (see MODEL_FAMILIES)",
    "experts": (
        "routed experts: L2 norm of the expert's output for the newest token times its router "
        "weight, 0 when the router did not pick the expert (shared experts excluded)"
    ),
    "ssm": (
        "state-space heads: L2 norm of the head's slice of the mixer's output-projection input "
        "(the gated, normalised scan output) at the newest token"
    ),
}


@dataclass(frozen=True)
class NodeSite:
    """Where one kind of node lives in one family (dotted attribute paths)."""

    layers: str  #: from the model to the ``nn.ModuleList`` of layers
    module: str  #: from a layer to the hooked module; layers without it have no nodes
    count: str  #: config attribute: nodes per layer
    width: str | None = None  #: config attribute: a node's slice of the hooked input (ssm)


#: The node table: kind -> ``config.model_type`` -> site. Experts are hooked at the fused
#: experts module (inputs: tokens, routed expert indices, router weights); SSM heads at the
#: mixer's output projection, whose input holds the heads side by side.
NODE_SITES: dict[str, dict[str, NodeSite]] = {
    "experts": {
        "mixtral": NodeSite("model.layers", "mlp.experts", "num_local_experts"),
        "qwen2_moe": NodeSite("model.layers", "mlp.experts", "num_experts"),
        "olmoe": NodeSite("model.layers", "mlp.experts", "num_experts"),
    },
    "ssm": {
        "mamba2": NodeSite("backbone.layers", "mixer.out_proj", "num_heads", "head_dim"),
    },
}


@dataclass(frozen=True)
class NodeLayout(HeadLayout):
    """A :class:`HeadLayout` for any node kind: ``n_layers`` layers that have nodes of
    ``kind``, ``n_heads`` nodes per layer, ``head_dim`` the size of one node's vector;
    ``layer_indices`` are those layers' positions among the model's layers."""

    kind: str = "attention"
    layer_indices: tuple[int, ...] = ()


def node_kinds(config: Any) -> tuple[str, ...]:
    """The node kinds a model of this config has, in :data:`NODE_KINDS` order."""
    model_type = getattr(config, "model_type", None)
    kinds = ["attention"] if model_type in MODEL_FAMILIES else []
    kinds += [kind for kind, rows in NODE_SITES.items() if model_type in rows]
    return tuple(kinds)


def _check_kind(model: nn.Module, kind: str) -> None:
    if kind not in NODE_KINDS:
        raise ValueError(f"nodes must be one of {NODE_KINDS}, got {kind!r}")
    available = node_kinds(model.config)
    if kind not in available:
        raise UnsupportedArchitectureError(
            f"model_type {model.config.model_type!r} has no {kind!r} nodes; it has "
            f"{', '.join(available) or 'none'}. To add a family, add a row to "
            "synergy_utils.lm.architectures.NODE_SITES (or MODEL_FAMILIES for attention)."
        )


def node_modules(model: nn.Module, kind: str) -> list[tuple[int, nn.Module]]:
    """``(layer index, hooked module)`` of every layer that has nodes of ``kind``.

    For ``"attention"`` the module is the attention output projection of every layer.
    """
    _check_kind(model, kind)
    if kind == "attention":
        return list(enumerate(output_projections(model)))
    site = NODE_SITES[kind][model.config.model_type]
    found = []
    for index, layer in enumerate(_get(model, site.layers)):
        try:
            found.append((index, _get(layer, site.module)))
        except AttributeError:  # a dense layer of a partly sparse model
            continue
    return found


def node_layout(model: nn.Module, kind: str = "attention") -> NodeLayout:
    """Layers, nodes per layer and node size of ``kind`` in ``model``."""
    _check_kind(model, kind)
    if kind == "attention":
        layout = head_layout(model)
        indices = tuple(range(layout.n_layers))
        return NodeLayout(
            layout.model_type, layout.n_layers, layout.n_heads, layout.head_dim, kind, indices
        )
    config = model.config
    site = NODE_SITES[kind][config.model_type]
    indices = tuple(index for index, _ in node_modules(model, kind))
    if not indices:
        raise UnsupportedArchitectureError(f"this {config.model_type!r} model has no {kind} nodes")
    width = int(getattr(config, site.width)) if site.width else int(config.hidden_size)
    count = int(getattr(config, site.count))
    return NodeLayout(config.model_type, len(indices), count, width, kind, indices)
