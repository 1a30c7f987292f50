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
MODES = ["zero", "mean", "noise", "weights-noise"]
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


CONT = teacher_forcing.Continuations(
    [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [15]],
    np.array([[20, 21, 22, 23, 24], [25, 26, 27, 28, 29], [30, 31, 32, 33, 34]]),
)


def test_ablating_no_heads_gives_zero_kl():
    model = tiny_model("llama")
    batch = teacher_forcing.teacher_forced_batch(CONT)
    clean = teacher_forcing.next_token_logprobs(model, batch)
    for mode in MODES:
        with interventions.ablated(model, [], mode, **mode_kwargs(mode)):
            kl = teacher_forcing.teacher_forced_kl(model, batch, clean)
        for value in kl.values():
            assert torch.equal(value, torch.zeros(3))


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
        [[5, 6, 7, 8], [9, 10]], np.array([[11, 12, 13], [14, 15, 16]])
    )
    scores = np.zeros((N_LAYERS, N_HEADS))
    scores[1, 2], scores[0, 1] = 5.0, 4.0  # synergy-first removes (1, 2), then (0, 1)
    scores[0, 0] = -1.0  # redundancy-first removes (0, 0) first
    curves = ablation.ablation_curves(
        model, None, cont, scores, step=1, max_fraction=2 / 8, n_random=1, seed=0, progress=False
    )
    assert list(curves["n_removed"].values) == [0, 1, 2]
    order_heads = {"synergy_first": [(1, 2), (0, 1)]}
    for n_removed in (1, 2):
        heads = order_heads["synergy_first"][:n_removed]
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
        got = curves["kl"].sel(order="synergy_first", n_removed=n_removed)
        np.testing.assert_allclose(got.sel(metric="kl_clean_ablated"), forward, rtol=1e-4)
        np.testing.assert_allclose(got.sel(metric="kl_ablated_clean"), reverse, rtol=1e-4)
    assert (curves["kl"].sel(n_removed=0) == 0).all()
    assert curves["order_layer"].sel(order="redundancy_first").values[0] == 0
    assert curves["order_head"].sel(order="redundancy_first").values[0] == 0


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


# --- orders, areas, summary ---------------------------------------------------------------


def test_head_orders_and_removal_counts():
    scores = np.array([[0.1, 3.0, -2.0], [1.0, 1.0, 0.5]])
    orders = ablation.head_orders(scores, n_random=2, seed=4)
    assert orders["synergy_first"].tolist() == [[0, 1], [1, 0], [1, 1], [1, 2], [0, 0], [0, 2]]
    assert orders["redundancy_first"].tolist()[:2] == [[0, 2], [0, 0]]
    again = ablation.head_orders(scores, n_random=3, seed=4)
    assert np.array_equal(orders["random_1"], again["random_1"])
    assert sorted(map(tuple, orders["random_0"].tolist())) == sorted(
        map(tuple, orders["synergy_first"].tolist())
    )
    assert ablation.removal_counts(270, 5, 0.25) == list(range(0, 66, 5)) + [67]
    assert ablation.removal_counts(8, 1, 0.25) == [0, 1, 2]
    with pytest.raises(ValueError):
        ablation.removal_counts(8, 0, 0.25)
    with pytest.raises(ValueError, match="NaN"):
        ablation.head_orders(np.array([[np.nan, 1.0]]))


def synthetic_curves(syn_scale=2.0, red_scale=0.5, n_prompts=4, n_random=3, noise=0.0):
    """Curves whose KL is scale * fraction * prompt_weight for each order."""
    orders = ["synergy_first", "redundancy_first"] + [f"random_{k}" for k in range(n_random)]
    scales = [syn_scale, red_scale] + [1.0] * n_random
    counts = np.array([0, 2, 4, 6])
    fraction = counts / 24
    weights = np.arange(1, n_prompts + 1, dtype=float)
    rng = np.random.default_rng(0)
    kl = np.zeros((len(orders), len(counts), n_prompts, 2))
    for i, s in enumerate(scales):
        jitter = 1 + noise * rng.normal(size=n_prompts) if i >= 2 else 1
        kl[i] = (s * fraction[:, None] * weights * jitter)[..., None]
    return xr.Dataset(
        {"kl": (("order", "n_removed", "prompt", "metric"), kl)},
        coords={
            "order": orders,
            "n_removed": counts,
            "fraction": ("n_removed", fraction),
            "prompt": np.arange(n_prompts),
            "metric": list(teacher_forcing.KL_METRICS),
        },
        attrs={"n_total": 24, "mode": "zero", "n_new_tokens": 5},
    )


def test_auc_ratio_recovers_a_known_ratio():
    curves = synthetic_curves(syn_scale=2.0)
    ratio = ablation.auc_ratio(curves, n_bootstrap=300)
    assert ratio["value"] == pytest.approx(2.0)
    assert ratio["ci_low"] == pytest.approx(2.0) and ratio["ci_high"] == pytest.approx(2.0)
    noisy = ablation.auc_ratio(synthetic_curves(syn_scale=2.0, noise=0.3), n_bootstrap=500)
    assert noisy["ci_low"] < noisy["value"] < noisy["ci_high"]
    red = ablation.auc_ratio(curves, "redundancy_first", "random")
    assert red["value"] == pytest.approx(0.5)
    area = ablation.curve_auc(curves).sel(order="random_0").values
    # trapezoid of 1 * fraction * w from 0 to 0.25 = w * 0.25**2 / 2
    np.testing.assert_allclose(area, np.arange(1, 5) * 0.25**2 / 2)


def test_kl_at_and_summary_keys():
    curves = synthetic_curves(syn_scale=2.0, noise=0.2)
    at = ablation.kl_at(curves)
    mean_w = np.arange(1, 5).mean()
    assert at["fraction"] == 0.25
    assert at["synergy"] == pytest.approx(2 * 0.25 * mean_w)
    assert at["random_sd"] > 0
    summary = ablation.ablation_summary(curves, n_bootstrap=200, relative_noise_std=0.5)
    for key in (
        "fraction",
        "kl_synergy",
        "kl_redundancy",
        "kl_random_mean",
        "kl_random_sd",
        "auc_ratio_synergy_random",
        "reverse_kl_synergy",
        "reverse_kl_random_sd",
        "reverse_auc_ratio_synergy_random",
        "accuracy",
        "relative_noise_std",
    ):
        assert key in summary
    assert "verdict" not in summary  # the words come from the report layer
    assert set(summary["auc_ratio_synergy_random"]) >= {"value", "ci_low", "ci_high"}
    json.dumps(summary)


def _summary_with_ratio(low, value, high, accuracy=()):
    ratio = {"value": value, "ci_low": low, "ci_high": high}
    return {
        "fraction": 0.25,
        "n_heads_removed": 67,
        "n_total_heads": 270,
        "n_prompts": 16,
        "n_random_orders": 5,
        "auc_ratio_synergy_random": ratio,
        "reverse_auc_ratio_synergy_random": ratio,
        "kl_synergy": 2.0,
        "kl_redundancy": 1.0,
        "kl_random_mean": 1.5,
        "kl_random_sd": 0.1,
        "accuracy": list(accuracy),
        "relative_noise_std": 0.5,
        "accuracy_fraction": 0.25,
    }


def test_verdict_states_support_null_and_reversal():
    above = claims.ablation_paragraph(_summary_with_ratio(1.2, 1.5, 1.8))
    assert "as the causal claim predicts" in above and "1.50" in above
    null = claims.ablation_paragraph(_summary_with_ratio(0.8, 1.0, 1.3))
    assert "not supported" in null and "null result" in null and "smoke test" not in null
    small = _summary_with_ratio(0.8, 1.0, 1.3)
    small["n_prompts"] = 4
    assert "smoke test" in claims.ablation_paragraph(small)
    small["auc_ratio_redundancy_random"] = {"value": 0.5, "ci_low": 0.3, "ci_high": 0.8}
    assert "less damaging than random removal" in claims.ablation_paragraph(small)
    below = claims.ablation_paragraph(_summary_with_ratio(0.5, 0.6, 0.8))
    assert "opposite" in below
    row = {"n_tasks": 40, "n_draws": 1, "wilson_low": 0.0, "wilson_high": 0.09}
    floor = claims.ablation_paragraph(
        _summary_with_ratio(
            1.2, 1.5, 1.8, [{"mode": "none", "group": "intact", "accuracy": 0.0, **row}]
        )
    )
    assert "uninformative" in floor
    groups = [
        ("none", "intact", 0.6, 0.5, 0.7),
        ("weights-noise", "synergistic", 0.1, 0.0, 0.2),
        ("weights-noise", "redundant", 0.55, 0.4, 0.7),
        ("weights-noise", "random", 0.5, 0.4, 0.6),
    ]
    rows = [
        {
            "mode": m,
            "group": g,
            "accuracy": a,
            "ci_low": lo,
            "ci_high": hi,
            "n_tasks": 40,
            "wilson_low": lo,
            "wilson_high": hi,
        }
        for m, g, a, lo, hi in groups
    ]
    text = claims.ablation_paragraph(_summary_with_ratio(1.2, 1.5, 1.8, rows))
    assert "hurts more than random" in text and "relative std 0.5" in text
    assert "synergistic core 10 %, random 50 %, redundant core 55 %" in text
    assert "on 25 % of the heads" in text


# --- accuracy -------------------------------------------------------------------------------


def test_wilson_interval_known_value():
    low, high = resampling.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert resampling.wilson_interval(0, 10)[0] == 0.0


def test_accuracy_table_from_known_counts():
    correct = np.full((2, 2, 4), np.nan)
    correct[0, 0] = [1, 1, 1, 0]
    correct[1] = [[1, 1, 0, 0], [1, 0, 0, 0]]
    ds = xr.Dataset(
        {"correct": (("condition", "draw", "task"), correct)},
        coords={
            "condition": ["none/intact", "zero/random"],
            "mode": ("condition", ["none", "zero"]),
            "group": ("condition", ["intact", "random"]),
            "n_heads": ("condition", [0, 2]),
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


@dataclass(frozen=True)
class FakeTask:
    prompt: str
    answer: str


def test_accuracy_under_perturbation_runs_every_condition(tmp_path):
    model, tokenizer = make_tiny_llama(), make_tiny_tokenizer()
    tasks = [FakeTask(f"{a}+{b}=?", str(a + b)) for a, b in [(1, 2), (3, 4), (5, 1)]]
    scores = np.arange(8, dtype=float).reshape(2, 4)
    saved = params_clone(model)
    ds = ablation.accuracy_under_perturbation(
        model,
        tokenizer,
        tasks,
        scores,
        fraction=0.25,
        n_draws=2,
        relative_std=0.5,
        max_new_tokens=4,
        check=lambda task, text: len(text) % 2 == 0,
        progress=False,
    )
    assert_params_equal(model, saved)
    conditions = list(ds["condition"].values)
    assert conditions[0] == "none/intact" and len(conditions) == 7
    n_draws = (~np.isnan(ds["correct"].values).all(axis=2)).sum(axis=1)
    assert dict(zip(conditions, n_draws, strict=True)) == {
        "none/intact": 1,
        "weights-noise/synergistic": 2,
        "weights-noise/redundant": 2,
        "weights-noise/random": 2,
        "zero/synergistic": 1,
        "zero/redundant": 1,
        "zero/random": 2,
    }
    assert ds["n_heads"].values.tolist() == [0, 2, 2, 2, 2, 2, 2]
    intact = decoding.generate_answers(model, tokenizer, [t.prompt for t in tasks], 4)
    assert list(ds["reply"].sel(condition="none/intact", draw=0).values) == intact
    with interventions.ablated(model, [(1, 2), (1, 3)]):  # the top 25 % by score
        zeroed = decoding.generate_answers(model, tokenizer, [t.prompt for t in tasks], 4)
    assert list(ds["reply"].sel(condition="zero/synergistic", draw=0).values) == zeroed
    table = ablation.accuracy_table(ds, n_bootstrap=100)
    assert len(table) == 7 and table["accuracy"].between(0, 1).all()
    loaded = results.load_dataset(results.save_dataset(ds, tmp_path / "acc.nc", {"seed": 0}))
    assert [str(x) for x in loaded["reply"].values.ravel()] == [
        str(x) for x in ds["reply"].values.ravel()
    ]
    np.testing.assert_array_equal(loaded["correct"].values, ds["correct"].values)


def test_head_group_picks_top_bottom_and_random():
    scores = np.arange(12, dtype=float).reshape(3, 4)
    assert ablation.head_group(scores, "synergistic", 0.25) == [(2, 1), (2, 2), (2, 3)]
    assert ablation.head_group(scores, "redundant", 0.25) == [(0, 0), (0, 1), (0, 2)]
    first = ablation.head_group(scores, "random", 0.25, np.random.default_rng([0, 1]))
    again = ablation.head_group(scores, "random", 0.25, np.random.default_rng([0, 1]))
    assert first == again and len(set(first)) == 3


# --- files ----------------------------------------------------------------------------------


def test_load_head_scores(tmp_path):
    table = pd.DataFrame(
        [
            (layer, head, 0.1, 0.2, float(layer * 4 + head), -float(head))
            for layer in range(2)
            for head in range(4)
        ],
        columns=["layer", "head", "synergy", "redundancy", "gradient_luppi", "gradient_diff"],
    ).sample(frac=1, random_state=0)
    table.to_csv(tmp_path / "head_scores.csv", index=False)
    luppi = ablation.load_head_scores(tmp_path, "luppi")
    assert luppi.shape == (2, 4) and luppi[1, 3] == 7
    assert ablation.load_head_scores(tmp_path / "head_scores.csv", "diff")[0, 2] == -2
    with pytest.raises(ValueError, match="lacks columns"):
        ablation.load_head_scores(tmp_path, "nonsense")
    with pytest.raises(FileNotFoundError, match="03_synergistic_cores"):
        ablation.load_head_scores(tmp_path / "missing")


def test_save_dataset_round_trip(tmp_path):
    model = tiny_model("gpt_neox")
    curves = ablation.ablation_curves(
        model,
        None,
        CONT,
        np.arange(8.0).reshape(2, 4),
        step=2,
        max_fraction=0.5,
        n_random=2,
        progress=False,
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

    curves = synthetic_curves(noise=0.2)
    fig = figures_ablation.plot_ablation_curves(curves)
    assert len(fig.axes) == 2
    table = pd.DataFrame(
        [
            {"mode": "none", "group": "intact", "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6},
            {
                "mode": "zero",
                "group": "synergistic",
                "accuracy": 0.3,
                "ci_low": 0.2,
                "ci_high": 0.4,
            },
            {"mode": "zero", "group": "random", "accuracy": 0.4, "ci_low": 0.3, "ci_high": 0.5},
        ]
    )
    fig = figures_ablation.plot_ablation_accuracy(table)
    assert fig.axes[0].get_ylabel()
