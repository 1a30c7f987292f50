"""Per-head time series recorded while a causal language model generates text.

For every attention head we record one number per generated token: by default the L2 norm of
the head's attention output ``softmax(q K^T / sqrt(d)) V`` at the newest position, which is the
head's slice of the *input* of the attention output projection (``o_proj``, ``c_proj``,
``dense`` or ``out_proj``; see :mod:`synergy_utils.architectures`). Step ``k`` is the forward
pass that produced generated token ``k``; step 0 is the last position of the prompt's forward
pass.

Decoding is our own greedy loop with a KV cache (not ``model.generate``), so that each forward
pass handles exactly one new position per prompt and the hooks read only that position. EOS is
suppressed by default so every prompt yields a series of the same length; ``stop_at_eos=True``
lets EOS end a prompt early and pads the rest of its series with NaN.

Main entry point: :func:`record_head_series`, returning a :class:`HeadSeries`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm import tqdm

from .architectures import HeadLayout, head_layout, is_conv1d, output_projections
from .results import atomic_path, netcdf_engine, provenance, to_jsonable

#: Ways to reduce a head's output vector (at one position) to one number.
REDUCTIONS: tuple[str, ...] = ("l2", "mean", "max", "projected")
#: Prompt templates: "auto" picks "chat" when the tokenizer has a chat template, else "base".
TEMPLATES: tuple[str, ...] = ("auto", "chat", "base", "none")
#: The template for base (non-chat) models.
BASE_TEMPLATE = "Question: {prompt}\nAnswer:"
#: Identifies files written by :meth:`HeadSeries.save`.
FILE_FORMAT = "synergy_utils.HeadSeries/1"
_CACHE_VERSION = 1


_REDUCTION_DESCRIPTIONS = {
    "l2": "L2 norm of the head's attention output (its slice of the output-projection input)",
    "mean": "mean of the head's attention output vector",
    "max": "maximum of the head's attention output vector",
    "projected": "L2 norm of the head's contribution after the output projection (no bias)",
}


# --- the result ------------------------------------------------------------------------------


@dataclass
class HeadSeries:
    """Per-head time series of a set of prompts.

    Attributes:
        values: float32 array (n_prompts, n_steps, n_layers, n_heads); ``values[p, k, l, h]`` is
            the reduced output of head ``h`` of layer ``l`` in the forward pass that produced
            generated token ``k`` of prompt ``p`` (NaN after an early EOS stop).
        token_ids: per prompt, the 1-D int64 sequence of token ids, prompt then generated.
        texts: per prompt, the generated text (special tokens removed).
        prompts: per prompt, the prompt text before templating.
        categories: per prompt, its category (see :mod:`synergy_utils.prompts`), or None.
        metadata: model, reduction, template, decoding settings, timings and provenance.
        prompt_lengths: per prompt, the number of (templated) prompt tokens at the start of
            ``token_ids``; the generated tokens are ``token_ids[p][prompt_lengths[p]:]``.
    """

    values: np.ndarray
    token_ids: list[np.ndarray]
    texts: list[str]
    prompts: list[str]
    categories: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    prompt_lengths: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.ndim != 4:
            raise ValueError(
                "values must have shape (n_prompts, n_steps, n_layers, n_heads), "
                f"got {self.values.shape}"
            )
        n = self.values.shape[0]
        self.token_ids = [np.asarray(t, dtype=np.int64).reshape(-1) for t in self.token_ids]
        self.texts = [str(t) for t in self.texts]
        self.prompts = [str(p) for p in self.prompts]
        if self.categories is not None:
            self.categories = [str(c) for c in self.categories]
        if self.prompt_lengths is not None:
            self.prompt_lengths = np.asarray(self.prompt_lengths, dtype=np.int64).reshape(-1)
        for name in ("token_ids", "texts", "prompts", "categories", "prompt_lengths"):
            item = getattr(self, name)
            if item is not None and len(item) != n:
                raise ValueError(f"{name} has {len(item)} entries for {n} prompts")

    @property
    def n_prompts(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.values.shape[1])

    @property
    def n_layers(self) -> int:
        return int(self.values.shape[2])

    @property
    def n_heads(self) -> int:
        return int(self.values.shape[3])

    def flat(self) -> np.ndarray:
        """Values as (n_prompts, n_steps, n_layers * n_heads), layer-major.

        Column ``layer * n_heads + head`` holds head ``head`` of layer ``layer``: the node
        order used by the PhiID stage.
        """
        n, t, n_layers, n_heads = self.values.shape
        return self.values.reshape(n, t, n_layers * n_heads)

    def generated_ids(self, prompt: int) -> np.ndarray:
        """The generated token ids of prompt ``prompt`` (without the prompt tokens)."""
        if self.prompt_lengths is None:
            raise ValueError("prompt_lengths unknown for this HeadSeries")
        return self.token_ids[prompt][int(self.prompt_lengths[prompt]) :]

    def to_xarray(self) -> xr.Dataset:
        """A self-describing :class:`xarray.Dataset` (dims prompt, step, layer, head, token)."""
        n = self.n_prompts
        lengths = np.array([len(t) for t in self.token_ids], dtype=np.int64)
        width = int(lengths.max()) if n else 0
        tokens = np.full((n, width), -1, dtype=np.int64)
        for row, ids in enumerate(self.token_ids):
            tokens[row, : len(ids)] = ids
        prompt_lengths = (
            self.prompt_lengths if self.prompt_lengths is not None else np.full(n, -1, np.int64)
        )
        reduction = str(self.metadata.get("reduction", "unknown"))
        coords: dict[str, Any] = {
            "prompt": np.arange(n),
            "step": np.arange(self.n_steps),
            "layer": np.arange(self.n_layers),
            "head": np.arange(self.n_heads),
        }
        if self.categories is not None:
            coords["category"] = ("prompt", np.array(self.categories, dtype=object))
        data_vars = {
            "series": (
                ("prompt", "step", "layer", "head"),
                self.values,
                {
                    "long_name": _REDUCTION_DESCRIPTIONS.get(reduction, reduction),
                    "units": "activation units (model hidden-state scale)",
                    "description": "step k = forward pass that produced generated token k; "
                    "step 0 = last position of the prompt pass; NaN after an EOS stop",
                },
            ),
            "token_ids": (
                ("prompt", "token"),
                tokens,
                {"description": "prompt + generated token ids, padded with -1 on the right"},
            ),
            "n_tokens": (("prompt",), lengths, {"description": "valid entries of token_ids"}),
            "prompt_length": (
                ("prompt",),
                prompt_lengths,
                {"description": "number of templated prompt tokens at the start of token_ids"},
            ),
            "prompt_text": (("prompt",), np.array(self.prompts, dtype=object)),
            "generated_text": (("prompt",), np.array(self.texts, dtype=object)),
        }
        attrs = {
            "format": FILE_FORMAT,
            "title": "Per-head attention-output time series during greedy generation",
            "model": str(self.metadata.get("model", "unknown")),
            "reduction": reduction,
            "template": str(self.metadata.get("template", "unknown")),
            "metadata_json": json.dumps(to_jsonable(self.metadata)),
        }
        return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)

    @classmethod
    def from_xarray(cls, ds: xr.Dataset) -> HeadSeries:
        """Inverse of :meth:`to_xarray`."""
        if ds.attrs.get("format") != FILE_FORMAT:
            raise ValueError(
                f"not a HeadSeries dataset (format attribute {ds.attrs.get('format')!r})"
            )
        tokens = ds["token_ids"].values
        lengths = ds["n_tokens"].values
        prompt_lengths = ds["prompt_length"].values.astype(np.int64)
        return cls(
            values=ds["series"].values.astype(np.float32),
            token_ids=[tokens[i, : int(lengths[i])].copy() for i in range(len(lengths))],
            texts=[str(t) for t in ds["generated_text"].values],
            prompts=[str(p) for p in ds["prompt_text"].values],
            categories=(
                [str(c) for c in ds["category"].values] if "category" in ds.coords else None
            ),
            metadata=json.loads(ds.attrs.get("metadata_json", "{}")),
            prompt_lengths=None if (prompt_lengths < 0).any() else prompt_lengths,
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write to NetCDF-4 (engine from :func:`netcdf_engine`), atomically. Returns the path."""
        with atomic_path(path) as tmp:
            self.to_xarray().to_netcdf(tmp, engine=netcdf_engine())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> HeadSeries:
        """Read a file written by :meth:`save`."""
        with xr.open_dataset(path, engine=netcdf_engine()) as ds:
            return cls.from_xarray(ds.load())


# --- prompts and templates -------------------------------------------------------------------


def resolve_template(tokenizer: Any, template: str = "auto") -> str:
    """The concrete template ("chat", "base" or "none") that ``template`` means here."""
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {TEMPLATES}, got {template!r}")
    has_chat = bool(getattr(tokenizer, "chat_template", None))
    if template == "auto":
        return "chat" if has_chat else "base"
    if template == "chat" and not has_chat:
        raise ValueError(
            "template='chat' but the tokenizer has no chat template; use template='base' "
            f"({BASE_TEMPLATE!r}) or 'none' (the raw prompt)"
        )
    return template


def render_prompt(tokenizer: Any, prompt: str, template: str = "auto") -> list[int]:
    """Token ids of ``prompt`` under ``template`` (see :func:`resolve_template`).

    "chat": the tokenizer's chat template with one user message and the generation prompt
    (tokenized without adding special tokens: the template holds them); "base":
    ``"Question: {prompt}\\nAnswer:"``; "none": the prompt as is. "base" and "none" add the
    tokenizer's usual special tokens (e.g. BOS).
    """
    kind = resolve_template(tokenizer, template)
    if kind == "chat":
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        text = BASE_TEMPLATE.format(prompt=prompt) if kind == "base" else prompt
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    if len(ids) == 0:
        raise ValueError(f"prompt {prompt!r} gives no tokens under template {kind!r}")
    return [int(i) for i in ids]


def _split_prompts(prompts: Sequence[Any]) -> tuple[list[str], list[str] | None]:
    """Prompt texts and categories from strings or ``(category, text)`` pairs."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of strings or (category, text) pairs")
    prompts = list(prompts)
    if not prompts:
        raise ValueError("no prompts given")
    if all(isinstance(p, str) for p in prompts):
        return prompts, None
    if all(isinstance(p, (tuple, list)) and len(p) == 2 for p in prompts):
        return [str(p[1]) for p in prompts], [str(p[0]) for p in prompts]
    raise TypeError("prompts must be all strings or all (category, text) pairs")


def eos_token_ids(model: nn.Module, tokenizer: Any = None) -> list[int]:
    """End-of-sequence ids: the tokenizer's and the generation config's (else the config's)."""
    sources: list[Any] = [getattr(tokenizer, "eos_token_id", None)]
    generation_config = getattr(model, "generation_config", None)
    if generation_config is not None:
        sources.append(getattr(generation_config, "eos_token_id", None))
    else:
        sources.append(getattr(model.config, "eos_token_id", None))
    ids: set[int] = set()
    for source in sources:
        if source is None:
            continue
        if isinstance(source, int):
            ids.add(source)
        else:
            ids.update(int(i) for i in source)
    return sorted(ids)


def _pad_token_id(tokenizer: Any, eos_ids: Sequence[int]) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is not None:
        return int(pad)
    return int(eos_ids[0]) if eos_ids else 0


# --- greedy decoding -------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _forward_parameters(model: nn.Module) -> set[str]:
    return set(inspect.signature(model.forward).parameters)


def _cache_keyword(parameters: set[str]) -> str:
    """Name of the KV-cache argument: ``cache`` (transformers >= 5.x) or ``past_key_values``."""
    if "cache" in parameters:
        return "cache"
    if "past_key_values" in parameters:
        return "past_key_values"
    raise TypeError("the model's forward takes neither `cache` nor `past_key_values`")


def _output_cache(outputs: Any) -> Any:
    cache = getattr(outputs, "cache", None)
    return cache if cache is not None else getattr(outputs, "past_key_values", None)


@dataclass
class DecodeResult:
    """Output of :func:`greedy_decode`.

    Attributes:
        generated: per prompt, the generated token ids (ending with EOS if it stopped there).
        stop_steps: per prompt, the step that produced EOS when ``stop_at_eos``, else None.
        n_forward: forward passes run.
    """

    generated: list[list[int]]
    stop_steps: list[int | None]
    n_forward: int


@torch.inference_mode()
def greedy_decode(
    model: nn.Module,
    prompt_ids: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    eos_token_ids: Sequence[int] = (),
    stop_at_eos: bool = False,
    pad_token_id: int = 0,
    on_step: Callable[[int], None] | None = None,
    progress_bar: Any = None,
) -> DecodeResult:
    """Greedy decoding of a batch of prompts with a KV cache, one new position per pass.

    Prompts are left-padded to a common length with an attention mask, and position ids count
    only real tokens, so each prompt decodes as it would alone. The first pass runs over the
    whole (padded) prompt; pass ``k > 0`` feeds token ``k - 1`` only. ``on_step(k)`` is called
    before pass ``k``. EOS ids have their logits set to -inf unless ``stop_at_eos``, in which
    case a prompt that emits EOS stops (its later inputs are padding) and the loop ends when
    every prompt has stopped.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    device = _model_device(model)
    n_rows = len(prompt_ids)
    width = max(len(ids) for ids in prompt_ids)
    input_ids = torch.full((n_rows, width), pad_token_id, dtype=torch.long, device=device)
    attention_mask = torch.zeros((n_rows, width), dtype=torch.long, device=device)
    for row, ids in enumerate(prompt_ids):
        if len(ids) == 0:
            raise ValueError(f"prompt {row} has no tokens")
        input_ids[row, width - len(ids) :] = torch.as_tensor(list(ids), device=device)
        attention_mask[row, width - len(ids) :] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)

    parameters = _forward_parameters(model)
    cache_keyword = _cache_keyword(parameters)
    first_extra = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
    eos = torch.as_tensor(sorted(set(eos_token_ids)), dtype=torch.long, device=device)
    generated = torch.full((n_rows, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    finished = torch.zeros(n_rows, dtype=torch.bool, device=device)
    stop_step = torch.full((n_rows,), -1, dtype=torch.long, device=device)

    cache = None
    step_input, step_positions = input_ids, position_ids
    n_steps = 0
    for step in range(max_new_tokens):
        if on_step is not None:
            on_step(step)
        kwargs: dict[str, Any] = {
            "input_ids": step_input,
            "attention_mask": attention_mask,
            "position_ids": step_positions,
            "use_cache": True,
        }
        if cache is None:
            kwargs.update(first_extra)
        else:
            kwargs[cache_keyword] = cache
        outputs = model(**kwargs)
        cache = _output_cache(outputs)
        logits = outputs.logits[:, -1, :].float().clone()
        valid_eos = eos[eos < logits.shape[-1]]
        if not stop_at_eos and valid_eos.numel():
            logits[:, valid_eos] = -math.inf
        next_tokens = logits.argmax(dim=-1)
        if stop_at_eos and valid_eos.numel():
            next_tokens = next_tokens.masked_fill(finished, pad_token_id)
            new_stop = torch.isin(next_tokens, valid_eos) & ~finished
            stop_step[new_stop] = step
            finished |= new_stop
        generated[:, step] = next_tokens
        n_steps = step + 1
        if progress_bar is not None:
            progress_bar.update(n_rows)
        if step == max_new_tokens - 1 or (stop_at_eos and bool(finished.all())):
            break
        step_input = next_tokens[:, None]
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((n_rows, 1))], dim=1)
        step_positions = step_positions[:, -1:] + 1

    generated_list, stops = [], []
    stop_cpu = stop_step.cpu().tolist()
    gen_cpu = generated.cpu().tolist()
    for row in range(n_rows):
        stop = stop_cpu[row] if stop_cpu[row] >= 0 else None
        stops.append(stop)
        generated_list.append(gen_cpu[row][: (stop + 1 if stop is not None else n_steps)])
    return DecodeResult(generated_list, stops, n_steps)


# --- recording hooks -------------------------------------------------------------------------


class _HeadRecorder:
    """Forward pre-hooks on every output projection that reduce the newest position per head."""

    def __init__(self, model: nn.Module, layout: HeadLayout, reduction: str):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.layout = layout
        self.reduction = reduction
        self.projections = output_projections(model)
        self.device = _model_device(model)
        self.buffer: torch.Tensor | None = None
        self.step = 0

    def start(self, n_rows: int, n_steps: int) -> None:
        """A fresh NaN buffer (n_rows, n_steps, n_layers, n_heads) for the next batch."""
        shape = (n_rows, n_steps, self.layout.n_layers, self.layout.n_heads)
        self.buffer = torch.full(shape, math.nan, dtype=torch.float32, device=self.device)
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = step

    def _head_weight(self, layer: int) -> torch.Tensor:
        """Output-projection weight as (n_heads, head_dim, hidden), float32."""
        proj = self.projections[layer]
        n_heads, head_dim = self.layout.n_heads, self.layout.head_dim
        weight = proj.weight.detach().to(torch.float32)
        if is_conv1d(proj):  # (in, out)
            return weight.reshape(n_heads, head_dim, -1)
        return weight.reshape(weight.shape[0], n_heads, head_dim).permute(1, 2, 0)

    def reduce(self, newest: torch.Tensor, layer: int) -> torch.Tensor:
        """(batch, n_heads * head_dim) projection input -> (batch, n_heads) float32."""
        heads = newest.to(torch.float32).reshape(
            newest.shape[0], self.layout.n_heads, self.layout.head_dim
        )
        if self.reduction == "l2":
            return torch.linalg.vector_norm(heads, dim=-1)
        if self.reduction == "mean":
            return heads.mean(dim=-1)
        if self.reduction == "max":
            return heads.amax(dim=-1)
        contribution = torch.einsum("bhd,hdo->bho", heads, self._head_weight(layer))
        return torch.linalg.vector_norm(contribution, dim=-1)

    def _hook(self, layer: int) -> Callable:
        expected = self.layout.n_heads * self.layout.head_dim

        def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
            x = args[0] if args else next(iter(kwargs.values()))
            if x.dim() != 3 or x.shape[-1] != expected:
                raise RuntimeError(
                    f"layer {layer}: output-projection input has shape {tuple(x.shape)}, "
                    f"expected (batch, seq, {expected}) = n_heads {self.layout.n_heads} x "
                    f"head_dim {self.layout.head_dim}; the architecture table may be wrong "
                    "for this model (synergy_utils.architectures.FAMILIES)"
                )
            if self.buffer is not None:
                self.buffer[:, self.step, layer] = self.reduce(x[:, -1, :], layer)

        return hook

    @contextmanager
    def attached(self) -> Iterator[_HeadRecorder]:
        handles = [
            proj.register_forward_pre_hook(self._hook(layer), with_kwargs=True)
            for layer, proj in enumerate(self.projections)
        ]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()


# --- caching ---------------------------------------------------------------------------------


def _sha256(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def model_fingerprint(model: nn.Module, samples_per_tensor: int = 256) -> str:
    """Hash of the model's name, config and a cheap weight fingerprint.

    The weight part hashes, for every parameter, its name, shape, dtype, its sum and sum of
    absolute values (float64) and an evenly strided sample of ``samples_per_tensor`` values:
    re-initialised, perturbed or re-quantised weights change it.
    """
    config = model.config
    try:
        config_text = config.to_json_string(use_diff=False)
    except (TypeError, ValueError):
        config_text = repr(config)
    digest = hashlib.sha256()
    digest.update(str(getattr(config, "name_or_path", "")).encode())
    digest.update(config_text.encode())
    with torch.no_grad():
        for name, param in model.named_parameters():
            flat = param.detach().reshape(-1)
            stride = max(1, flat.numel() // samples_per_tensor)
            sample = flat[::stride][:samples_per_tensor].to(torch.float32).cpu().numpy()
            sums = (
                float(flat.sum(dtype=torch.float64)),
                float(flat.abs().sum(dtype=torch.float64)),
            )
            digest.update(f"{name}|{tuple(param.shape)}|{param.dtype}|{sums!r}".encode())
            digest.update(sample.tobytes())
    return digest.hexdigest()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of the tokenizer's class, name, size and chat template."""
    return _sha256(
        type(tokenizer).__name__,
        getattr(tokenizer, "name_or_path", ""),
        len(tokenizer) if hasattr(tokenizer, "__len__") else "",
        getattr(tokenizer, "chat_template", None) or "",
    )


def _cache_file(cache_dir: Path, base_key: str, prompt: str, ids: Sequence[int]) -> Path:
    key = _sha256(base_key, json.dumps({"prompt": prompt, "input_ids": list(ids)}))
    return cache_dir / f"{key}.nc"


@dataclass
class _PromptResult:
    values: np.ndarray  # (n_steps, n_layers, n_heads) float32
    token_ids: np.ndarray
    text: str
    prompt_length: int
    stop_step: int | None
    seconds: float  # this prompt's share of its batch's decoding time


def _write_cached(path: Path, result: _PromptResult, prompt: str) -> None:
    ds = xr.Dataset(
        {
            "series": (("step", "layer", "head"), result.values.astype(np.float32)),
            "token_ids": (("token",), result.token_ids.astype(np.int64)),
        },
        attrs={
            "cache_version": _CACHE_VERSION,
            "prompt": prompt,
            "text": result.text,
            "prompt_length": int(result.prompt_length),
            "stop_step": -1 if result.stop_step is None else int(result.stop_step),
            "seconds": float(result.seconds),
        },
    )
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=netcdf_engine())


def _read_cached(path: Path, shape: tuple[int, int, int]) -> _PromptResult | None:
    if not path.exists():
        return None
    try:
        with xr.open_dataset(path, engine=netcdf_engine()) as ds:
            ds = ds.load()
        values = ds["series"].values.astype(np.float32)
        if values.shape != shape or int(ds.attrs["cache_version"]) != _CACHE_VERSION:
            return None
        stop = int(ds.attrs["stop_step"])
        return _PromptResult(
            values=values,
            token_ids=ds["token_ids"].values.astype(np.int64),
            text=str(ds.attrs["text"]),
            prompt_length=int(ds.attrs["prompt_length"]),
            stop_step=None if stop < 0 else stop,
            seconds=float(ds.attrs.get("seconds", math.nan)),
        )
    except (OSError, KeyError, ValueError):
        return None  # unreadable or partial: recompute


# --- the main entry point --------------------------------------------------------------------


def record_head_series(
    model: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str] | Sequence[tuple[str, str]],
    max_new_tokens: int = 100,
    *,
    reduction: str = "l2",
    template: str = "auto",
    batch_size: int = 8,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    stop_at_eos: bool = False,
    seed: int = 0,
) -> HeadSeries:
    """Generate greedily from each prompt and record one value per head per generated token.

    Args:
        model: a Hugging Face causal LM of a family in
            :data:`synergy_utils.architectures.FAMILIES` (else
            :class:`~synergy_utils.architectures.UnsupportedArchitectureError`).
        tokenizer: its tokenizer.
        prompts: prompt strings, or ``(category, text)`` pairs as from
            :func:`synergy_utils.prompts.select_prompts`.
        max_new_tokens: tokens generated per prompt = length of each series.
        reduction: "l2" (norm of the head's attention output; the reference method), "mean",
            "max" (of the head's output vector) or "projected" (norm of the head's contribution
            after the output projection, bias excluded).
        template: "auto", "chat", "base" or "none" (see :func:`render_prompt`).
        batch_size: prompts per forward pass (left padding; results equal one at a time).
        cache_dir: if given, each prompt's series is stored there as soon as its batch ends,
            keyed on the model (name, config, weight fingerprint), the tokenizer, the prompt
            and every setting that changes the result; a re-run loads instead of recomputing.
        progress: show a tqdm bar over generated tokens.
        stop_at_eos: let EOS end a prompt (rest of its series NaN) instead of suppressing it.
        seed: seeds torch (greedy decoding itself is deterministic).

    Returns:
        :class:`HeadSeries` with ``values`` of shape (n_prompts, max_new_tokens, n_layers,
        n_heads), float32.
    """
    layout = head_layout(model)  # fails early for an unsupported family
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    texts, categories = _split_prompts(prompts)
    kind = resolve_template(tokenizer, template)
    prompt_ids = [render_prompt(tokenizer, text, kind) for text in texts]
    eos_ids = eos_token_ids(model, tokenizer)
    pad_id = _pad_token_id(tokenizer, eos_ids)
    torch.manual_seed(seed)

    settings = {
        "decoding": "greedy",
        "max_new_tokens": max_new_tokens,
        "reduction": reduction,
        "template": kind,
        "suppress_eos": not stop_at_eos,
        "stop_at_eos": stop_at_eos,
        "eos_token_ids": eos_ids,
        "seed": seed,
    }
    shape = (max_new_tokens, layout.n_layers, layout.n_heads)
    results: list[_PromptResult | None] = [None] * len(texts)
    cache_files: list[Path] | None = None
    if cache_dir is not None:
        cache_path = Path(cache_dir)
        base_key = _sha256(
            _CACHE_VERSION,
            model_fingerprint(model),
            tokenizer_fingerprint(tokenizer),
            json.dumps(settings, sort_keys=True),
        )
        cache_files = [
            _cache_file(cache_path, base_key, text, ids)
            for text, ids in zip(texts, prompt_ids, strict=True)
        ]
        results = [_read_cached(path, shape) for path in cache_files]
    n_cached = sum(r is not None for r in results)

    # Group prompts of similar length to waste little compute on padding.
    todo = sorted((i for i, r in enumerate(results) if r is None), key=lambda i: len(prompt_ids[i]))
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    start = time.perf_counter()
    n_forward = 0
    if batches:
        was_training = model.training
        model.eval()
        recorder = _HeadRecorder(model, layout, reduction)
        bar = tqdm(
            total=len(todo) * max_new_tokens,
            unit="tok",
            desc="recording heads",
            disable=not progress,
            mininterval=2.0,
        )
        try:
            with recorder.attached(), torch.inference_mode(), bar:
                for batch in batches:
                    recorder.start(len(batch), max_new_tokens)
                    batch_start = time.perf_counter()
                    decoded = greedy_decode(
                        model,
                        [prompt_ids[i] for i in batch],
                        max_new_tokens,
                        eos_token_ids=eos_ids,
                        stop_at_eos=stop_at_eos,
                        pad_token_id=pad_id,
                        on_step=recorder.set_step,
                        progress_bar=bar,
                    )
                    n_forward += decoded.n_forward
                    values = recorder.buffer.cpu().numpy()
                    batch_seconds = time.perf_counter() - batch_start
                    for row, index in enumerate(batch):
                        series = values[row].copy()
                        stop = decoded.stop_steps[row]
                        if stop is not None:
                            series[stop + 1 :] = np.nan
                        generated = decoded.generated[row]
                        result = _PromptResult(
                            values=series,
                            token_ids=np.asarray(prompt_ids[index] + generated, dtype=np.int64),
                            text=tokenizer.decode(generated, skip_special_tokens=True),
                            prompt_length=len(prompt_ids[index]),
                            stop_step=stop,
                            seconds=batch_seconds / len(batch),
                        )
                        results[index] = result
                        if cache_files is not None:
                            _write_cached(cache_files[index], result, texts[index])
        finally:
            model.train(was_training)
    seconds = time.perf_counter() - start

    done = [r for r in results if r is not None]
    n_generated = sum(len(r.token_ids) - r.prompt_length for r in done)
    compute_seconds = float(sum(r.seconds for r in done))
    config = model.config
    metadata = {
        "model": str(getattr(config, "name_or_path", "") or type(model).__name__),
        "model_class": type(model).__name__,
        "model_type": layout.model_type,
        "n_layers": layout.n_layers,
        "n_heads": layout.n_heads,
        "head_dim": layout.head_dim,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "device": str(_model_device(model)),
        "tokenizer": str(getattr(tokenizer, "name_or_path", "")),
        "reduction": reduction,
        "reduction_description": _REDUCTION_DESCRIPTIONS[reduction],
        "template": kind,
        "template_requested": template,
        "decoding": {
            "strategy": "greedy",
            "max_new_tokens": max_new_tokens,
            "suppress_eos": not stop_at_eos,
            "stop_at_eos": stop_at_eos,
            "eos_token_ids": eos_ids,
            "pad_token_id": pad_id,
            "batch_size": batch_size,
            "seed": seed,
        },
        "n_eos_stopped": sum(r.stop_step is not None for r in done),
        "n_prompts": len(done),
        "n_cached": n_cached,
        "n_forward_passes": n_forward,
        "seconds": seconds,
        "compute_seconds": compute_seconds,
        "tokens_per_second": (
            n_generated / compute_seconds if n_generated and compute_seconds > 0 else None
        ),
        "provenance": provenance(**settings, batch_size=batch_size),
    }
    return HeadSeries(
        values=np.stack([r.values for r in done]).astype(np.float32),
        token_ids=[r.token_ids for r in done],
        texts=[r.text for r in done],
        prompts=texts,
        categories=categories,
        metadata=metadata,
        prompt_lengths=np.array([r.prompt_length for r in done], dtype=np.int64),
    )


# --- summaries of the recorded series --------------------------------------------------------


def lag1_autocorrelation(values: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``x_t`` with ``x_{t+1}`` along the step axis, per series.

    Args:
        values: (..., n_steps, n_layers, n_heads), e.g. :attr:`HeadSeries.values`; NaN steps
            (after an EOS stop) are left out pairwise.

    Returns:
        (..., n_layers, n_heads) float64; NaN where a series is constant or has fewer than
        3 valid pairs. Under the Gaussian estimator a head's self-information at lag 1 is
        ``-0.5 * ln(1 - r**2)`` nats.
    """
    x = np.moveaxis(np.asarray(values, dtype=np.float64), -3, 0)
    past, future = x[:-1], x[1:]
    valid = np.isfinite(past) & np.isfinite(future)
    n = valid.sum(axis=0)
    past = np.where(valid, past, 0.0)
    future = np.where(valid, future, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = past.sum(axis=0) / n
        mean_f = future.sum(axis=0) / n
        dp = np.where(valid, past - mean_p, 0.0)
        df = np.where(valid, future - mean_f, 0.0)
        cov = (dp * df).sum(axis=0)
        var = (dp**2).sum(axis=0) * (df**2).sum(axis=0)
        rho = cov / np.sqrt(var)
    rho[(n < 3) | ~(var > 1e-300)] = np.nan
    return rho


def self_information_nats(rho: np.ndarray | float) -> np.ndarray | float:
    """Gaussian lag-1 mutual information ``I(x_t; x_{t+1}) = -0.5 ln(1 - rho^2)`` (nats)."""
    rho = np.asarray(rho, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -0.5 * np.log1p(-np.minimum(rho**2, 1.0))


def layer_mean_activity(series: HeadSeries) -> np.ndarray:
    """Mean value per layer (over prompts, steps and heads), shape (n_layers,)."""
    return np.nanmean(series.values, axis=(0, 1, 3)).astype(np.float64)


def describe_extraction(series: HeadSeries) -> str:
    """A Markdown paragraph summarising a recording, built from its numbers."""
    meta = series.metadata
    rho_per_head = np.nanmean(lag1_autocorrelation(series.values), axis=0)  # (layers, heads)
    median_rho = float(np.nanmedian(rho_per_head))
    share_persistent = float(np.nanmean(rho_per_head > 0.5))
    floor = 2 * float(self_information_nats(median_rho))
    layer_rho = np.nanmean(rho_per_head, axis=1)
    top_layer = int(np.nanargmax(layer_rho))
    n_tokens = series.n_prompts * series.n_steps
    speed = meta.get("tokens_per_second")
    speed_text = (
        f" at {speed:.1f} generated tokens per second" if isinstance(speed, (int, float)) else ""
    )
    stopped = meta.get("n_eos_stopped", 0)
    eos_text = (
        f" {stopped} prompt(s) stopped early at EOS; their series end in NaN."
        if stopped
        else " EOS was suppressed, so every series has the same length."
    )
    return (
        f"We recorded **{series.n_layers} layers × {series.n_heads} heads = "
        f"{series.n_layers * series.n_heads} head series** (reduction `{meta.get('reduction')}`)"
        f" for **{series.n_prompts} prompts × {series.n_steps} generated tokens** "
        f"({n_tokens} steps in all) from `{meta.get('model')}`{speed_text}.{eos_text} "
        f"The median head has a lag-1 autocorrelation of **{median_rho:.2f}** (averaged over "
        f"prompts), and {100 * share_persistent:.0f}% of heads exceed 0.5; layer {top_layer} "
        f"is the most persistent (mean {layer_rho[top_layer]:.2f}). Under the Gaussian MMI "
        f"estimator, two *independent* series with the median autocorrelation would already "
        f"show a synergy of about **{floor:.3f} nats** (2 × the lag-1 "
        f"self-information), so synergy values must be read against this floor."
    )


def sample_generations(series: HeadSeries, per_category: int = 2, max_chars: int = 160):
    """A table of prompts and their generated text: the first ``per_category`` of each category.

    Returns a :class:`pandas.DataFrame` with columns ``prompt_index``, ``category``, ``prompt``
    and ``generated`` (texts longer than ``max_chars`` are cut and end in "…"; newlines shown
    as "⏎").
    """
    import pandas as pd

    def clip(text: str) -> str:
        text = text.replace("\n", " ⏎ ").strip()
        return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"

    categories = series.categories or [""] * series.n_prompts
    seen: dict[str, int] = {}
    rows = []
    for index, category in enumerate(categories):
        if seen.get(category, 0) >= per_category:
            continue
        seen[category] = seen.get(category, 0) + 1
        rows.append(
            {
                "prompt_index": index,
                "category": category,
                "prompt": clip(series.prompts[index]),
                "generated": clip(series.texts[index]),
            }
        )
    return pd.DataFrame(rows, columns=["prompt_index", "category", "prompt", "generated"])


def extraction_summary(series: HeadSeries, seconds: float | None = None) -> dict[str, Any]:
    """Headline numbers of a recording for ``summary.json`` (key ``extraction``).

    ``seconds`` is the wall time of the recording call (default: the one in the metadata).
    ``tokens_per_second`` is generated tokens over decoding time, counting the time stored
    with prompts loaded from the cache, so a resumed run reports the original speed.
    """
    meta = series.metadata
    rho = np.nanmean(lag1_autocorrelation(series.values), axis=0)  # (layers, heads)
    layer_rho = np.nanmean(rho, axis=1)
    return {
        "model": meta.get("model"),
        "n_prompts": series.n_prompts,
        "n_tokens": series.n_steps,
        "n_tokens_total": int(np.isfinite(series.values[:, :, 0, 0]).sum()),
        "n_layers": series.n_layers,
        "n_heads": series.n_heads,
        "reduction": meta.get("reduction"),
        "template": meta.get("template"),
        "seconds": float(seconds if seconds is not None else meta.get("seconds", np.nan)),
        "compute_seconds": meta.get("compute_seconds"),
        "tokens_per_second": meta.get("tokens_per_second"),
        "n_cached": meta.get("n_cached", 0),
        "n_eos_stopped": meta.get("n_eos_stopped", 0),
        "mean_lag1_autocorrelation": float(np.nanmean(rho)),
        "median_lag1_autocorrelation": float(np.nanmedian(rho)),
        "most_persistent_layer": int(np.nanargmax(layer_rho)),
        "provenance": meta.get("provenance"),
    }
