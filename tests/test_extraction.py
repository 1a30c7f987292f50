"""Tests of synergy_utils.extraction on tiny random models built offline from configs."""

from __future__ import annotations

import string

import numpy as np
import pytest
import torch
import xarray as xr

from synergy_utils.lm.architectures import (
    UnsupportedArchitectureError,
    head_layout,
    is_conv1d,
    out_proj_head_weight,
    output_projections,
)
from synergy_utils.lm.decoding import BASE_TEMPLATE, greedy_decode, render_prompt, resolve_template
from synergy_utils.lm.recording import record_head_series
from synergy_utils.phiid import gaussian_self_information as self_information_nats
from synergy_utils.phiid import lag_correlation
from synergy_utils.report.prose import describe_extraction
from synergy_utils.report.tables import sample_generations
from synergy_utils.results import netcdf_engine
from synergy_utils.series import REDUCTIONS, HeadSeries
from synergy_utils.stages.extraction import extraction_summary, layer_mean_activity

PROMPTS = [
    ("numerical", "What is 2 + 3?"),
    ("common_sense", "Why is ice cold?"),
    ("syntax_grammar", "Fix: me go home now please, fast!"),
]
N_STEPS = 7
CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)
PAD, EOS, BOS = 0, 1, 2


def make_char_tokenizer(chat_template: str | None = None):
    """Character-level tokenizer over printable ASCII plus <pad>, <eos>, <bos>, <unk>."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    symbols = ["<pad>", "<eos>", "<bos>", "<unk>"] + list(string.printable[:95]) + ["\n"]
    backend = Tokenizer(models.WordLevel({s: i for i, s in enumerate(symbols)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


TOKENIZER = make_char_tokenizer()
CHAT_TOKENIZER = make_char_tokenizer(CHAT_TEMPLATE)


def make_model(family: str, seed: int = 0):
    """A 2-layer, 4-head random float32 model of ``family``, in eval mode."""
    import transformers as tf

    common = {
        "vocab_size": len(TOKENIZER),
        "pad_token_id": PAD,
        "eos_token_id": EOS,
        "bos_token_id": BOS,
        "initializer_range": 0.2,
    }
    sizes = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    }
    if family == "llama":
        config = tf.LlamaConfig(**sizes, num_key_value_heads=2, **common)
    elif family == "qwen2":
        config = tf.Qwen2Config(**sizes, num_key_value_heads=2, **common)
    elif family == "gemma2":
        # head_dim 12 != hidden / heads = 8: catches code that assumes hidden = heads x head_dim.
        config = tf.Gemma2Config(
            **sizes, num_key_value_heads=2, head_dim=12, sliding_window=16, **common
        )
    elif family == "gpt2":
        config = tf.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=256, **common)
    elif family == "gpt_neox":
        config = tf.GPTNeoXConfig(**sizes, max_position_embeddings=256, **common)
    elif family == "opt":
        config = tf.OPTConfig(
            hidden_size=32,
            ffn_dim=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            word_embed_proj_dim=32,
            max_position_embeddings=256,
            **common,
        )
    elif family == "phi":
        config = tf.PhiConfig(**sizes, max_position_embeddings=256, **common)
    elif family == "gemma3_text":
        config = tf.Gemma3TextConfig(
            **sizes, num_key_value_heads=1, head_dim=16, sliding_window=8, **common
        )
    else:
        raise ValueError(family)
    torch.manual_seed(seed)
    return tf.AutoModelForCausalLM.from_config(config).eval()


FAMILIES = ("llama", "qwen2", "gemma2", "gpt2", "gpt_neox", "opt", "phi", "gemma3_text")


@pytest.fixture(scope="module")
def models():
    return {family: make_model(family) for family in FAMILIES}


@pytest.fixture(scope="module")
def recorded(models):
    """One batched (batch 2, so with padding) recording per family."""
    return {
        family: record_head_series(model, TOKENIZER, PROMPTS, N_STEPS, batch_size=2, progress=False)
        for family, model in models.items()
    }


def teacher_forced_inputs(model, token_ids: np.ndarray) -> list[torch.Tensor]:
    """Per layer, the output-projection input (seq, n_heads * head_dim) over the full sequence."""
    captured: dict[int, torch.Tensor] = {}
    handles = [
        proj.register_forward_pre_hook(
            lambda module, args, layer=layer: captured.__setitem__(layer, args[0][0].clone())
        )
        for layer, proj in enumerate(output_projections(model))
    ]
    try:
        with torch.no_grad():
            model(input_ids=torch.as_tensor(token_ids)[None], use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    return [captured[layer] for layer in range(len(captured))]


def direct_series(model, token_ids, prompt_length: int, n_steps: int, reduction: str):
    """Reference series (n_steps, n_layers, n_heads) by slow per-head loops."""
    layout = head_layout(model)
    d = layout.head_dim
    inputs = teacher_forced_inputs(model, token_ids)
    out = np.zeros((n_steps, layout.n_layers, layout.n_heads))
    for layer, x in enumerate(inputs):
        proj = output_projections(model)[layer]
        for head in range(layout.n_heads):
            for step in range(n_steps):
                v = x[prompt_length - 1 + step, head * d : (head + 1) * d].double()
                if reduction == "l2":
                    value = torch.sqrt((v**2).sum())
                elif reduction == "mean":
                    value = v.sum() / d
                elif reduction == "max":
                    value = max(v.tolist())
                else:
                    w = out_proj_head_weight(model, layer, head).detach().double()
                    contribution = v @ w if is_conv1d(proj) else w @ v
                    value = torch.sqrt((contribution**2).sum())
                out[step, layer, head] = float(value)
    return out


# --- shapes and agreement --------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_and_metadata(recorded, models, family):
    series = recorded[family]
    layout = head_layout(models[family])
    assert series.values.shape == (len(PROMPTS), N_STEPS, 2, 4)
    assert series.values.dtype == np.float32
    assert np.isfinite(series.values).all()
    assert series.flat().shape == (len(PROMPTS), N_STEPS, 8)
    assert series.prompts == [text for _, text in PROMPTS]
    assert series.categories == [category for category, _ in PROMPTS]
    for i, (_, text) in enumerate(PROMPTS):
        expected_prompt = render_prompt(TOKENIZER, text, "base")
        assert series.prompt_lengths[i] == len(expected_prompt)
        assert series.token_ids[i].tolist()[: len(expected_prompt)] == expected_prompt
        assert len(series.generated_ids(i)) == N_STEPS
        assert EOS not in series.generated_ids(i).tolist()  # suppressed by default
        assert series.texts[i] == TOKENIZER.decode(
            series.generated_ids(i).tolist(), skip_special_tokens=True
        )
    meta = series.metadata
    assert meta["n_layers"] == 2 and meta["n_heads"] == 4 and meta["head_dim"] == layout.head_dim
    assert meta["reduction"] == "l2" and meta["template"] == "base"
    assert meta["decoding"]["max_new_tokens"] == N_STEPS and meta["decoding"]["suppress_eos"]
    assert meta["n_eos_stopped"] == 0
    assert "versions" in meta["provenance"]


@pytest.mark.parametrize("family", FAMILIES)
def test_matches_teacher_forced_recomputation(recorded, models, family):
    """Step k equals the head norm at position prompt_length - 1 + k of one full forward pass."""
    series = recorded[family]
    for i in range(len(PROMPTS)):
        expected = direct_series(
            models[family], series.token_ids[i], int(series.prompt_lengths[i]), N_STEPS, "l2"
        )
        np.testing.assert_allclose(series.values[i], expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_equals_unbatched(recorded, models, family):
    single = record_head_series(
        models[family], TOKENIZER, PROMPTS, N_STEPS, batch_size=1, progress=False
    )
    batched = recorded[family]
    for a, b in zip(single.token_ids, batched.token_ids, strict=True):
        assert a.tolist() == b.tolist()
    assert single.texts == batched.texts
    np.testing.assert_allclose(batched.values, single.values, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("family", ["llama", "gemma2", "gpt2", "gpt_neox"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reductions_match_direct_computation(models, family, reduction):
    model = models[family]
    series = record_head_series(
        model, TOKENIZER, PROMPTS[:2], 4, reduction=reduction, batch_size=2, progress=False
    )
    assert series.metadata["reduction"] == reduction
    for i in range(2):
        expected = direct_series(
            model, series.token_ids[i], int(series.prompt_lengths[i]), 4, reduction
        )
        np.testing.assert_allclose(series.values[i], expected, rtol=1e-4, atol=1e-6)


def test_greedy_decode_matches_manual_argmax(models):
    """The KV-cached loop produces the argmax of a full forward pass at every step."""
    model = models["llama"]
    ids = render_prompt(TOKENIZER, "What is 2 + 3?", "base")
    result = greedy_decode(model, [ids], 5, eos_token_ids=[EOS], pad_token_id=PAD)
    sequence = list(ids)
    with torch.no_grad():
        for _ in range(5):
            logits = model(input_ids=torch.tensor([sequence])).logits[0, -1]
            logits[EOS] = -float("inf")
            sequence.append(int(logits.argmax()))
    assert result.generated[0] == sequence[len(ids) :]
    assert result.n_forward == 5


# --- EOS handling ----------------------------------------------------------------------------


class ForceEos:
    """Forward hook on the LM head making EOS the top logit of ``row`` at forward pass ``at``."""

    def __init__(self, row: int, at: int):
        self.row, self.at, self.calls = row, at, 0

    def __call__(self, module, args, output):
        if self.calls == self.at:
            output = output.clone()
            output[self.row, -1, EOS] = 1e4
        self.calls += 1
        return output


def test_eos_suppressed_by_default(models):
    model = models["llama"]
    handle = model.lm_head.register_forward_hook(ForceEos(row=0, at=2))
    try:
        series = record_head_series(model, TOKENIZER, PROMPTS[:2], 5, progress=False)
    finally:
        handle.remove()
    assert all(EOS not in series.generated_ids(i).tolist() for i in range(2))
    assert np.isfinite(series.values).all()


def test_stop_at_eos_pads_with_nan_and_counts(models):
    model = models["llama"]
    reference = record_head_series(model, TOKENIZER, PROMPTS[:2], 6, progress=False)
    # Prompts are batched shortest first (stable): find the prompt in row 0.
    lengths = [len(render_prompt(TOKENIZER, text, "base")) for _, text in PROMPTS[:2]]
    hit = int(np.argsort(lengths, kind="stable")[0])
    other = 1 - hit
    handle = model.lm_head.register_forward_hook(ForceEos(row=0, at=2))
    try:
        series = record_head_series(
            model, TOKENIZER, PROMPTS[:2], 6, stop_at_eos=True, progress=False
        )
    finally:
        handle.remove()
    stopped = series.generated_ids(hit)
    assert stopped.tolist() == reference.generated_ids(hit).tolist()[:2] + [EOS]
    assert np.isfinite(series.values[hit, :3]).all() and np.isnan(series.values[hit, 3:]).all()
    np.testing.assert_allclose(series.values[hit, :3], reference.values[hit, :3], rtol=1e-5)
    assert series.generated_ids(other).tolist() == reference.generated_ids(other).tolist()
    np.testing.assert_allclose(series.values[other], reference.values[other], rtol=1e-5)
    assert series.metadata["n_eos_stopped"] == 1
    assert series.metadata["decoding"]["stop_at_eos"] is True


def test_stop_at_eos_ends_loop_when_all_stopped(models):
    model = models["gpt2"]
    handle = model.lm_head.register_forward_hook(ForceEos(row=0, at=1))
    try:
        series = record_head_series(
            model, TOKENIZER, PROMPTS[:1], 6, stop_at_eos=True, progress=False
        )
    finally:
        handle.remove()
    assert series.metadata["n_forward_passes"] == 2
    assert series.values.shape[1] == 6 and np.isnan(series.values[0, 2:]).all()


# --- caching ---------------------------------------------------------------------------------


class ForwardCounter:
    def __init__(self, model):
        self.calls = 0
        self.handle = model.register_forward_pre_hook(self._count)

    def _count(self, module, args):
        self.calls += 1


def test_cache_resumes_and_invalidates(models, tmp_path):
    model = models["qwen2"]
    counter = ForwardCounter(model)
    try:
        kwargs = {"batch_size": 2, "cache_dir": tmp_path / "cache", "progress": False}
        first = record_head_series(model, TOKENIZER, PROMPTS[:2], 4, **kwargs)
        assert counter.calls == 4  # one batch of two prompts, 4 steps
        assert len(list((tmp_path / "cache").glob("*.nc"))) == 2

        counter.calls = 0
        again = record_head_series(model, TOKENIZER, PROMPTS[:2], 4, **kwargs)
        assert counter.calls == 0
        assert again.metadata["n_cached"] == 2
        # the speed of the original computation survives the resume
        assert again.metadata["tokens_per_second"] == pytest.approx(
            first.metadata["tokens_per_second"]
        )
        np.testing.assert_array_equal(again.values, first.values)
        assert again.texts == first.texts
        assert [t.tolist() for t in again.token_ids] == [t.tolist() for t in first.token_ids]

        counter.calls = 0  # one new prompt: only it is computed
        more = record_head_series(model, TOKENIZER, PROMPTS, 4, **kwargs)
        assert counter.calls == 4 and more.metadata["n_cached"] == 2
        np.testing.assert_array_equal(more.values[:2], first.values)

        for changed in ({"reduction": "max"}, {"template": "none"}, {"stop_at_eos": True}):
            counter.calls = 0
            record_head_series(model, TOKENIZER, PROMPTS[:1], 4, **kwargs, **changed)
            assert counter.calls == 4, changed
        counter.calls = 0
        record_head_series(model, TOKENIZER, PROMPTS[:1], 5, **kwargs)
        assert counter.calls == 5

        counter.calls = 0  # changed weights invalidate
        with torch.no_grad():
            output_projections(model)[0].weight[0, 0] += 0.5
        try:
            record_head_series(model, TOKENIZER, PROMPTS[:1], 4, **kwargs)
        finally:
            with torch.no_grad():
                output_projections(model)[0].weight[0, 0] -= 0.5
        assert counter.calls == 4
    finally:
        counter.handle.remove()


def test_corrupt_cache_file_is_recomputed(models, tmp_path):
    model = models["llama"]
    kwargs = {"cache_dir": tmp_path, "progress": False}
    first = record_head_series(model, TOKENIZER, PROMPTS[:1], 3, **kwargs)
    (path,) = tmp_path.glob("*.nc")
    path.write_bytes(b"not a netcdf file")
    with pytest.warns(UserWarning, match="damaged cache file"):
        again = record_head_series(model, TOKENIZER, PROMPTS[:1], 3, **kwargs)
    assert again.metadata["n_cached"] == 0
    np.testing.assert_array_equal(again.values, first.values)


# --- errors and templates --------------------------------------------------------------------


def test_unsupported_architecture_error():
    from transformers import BertConfig, BertLMHeadModel

    config = BertConfig(
        vocab_size=len(TOKENIZER),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        is_decoder=True,
    )
    model = BertLMHeadModel(config).eval()
    with pytest.raises(UnsupportedArchitectureError) as info:
        record_head_series(model, TOKENIZER, ["hello"], 2, progress=False)
    message = str(info.value)
    assert "'bert'" in message and "llama" in message and "gpt2" in message
    assert "FAMILIES" in message  # says how to add one


def test_bad_arguments(models):
    model = models["llama"]
    with pytest.raises(ValueError, match="reduction"):
        record_head_series(model, TOKENIZER, ["hi"], 2, reduction="l1", progress=False)
    with pytest.raises(ValueError, match="max_new_tokens"):
        record_head_series(model, TOKENIZER, ["hi"], 0, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        record_head_series(model, TOKENIZER, ["hi"], 2, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="no prompts"):
        record_head_series(model, TOKENIZER, [], 2, progress=False)
    with pytest.raises(TypeError):
        record_head_series(model, TOKENIZER, "hi", 2, progress=False)
    with pytest.raises(ValueError, match="template"):
        record_head_series(model, TOKENIZER, ["hi"], 2, template="fancy", progress=False)


def test_templates():
    assert resolve_template(TOKENIZER, "auto") == "base"
    assert resolve_template(CHAT_TOKENIZER, "auto") == "chat"
    assert resolve_template(CHAT_TOKENIZER, "base") == "base"
    with pytest.raises(ValueError, match="no chat template"):
        resolve_template(TOKENIZER, "chat")

    def text(ids):
        return TOKENIZER.decode(ids)

    assert text(render_prompt(TOKENIZER, "Hi?", "auto")) == BASE_TEMPLATE.format(prompt="Hi?")
    assert text(render_prompt(TOKENIZER, "Hi?", "none")) == "Hi?"
    assert text(render_prompt(CHAT_TOKENIZER, "Hi?", "auto")) == "<user>Hi?\n<assistant>"


def test_chat_template_used_in_recording(models):
    series = record_head_series(
        models["llama"], CHAT_TOKENIZER, ["Hi?"], 3, template="auto", progress=False
    )
    assert series.metadata["template"] == "chat"
    prompt = TOKENIZER.decode(series.token_ids[0][: series.prompt_lengths[0]].tolist())
    assert prompt == "<user>Hi?\n<assistant>"


# --- the result object -----------------------------------------------------------------------


def test_save_load_round_trip(recorded, tmp_path):
    series = recorded["gemma2"]
    series.values[1, -2:] = np.nan  # NaN padding must survive
    path = series.save(tmp_path / "sub" / "series.nc")
    loaded = HeadSeries.load(path)
    np.testing.assert_array_equal(loaded.values, series.values)
    assert [t.tolist() for t in loaded.token_ids] == [t.tolist() for t in series.token_ids]
    assert loaded.texts == series.texts
    assert loaded.prompts == series.prompts
    assert loaded.categories == series.categories
    assert loaded.prompt_lengths.tolist() == series.prompt_lengths.tolist()
    assert loaded.metadata["decoding"] == series.metadata["decoding"]
    assert loaded.metadata["model_type"] == "gemma2"
    assert not list(path.parent.glob(".*tmp"))  # written atomically, no leftovers

    with xr.open_dataset(path, engine=netcdf_engine()) as ds:  # self-describing
        assert ds["series"].dims == ("prompt", "step", "layer", "head")
        assert ds.attrs["reduction"] == "l2"
        assert list(ds["category"].values) == series.categories
        assert "units" in ds["series"].attrs
        assert str(ds["generated_text"].values[0]) == series.texts[0]


def test_flat_is_layer_major():
    values = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    series = HeadSeries(values, [np.arange(4)] * 2, ["a", "b"], ["p", "q"])
    flat = series.flat()
    assert flat.shape == (2, 3, 20)
    for layer in range(4):
        for head in range(5):
            np.testing.assert_array_equal(flat[:, :, layer * 5 + head], values[:, :, layer, head])


def test_head_series_validates_shapes():
    with pytest.raises(ValueError, match="shape"):
        HeadSeries(np.zeros((2, 3, 4)), [], [], [])
    with pytest.raises(ValueError, match="texts"):
        HeadSeries(np.zeros((2, 3, 4, 5)), [[1], [2]], ["only one"], ["p", "q"])


# --- summaries -------------------------------------------------------------------------------


def test_lag1_autocorrelation_known_values():
    rng = np.random.default_rng(0)
    n = 20000
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = 0.8 * x[t - 1] + rng.normal()
    white = rng.normal(size=n)
    values = np.stack([x, white], axis=-1)[None, :, None, :]  # (1, T, 1 layer, 2 heads)
    rho = lag_correlation(values, 1, axis=-3)
    assert rho.shape == (1, 1, 2)
    assert abs(rho[0, 0, 0] - 0.8) < 0.02 and abs(rho[0, 0, 1]) < 0.03
    # Pearson of (x_t, x_{t+1}) pairs, exactly:
    short = rng.normal(size=(1, 30, 1, 1))
    expected = np.corrcoef(short[0, :-1, 0, 0], short[0, 1:, 0, 0])[0, 1]
    assert lag_correlation(short, 1, axis=-3)[0, 0, 0] == pytest.approx(expected, rel=1e-12)
    # NaN tail ignored; constant series and too-short series give NaN.
    padded = np.concatenate([short, np.full((1, 5, 1, 1), np.nan)], axis=1)
    assert lag_correlation(padded, 1, axis=-3)[0, 0, 0] == pytest.approx(expected, rel=1e-12)
    assert np.isnan(lag_correlation(np.ones((1, 10, 1, 1)), 1, axis=-3))[0, 0, 0]
    assert np.isnan(lag_correlation(np.arange(3.0).reshape(1, 3, 1, 1), 1, axis=-3))[0, 0, 0]


def test_self_information_matches_science_md():
    # Two independent AR(1) series with phi = 0.9: MMI synergy 2 min(a_x, a_y) = 1.66 nats.
    assert 2 * self_information_nats(0.9) == pytest.approx(1.6607, abs=1e-3)
    assert self_information_nats(0.0) == 0.0


def test_layer_mean_activity_and_description(recorded):
    series = recorded["llama"]
    means = layer_mean_activity(series)
    np.testing.assert_allclose(means, series.values.mean(axis=(0, 1, 3)), rtol=1e-6)
    text = describe_extraction(series)
    assert "2 layers × 4 heads = 8 head series" in text
    assert f"{len(PROMPTS)} prompts × {N_STEPS} generated tokens" in text
    rho = np.nanmedian(np.nanmean(lag_correlation(series.values, 1, axis=-3), axis=0))
    assert f"{rho:.2f}" in text
    assert "EOS was suppressed" in text


# --- the bundled default model ---------------------------------------------------------------


@pytest.mark.slow
def test_bundled_model_matches_teacher_forced_recomputation():
    from synergy_utils.lm.loading import load_model

    model, tokenizer = load_model()
    prompts = ["What is 7 + 5?", "Describe the colour blue to someone who cannot see."]
    series = record_head_series(model, tokenizer, prompts, 8, batch_size=2, progress=False)
    assert series.values.shape == (2, 8, 30, 9)
    assert series.metadata["template"] == "chat"
    for i in range(2):
        expected = direct_series(model, series.token_ids[i], int(series.prompt_lengths[i]), 8, "l2")
        np.testing.assert_allclose(series.values[i], expected, rtol=1e-4, atol=1e-5)
    single = record_head_series(model, tokenizer, prompts, 8, batch_size=1, progress=False)
    assert [t.tolist() for t in single.token_ids] == [t.tolist() for t in series.token_ids]
    np.testing.assert_allclose(single.values, series.values, rtol=1e-4, atol=1e-5)


def test_extraction_figures(recorded):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synergy_utils.report import figures

    series = recorded["gemma2"]
    fig = figures.plot_series_heatmap(series, prompt=1)
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(image, series.flat()[1].T)  # rows layer-major, x = step
    assert "step" in fig.axes[0].get_xlabel() and "layer" in fig.axes[0].get_ylabel()
    fig = figures.plot_layer_activity(series)
    np.testing.assert_allclose(
        fig.axes[0].lines[0].get_ydata(), layer_mean_activity(series), rtol=1e-5
    )
    fig = figures.plot_autocorrelation_by_layer(series)
    assert "autocorrelation" in fig.axes[0].get_ylabel()
    plt.close("all")


def test_sample_generations_and_summary(recorded):
    series = recorded["llama"]
    table = sample_generations(series, per_category=1, max_chars=10)
    assert list(table.columns) == ["prompt_index", "category", "prompt", "generated"]
    assert table["category"].tolist() == [c for c, _ in PROMPTS]  # one per category
    assert all(len(text) <= 10 for text in table["prompt"])
    assert table["prompt"].iloc[0].endswith("…")
    summary = extraction_summary(series, seconds=2.5)
    assert summary["n_prompts"] == len(PROMPTS) and summary["n_tokens"] == N_STEPS
    assert summary["n_tokens_total"] == len(PROMPTS) * N_STEPS
    assert (summary["n_layers"], summary["n_heads"]) == (2, 4)
    assert summary["seconds"] == 2.5
    rho = lag_correlation(series.values, 1, axis=-3).mean(axis=0)
    assert summary["mean_lag1_autocorrelation"] == pytest.approx(float(rho.mean()))
    assert summary["most_persistent_layer"] == int(np.argmax(rho.mean(axis=1)))
