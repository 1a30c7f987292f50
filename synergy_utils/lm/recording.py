"""Record one number per attention head per generated token while a model writes.

For every attention head we record by default the L2 norm of the head's attention output
``softmax(q K^T / sqrt(d)) V`` at the newest position, which is the head's slice of the
*input* of the attention output projection (``o_proj``, ``c_proj``, ``dense`` or
``out_proj``; see :mod:`synergy_utils.lm.architectures`). Step ``k`` is the forward pass that
produced generated token ``k``; step 0 is the last position of the prompt's forward pass.
EOS is suppressed by default so every prompt yields a series of the same length;
``stop_at_eos=True`` lets EOS end a prompt early and pads the rest of its series with NaN.

Main entry point: :func:`record_head_series`, returning a :class:`~synergy_utils.series.HeadSeries`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from ..results import load_dataset, provenance, save_dataset
from ..series import REDUCTION_DESCRIPTIONS, REDUCTIONS, HeadSeries
from .architectures import (
    HeadLayout,
    NodeLayout,
    head_layout,
    is_conv1d,
    node_layout,
    output_projections,
)
from .decoding import (
    _model_device,
    _split_prompts,
    eos_token_ids,
    greedy_decode,
    pad_token_id,
    render_prompt,
    resolve_template,
)
from .nodes import node_metadata, node_recorder

_CACHE_VERSION = 1


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
                    "for this model (synergy_utils.lm.architectures.MODEL_FAMILIES)"
                )
            if self.buffer is not None:  # the layer may sit on another device (sharded)
                values = self.reduce(x[:, -1, :], layer)
                self.buffer[:, self.step, layer] = values.to(self.buffer.device)

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
    eos_step: int | None = None  # natural end: first step where EOS was the greedy choice


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
            "eos_step": -1 if result.eos_step is None else int(result.eos_step),
        },
    )
    save_dataset(ds, path)


def _read_cached(path: Path, shape: tuple[int, int, int]) -> _PromptResult | None:
    if not path.exists():
        return None
    try:
        ds = load_dataset(path)
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
            eos_step=None if int(ds.attrs.get("eos_step", -1)) < 0 else int(ds.attrs["eos_step"]),
        )
    except (OSError, KeyError, ValueError) as err:
        warnings.warn(
            f"damaged cache file {path} ({err}); recording that prompt again", stacklevel=3
        )
        return None


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
    progress: bool = False,
    stop_at_eos: bool = False,
    seed: int = 0,
    nodes: str = "attention",
    natural_stop_after: int | None = None,
) -> HeadSeries:
    """Generate greedily from each prompt and record one value per head per generated token.

    Args:
        model: a Hugging Face causal LM of a family in
            :data:`synergy_utils.lm.architectures.MODEL_FAMILIES` (else
            :class:`~synergy_utils.lm.architectures.UnsupportedArchitectureError`).
        tokenizer: its tokenizer.
        prompts: prompt strings, or ``(category, text)`` pairs as from
            :func:`synergy_utils.stages.prompts.select_prompts`.
        max_new_tokens: tokens generated per prompt = length of each series.
        reduction: "l2" (norm of the head's attention output; the reference method), "mean",
            "max" (of the head's output vector) or "projected" (norm of the head's contribution
            after the output projection, bias excluded).
        template: "auto", "chat", "base" or "none" (see
            :func:`synergy_utils.lm.decoding.render_prompt`).
        batch_size: prompts per forward pass (left padding; results equal one at a time).
        cache_dir: if given, each prompt's series is stored there as soon as its batch ends,
            keyed on the model (name, config, weight fingerprint), the tokenizer, the prompt
            and every setting that changes the result; a re-run loads instead of recomputing.
        progress: show a tqdm bar over generated tokens.
        stop_at_eos: let EOS end a prompt (rest of its series NaN) instead of suppressing it.
        seed: seeds torch (greedy decoding itself is deterministic).
        nodes: "attention" (heads; the reference), or a kind of the node table
            :data:`~synergy_utils.lm.architectures.NODE_SITES`: "experts" (routed experts of
            mixture-of-experts layers) or "ssm" (Mamba2 heads), see
            :mod:`synergy_utils.lm.nodes`; their "head" axis indexes the nodes of a layer, and
            only ``reduction="l2"`` applies.
        natural_stop_after: with EOS suppressed, end a batch once at least this many tokens
            were generated and every prompt in it has passed its natural end (the first step
            at which EOS was the greedy choice, kept per prompt in ``metadata["eos_steps"]``);
            the series' later steps are NaN. None: always ``max_new_tokens`` steps.

    Returns:
        :class:`~synergy_utils.series.HeadSeries` with ``values`` of shape (n_prompts,
        max_new_tokens, n_layers, n_heads), float32.
    """
    layout = _recorded_layout(model, nodes, reduction)  # fails early for an unsupported family
    _check_settings(reduction, max_new_tokens, batch_size)
    texts, categories = _split_prompts(prompts)
    kind = resolve_template(tokenizer, template)
    prompt_ids = [render_prompt(tokenizer, text, kind) for text in texts]
    eos_ids = eos_token_ids(model, tokenizer)
    pad_id = pad_token_id(model, tokenizer)
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
    if natural_stop_after is not None:  # only a natural stop changes the cache keys
        if not 1 <= int(natural_stop_after) <= max_new_tokens:
            raise ValueError(f"natural_stop_after must lie in 1..{max_new_tokens}")
        settings["natural_stop_after"] = int(natural_stop_after)
    shape = (max_new_tokens, layout.n_layers, layout.n_heads)
    cache_files = _cache_files(model, tokenizer, settings, cache_dir, texts, prompt_ids, layout)
    results = [_read_cached(path, shape) for path in cache_files] if cache_files else []
    results = results or [None] * len(texts)
    n_cached = sum(r is not None for r in results)
    start = time.perf_counter()
    n_forward = _decode_missing(
        model,
        tokenizer,
        results,
        prompt_ids,
        texts,
        cache_files,
        _DecodeSettings(
            layout,
            reduction,
            max_new_tokens,
            batch_size,
            eos_ids,
            pad_id,
            stop_at_eos,
            settings.get("natural_stop_after"),
        ),
        progress,
    )
    seconds = time.perf_counter() - start
    done = [r for r in results if r is not None]
    metadata = _series_metadata(
        model, tokenizer, layout, settings, done, template, batch_size, pad_id
    )
    metadata.update(n_cached=n_cached, n_forward_passes=n_forward, seconds=seconds)
    metadata["eos_steps"] = [r.eos_step for r in done]
    return HeadSeries(
        values=np.stack([r.values for r in done]).astype(np.float32),
        token_ids=[r.token_ids for r in done],
        texts=[r.text for r in done],
        prompts=texts,
        categories=categories,
        metadata=metadata,
        prompt_lengths=np.array([r.prompt_length for r in done], dtype=np.int64),
    )


def _check_settings(reduction: str, max_new_tokens: int, batch_size: int) -> None:
    """Raise ``ValueError`` for an unknown reduction or a size that is not a positive int."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def _recorded_layout(model: nn.Module, nodes: str, reduction: str) -> HeadLayout:
    """What is recorded: attention heads, or the nodes of a kind of the node table."""
    if nodes == "attention":
        return head_layout(model)
    if reduction != "l2":
        raise ValueError(f"nodes={nodes!r} records L2 norms only; got reduction={reduction!r}")
    return node_layout(model, nodes)


def _cache_files(
    model: nn.Module,
    tokenizer: Any,
    settings: dict[str, Any],
    cache_dir: str | os.PathLike | None,
    texts: list[str],
    prompt_ids: list[list[int]],
    layout: HeadLayout | None = None,
) -> list[Path] | None:
    """One cache file per prompt, keyed on model, tokenizer, settings and prompt (or None);
    a node kind other than attention heads is part of the key."""
    if cache_dir is None:
        return None
    node_key = {"nodes": layout.kind} if isinstance(layout, NodeLayout) else {}
    base_key = _sha256(
        _CACHE_VERSION,
        model_fingerprint(model),
        tokenizer_fingerprint(tokenizer),
        json.dumps({**settings, **node_key}, sort_keys=True),
    )
    return [
        _cache_file(Path(cache_dir), base_key, text, ids)
        for text, ids in zip(texts, prompt_ids, strict=True)
    ]


@dataclass(frozen=True)
class _DecodeSettings:
    layout: HeadLayout
    reduction: str
    max_new_tokens: int
    batch_size: int
    eos_ids: list[int]
    pad_id: int
    stop_at_eos: bool
    natural_stop_after: int | None = None


def _decode_missing(
    model: nn.Module,
    tokenizer: Any,
    results: list[_PromptResult | None],
    prompt_ids: list[list[int]],
    texts: list[str],
    cache_files: list[Path] | None,
    cfg: _DecodeSettings,
    progress: bool,
) -> int:
    """Decode every prompt without a result (in place) and cache it; return forward passes.

    Prompts of similar length are batched together to waste little compute on padding.
    """
    todo = sorted((i for i, r in enumerate(results) if r is None), key=lambda i: len(prompt_ids[i]))
    batches = [todo[i : i + cfg.batch_size] for i in range(0, len(todo), cfg.batch_size)]
    if not batches:
        return 0
    n_forward = 0
    was_training = model.training
    model.eval()
    if isinstance(cfg.layout, NodeLayout):
        recorder = node_recorder(model, cfg.layout)
    else:
        recorder = _HeadRecorder(model, cfg.layout, cfg.reduction)
    bar = tqdm(
        total=len(todo) * cfg.max_new_tokens,
        unit="tok",
        desc="recording heads",
        disable=not progress,
        mininterval=2.0,
    )
    try:
        with recorder.attached(), torch.inference_mode(), bar:
            for batch in batches:
                recorder.start(len(batch), cfg.max_new_tokens)
                batch_start = time.perf_counter()
                decoded = greedy_decode(
                    model,
                    [prompt_ids[i] for i in batch],
                    cfg.max_new_tokens,
                    eos_token_ids=cfg.eos_ids,
                    stop_at_eos=cfg.stop_at_eos,
                    pad_token_id=cfg.pad_id,
                    on_step=recorder.set_step,
                    progress_bar=bar,
                    natural_stop_after=cfg.natural_stop_after,
                )
                n_forward += decoded.n_forward
                values = recorder.buffer.cpu().numpy()
                share = (time.perf_counter() - batch_start) / len(batch)
                for row, index in enumerate(batch):
                    results[index] = _prompt_result(
                        tokenizer, values[row], decoded, row, prompt_ids[index], share
                    )
                    if cache_files is not None:
                        _write_cached(cache_files[index], results[index], texts[index])
    finally:
        model.train(was_training)
    return n_forward


def _prompt_result(
    tokenizer: Any, values: np.ndarray, decoded: Any, row: int, ids: list[int], seconds: float
) -> _PromptResult:
    """One prompt's series (NaN after an EOS stop), tokens and text from a decoded batch."""
    series = values.copy()
    stop = decoded.stop_steps[row]
    if stop is not None:
        series[stop + 1 :] = np.nan
    generated = decoded.generated[row]
    return _PromptResult(
        values=series,
        token_ids=np.asarray(ids + generated, dtype=np.int64),
        text=tokenizer.decode(generated, skip_special_tokens=True),
        prompt_length=len(ids),
        stop_step=stop,
        seconds=seconds,
        eos_step=decoded.eos_steps[row] if decoded.eos_steps else None,
    )


def _series_metadata(
    model: nn.Module,
    tokenizer: Any,
    layout: HeadLayout,
    settings: dict[str, Any],
    done: list[_PromptResult],
    template: str,
    batch_size: int,
    pad_id: int,
) -> dict[str, Any]:
    """Model, recording and decoding settings, speed and provenance of a recording."""
    n_generated = sum(len(r.token_ids) - r.prompt_length for r in done)
    compute_seconds = float(sum(r.seconds for r in done))
    config = model.config
    return {
        "model": str(getattr(config, "name_or_path", "") or type(model).__name__),
        "model_class": type(model).__name__,
        "model_type": layout.model_type,
        "n_layers": layout.n_layers,
        "n_heads": layout.n_heads,
        "head_dim": layout.head_dim,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "device": str(_model_device(model)),
        "tokenizer": str(getattr(tokenizer, "name_or_path", "")),
        "reduction": settings["reduction"],
        "reduction_description": REDUCTION_DESCRIPTIONS[settings["reduction"]],
        "template": settings["template"],
        "template_requested": template,
        "decoding": {
            "strategy": "greedy",
            "max_new_tokens": settings["max_new_tokens"],
            "suppress_eos": settings["suppress_eos"],
            "stop_at_eos": settings["stop_at_eos"],
            "eos_token_ids": settings["eos_token_ids"],
            "pad_token_id": pad_id,
            "batch_size": batch_size,
            "seed": settings["seed"],
        },
        "n_eos_stopped": sum(r.stop_step is not None for r in done),
        "n_prompts": len(done),
        "compute_seconds": compute_seconds,
        "tokens_per_second": (
            n_generated / compute_seconds if n_generated and compute_seconds > 0 else None
        ),
        "provenance": provenance(**settings, batch_size=batch_size),
    } | node_metadata(layout)


def record_like(
    series: HeadSeries,
    model: nn.Module,
    tokenizer: Any,
    indices: Sequence[int],
    *,
    template: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> HeadSeries:
    """Re-record head series on prompts ``indices`` of ``series`` with another model.

    Uses the recording's own settings (reduction, number of steps, template unless
    ``template`` is given: pass ``"auto"`` for a model of another family), so the control is
    comparable. Returns a ``HeadSeries``.
    """
    meta = series.metadata
    prompts = [series.prompts[i] for i in indices]
    if series.categories is not None:
        prompts = [(series.categories[i], series.prompts[i]) for i in indices]
    return record_head_series(
        model,
        tokenizer,
        prompts,
        series.n_steps,
        reduction=str(meta.get("reduction", "l2")),
        template=template or str(meta.get("template", "auto")),
        batch_size=batch_size,
        cache_dir=cache_dir,
        progress=progress,
        nodes=str(meta.get("nodes", "attention")),
    )
