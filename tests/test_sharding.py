"""Sharded models: ``load_model(..., device_map=...)`` places modules through accelerate's hooks,
and extraction, ablation and the model controls give the same numbers as on the unsharded
model. On a CPU-only machine every module sits on the CPU, but the hooks are attached (a dict
``device_map`` is always dispatched), so the code path is the one a multi-GPU placement runs.
The tests at the end need a GPU and spread the model over the GPU and the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from synergy_utils.lm import interventions, teacher_forcing
from synergy_utils.lm.loading import is_sharded, load_model, resolve_device_map, resolve_dtype
from synergy_utils.lm.recording import model_fingerprint, record_head_series, record_like

PROMPTS = ["a b c", "hello there", "x y"]
#: every module of the tiny Llama placed by name, as a device map over several modules
DEVICE_MAP = {
    "model.embed_tokens": "cpu",
    "model.rotary_emb": "cpu",
    "model.layers.0": "cpu",
    "model.layers.1": "cpu",
    "model.norm": "cpu",
    "lm_head": "cpu",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(unsharded, sharded, tokenizer) of the same tiny random Llama folder."""
    from .conftest import make_tiny_llama, make_tiny_tokenizer

    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    make_tiny_llama().save_pretrained(folder)
    make_tiny_tokenizer().save_pretrained(folder)
    plain, tokenizer = load_model(str(folder), device="cpu")
    sharded, _ = load_model(str(folder), device_map=DEVICE_MAP)
    return plain, sharded, tokenizer


def test_a_dict_device_map_attaches_accelerate_hooks(models):
    plain, sharded, _ = models
    assert not is_sharded(plain) and is_sharded(sharded)
    assert hasattr(sharded, "_hf_hook")
    assert hasattr(sharded.model.layers[1].self_attn.o_proj, "_hf_hook")
    assert sharded.hf_device_map == DEVICE_MAP
    assert all(p.device.type == "cpu" for p in sharded.parameters())  # nothing offloaded
    assert model_fingerprint(sharded) == model_fingerprint(plain)  # caches are shared


@pytest.mark.parametrize("reduction", ["l2", "projected"])
def test_sharded_model_gives_the_same_head_series(models, reduction):
    plain, sharded, tokenizer = models
    a = record_head_series(plain, tokenizer, PROMPTS, 6, reduction=reduction, progress=False)
    b = record_head_series(sharded, tokenizer, PROMPTS, 6, reduction=reduction, progress=False)
    np.testing.assert_array_equal(a.values, b.values)
    assert [list(t) for t in a.token_ids] == [list(t) for t in b.token_ids]


@pytest.fixture(scope="module")
def batch(models):
    plain, _, tokenizer = models
    continuations = teacher_forcing.greedy_continuations(plain, tokenizer, PROMPTS, 6)
    return teacher_forcing.teacher_forced_batch(continuations, pad_token_id=0)


@pytest.mark.parametrize("mode", ["zero", "mean", "noise", "weights-noise"])
def test_sharded_ablation_gives_the_same_kl(models, batch, mode):
    plain, sharded, _ = models
    head_sets = [[(0, 1)], [(0, 0), (1, 2), (1, 3)]]
    kwargs = {
        "zero": {},
        "mean": {"means": interventions.head_mean_outputs(plain, batch)},
        "noise": {"std": 0.5, "seed": 3},
        "weights-noise": {"relative_std": 0.5, "seed": 3},
    }[mode]
    before = {k: v.clone() for k, v in sharded.state_dict().items()}
    a = teacher_forcing.kl_under_ablation(plain, batch, head_sets, mode=mode, **kwargs)
    b = teacher_forcing.kl_under_ablation(sharded, batch, head_sets, mode=mode, **kwargs)
    np.testing.assert_array_equal(a, b)
    assert np.all(a[1] > 0)
    after = sharded.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # restored exactly


def test_sharded_head_means_are_the_same(models, batch):
    plain, sharded, _ = models
    np.testing.assert_array_equal(
        interventions.head_mean_outputs(plain, batch),
        interventions.head_mean_outputs(sharded, batch),
    )


@pytest.mark.parametrize("control", ["randomised", "perturbed", "reinitialised"])
def test_model_controls_of_a_sharded_model_give_the_same_series(models, control):
    plain, sharded, tokenizer = models
    make = {
        "randomised": lambda m: interventions.randomised_model(m, seed=1),
        "perturbed": lambda m: interventions.perturbed_model(m, 0.1, seed=1),
        "reinitialised": lambda m: interventions.reinitialised_model(m, seed=1),
    }[control]
    reference = record_head_series(plain, tokenizer, PROMPTS[:2], 4, progress=False)
    a = record_like(reference, make(plain), tokenizer, [0, 1])
    b = record_like(reference, make(sharded), tokenizer, [0, 1])
    np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize("control", ["randomised", "perturbed"])
def test_copied_controls_keep_the_placement(models, control):
    _, sharded, _ = models
    make = {
        "randomised": lambda m: interventions.randomised_model(m, seed=1),
        "perturbed": lambda m: interventions.perturbed_model(m, 0.1, seed=1),
    }[control]
    copy = make(sharded)
    assert is_sharded(copy) and copy.hf_device_map == DEVICE_MAP


def test_reinitialised_control_keeps_the_placement(models):
    _, sharded, _ = models
    assert is_sharded(interventions.reinitialised_model(sharded, seed=1))


def test_dtype_and_device_map_arguments(monkeypatch):
    assert resolve_dtype("bfloat16") is torch.bfloat16
    assert resolve_dtype(None) is torch.float32
    monkeypatch.setenv("SYNERGY_DTYPE", "float16")
    assert resolve_dtype(None) is torch.float16
    with pytest.raises(ValueError, match="dtype must be"):
        resolve_dtype("float77")
    assert resolve_device_map(None) is None
    monkeypatch.setenv("SYNERGY_DEVICE_MAP", '{"model.layers.0": "cpu"}')
    assert resolve_device_map(None) == {"model.layers.0": "cpu"}
    assert resolve_device_map("auto") == "auto"
    with pytest.raises(ValueError, match="device_map must be"):
        resolve_device_map("everywhere")


def test_device_and_device_map_together_is_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match="either device or device_map"):
        load_model(str(tmp_path), device="cpu", device_map="auto")


# --- two real devices (a GPU and the CPU); skipped without CUDA -------------------------------

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _two_device_copy(plain):
    """A deep copy of ``plain`` with layer 1 and the head on the GPU, the rest on the CPU,
    executed where it sits (``main_device="cpu"``: nothing is offloaded)."""
    import copy

    from accelerate import dispatch_model

    split = {**DEVICE_MAP, "model.layers.1": 0, "lm_head": 0}
    return dispatch_model(copy.deepcopy(plain), device_map=split, main_device="cpu")


@needs_gpu
def test_two_device_model_gives_the_same_head_series(models):
    plain, _, tokenizer = models
    split = _two_device_copy(plain)
    assert split.model.layers[1].self_attn.o_proj.weight.device.type == "cuda"
    a = record_head_series(plain, tokenizer, PROMPTS, 6, progress=False)
    b = record_head_series(split, tokenizer, PROMPTS, 6, progress=False)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-6)


@needs_gpu
@pytest.mark.parametrize("mode", ["zero", "noise"])
def test_two_device_output_ablation(models, batch, mode):
    plain, _, _ = models
    kwargs = {"noise": {"std": 0.5, "seed": 3}}.get(mode, {})
    a = teacher_forcing.kl_under_ablation(plain, batch, [[(1, 2)]], mode=mode, **kwargs)
    b = teacher_forcing.kl_under_ablation(
        _two_device_copy(plain), batch, [[(1, 2)]], mode=mode, **kwargs
    )
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-7)


@needs_gpu
def test_two_device_weight_noise(models, batch):
    plain, _, _ = models
    split = _two_device_copy(plain)
    kwargs = {"relative_std": 0.5, "seed": 3}
    teacher_forcing.kl_under_ablation(split, batch, [[(1, 2)]], mode="weights-noise", **kwargs)
