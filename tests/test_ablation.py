"""Tests of synergy_utils.ablation on tiny random models built offline from configs."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from synergy_utils import results
from synergy_utils.lm import decoding, interventions, teacher_forcing
from synergy_utils.lm.architectures import head_layout, output_projections
from synergy_utils.report import claims
from synergy_utils.stages import ablation
from synergy_utils.stats import resampling

from .conftest import make_tiny_llama, make_tiny_tokenizer


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and spinning threads crawl on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


FAMILIES = ["llama", "gpt2", "gpt_neox"]
MODES = ["zero", "mean", "resample", "noise", "weights-noise"]
N_LAYERS, N_HEADS, HIDDEN, HEAD_DIM, VOCAB = 2, 4, 32, 8, 50


def tiny_model(family: str, seed: int = 0) -> torch.nn.Module:
    """2 layers x 4 heads, hidden 32, vocab 50, float32; a larger init than the default so
    ablations move the logits visibly."""
    from transformers import (
        AutoModelForCausalLM,
        GPT2Config,
        GPTNeoXConfig,
        LlamaConfig,
    )

    torch.manual_seed(seed)
    ids = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 1}
    if family == "llama":
        config = LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=N_LAYERS,
            num_attention_heads=N_HEADS,
            num_key_value_heads=2,
            max_position_embeddings=64,
            initializer_range=0.2,
            **ids,
        )
    elif family == "gpt2":
        config = GPT2Config(
            vocab_size=VOCAB,
            n_embd=HIDDEN,
            n_layer=N_LAYERS,
            n_head=N_HEADS,
            n_positions=64,
            initializer_range=0.2,
            **ids,
        )
    elif family == "gpt_neox":
        config = GPTNeoXConfig(
            vocab_size=VOCAB,
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=N_LAYERS,
            num_attention_heads=N_HEADS,
            max_position_embeddings=64,
            initializer_range=0.2,
            **ids,
        )
    else:
        raise ValueError(family)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()


INPUT = torch.tensor([[3, 7, 11, 4, 9, 21, 5, 30], [8, 2, 44, 17, 6, 13, 40, 12]])


def capture(model, input_ids=INPUT):
    """Logits and every layer's out-proj input (as the projection received it)."""
    store: dict[int, torch.Tensor] = {}
    handles = [
        proj.register_forward_hook(
            lambda m, args, out, i=i: store.__setitem__(i, args[0].detach().clone())
        )
        for i, proj in enumerate(output_projections(model))
    ]
    try:
        with torch.no_grad():
            logits = model(input_ids).logits
    finally:
        for h in handles:
            h.remove()
    return logits, store


def mode_kwargs(mode: str, seed: int = 3) -> dict:
    if mode == "mean":
        rng = np.random.default_rng(seed)
        return {"means": rng.normal(size=(N_LAYERS, N_HEADS, HEAD_DIM))}
    if mode == "noise":
        return {"std": 0.5, "seed": seed}
    if mode == "weights-noise":
        return {"relative_std": 1.0, "seed": seed}
    return {}


def params_clone(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_params_equal(model, saved):
    current = model.state_dict()
    assert current.keys() == saved.keys()
    for key, value in saved.items():
        assert torch.equal(current[key], value), key


# --- the context manager ----------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", MODES)
def test_mode_edits_exactly_the_targeted_slices_and_restores(family, mode):
    model = tiny_model(family)
    kw = mode_kwargs(mode)
    saved = params_clone(model)
    clean_logits, clean_in = capture(model)
    heads = [(1, 2), (1, 0)]
    with interventions.ablated(model, heads, mode, **kw):
        logits, inputs = capture(model)
    assert not torch.allclose(logits, clean_logits, atol=1e-5)
    # layers before the ablated layer are untouched
    assert torch.equal(inputs[0], clean_in[0])
    per_head = inputs[1].view(*inputs[1].shape[:-1], N_HEADS, HEAD_DIM)
    clean_per_head = clean_in[1].view(*clean_in[1].shape[:-1], N_HEADS, HEAD_DIM)
    for head in (1, 3):
        assert torch.equal(per_head[..., head, :], clean_per_head[..., head, :])
    for head in (0, 2):
        got, clean = per_head[..., head, :], clean_per_head[..., head, :]
        if mode == "zero":
            assert torch.equal(got, torch.zeros_like(got))
        elif mode == "mean":
            expected = torch.as_tensor(kw["means"][1, head], dtype=torch.float32)
            assert torch.equal(got, expected.expand_as(got))
        elif mode == "resample":  # the other prompt's output of the same head and position
            assert torch.equal(got, clean.roll(1, dims=0))
            assert not torch.equal(got, clean)
        else:
            assert (got - clean).abs().max() > 1e-3
    # exact restoration
    after_logits, after_in = capture(model)
    assert torch.equal(after_logits, clean_logits)
    for layer in range(N_LAYERS):
        assert torch.equal(after_in[layer], clean_in[layer])
    assert_params_equal(model, saved)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", MODES)
def test_restores_exactly_after_an_exception(family, mode):
    model = tiny_model(family)
    saved = params_clone(model)
    clean_logits, _ = capture(model)
    with pytest.raises(RuntimeError, match="boom"):
        with interventions.ablated(model, [(0, 1), (1, 3)], mode, **mode_kwargs(mode)):
            capture(model)
            raise RuntimeError("boom")
    assert torch.equal(capture(model)[0], clean_logits)
    assert_params_equal(model, saved)
    assert all(not p._forward_pre_hooks for p in output_projections(model))


def _expected_weight_masks(family, model, heads):
    """Hand-written per-family masks of the query rows / out-proj columns of ``heads``."""
    d = HEAD_DIM
    masks = {}
    for layer, head in heads:
        if family == "llama":
            q_key, o_key = (
                f"model.layers.{layer}.self_attn.q_proj.weight",
                (f"model.layers.{layer}.self_attn.o_proj.weight"),
            )
            q_idx = (slice(head * d, (head + 1) * d), slice(None))
            o_idx = (slice(None), slice(head * d, (head + 1) * d))
        elif family == "gpt2":  # Conv1D weights are (in, out)
            q_key, o_key = (
                f"transformer.h.{layer}.attn.c_attn.weight",
                (f"transformer.h.{layer}.attn.c_proj.weight"),
            )
            q_idx = (slice(None), slice(head * d, (head + 1) * d))
            o_idx = (slice(head * d, (head + 1) * d), slice(None))
        else:  # GPT-NeoX: fused rows interleaved per head as [q_h, k_h, v_h]
            q_key, o_key = (
                f"gpt_neox.layers.{layer}.attention.query_key_value.weight",
                (f"gpt_neox.layers.{layer}.attention.dense.weight"),
            )
            q_idx = (slice(3 * head * d, 3 * head * d + d), slice(None))
            o_idx = (slice(None), slice(head * d, (head + 1) * d))
        state = model.state_dict()
        for key, idx in ((q_key, q_idx), (o_key, o_idx)):
            mask = masks.setdefault(key, torch.zeros_like(state[key], dtype=torch.bool))
            mask[idx] = True
    return masks


@pytest.mark.parametrize("family", FAMILIES)
def test_weights_noise_touches_only_the_named_rows_and_columns(family):
    model = tiny_model(family)
    saved = params_clone(model)
    heads = [(0, 3), (1, 1), (1, 2)]
    masks = _expected_weight_masks(family, model, heads)
    with interventions.ablated(model, heads, "weights-noise", relative_std=0.5, seed=1):
        state = model.state_dict()
        for key, before in saved.items():
            changed = state[key] != before
            if key in masks:
                assert torch.equal(changed, masks[key]), key
            else:
                assert not changed.any(), key
        # noise scale: relative_std times the std of the layer's query / out-proj matrix
        key = next(k for k in masks if "o_proj" in k or "c_proj" in k or "dense" in k)
        diff = (state[key] - saved[key])[masks[key]]
        assert float(diff.std()) == pytest.approx(0.5 * float(saved[key].std()), rel=0.3)
    assert_params_equal(model, saved)


def test_noise_is_reproducible_with_its_seed():
    model = tiny_model("llama")
    for mode, kw in (("noise", {"std": 0.3}), ("weights-noise", {"relative_std": 0.3})):
        with interventions.ablated(model, [(0, 0)], mode, seed=5, **kw):
            first = capture(model)[0]
        with interventions.ablated(model, [(0, 0)], mode, seed=5, **kw):
            second = capture(model)[0]
        with interventions.ablated(model, [(0, 0)], mode, seed=6, **kw):
            other = capture(model)[0]
        assert torch.equal(first, second)
        assert not torch.equal(first, other)


def test_invalid_arguments_give_clear_errors_and_leave_the_model_alone():
    model = tiny_model("llama")
    saved = params_clone(model)
    cases = [
        (ValueError, "unknown ablation mode", dict(heads=[(0, 0)], mode="drop")),
        (ValueError, "needs means", dict(heads=[(0, 0)], mode="mean")),
        (ValueError, "shape", dict(heads=[(0, 0)], mode="mean", means=np.zeros((2, 4, 3)))),
        (ValueError, "std", dict(heads=[(0, 0)], mode="noise", std=-1.0)),
        (ValueError, "relative_std", dict(heads=[(0, 0)], mode="weights-noise")),
        (TypeError, "does not take", dict(heads=[(0, 0)], mode="zero", std=1.0)),
        (ValueError, "layer must be", dict(heads=[(2, 0)], mode="zero")),
        (ValueError, "head must be", dict(heads=[(0, 4)], mode="zero")),
        (TypeError, "pair", dict(heads=(1, 2), mode="zero")),
        (TypeError, "integers", dict(heads=[(0.5, 1)], mode="zero")),
    ]
    for error, message, kwargs in cases:
        heads = kwargs.pop("heads")
        mode = kwargs.pop("mode")
        with pytest.raises(error, match=message):
            with interventions.ablated(model, heads, mode, **kwargs):
                pass
    assert_params_equal(model, saved)


def test_head_mean_outputs_is_the_mean_over_real_tokens():
    model = tiny_model("gpt2")
    cont = teacher_forcing.Continuations([[3, 4, 5, 6, 7], [8, 9]], np.array([[10, 11], [12, 13]]))
    batch = teacher_forcing.teacher_forced_batch(cont, pad_token_id=0)
    means = interventions.head_mean_outputs(model, batch)
    rows = []
    for prompt, gen in zip(cont.prompt_ids, cont.generated_ids, strict=True):
        _, inputs = capture(model, torch.tensor([prompt + list(gen)]))
        rows.append(torch.stack([inputs[layer][0] for layer in range(N_LAYERS)]))  # (L, S, D)
    expected = torch.cat(rows, dim=1).double().mean(dim=1).view(N_LAYERS, N_HEADS, HEAD_DIM)
    np.testing.assert_allclose(means, expected.numpy(), rtol=1e-5, atol=1e-6)


# --- teacher-forced KL --------------------------------------------------------------------
# --- teacher-forced KL --------------------------------------------------------------------


CONT = teacher_forcing.Continuations(
    [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [15]],
    np.array([[20, 21, 22, 23, 24], [25, 26, 27, 28, 29], [30, 31, 32, 33, 34]]),
)
#: Prompts that share a two-token prefix, as chat templates do.
SHARED = teacher_forcing.Continuations(
    [[5, 6, 7, 9], [5, 6, 8, 10, 11, 12, 13, 14], [5, 6, 15]],
    np.array([[20, 21, 22, 23, 24], [25, 26, 27, 28, 29], [30, 31, 32, 33, 34]]),
)


def test_resample_needs_a_shift_and_leaves_one_row_alone():
    model = tiny_model("llama")
    with pytest.raises(ValueError, match="shift"):
        with interventions.ablated(model, [(0, 1)], "resample", shift=0):
            pass
    clean, _ = capture(model, INPUT[:1])
    with interventions.ablated(model, [(0, 1)], "resample"):  # one row: the same everywhere
        assert torch.equal(capture(model, INPUT[:1])[0], clean)


def test_ablating_no_heads_gives_zero_kl():
    model = tiny_model("llama")
    for cont, share in ((CONT, False), (SHARED, True)):
        batch = teacher_forcing.teacher_forced_batch(cont, share_prefix=share)
        clean = teacher_forcing.clean_pass(model, batch)
        for mode in MODES:
            with interventions.ablated(model, [], mode, **mode_kwargs(mode)):
                kl = teacher_forcing.teacher_forced_kl(model, batch, clean)
            for value in kl.values():
                assert torch.equal(value, torch.zeros(3))
        assert (teacher_forcing.kl_under_ablation(model, batch, [[], []]) == 0).all()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("side", ["right", "left"])
def test_batched_kl_equals_per_prompt_kl(family, side):
    model = tiny_model(family)
    heads = [(0, 1), (1, 2)]
    batch = teacher_forcing.teacher_forced_batch(CONT, pad_token_id=0, padding_side=side)
    clean = teacher_forcing.next_token_logprobs(model, batch)
    with interventions.ablated(model, heads):
        batched = teacher_forcing.teacher_forced_kl(model, batch, clean, per_token=True)
    for i in range(CONT.n_prompts):
        single = teacher_forcing.teacher_forced_batch(CONT.subset([i]))
        clean_i = teacher_forcing.next_token_logprobs(model, single)
        torch.testing.assert_close(clean[i : i + 1], clean_i, rtol=1e-5, atol=1e-5)
        with interventions.ablated(model, heads):
            kl_i = teacher_forcing.teacher_forced_kl(model, single, clean_i, per_token=True)
        for metric in teacher_forcing.KL_METRICS:
            torch.testing.assert_close(
                batched[metric][i : i + 1], kl_i[metric], rtol=1e-4, atol=1e-6
            )
            assert kl_i[metric].min() > 0


def test_common_prefix_and_the_shared_prefix_batch():
    assert teacher_forcing.common_prefix_length([[1, 2, 3], [1, 2, 4, 5]]) == 2
    assert teacher_forcing.common_prefix_length([[1, 2], [1, 2, 3]]) == 1  # keeps one token
    assert teacher_forcing.common_prefix_length([[1, 2, 3]]) == 0
    assert teacher_forcing.common_prefix_length([[1, 2], [3, 2]]) == 0
    batch = teacher_forcing.teacher_forced_batch(SHARED, share_prefix=True)
    assert batch.prefix_length == 2 and batch.prefix_ids.tolist() == [[5, 6]]
    assert batch.attention_mask.shape == (3, 2 + batch.input_ids.shape[1])
    # the scored columns hold the last prompt token and the continuation before the last
    for row, (prompt, gen) in enumerate(zip(SHARED.prompt_ids, SHARED.generated_ids, strict=True)):
        got = batch.input_ids[row, batch.score_positions[row]].tolist()
        assert got == [prompt[-1], *gen[:-1]]
        assert batch.position_ids[row, batch.score_positions[row, 0]] == len(prompt) - 1


@pytest.mark.parametrize("family", FAMILIES)
def test_shared_prefix_gives_the_unshared_kl(family):
    model = tiny_model(family)
    heads = [(0, 1), (1, 2)]
    plain = teacher_forcing.teacher_forced_batch(SHARED)
    shared = teacher_forcing.teacher_forced_batch(SHARED, share_prefix=True)
    assert shared.n_tokens < plain.n_tokens
    a = teacher_forcing.kl_under_ablation(model, plain, [heads], reuse_residual=False)
    b = teacher_forcing.kl_under_ablation(model, shared, [heads], reuse_residual=False)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert a.min() > 0


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("share", [False, True])
def test_residual_stream_reuse_gives_the_full_pass_kl_exactly(family, share):
    model = tiny_model(family, seed=1)
    batch = teacher_forcing.teacher_forced_batch(SHARED, share_prefix=share)
    clean = teacher_forcing.clean_pass(model, batch, record_layers=True)
    assert len(clean.layer_outputs[0]) == N_LAYERS
    for heads in ([(1, 2)], [(1, 0), (1, 3)], [(0, 1), (1, 2)]):
        first = min(layer for layer, _ in heads)
        with interventions.ablated(model, heads):
            full = teacher_forcing.teacher_forced_kl(model, batch, clean.logprobs, per_token=True)
            reused = teacher_forcing.teacher_forced_kl(
                model, batch, clean, per_token=True, first_layer=first
            )
        for metric in teacher_forcing.KL_METRICS:
            assert torch.equal(full[metric], reused[metric])  # bit for bit
            assert full[metric].min() > 0
    sets = [[(1, 2)], [(0, 0), (1, 1)], []]
    np.testing.assert_array_equal(
        teacher_forcing.kl_under_ablation(model, batch, sets, reuse_residual=True),
        teacher_forcing.kl_under_ablation(model, batch, sets, reuse_residual=False),
    )
    # chunked rows: the replay follows the chunks
    chunked = teacher_forcing.clean_pass(model, batch, batch_size=2)
    np.testing.assert_allclose(
        teacher_forcing.kl_under_ablation(model, batch, sets, clean=chunked, batch_size=2),
        teacher_forcing.kl_under_ablation(model, batch, sets, reuse_residual=False),
        rtol=1e-5,
        atol=1e-7,
    )


def test_replay_puts_the_layers_back_also_after_an_exception():
    model = tiny_model("llama")
    batch = teacher_forcing.teacher_forced_batch(CONT)
    clean = teacher_forcing.clean_pass(model, batch)
    layers = list(model.model.layers)
    with pytest.raises(RuntimeError, match="boom"):
        with teacher_forcing.replayed_below(model, clean.layer_outputs[0], 2):
            assert model.model.layers[0] is not layers[0]
            raise RuntimeError("boom")
    assert all(a is b for a, b in zip(model.model.layers, layers, strict=True))
    with pytest.raises(ValueError, match="record_layers"):
        unrecorded = teacher_forcing.clean_pass(model, batch, record_layers=False)
        teacher_forcing.teacher_forced_kl(model, batch, unrecorded, first_layer=1)


def _manual_kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per row from logits, softmax written out by hand (float64)."""

    def softmax(z):
        z = z.double()
        e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
        return e / e.sum(dim=-1, keepdim=True)

    p, q = softmax(p_logits), softmax(q_logits)
    return (p * (torch.log(p) - torch.log(q))).sum(dim=-1)


def _zero_heads_by_weights(family, model, heads):
    """Reference ablation without hooks: zero the out-proj weights that read the heads."""
    ref = copy.deepcopy(model)
    projections = output_projections(ref)
    with torch.no_grad():
        for layer, head in heads:
            cols = slice(head * HEAD_DIM, (head + 1) * HEAD_DIM)
            weight = projections[layer].weight
            if family == "gpt2":
                weight[cols, :] = 0
            else:
                weight[:, cols] = 0
    return ref


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_curves_reproduce_a_hand_computed_kl_on_two_prompts(family):
    model = tiny_model(family)
    cont = teacher_forcing.Continuations(
        [[5, 6, 7, 8], [5, 6, 10]], np.array([[11, 12, 13], [14, 15, 16]])
    )
    scores = np.zeros((N_LAYERS, N_HEADS))
    scores[1, 2], scores[0, 1] = 5.0, 4.0  # the order removes (1, 2), then (0, 1)
    curves = ablation.ablation_curves(
        model, None, cont, {"synergy": scores}, 1 / 8, 2 / 8, n_random=1, progress=False
    )
    assert list(curves["n_removed"].values) == [0, 1, 2]
    assert curves.attrs["shared_prefix_tokens"] == 2
    for n_removed, heads in ((1, [(1, 2)]), (2, [(1, 2), (0, 1)])):
        reference = _zero_heads_by_weights(family, model, heads)
        forward, reverse = [], []
        for prompt, gen in zip(cont.prompt_ids, cont.generated_ids, strict=True):
            ids = torch.tensor([prompt + list(gen)])
            positions = slice(len(prompt) - 1, len(prompt) - 1 + len(gen))
            with torch.no_grad():
                clean = model(ids).logits[0, positions]
                abl = reference(ids).logits[0, positions]
            forward.append(_manual_kl(clean, abl).mean())
            reverse.append(_manual_kl(abl, clean).mean())
        got = curves["kl"].sel(order="synergy", n_removed=n_removed)
        np.testing.assert_allclose(got.sel(metric="kl_clean_ablated"), forward, rtol=1e-4)
        np.testing.assert_allclose(got.sel(metric="kl_ablated_clean"), reverse, rtol=1e-4)
    assert (curves["kl"].sel(n_removed=0) == 0).all()
    assert curves["order_layer"].sel(order="synergy").values[0] == 1
    assert list(curves["role"].values) == ["synergy", "random"]


def test_greedy_continuations_match_a_naive_greedy_loop_with_eos_suppressed():
    model = tiny_model("llama")
    prompts = [[3, 4, 5], [6], [7, 8, 9, 10, 11]]
    with torch.no_grad():
        first = int(model(torch.tensor([prompts[0]])).logits[0, -1].argmax())
    cont = teacher_forcing.greedy_continuations_from_ids(
        model, prompts, 6, batch_size=2, suppress_ids=[first], pad_token_id=0
    )
    for prompt, gen in zip(prompts, cont.generated_ids, strict=True):
        ids = list(prompt)
        for _ in range(6):
            with torch.no_grad():
                logits = model(torch.tensor([ids])).logits[0, -1]
            logits[first] = -math.inf
            ids.append(int(logits.argmax()))
        assert list(gen) == ids[len(prompt) :]
        assert first not in gen


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_replies_with_a_shared_prefix_equal_plain_greedy_decoding(family):
    model = tiny_model(family)
    prompts = [[5, 6, 7, 3], [5, 6, 9], [5, 6, 7, 8, 9, 10]]
    for eos in ([1], [1, 22], [40, 46, 43]):
        reference = decoding.greedy_decode(model, prompts, 6, eos_token_ids=eos, stop_at_eos=True)
        for share in (True, False):
            got = teacher_forcing.greedy_replies(
                model, prompts, 6, eos_token_ids=eos, share_prefix=share
            )
            assert got == reference.generated


def test_cast_copy_leaves_the_model_alone():
    model = tiny_model("llama")
    saved = params_clone(model)
    fast = interventions.cast_copy(model, "bfloat16")
    assert interventions.model_dtype(fast) == "bfloat16"
    assert interventions.model_dtype(model) == "float32"
    assert_params_equal(model, saved)
    with pytest.raises(ValueError, match="dtype"):
        interventions.cast_copy(model, "int8")


def test_precision_check_reports_agreement():
    model = tiny_model("llama")
    batch = teacher_forcing.teacher_forced_batch(CONT)
    same = ablation.precision_check(model, model, batch, [[(0, 1)], [(1, 2), (0, 0)]])
    assert same["passed"] and same["max_abs_diff"] == 0 and same["n_prompts"] == 3
    fast = interventions.cast_copy(model, "bfloat16")
    loose = ablation.precision_check(model, fast, batch, [[(0, 1)]])
    assert loose["passed"] and 0 < loose["max_abs_diff"] < 0.02
    strict = ablation.precision_check(
        model, fast, batch, [[(0, 1)]], atol=0.0, rtol=0.0, mean_rtol=0.0
    )
    assert strict["max_abs_diff"] > 0 and not strict["passed"]


# --- prompts, orders, counts ----------------------------------------------------------------


def test_held_out_prompts_are_disjoint_from_the_ranking_prompts():
    from synergy_utils.stages import prompts

    ranking = {text.strip().lower() for _, text in prompts.PROMPTS}
    held_out = [text for _, text in prompts.HELD_OUT_PROMPTS]
    assert len(held_out) >= 40 and len(set(held_out)) == len(held_out)
    assert not ranking & {t.strip().lower() for t in held_out}
    counts = {
        c: sum(1 for cat, _ in prompts.HELD_OUT_PROMPTS if cat == c) for c in prompts.CATEGORIES
    }
    assert set(counts.values()) == {10}
    picked = prompts.select_held_out_prompts(42)
    assert len(picked) == 42 and {c for c, _ in picked} == set(prompts.CATEGORIES)
    assert [t for _, t in prompts.select_held_out_prompts(6)] == [
        prompts.select_held_out_prompts(6, c)[0][1] for c in prompts.CATEGORIES
    ]
    ablation.check_disjoint([t for _, t in prompts.PROMPTS], held_out)
    with pytest.raises(ValueError, match="also ranking prompts"):
        ablation.check_disjoint(["a b", "c d"], [" c d"])
    with pytest.raises(ValueError, match="hold only"):
        prompts.select_held_out_prompts(61)


def test_head_orders_and_removal_counts():
    scores = np.array([[0.1, 3.0, -2.0], [1.0, 1.0, 0.5]])
    orders = ablation.head_orders({"synergy": scores, "norm": -scores}, n_random=2, seed=4)
    assert orders["synergy"].tolist() == [[0, 1], [1, 0], [1, 1], [1, 2], [0, 0], [0, 2]]
    assert orders["norm"].tolist()[:2] == [[0, 2], [0, 0]]
    assert list(orders) == ["synergy", "norm", "random_0", "random_1"]
    again = ablation.head_orders({"synergy": scores}, n_random=3, seed=4)
    assert np.array_equal(orders["random_1"], again["random_1"])  # same seed, same orders
    assert not np.array_equal(
        orders["random_0"], ablation.head_orders(scores, 1, seed=5)["random_0"]
    )
    assert sorted(map(tuple, orders["random_0"].tolist())) == sorted(
        map(tuple, orders["synergy"].tolist())
    )
    assert np.array_equal(ablation.head_orders(scores, 0)["synergy"], orders["synergy"])
    assert ablation.removal_counts(270, 0.05, 0.25) == [0, 13, 27, 40, 54, 67]
    assert ablation.removal_counts(8, 0.125, 0.25) == [0, 1, 2]
    for bad in ((8, 0.0, 0.25), (8, 0.05, 0.1), (8, 0.1, 1.5)):
        with pytest.raises(ValueError):
            ablation.removal_counts(*bad)
    with pytest.raises(ValueError, match="NaN"):
        ablation.head_orders({"synergy": np.array([[np.nan, 1.0]])})
    with pytest.raises(ValueError, match="reserved"):
        ablation.head_orders({"random_0": scores})
    with pytest.raises(ValueError, match="shape"):
        ablation.head_orders({"a": scores, "b": scores[:1]})


def _write_inputs(folder, n_layers=2, n_heads=4, n_prompts=3, n_steps=40):
    """head_scores.csv, a series.nc and a null file like the cores stage writes."""
    from synergy_utils.series import HeadSeries
    from synergy_utils.stats.pair_null import null_corrected_atoms

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        [
            (i, h, 0.1 * h, 0.2 + i, float(i * 4 + h), -float(h))
            for i in range(n_layers)
            for h in range(n_heads)
        ],
        columns=["layer", "head", "synergy", "redundancy", "gradient_luppi", "gradient_diff"],
    ).sample(frac=1, random_state=0)
    table.to_csv(folder / "head_scores.csv", index=False)
    values = np.abs(rng.normal(size=(n_prompts, n_steps, n_layers, n_heads))) + np.arange(n_heads)
    HeadSeries(values, [np.arange(5)] * n_prompts, ["x"] * n_prompts, ["p"] * n_prompts).save(
        folder / "series.nc"
    )
    null = null_corrected_atoms(values, n_surrogates=5, seed=0)
    results.save_dataset(null, folder / "cores_null_mmi.nc", {})
    return values, null


def test_order_scores_read_every_order_from_the_stage_files(tmp_path):
    from synergy_utils.phiid import self_information
    from synergy_utils.stages.cores import synergy_gradient

    values, null = _write_inputs(tmp_path)
    scores, notes = ablation.order_scores(tmp_path)
    assert notes == ["cores_null_ccs.nc missing: no ccs_sts order"]
    assert list(scores) == [
        "synergy",
        "delta_sts",
        "gradient_luppi",
        "gradient_diff",
        "sts",
        "rtr",
        "output_norm",
        "self_information",
    ]
    assert scores["gradient_luppi"][1, 3] == 7 and scores["gradient_diff"][0, 2] == -2
    assert scores["sts"][0, 2] == pytest.approx(0.2) and scores["rtr"][1, 0] == pytest.approx(1.2)
    np.testing.assert_allclose(scores["output_norm"], values.mean(axis=(0, 1)))
    info = np.mean([self_information(v, 1, axis=0) for v in values], axis=0)
    np.testing.assert_allclose(scores["self_information"], info, rtol=1e-5)  # float32 series
    delta = null["head_delta"].mean("prompt")
    np.testing.assert_allclose(scores["delta_sts"], delta.sel(atom="sts").values)
    expected = synergy_gradient(delta.sel(atom="sts").values, delta.sel(atom="rtr").values)
    np.testing.assert_allclose(scores["synergy"], expected)
    table = ablation.rank_agreement(scores)
    assert table.shape == (8, 8) and np.allclose(np.diag(table), 1)
    with pytest.raises(FileNotFoundError, match="03_synergistic_cores"):
        ablation.order_scores(tmp_path / "missing")


# --- areas, comparisons, the rule --------------------------------------------------------------


def synthetic_curves(scales, n_prompts=6, n_random=10, noise=0.0, seed=0):
    """Curves whose KL is scale * fraction * prompt_weight for each named order, random orders
    with scale 1 (and ``noise`` jitter per prompt and order)."""
    orders = list(scales) + [f"random_{k}" for k in range(n_random)]
    factors = list(scales.values()) + [1.0] * n_random
    counts = np.array([0, 2, 4, 6])
    fraction = counts / 24
    weights = np.arange(1, n_prompts + 1, dtype=float)
    rng = np.random.default_rng(seed)
    kl = np.zeros((len(orders), len(counts), n_prompts, 2))
    for i, s in enumerate(factors):
        jitter = 1 + noise * rng.normal(size=n_prompts)
        kl[i] = (s * fraction[:, None] * weights * jitter)[..., None]
    return xr.Dataset(
        {"kl": (("order", "n_removed", "prompt", "metric"), kl)},
        coords={
            "order": orders,
            "role": ("order", [ablation.order_role(o) for o in orders]),
            "n_removed": counts,
            "fraction": ("n_removed", fraction),
            "prompt": np.arange(n_prompts),
            "metric": list(teacher_forcing.KL_METRICS),
        },
        attrs={"n_total": 24, "mode": "zero", "n_new_tokens": 5},
    )


def test_auc_ratio_and_per_step_intervals_on_known_curves():
    curves = synthetic_curves({"synergy": 2.0, "rtr": 0.5})
    ratio = ablation.auc_ratio(curves, n_bootstrap=300)
    assert ratio["value"] == pytest.approx(2.0)
    assert ratio["ci_low"] == pytest.approx(2.0) and ratio["ci_high"] == pytest.approx(2.0)
    assert ablation.auc_ratio(curves, "synergy", "rtr")["value"] == pytest.approx(4.0)
    noisy = synthetic_curves({"synergy": 2.0, "rtr": 0.5}, noise=0.3)
    wide = ablation.auc_ratio(noisy, n_bootstrap=500)
    assert wide["ci_low"] < wide["value"] < wide["ci_high"]
    area = ablation.curve_auc(curves).sel(order="random_0").values
    # trapezoid of 1 * fraction * w from 0 to 0.25 = w * 0.25**2 / 2
    np.testing.assert_allclose(area, np.arange(1, 7) * 0.25**2 / 2)
    steps = ablation.kl_steps(noisy, "random", n_bootstrap=300)
    assert len(steps) == 4 and steps[0] == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert steps[-1]["ci_low"] < steps[-1]["value"] < steps[-1]["ci_high"]
    exact = ablation.kl_steps(curves, "synergy", n_bootstrap=100)
    assert exact[-1]["value"] == pytest.approx(2 * 0.25 * 3.5)
    auc = ablation.order_auc(noisy, "random", n_bootstrap=200)
    assert auc["ci_low"] < auc["value"] < auc["ci_high"]
    assert math.isnan(ablation.auc_ratio(synthetic_curves({"synergy": 1.0}, n_random=0))["value"])


def _section(curves, accuracy=None, **extra):
    from synergy_utils.summary import check_section, to_dict

    comparisons = ablation.order_comparisons(curves, n_bootstrap=400)
    summary = ablation.ablation_summary(
        curves,
        comparisons,
        accuracy,
        model="M",
        ranking_prompts="R",
        ablation_prompts="H",
        n_ranking_prompts=60,
        precision="float32",
        precision_check={},
        relative_noise_std=0.5,
        noise_calibration={},
        task_family="addition",
        task_difficulty=1,
        accuracy_fraction=0.25,
        runtime_seconds=1.0,
        timings={},
        verdict="",
        provenance={},
        **extra,
    )
    section = check_section("ablation", summary)
    json.dumps(to_dict(section))
    return section


CONFOUNDS = {"output_norm": 1.0, "self_information": 1.0, "sts": 1.0, "rtr": 1.0}


def test_rule_clear_win_tie_and_loss_against_a_confound():
    from synergy_utils.report.claims import ablation as rule

    win = rule.assess_ablation(
        _section(synthetic_curves({"synergy": 2.0, **CONFOUNDS}, noise=0.05))
    )
    assert win.verdict == "supported"
    assert {c.order for c in win.orders("beats")} == {*CONFOUNDS, "random"}
    assert not win.catastrophic  # no accuracy test: the ratio alone does not make it catastrophic
    tie = rule.assess_ablation(
        _section(synthetic_curves({"synergy": 2.0, **CONFOUNDS, "output_norm": 2.0}, noise=0.05))
    )
    assert tie.verdict == "inconclusive"
    assert [c.order for c in tie.orders("ties")] == ["output_norm"]
    loss = rule.assess_ablation(
        _section(
            synthetic_curves({"synergy": 2.0, **CONFOUNDS, "self_information": 4.0}, noise=0.05)
        )
    )
    assert loss.verdict == "not supported"
    assert [c.order for c in loss.orders("loses")] == ["self_information"]
    # alternatives are reported but do not enter the verdict
    alt = rule.assess_ablation(
        _section(synthetic_curves({"synergy": 2.0, **CONFOUNDS, "gradient_luppi": 5.0}, noise=0.05))
    )
    assert alt.verdict == "supported" and alt.orders("loses", ("alternative",))
    null = rule.assess_ablation(
        _section(synthetic_curves({"synergy": 1.0, **CONFOUNDS}, noise=0.2))
    )
    assert null.verdict == "inconclusive"
    below = rule.assess_ablation(
        _section(synthetic_curves({"synergy": 0.5, **CONFOUNDS}, noise=0.05))
    )
    assert below.verdict == "not supported"
    assert rule.ablation_verdict(None) == "not run"


def _accuracy_rows(intact, top, rnd, spread=0.05):
    def row(order, group, acc, fraction=0.25):
        return dict(
            order=order,
            group=group,
            fraction=fraction,
            n_heads=67,
            n_draws=2,
            n_tasks=100,
            accuracy=acc,
            sd_draws=0.01,
            ci_low=acc - spread,
            ci_high=acc + spread,
            wilson_low=acc - spread,
            wilson_high=acc + spread,
        )

    return pd.DataFrame(
        [
            row("intact", "intact", intact, 0.0),
            row("synergy", "top", top),
            row("synergy", "bottom", 0.6),
            row("random", "random", rnd),
        ]
    )


def test_catastrophic_needs_a_large_ratio_and_an_accuracy_collapse():
    from synergy_utils.report.claims import ablation as rule

    strong = synthetic_curves({"synergy": 3.0, **CONFOUNDS}, noise=0.05)
    yes = rule.assess_ablation(_section(strong, _accuracy_rows(0.8, 0.2, 0.45)))
    assert yes.verdict == "supported" and yes.catastrophic is True
    mild = rule.assess_ablation(_section(strong, _accuracy_rows(0.8, 0.42, 0.45)))
    assert mild.catastrophic is False and any("random share" in r for r in mild.reasons)
    unassessed = rule.assess_ablation(_section(strong))
    assert unassessed.catastrophic is None
    floor = rule.assess_ablation(_section(strong, _accuracy_rows(0.05, 0.0, 0.02, spread=0.04)))
    assert floor.catastrophic is None and not floor.accuracy.informative
    small = rule.assess_ablation(
        _section(
            synthetic_curves({"synergy": 1.3, **CONFOUNDS}, noise=0.02),
            _accuracy_rows(0.8, 0.2, 0.45),
        )
    )
    assert small.verdict == "supported" and small.catastrophic is False


def test_paragraph_and_landing_cell_come_from_the_rule():
    from synergy_utils.report import tables
    from synergy_utils.report.claims import ablation as rule
    from synergy_utils.summary import Summary

    section = _section(
        synthetic_curves(
            {"synergy": 2.0, **CONFOUNDS, "output_norm": 4.0}, noise=0.05, n_prompts=12
        ),
        _accuracy_rows(0.8, 0.6, 0.4),
    )
    text = claims.ablation_paragraph(section)
    assert "not supported" in text and "It loses to: output_norm 0.50" in text
    assert "'Catastrophic' is not warranted" in text and "smoke test" not in text
    assert "top by synergy 60 %" in text and "hurts less than random heads" in text
    small = _section(synthetic_curves({"synergy": 2.0, **CONFOUNDS}, n_prompts=4, n_random=3))
    assert "smoke test" in claims.ablation_paragraph(small)
    row = next(r for r in tables.verdict_rows(Summary(ablation=section)) if r[0].startswith("4 "))
    assert row[3] == rule.ablation_verdict(section) == "not supported"
    assert row[2].startswith("vs random 1.99 [") and "beats 4 of 5" in row[2]
    from synergy_utils.summary import to_dict

    assert claims.ablation_paragraph(to_dict(section)) == text


def test_ratio_table_lists_every_comparison():
    curves = synthetic_curves({"synergy": 2.0, "output_norm": 1.0, "delta_sts": 1.0})
    table = ablation.ratio_table(ablation.order_comparisons(curves, n_bootstrap=100))
    assert list(table["order"]) == ["output_norm", "delta_sts", "random"]
    assert list(table["role"]) == ["confound", "alternative", "random"]
    np.testing.assert_allclose(table["synergy / order"], 2.0)


# --- accuracy -------------------------------------------------------------------------------


def test_wilson_interval_known_value():
    low, high = resampling.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert resampling.wilson_interval(0, 10)[0] == 0.0


def test_accuracy_table_from_known_counts():
    correct = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=float)
    ds = xr.Dataset(
        {"correct": (("condition", "task"), correct)},
        coords={
            "order": ("condition", ["intact", "random", "random"]),
            "group": ("condition", ["intact", "random", "random"]),
            "fraction": ("condition", [0.0, 0.25, 0.25]),
            "n_heads": ("condition", [0, 2, 2]),
        },
    )
    table = ablation.accuracy_table(ds, n_bootstrap=500, seed=1)
    intact, rnd = table.iloc[0], table.iloc[1]
    assert intact["accuracy"] == 0.75 and intact["n_draws"] == 1 and np.isnan(intact["sd_draws"])
    assert (intact["wilson_low"], intact["wilson_high"]) == pytest.approx(
        resampling.wilson_interval(3, 4)
    )
    assert rnd["accuracy"] == 0.375 and rnd["n_draws"] == 2
    assert rnd["sd_draws"] == pytest.approx(np.std([0.5, 0.25], ddof=1))
    assert rnd["ci_low"] <= 0.375 <= rnd["ci_high"]


def test_accuracy_gap_is_paired_over_tasks_and_pools_random_sets():
    correct = np.array(
        [
            [1, 1, 1, 1, 1],  # intact
            [0, 1, 0, 1, 0],  # core, top, draw 0
            [0, 1, 1, 1, 0],  # core, top, draw 1
            [1, 1, 1, 1, 0],  # random set 0
            [1, 0, 1, 1, 1],  # random set 1
            [0, 0, 0, 0, 0],  # core at another fraction: not read
        ],
        dtype=float,
    )
    ds = xr.Dataset(
        {"correct": (("condition", "task"), correct)},
        coords={
            "order": ("condition", ["intact", "core", "core", "random", "random", "core"]),
            "group": ("condition", ["intact", "top", "top", "random", "random", "top"]),
            "fraction": ("condition", [0.0, 0.25, 0.25, 0.25, 0.25, 0.1]),
        },
    )
    gap = ablation.accuracy_gap(ds, "core", 0.25, n_bootstrap=2000, seed=0)
    per_task = correct[1:3].mean(axis=0) - correct[3:5].mean(axis=0)
    assert gap["value"] == pytest.approx(per_task.mean()) == pytest.approx(0.5 - 0.8)
    assert gap["order_accuracy"] == 0.5 and gap["random_accuracy"] == 0.8
    assert gap["ci_low"] <= gap["value"] <= gap["ci_high"] and gap["n_tasks"] == 5
    # the slow way: resample tasks with the same indices for both arms
    idx = resampling.bootstrap_indices(5, 2000, 0)
    boot = per_task[idx].mean(axis=1)
    assert gap["ci_low"] == pytest.approx(np.percentile(boot, 2.5))
    with pytest.raises(ValueError, match="fraction 0.5"):
        ablation.accuracy_gap(ds, "core", 0.5)
    with pytest.raises(ValueError, match="'norm'"):
        ablation.accuracy_gap(ds, "norm", 0.25)


def test_distinct_tasks_do_not_repeat_a_problem():
    from synergy_utils.stages import tasks

    every = ablation.distinct_tasks("addition", 1, 150, seed=0)
    assert len(every) == 100 == len({t.prompt for t in every})  # one-digit addition: 100
    assert every[0] == tasks.generate_tasks("addition", 1, 1, seed=0)[0]
    assert ablation.distinct_tasks("addition", 1, 30, seed=0) == every[:30]
    assert ablation.distinct_tasks("addition", 1, 30, seed=1) != every[:30]


@dataclass(frozen=True)
class FakeTask:
    prompt: str
    answer: str


def test_head_groups_and_conditions():
    from synergy_utils.stages import ablation_accuracy as acc

    orders = ablation.head_orders({"synergy": np.arange(12, dtype=float).reshape(3, 4)}, 0)
    assert acc.head_group(orders["synergy"], "top", 0.25) == [(2, 1), (2, 2), (2, 3)]
    assert acc.head_group(orders["synergy"], "bottom", 0.25) == [(0, 0), (0, 1), (0, 2)]
    first = acc.head_group(orders["synergy"], "random", 0.25, np.random.default_rng([0, 1]))
    again = acc.head_group(orders["synergy"], "random", 0.25, np.random.default_rng([0, 1]))
    assert first == again and len(set(first)) == 3
    conditions = acc.perturbation_conditions(
        orders, n_draws=2, n_random_sets=3, sweep_fractions=[0.1, 0.25], seed=0
    )
    kinds = [(c["order"], c["group"], c["fraction"]) for c in conditions]
    assert (
        kinds.count(("synergy", "top", 0.25)) == 2 and kinds.count(("random", "random", 0.25)) == 3
    )
    assert kinds.count(("synergy", "top", 0.1)) == 2 and kinds.count(("random", "random", 0.1)) == 2
    random_small = [
        c["heads"] for c in conditions if c["group"] == "random" and c["fraction"] == 0.1
    ]
    random_large = [
        c["heads"] for c in conditions if c["group"] == "random" and c["fraction"] == 0.25
    ]
    pairs = zip(random_small, random_large[: len(random_small)], strict=True)
    assert all(set(small) <= set(large) for small, large in pairs)  # nested draws
    assert {c["noise_seed"] for c in conditions if c["order"] == "synergy"} == {0, 1}  # paired


def test_accuracy_under_perturbation_runs_every_condition_and_restores(tmp_path):
    from synergy_utils.stages import ablation_accuracy as acc

    model, tokenizer = make_tiny_llama(), make_tiny_tokenizer()
    tasks = [FakeTask(f"{a}+{b}=?", str(a + b)) for a, b in [(1, 2), (3, 4), (5, 1)]]
    orders = ablation.head_orders(
        {"synergy": np.arange(8.0).reshape(2, 4), "rtr": -np.ones((2, 4))}, 0
    )
    saved = params_clone(model)
    check = lambda task, text: len(text) % 2 == 0  # noqa: E731
    ds = ablation.accuracy_under_perturbation(
        model,
        tokenizer,
        tasks,
        orders,
        relative_std=0.5,
        max_new_tokens=4,
        n_draws=2,
        n_random_sets=2,
        check=check,
        progress=False,
    )
    assert_params_equal(model, saved)
    assert ds.sizes["condition"] == 1 + 2 * 2 * 2 + 2
    assert ds["n_heads"].values.tolist() == [0] + [2] * 10
    ids = [decoding.render_prompt(tokenizer, t.prompt) for t in tasks]
    intact = decoding.generate_answers(model, tokenizer, [t.prompt for t in tasks], 4, 8)
    assert list(ds["reply"].values[0]) == intact
    top = ds.where(
        (ds["order"] == "synergy") & (ds["group"] == "top") & (ds["draw"] == 1), drop=True
    )
    with interventions.ablated(model, [(1, 2), (1, 3)], "weights-noise", relative_std=0.5, seed=1):
        perturbed = acc.task_replies(model, tokenizer, ids, 4, share_prefix=False)
    assert list(top["reply"].values[0]) == perturbed
    table = ablation.accuracy_table(ds, n_bootstrap=100)
    assert len(table) == 6 and table["accuracy"].between(0, 1).all()
    loaded = results.load_dataset(results.save_dataset(ds, tmp_path / "acc.nc", {"seed": 0}))
    assert [str(x) for x in loaded["reply"].values.ravel()] == [
        str(x) for x in ds["reply"].values.ravel()
    ]
    agreement = ablation.reply_agreement(
        model, model, tokenizer, tasks, max_new_tokens=4, check=check
    )
    assert agreement["agreement"] == 1.0 and agreement["passed"]


def test_noise_calibration_finds_the_halving_scale():
    from synergy_utils.stages import ablation_accuracy as acc

    assert acc._crossing([0.25, 0.5, 1.0], [0.8, 0.6, 0.2], 0.4) == pytest.approx(0.75)
    assert acc._crossing([0.25, 0.5], [0.3, 0.1], 0.4) == 0.25
    assert acc._crossing([0.25, 0.5], [0.9, 0.8], 0.4) == 0.5
    model, tokenizer = make_tiny_llama(), make_tiny_tokenizer()
    tasks = [FakeTask(f"{a}+{b}=?", str(a + b)) for a, b in [(1, 2), (3, 4)]]
    saved = params_clone(model)
    out = ablation.calibrate_noise(
        model,
        tokenizer,
        tasks,
        8,
        4,
        scales=[0.5, 2.0],
        n_sets=1,
        max_new_tokens=3,
        check=lambda t, x: len(x) > 2,
    )
    assert_params_equal(model, saved)
    assert out["scales"] == [0.5, 2.0] and len(out["accuracy"]) == 2
    assert out["chosen"] in (0.5, 2.0) or 0.5 < out["chosen"] < 2.0


# --- files and figures --------------------------------------------------------------------------


def test_save_dataset_round_trip(tmp_path):
    model = tiny_model("gpt_neox")
    curves = ablation.ablation_curves(
        model, None, CONT, np.arange(8.0).reshape(2, 4), 0.25, 0.5, n_random=2, progress=False
    )
    path = results.save_dataset(
        curves, tmp_path / "ablation_curves.nc", {"parameters": {"seed": 0}}
    )
    loaded = results.load_dataset(path)
    np.testing.assert_array_equal(loaded["kl"].values, curves["kl"].values)
    assert json.loads(loaded.attrs["provenance"])["parameters"]["seed"] == 0
    assert head_layout(model).n_total == loaded.attrs["n_total"]


def test_plots_draw():
    import matplotlib

    matplotlib.use("Agg")
    from synergy_utils.report import figures_ablation

    curves = synthetic_curves({"synergy": 2.0, "output_norm": 1.5, "delta_sts": 1.0}, noise=0.2)
    fig = figures_ablation.plot_ablation_curves(curves, n_bootstrap=50)
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel()
    table = ablation.ratio_table(ablation.order_comparisons(curves, n_bootstrap=50))
    assert figures_ablation.plot_area_ratios(table).axes[0].get_xlabel()
    rows = _accuracy_rows(0.8, 0.3, 0.45)
    rows = pd.concat([rows, rows.iloc[[1, 3]].assign(fraction=0.1)], ignore_index=True)
    assert figures_ablation.plot_ablation_accuracy(rows).axes[0].get_ylabel()
    fig = figures_ablation.plot_accuracy_vs_fraction(rows)
    assert len(fig.axes[0].get_lines()) == 2
