"""Nodes beyond attention heads: routed experts of mixture-of-experts models and SSM heads of
Mamba2 models, on tiny random configurations, checked against an independent recomputation
(a full-sequence forward pass with hand-written routing, experts and state-space scan)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synergy_utils.lm.architectures import (
    NODE_SITES,
    UnsupportedArchitectureError,
    model_overview,
    node_kinds,
    node_layout,
)
from synergy_utils.lm.loading import load_model
from synergy_utils.lm.recording import record_head_series, record_like

from .conftest import make_tiny_llama, make_tiny_tokenizer

TOKENIZER = make_tiny_tokenizer()
PROMPTS = ["a b c", "hello there", "x"]  # different lengths: left padding in one batch
N_STEPS = 5
ATTENTION = dict(
    vocab_size=len(TOKENIZER),
    hidden_size=32,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    pad_token_id=0,
    eos_token_id=1,
    bos_token_id=1,
)


def _moe(family: str):
    """A tiny random model of a mixture-of-experts family: (model, n_experts, top_k)."""
    from transformers import (
        MixtralConfig,
        MixtralForCausalLM,
        OlmoeConfig,
        OlmoeForCausalLM,
        Qwen2MoeConfig,
        Qwen2MoeForCausalLM,
    )

    torch.manual_seed(0)
    if family == "mixtral":
        config = MixtralConfig(
            **ATTENTION,
            intermediate_size=48,
            num_hidden_layers=2,
            num_local_experts=4,
            num_experts_per_tok=2,
        )
        return MixtralForCausalLM(config).eval(), 4, 2
    if family == "olmoe":  # router weights used as they come (not renormalised)
        config = OlmoeConfig(
            **ATTENTION,
            intermediate_size=48,
            num_hidden_layers=2,
            num_experts=6,
            num_experts_per_tok=3,
            norm_topk_prob=False,
        )
        return OlmoeForCausalLM(config).eval(), 6, 3
    # qwen2_moe: layer 0 dense, layers 1 and 3 sparse; a shared expert that is not a node
    config = Qwen2MoeConfig(
        **ATTENTION,
        intermediate_size=48,
        num_hidden_layers=4,
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=24,
        shared_expert_intermediate_size=24,
        decoder_sparse_step=2,
        norm_topk_prob=True,
    )
    return Qwen2MoeForCausalLM(config).eval(), 4, 2


def _mamba2():
    from transformers import Mamba2Config, Mamba2ForCausalLM

    torch.manual_seed(0)
    config = Mamba2Config(
        vocab_size=len(TOKENIZER),
        hidden_size=32,
        num_hidden_layers=2,
        num_heads=8,
        head_dim=8,
        expand=2,
        n_groups=2,
        state_size=8,
        conv_kernel=4,
        chunk_size=16,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    return Mamba2ForCausalLM(config).eval()


def _inputs_of(model, layers, attribute: str, ids: list[int]) -> dict[int, torch.Tensor]:
    """Input (seq, hidden) of ``layer.<attribute>`` in a plain full-sequence forward pass."""
    captured: dict[int, torch.Tensor] = {}

    def keep(index):
        def hook(module, args, kwargs):
            x = args[0] if args else kwargs["hidden_states"]
            captured[index] = x[0].detach().double()

        return hook

    handles = [
        getattr(layer, attribute).register_forward_pre_hook(keep(i), with_kwargs=True)
        for i, layer in enumerate(layers)
    ]
    try:
        with torch.no_grad():
            model(torch.tensor([ids]))
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _positions(series, prompt: int) -> tuple[list[int], int]:
    """Token ids whose forward pass produced the recorded steps, and the first step's index."""
    ids = [int(t) for t in series.token_ids[prompt]]
    return ids[:-1], int(series.prompt_lengths[prompt]) - 1


def _manual_experts(model, series, prompt: int, top_k: int, normalise: bool) -> np.ndarray:
    """Router-weighted expert output norms from the weights, (steps, moe layers, experts)."""
    ids, first = _positions(series, prompt)
    inputs = _inputs_of(model, model.model.layers, "mlp", ids)
    out = []
    for index in series.metadata["layer_indices"]:
        moe = model.model.layers[index].mlp
        x = inputs[index][first : first + series.n_steps]
        probs = torch.softmax(x @ moe.gate.weight.double().T, dim=-1)
        weights, chosen = torch.topk(probs, top_k, dim=-1)
        if normalise:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        values = torch.zeros(x.shape[0], probs.shape[-1], dtype=torch.float64)
        for t in range(x.shape[0]):
            for j in range(top_k):
                e = int(chosen[t, j])
                gate, up = (moe.experts.gate_up_proj[e].double() @ x[t]).chunk(2)
                y = moe.experts.down_proj[e].double() @ (F.silu(gate) * up)
                values[t, e] = weights[t, j] * torch.linalg.vector_norm(y)
        out.append(values.detach().numpy())
    return np.stack(out, axis=1)


@pytest.fixture(scope="module", params=["mixtral", "olmoe", "qwen2_moe"])
def moe_recorded(request):
    model, n_experts, top_k = _moe(request.param)
    series = record_head_series(
        model, TOKENIZER, PROMPTS, N_STEPS, nodes="experts", batch_size=3, progress=False
    )
    return request.param, model, n_experts, top_k, series


def test_expert_series_have_the_right_shape(moe_recorded):
    family, model, n_experts, top_k, series = moe_recorded
    n_sparse = {"mixtral": 2, "olmoe": 2, "qwen2_moe": 2}[family]
    assert series.values.shape == (len(PROMPTS), N_STEPS, n_sparse, n_experts)
    assert series.metadata["nodes"] == "experts"
    assert series.metadata["n_heads"] == n_experts
    expected_layers = [1, 3] if family == "qwen2_moe" else [0, 1]
    assert series.metadata["layer_indices"] == expected_layers
    # the router picks exactly top_k experts per token; the others are 0
    assert np.all(np.isfinite(series.values))
    assert np.all((series.values > 0).sum(axis=-1) == top_k)


def test_expert_series_match_a_manual_recomputation(moe_recorded):
    family, model, _, top_k, series = moe_recorded
    normalise = family == "mixtral" or bool(getattr(model.config, "norm_topk_prob", False))
    for prompt in range(len(PROMPTS)):
        manual = _manual_experts(model, series, prompt, top_k, normalise)
        np.testing.assert_allclose(series.values[prompt], manual, rtol=2e-4, atol=1e-7)


def _ssm_reference(mixer, x: torch.Tensor) -> torch.Tensor:
    """Mamba2 mixer written out step by step in float64: in-projection, causal depthwise
    convolution, selective scan with D skip, gated group RMS norm; per-head L2 norms of the
    output-projection input, (seq, heads)."""
    n_heads, head_dim, groups = mixer.num_heads, mixer.head_dim, mixer.n_groups
    state_size, inner = mixer.ssm_state_size, mixer.intermediate_size
    gate, xbc, dt = (x @ mixer.in_proj.weight.double().T).split(
        [inner, mixer.conv_dim, n_heads], dim=-1
    )
    kernel = mixer.conv1d.weight.double()[:, 0, :]  # (channels, width)
    width = kernel.shape[1]
    padded = torch.cat([torch.zeros(width - 1, xbc.shape[1], dtype=torch.float64), xbc])
    conv = torch.stack([(padded[t : t + width] * kernel.T).sum(0) for t in range(len(x))])
    conv = F.silu(conv + mixer.conv1d.bias.double())
    xs, b, c = conv.split([inner, groups * state_size, groups * state_size], dim=-1)
    dt = F.softplus(dt + mixer.dt_bias.double())
    decay = -torch.exp(mixer.A_log.double())
    group = torch.arange(n_heads) // (n_heads // groups)
    state = torch.zeros(n_heads, head_dim, state_size, dtype=torch.float64)
    outputs = []
    for t in range(len(x)):
        xt = xs[t].view(n_heads, head_dim)
        bt, ct = b[t].view(groups, state_size)[group], c[t].view(groups, state_size)[group]
        state = torch.exp(dt[t] * decay)[:, None, None] * state
        state = state + dt[t][:, None, None] * xt[:, :, None] * bt[:, None, :]
        outputs.append((state @ ct[:, :, None])[..., 0] + mixer.D.double()[:, None] * xt)
    y = (torch.stack(outputs).reshape(len(x), inner) * F.silu(gate)).view(len(x), groups, -1)
    y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + mixer.norm.variance_epsilon)
    y = y.reshape(len(x), inner) * mixer.norm.weight.double()
    return torch.linalg.vector_norm(y.view(len(x), n_heads, head_dim), dim=-1)


@pytest.fixture(scope="module")
def ssm_recorded():
    model = _mamba2()
    series = record_head_series(
        model, TOKENIZER, PROMPTS, N_STEPS, nodes="ssm", batch_size=3, progress=False
    )
    return model, series


def test_ssm_series_have_the_right_shape(ssm_recorded):
    model, series = ssm_recorded
    assert series.values.shape == (len(PROMPTS), N_STEPS, 2, 8)
    assert series.metadata["nodes"] == "ssm" and series.metadata["head_dim"] == 8
    assert np.all(np.isfinite(series.values)) and np.all(series.values > 0)


def test_ssm_series_match_a_manual_scan(ssm_recorded):
    model, series = ssm_recorded
    with torch.no_grad():
        for prompt in range(len(PROMPTS)):
            ids, first = _positions(series, prompt)
            inputs = _inputs_of(model, model.backbone.layers, "mixer", ids)
            manual = np.stack(
                [
                    _ssm_reference(layer.mixer, inputs[i]).numpy()[first : first + N_STEPS]
                    for i, layer in enumerate(model.backbone.layers)
                ],
                axis=1,
            )
            np.testing.assert_allclose(series.values[prompt], manual, rtol=1e-4, atol=1e-6)


def test_node_table_and_kinds():
    model, _, _ = _moe("mixtral")
    assert node_kinds(model.config) == ("attention", "experts")
    assert node_kinds(_mamba2().config) == ("ssm",)
    assert node_kinds(make_tiny_llama().config) == ("attention",)
    assert set(NODE_SITES["experts"]) == {"mixtral", "qwen2_moe", "olmoe"}
    layout = node_layout(model, "experts")
    assert (layout.n_layers, layout.n_heads, layout.kind) == (2, 4, "experts")
    # attention of a mixture-of-experts model is recorded as for any Llama-like model
    attention = record_head_series(model, TOKENIZER, PROMPTS[:1], 3, progress=False)
    assert attention.values.shape == (1, 3, 2, 4) and "nodes" not in attention.metadata
    assert model_overview(model, TOKENIZER)["n_total_heads"] == 8


def test_nodes_attention_is_the_default_path():
    model = make_tiny_llama()
    default = record_head_series(model, TOKENIZER, PROMPTS, 3, progress=False)
    explicit = record_head_series(model, TOKENIZER, PROMPTS, 3, nodes="attention", progress=False)
    np.testing.assert_array_equal(default.values, explicit.values)
    assert default.metadata.keys() == explicit.metadata.keys()


def test_bad_node_requests_are_clear_errors():
    llama = make_tiny_llama()
    with pytest.raises(UnsupportedArchitectureError, match="has no 'experts' nodes"):
        record_head_series(llama, TOKENIZER, PROMPTS, 2, nodes="experts", progress=False)
    with pytest.raises(ValueError, match="nodes must be one of"):
        record_head_series(llama, TOKENIZER, PROMPTS, 2, nodes="neurons", progress=False)
    model, _, _ = _moe("mixtral")
    with pytest.raises(ValueError, match="L2 norms only"):
        record_head_series(model, TOKENIZER, PROMPTS, 2, nodes="experts", reduction="mean")
    with pytest.raises(UnsupportedArchitectureError, match="has no 'attention' nodes"):
        node_layout(_mamba2(), "attention")


def test_node_series_cache_and_record_like(ssm_recorded, tmp_path: Path):
    model, series = ssm_recorded
    first = record_head_series(
        model, TOKENIZER, PROMPTS[:2], 3, nodes="ssm", cache_dir=tmp_path, progress=False
    )
    again = record_head_series(
        model, TOKENIZER, PROMPTS[:2], 3, nodes="ssm", cache_dir=tmp_path, progress=False
    )
    assert again.metadata["n_cached"] == 2
    np.testing.assert_array_equal(first.values, again.values)
    like = record_like(series, model, TOKENIZER, [0])  # keeps the node kind
    np.testing.assert_allclose(like.values[0], series.values[0], rtol=1e-5, atol=1e-6)


def test_load_model_accepts_moe_and_ssm_folders(tmp_path: Path):
    for name, model in (("mixtral", _moe("mixtral")[0]), ("mamba2", _mamba2())):
        folder = tmp_path / name
        model.save_pretrained(folder)
        TOKENIZER.save_pretrained(folder)
        loaded, _ = load_model(str(folder), device="cpu")
        assert type(loaded).__name__ == type(model).__name__
