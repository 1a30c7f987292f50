"""Ablation: does removing the synergistic core break the model?

The per-head site is the one used for extraction: the input of each layer's attention output
projection, where head ``h`` occupies the slice ``[h * head_dim, (h + 1) * head_dim)`` of the
last dimension (:mod:`synergy_utils.architectures`). Everything here builds on one context
manager, :func:`ablated`, which edits those slices with a forward pre-hook (modes ``zero``,
``mean``, ``noise``) or perturbs the head's weights in place (``weights-noise``: Gaussian noise
on the head's query-projection rows and output-projection columns), and restores the model
exactly on exit.

Two experiments use it (SCIENCE.md, Ablation):

* **Cumulative ablation curves** (:func:`ablation_curves`): heads are removed in decreasing
  gradient order (``synergy_first``), increasing order (``redundancy_first``) and seeded
  random orders (``random_0``, ...), ``step`` heads at a time. At each step the ablated model
  reads the clean model's greedy continuation (teacher forcing, one batched forward pass for
  all prompts) and the per-token KL divergence between the clean and the ablated next-token
  distributions is averaged over the generated tokens of each prompt, in both directions:
  ``kl_clean_ablated`` = KL(p_clean || p_ablated) (the paper's) and ``kl_ablated_clean`` =
  KL(p_ablated || p_clean). :func:`auc_ratio` compares areas under the curves with a bootstrap
  over prompts and random orders.
* **Accuracy under perturbation** (:func:`accuracy_under_perturbation`): accuracy on checkable
  tasks of the intact model and with the top / bottom / a random ``fraction`` of heads
  perturbed, with confidence intervals over tasks and random draws (:func:`accuracy_table`).

:func:`ablation_summary` collects the headline numbers for ``summary.json`` and
:func:`verdict` turns them into a paragraph.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from tqdm import tqdm

from .architectures import (
    head_layout,
    out_proj_head_weight,
    output_projections,
    query_head_weight,
)
from .extraction import eos_token_ids, greedy_decode, render_prompt

# Result files are written the same way in every stage (re-exported for the notebook).
from .results import load_dataset as load_dataset
from .results import save_dataset as save_dataset

MODES: tuple[str, ...] = ("zero", "mean", "noise", "weights-noise")
#: Names of the two KL directions (the ``metric`` coordinate of the curves).
KL_METRICS: tuple[str, ...] = ("kl_clean_ablated", "kl_ablated_clean")
KL_LABELS: dict[str, str] = {
    "kl_clean_ablated": "KL(clean ‖ ablated)",
    "kl_ablated_clean": "KL(ablated ‖ clean)",
}
#: Columns of ``head_scores.csv`` chosen by ``gradient_method``.
GRADIENT_COLUMNS: dict[str, str] = {"luppi": "gradient_luppi", "diff": "gradient_diff"}
HEAD_GROUPS: tuple[str, ...] = ("synergistic", "redundant", "random")

Head = tuple[int, int]


# --- the context manager ----------------------------------------------------------------


def normalise_heads(model: nn.Module, heads: Iterable[Head]) -> list[Head]:
    """Validate ``heads`` against the model and return sorted unique ``(layer, head)`` pairs."""
    layout = head_layout(model)
    if isinstance(heads, (str, bytes)):
        raise TypeError("heads must be an iterable of (layer, head) pairs, not a string")
    out: set[Head] = set()
    for item in heads:
        try:
            layer, head = item
        except (TypeError, ValueError):
            raise TypeError(
                f"each head must be a (layer, head) pair, got {item!r}; to ablate one head "
                "pass [(layer, head)]"
            ) from None
        if isinstance(layer, bool) or isinstance(head, bool):
            raise TypeError(f"head {item!r}: layer and head must be integers")
        try:
            layer_i, head_i = int(layer), int(head)
        except (TypeError, ValueError):
            raise TypeError(f"head {item!r}: layer and head must be integers") from None
        if layer_i != layer or head_i != head:
            raise TypeError(f"head {item!r}: layer and head must be integers")
        if not 0 <= layer_i < layout.n_layers:
            raise ValueError(f"head {item!r}: layer must be in [0, {layout.n_layers})")
        if not 0 <= head_i < layout.n_heads:
            raise ValueError(f"head {item!r}: head must be in [0, {layout.n_heads})")
        out.add((layer_i, head_i))
    return sorted(out)


def _by_layer(heads: Sequence[Head]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for layer, head in heads:
        grouped.setdefault(layer, []).append(head)
    return grouped


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _check_mode_kwargs(mode: str, kwargs: Mapping[str, Any], model: nn.Module) -> None:
    allowed = {
        "zero": set(),
        "mean": {"means"},
        "noise": {"std", "seed"},
        "weights-noise": {"relative_std", "seed"},
    }
    if mode not in allowed:
        raise ValueError(f"unknown ablation mode {mode!r}; choose one of {MODES}")
    unexpected = set(kwargs) - allowed[mode]
    if unexpected:
        raise TypeError(
            f"mode {mode!r} does not take {sorted(unexpected)}; it takes {sorted(allowed[mode])}"
        )
    if mode == "mean":
        layout = head_layout(model)
        means = kwargs.get("means")
        if means is None:
            raise ValueError(
                "mode 'mean' needs means=array (n_layers, n_heads, head_dim); compute it with "
                "head_mean_outputs(model, ...)"
            )
        shape = tuple(np.shape(means))
        expected = (layout.n_layers, layout.n_heads, layout.head_dim)
        if shape != expected:
            raise ValueError(f"means has shape {shape}, expected {expected}")
    if mode == "noise":
        std = kwargs.get("std")
        if std is None or not np.isfinite(std) or std < 0:
            raise ValueError(f"mode 'noise' needs std >= 0 (absolute, slice units), got {std!r}")
    if mode == "weights-noise":
        rel = kwargs.get("relative_std")
        if rel is None or not np.isfinite(rel) or rel < 0:
            raise ValueError(
                "mode 'weights-noise' needs relative_std >= 0 (multiple of each weight "
                f"matrix's std), got {rel!r}"
            )


def _slice_hook(
    heads: list[int], n_heads: int, head_dim: int, edit: Callable[[torch.Tensor], None]
) -> Callable:
    """Forward pre-hook that rewrites the slices of ``heads`` in the out-proj input."""
    index = torch.tensor(heads, dtype=torch.long)

    def hook(module: nn.Module, args: tuple) -> tuple:
        if not args:
            raise RuntimeError(
                "the attention output projection was called without a positional input; "
                "the ablation hook cannot find the head outputs"
            )
        x = args[0]
        if x.shape[-1] != n_heads * head_dim:
            raise RuntimeError(
                f"output-projection input has last dimension {x.shape[-1]}, expected "
                f"n_heads * head_dim = {n_heads * head_dim}"
            )
        x = x.clone()
        per_head = x.view(*x.shape[:-1], n_heads, head_dim)
        edit(per_head, index.to(x.device))
        return (x, *args[1:])

    return hook


def query_weight_std(model: nn.Module, layer: int) -> float:
    """Standard deviation of the layer's query weight matrix (all query heads' rows)."""
    layout = head_layout(model)
    with torch.no_grad():
        parts = [query_head_weight(model, layer, h).reshape(-1) for h in range(layout.n_heads)]
        return float(torch.cat(parts).double().std())


def out_proj_weight_std(model: nn.Module, layer: int) -> float:
    """Standard deviation of the layer's attention output-projection weight matrix."""
    with torch.no_grad():
        return float(output_projections(model)[layer].weight.double().std())


@contextmanager
def ablated(model: nn.Module, heads: Iterable[Head], mode: str = "zero", **kw: Any) -> Iterator:
    """Ablate ``heads`` of ``model`` inside a ``with`` block; restore the model exactly on exit.

    Parameters
    ----------
    heads
        Iterable of ``(layer, head)`` pairs (query-head indices). Duplicates are ignored; an
        empty iterable leaves the model unchanged.
    mode
        ``"zero"``: the head's slice of the out-proj input is set to 0.
        ``"mean"``: the slice is replaced by ``means[layer, head]`` (keyword ``means``: array
        (n_layers, n_heads, head_dim), from :func:`head_mean_outputs`).
        ``"noise"``: Gaussian noise of standard deviation ``std`` (absolute, in the units of
        the head output) is added to the slice; ``seed`` (default 0) seeds one generator per
        ``with`` block, drawn from in call order.
        ``"weights-noise"``: Gaussian noise is added in place to the head's query-projection
        rows and output-projection columns; its standard deviation is ``relative_std`` times
        the std of the whole query weight (all heads) or output weight of that layer; ``seed``
        as above. The original tensors are saved as clones and copied back on exit.

    The block's own exceptions propagate; hooks are removed and weights restored either way.
    """
    _check_mode_kwargs(mode, kw, model)
    head_list = normalise_heads(model, heads)
    layout = head_layout(model)
    device = _model_device(model)
    seed = int(kw.get("seed", 0))
    with ExitStack() as stack:
        if not head_list:
            yield model
            return
        grouped = _by_layer(head_list)
        projections = output_projections(model)
        if mode == "weights-noise":
            saved: list[tuple[torch.Tensor, torch.Tensor]] = []

            def restore() -> None:
                with torch.no_grad():
                    for view, original in reversed(saved):
                        view.copy_(original)

            stack.callback(restore)
            generator = torch.Generator(device=device).manual_seed(seed)
            rel = float(kw["relative_std"])
            with torch.no_grad():
                for layer, layer_heads in grouped.items():
                    q_std = query_weight_std(model, layer)
                    o_std = out_proj_weight_std(model, layer)
                    for head in layer_heads:
                        for view, sd in (
                            (query_head_weight(model, layer, head), q_std),
                            (out_proj_head_weight(model, layer, head), o_std),
                        ):
                            saved.append((view, view.detach().clone()))
                            noise = torch.randn(
                                view.shape,
                                generator=generator,
                                device=view.device,
                                dtype=torch.float32,
                            )
                            view.add_((noise * (rel * sd)).to(view.dtype))
        else:
            if mode == "mean":
                means = torch.as_tensor(np.asarray(kw["means"]), dtype=torch.float32)
            if mode == "noise":
                generator = torch.Generator(device=device).manual_seed(seed)
                std = float(kw["std"])
            for layer, layer_heads in grouped.items():
                if mode == "zero":

                    def edit(v: torch.Tensor, idx: torch.Tensor) -> None:
                        v[..., idx, :] = 0

                elif mode == "mean":

                    def edit(v: torch.Tensor, idx: torch.Tensor, _m=means[layer]) -> None:
                        v[..., idx, :] = _m[idx.cpu()].to(device=v.device, dtype=v.dtype)

                else:

                    def edit(v: torch.Tensor, idx: torch.Tensor) -> None:
                        target = v[..., idx, :]
                        noise = torch.randn(
                            target.shape,
                            generator=generator,
                            device=generator.device,
                            dtype=torch.float32,
                        )
                        v[..., idx, :] = target + (std * noise).to(device=v.device, dtype=v.dtype)

                handle = projections[layer].register_forward_pre_hook(
                    _slice_hook(layer_heads, layout.n_heads, layout.head_dim, edit)
                )
                stack.callback(handle.remove)
        yield model


# --- reference means --------------------------------------------------------------------


def head_mean_outputs(
    model: nn.Module,
    source: Any,
    prompts: Sequence[str] | None = None,
    *,
    batch_size: int = 8,
    template: str = "auto",
    progress: bool = False,
) -> np.ndarray:
    """Mean output of every head over all (non-padding) token positions of reference inputs.

    ``source`` is a tokenizer (then ``prompts`` are the reference texts, encoded with
    ``template`` as in :func:`synergy_utils.extraction.render_prompt`), a
    :class:`TeacherForcedBatch`, or an iterable of mappings with ``input_ids`` and
    ``attention_mask`` tensors (B, S).

    Returns
    -------
    float64 array (n_layers, n_heads, head_dim): the mean of each head's slice of the
    attention output-projection input, for ``ablated(..., mode="mean", means=...)``.
    """
    layout = head_layout(model)
    if isinstance(source, TeacherForcedBatch):
        batches: Iterable = [source.model_inputs()]
    elif hasattr(source, "encode"):
        if not prompts:
            raise ValueError("head_mean_outputs with a tokenizer needs a non-empty prompts list")
        ids = [render_prompt(source, p, template) for p in prompts]
        pad = _pad_id(model, source)
        starts = range(0, len(ids), batch_size)
        batches = [_pad_batch(ids[i : i + batch_size], pad, "right") for i in starts]
    else:
        batches = source
    sums = torch.zeros(layout.n_layers, layout.n_heads, layout.head_dim, dtype=torch.float64)
    count = 0
    state: dict[str, torch.Tensor] = {}

    def make_hook(layer: int) -> Callable:
        def hook(module: nn.Module, args: tuple) -> None:
            x = args[0].detach().to(torch.float64)
            mask = state["mask"].to(x.device, torch.float64)
            per_head = x.view(*x.shape[:-1], layout.n_heads, layout.head_dim)
            sums[layer] += torch.einsum("bs,bshd->hd", mask, per_head).cpu()

        return hook

    handles = [
        proj.register_forward_pre_hook(make_hook(i))
        for i, proj in enumerate(output_projections(model))
    ]
    try:
        with torch.no_grad():
            for batch in tqdm(list(batches), desc="head means", disable=not progress):
                input_ids = batch["input_ids"]
                mask = batch.get("attention_mask")
                if mask is None:
                    mask = torch.ones_like(input_ids)
                state["mask"] = mask
                inputs = {k: v.to(_model_device(model)) for k, v in batch.items()}
                model(**inputs)
                count += int(mask.sum())
    finally:
        for handle in handles:
            handle.remove()
    if count == 0:
        raise ValueError("no tokens in the reference inputs")
    return (sums / count).numpy()


# --- prompts, continuations and teacher-forced batches ----------------------------------


def _pad_id(model: nn.Module, tokenizer: Any | None) -> int:
    """The tokenizer's pad id, else its first EOS id, else 0 (as the extraction stage)."""
    pad = getattr(tokenizer, "pad_token_id", None) if tokenizer is not None else None
    if pad is not None:
        return int(pad)
    eos = eos_token_ids(model, tokenizer) if tokenizer is not None else []
    return int(eos[0]) if eos else 0


def _pad_batch(rows: Sequence[Sequence[int]], pad_id: int, side: str) -> dict[str, torch.Tensor]:
    """Pad token-id rows to one (B, S) tensor with mask and position ids."""
    if side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        n = len(row)
        cols = slice(width - n, width) if side == "left" else slice(0, n)
        ids[i, cols] = torch.as_tensor(list(row), dtype=torch.long)
        mask[i, cols] = 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    return {"input_ids": ids, "attention_mask": mask, "position_ids": positions}


@dataclass
class Continuations:
    """Prompts (as token ids) and the clean model's greedy continuations.

    ``generated_ids`` is (n_prompts, n_new): every prompt has the same number of new tokens
    because end-of-sequence tokens are suppressed during generation.
    """

    prompt_ids: list[list[int]]
    generated_ids: np.ndarray
    prompts: list[str] | None = None

    def __post_init__(self) -> None:
        self.generated_ids = np.asarray(self.generated_ids, dtype=np.int64)
        if self.generated_ids.ndim != 2 or len(self.prompt_ids) != len(self.generated_ids):
            raise ValueError(
                "generated_ids must be (n_prompts, n_new) with one row per prompt; got "
                f"{self.generated_ids.shape} for {len(self.prompt_ids)} prompts"
            )
        if any(len(p) == 0 for p in self.prompt_ids):
            raise ValueError("every prompt needs at least one token")

    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @property
    def n_new(self) -> int:
        return int(self.generated_ids.shape[1])

    def subset(self, index: Sequence[int]) -> Continuations:
        return Continuations(
            [self.prompt_ids[i] for i in index],
            self.generated_ids[list(index)],
            None if self.prompts is None else [self.prompts[i] for i in index],
        )


def greedy_continuations_from_ids(
    model: nn.Module,
    prompt_ids: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    batch_size: int = 8,
    suppress_ids: Sequence[int] = (),
    pad_token_id: int = 0,
    progress: bool = False,
) -> Continuations:
    """Greedy continuations of token-id prompts, ``suppress_ids`` (EOS) never generated.

    Uses :func:`synergy_utils.extraction.greedy_decode` (KV cache, left padding, the same
    decoding as the extraction stage), ``batch_size`` prompts at a time.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    rows: list[list[int]] = []
    starts = range(0, len(prompt_ids), batch_size)
    for start in tqdm(starts, desc="greedy continuations", disable=not progress):
        result = greedy_decode(
            model,
            prompt_ids[start : start + batch_size],
            max_new_tokens,
            eos_token_ids=suppress_ids,
            stop_at_eos=False,
            pad_token_id=pad_token_id,
        )
        rows += result.generated
    return Continuations([[int(t) for t in p] for p in prompt_ids], np.asarray(rows))


def greedy_continuations(
    model: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int = 8,
    template: str = "auto",
    *,
    progress: bool = False,
) -> Continuations:
    """The clean model's greedy continuations of ``prompts`` (EOS suppressed, equal lengths).

    Prompts are encoded with :func:`synergy_utils.extraction.render_prompt` (``template``:
    "auto", "chat", "base", "none"), as in the extraction stage; see
    :func:`greedy_continuations_from_ids`.
    """
    prompt_ids = [render_prompt(tokenizer, p, template) for p in prompts]
    result = greedy_continuations_from_ids(
        model,
        prompt_ids,
        max_new_tokens,
        batch_size=batch_size,
        suppress_ids=eos_token_ids(model, tokenizer),
        pad_token_id=_pad_id(model, tokenizer),
        progress=progress,
    )
    result.prompts = list(prompts)
    return result


@dataclass
class TeacherForcedBatch:
    """Prompt + continuation of every prompt, padded into one batch for teacher forcing.

    ``score_positions[b, j]`` is the column whose next-token distribution generated token
    ``j`` of prompt ``b`` (the last prompt token for ``j = 0``); only these positions count.
    """

    input_ids: torch.Tensor  # (B, S) long
    attention_mask: torch.Tensor  # (B, S) long, 1 = real token
    position_ids: torch.Tensor  # (B, S) long
    score_positions: torch.Tensor  # (B, n_new) long
    target_ids: torch.Tensor  # (B, n_new) long

    def model_inputs(self) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "position_ids": self.position_ids,
        }

    def select(self, index: Sequence[int]) -> TeacherForcedBatch:
        """Rows ``index`` (still padded to the full width)."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        return TeacherForcedBatch(
            self.input_ids[idx],
            self.attention_mask[idx],
            self.position_ids[idx],
            self.score_positions[idx],
            self.target_ids[idx],
        )

    @property
    def n_prompts(self) -> int:
        return int(self.input_ids.shape[0])


def teacher_forced_batch(
    continuations: Continuations, pad_token_id: int = 0, padding_side: str = "left"
) -> TeacherForcedBatch:
    """Pad prompt + continuation rows into one batch (``padding_side`` 'left' or 'right').

    Position ids count real tokens only, so both sides give each row the result it has alone.
    Left padding aligns every row's scored positions in the last columns, which lets
    :func:`next_token_logprobs` skip the vocabulary projection of the prompt columns.
    """
    rows = [
        list(p) + [int(t) for t in g]
        for p, g in zip(continuations.prompt_ids, continuations.generated_ids, strict=True)
    ]
    padded = _pad_batch(rows, pad_token_id, padding_side)
    width = padded["input_ids"].shape[1]
    n_new = continuations.n_new
    positions = []
    for p, row in zip(continuations.prompt_ids, rows, strict=True):
        offset = width - len(row) if padding_side == "left" else 0
        first = offset + len(p) - 1
        positions.append(list(range(first, first + n_new)))
    return TeacherForcedBatch(
        padded["input_ids"],
        padded["attention_mask"],
        padded["position_ids"],
        torch.as_tensor(positions, dtype=torch.long).reshape(len(rows), n_new),
        torch.as_tensor(continuations.generated_ids, dtype=torch.long),
    )


def next_token_logprobs(
    model: nn.Module, batch: TeacherForcedBatch, batch_size: int | None = None
) -> torch.Tensor:
    """Log-probabilities (float32, (B, n_new, vocab)) at the scored positions.

    One forward pass over the whole batch (``batch_size=None``) or over chunks of rows. When
    the model takes ``logits_to_keep``, only the trailing columns from the first scored
    position on are projected onto the vocabulary (with left padding: ``n_new`` columns).
    """
    device = _model_device(model)
    chunks = (
        [list(range(batch.n_prompts))]
        if batch_size is None
        else [
            list(range(i, min(i + batch_size, batch.n_prompts)))
            for i in range(0, batch.n_prompts, batch_size)
        ]
    )
    takes_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
    out = []
    with torch.no_grad():
        for rows in chunks:
            sub = batch if len(chunks) == 1 else batch.select(rows)
            inputs = {k: v.to(device) for k, v in sub.model_inputs().items()}
            pos = sub.score_positions.to(device)
            width = sub.input_ids.shape[1]
            if takes_keep:
                # project only the trailing columns that hold scored positions onto the vocabulary
                keep = width - int(pos.min())
                inputs["logits_to_keep"] = keep
                pos = pos - (width - keep)
            logits = model(**inputs).logits
            picked = logits[torch.arange(len(rows), device=device)[:, None], pos]
            out.append(torch.log_softmax(picked.float(), dim=-1).cpu())
            del logits
    return torch.cat(out, dim=0)


def kl_from_logprobs(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """KL(p || q) = sum_v p_v (log p_v - log q_v) over the last axis (nats)."""
    return (logp.exp() * (logp - logq)).sum(dim=-1)


def teacher_forced_kl(
    model: nn.Module,
    batch: TeacherForcedBatch,
    clean_logprobs: torch.Tensor,
    *,
    batch_size: int | None = None,
    per_token: bool = False,
) -> dict[str, torch.Tensor]:
    """KL between clean and current (e.g. ablated) next-token distributions, teacher forced.

    Run inside :func:`ablated`. ``clean_logprobs`` is :func:`next_token_logprobs` of the
    intact model on the same batch. One forward pass for all prompts (``batch_size=None``).

    Returns
    -------
    ``{"kl_clean_ablated": KL(p_clean || p_model), "kl_ablated_clean": KL(p_model || p_clean)}``
    in nats, each (B,) averaged over the generated tokens of each prompt, or (B, n_new) with
    ``per_token=True``.
    """
    logq = next_token_logprobs(model, batch, batch_size)
    if logq.shape != clean_logprobs.shape:
        raise ValueError(
            f"clean_logprobs has shape {tuple(clean_logprobs.shape)}, the batch gives "
            f"{tuple(logq.shape)}"
        )
    forward = kl_from_logprobs(clean_logprobs, logq)
    reverse = kl_from_logprobs(logq, clean_logprobs)
    if not per_token:
        forward, reverse = forward.mean(dim=1), reverse.mean(dim=1)
    return {"kl_clean_ablated": forward, "kl_ablated_clean": reverse}


# --- cumulative ablation curves ---------------------------------------------------------


def load_head_scores(path: str | Path, gradient_method: str = "luppi") -> np.ndarray:
    """Head scores (n_layers, n_heads) from ``head_scores.csv`` (or a folder holding it).

    ``gradient_method``: ``"luppi"`` (column ``gradient_luppi``: rank(synergy) -
    rank(redundancy)), ``"diff"`` (``gradient_diff``: ranks of synergy - redundancy), or the
    name of any other numeric column (e.g. ``"synergy"``).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "head_scores.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: run notebooks/03_synergistic_cores.ipynb with the same "
            "results_dir first (it writes head_scores.csv)"
        )
    table = pd.read_csv(path)
    column = GRADIENT_COLUMNS.get(gradient_method, gradient_method)
    missing = {"layer", "head", column} - set(table.columns)
    if missing:
        raise ValueError(
            f"{path} lacks columns {sorted(missing)}; gradient_method must be one of "
            f"{sorted(GRADIENT_COLUMNS)} or a column name"
        )
    if table.duplicated(["layer", "head"]).any():
        raise ValueError(f"{path} has duplicate (layer, head) rows")
    n_layers, n_heads = int(table["layer"].max()) + 1, int(table["head"].max()) + 1
    if len(table) != n_layers * n_heads:
        raise ValueError(f"{path}: expected one row per head of a {n_layers} x {n_heads} grid")
    scores = np.full((n_layers, n_heads), np.nan)
    scores[table["layer"].to_numpy(int), table["head"].to_numpy(int)] = table[column].to_numpy(
        float
    )
    if not np.isfinite(scores).all():
        raise ValueError(f"{path}: column {column!r} has missing or non-finite values")
    return scores


def _check_scores(scores: Any, model: nn.Module | None = None) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (n_layers, n_heads), got shape {scores.shape}")
    if model is not None:
        layout = head_layout(model)
        if scores.shape != (layout.n_layers, layout.n_heads):
            raise ValueError(
                f"scores have shape {scores.shape} but the model has "
                f"{layout.n_layers} layers x {layout.n_heads} heads"
            )
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    return scores


def head_orders(scores: Any, n_random: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Removal orders over all heads, each an int array (n_total, 2) of (layer, head).

    ``synergy_first``: decreasing score; ``redundancy_first``: increasing score (ties broken
    by layer-major head index); ``random_k``: permutation from ``default_rng([seed, k])``.
    """
    scores = _check_scores(scores)
    n_layers, n_heads = scores.shape
    flat = scores.reshape(-1)
    pairs = np.stack(np.unravel_index(np.arange(flat.size), scores.shape), axis=1)
    orders = {
        "synergy_first": pairs[np.argsort(-flat, kind="stable")],
        "redundancy_first": pairs[np.argsort(flat, kind="stable")],
    }
    for k in range(int(n_random)):
        orders[f"random_{k}"] = pairs[np.random.default_rng([seed, k]).permutation(flat.size)]
    return orders


def removal_counts(n_total: int, step: int = 5, max_fraction: float = 0.25) -> list[int]:
    """Numbers of heads removed: 0, step, 2 step, ..., up to floor(max_fraction * n_total)
    (the last value is included even when it is not a multiple of ``step``)."""
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    if not 0 < max_fraction <= 1:
        raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction}")
    n_max = int(math.floor(max_fraction * n_total + 1e-9))
    counts = list(range(0, n_max + 1, step))
    if counts[-1] != n_max:
        counts.append(n_max)
    return counts


def curves_on_batch(
    model: nn.Module,
    batch: TeacherForcedBatch,
    orders: Mapping[str, np.ndarray],
    counts: Sequence[int],
    *,
    clean_logprobs: torch.Tensor | None = None,
    mode: str = "zero",
    batch_size: int | None = None,
    progress: bool = False,
    **ablation_kw: Any,
) -> xr.Dataset:
    """Teacher-forced KL after removing the first ``n`` heads of each order, for ``n`` in
    ``counts``; one forward pass (all prompts) per (order, n). See :func:`ablation_curves`."""
    layout = head_layout(model)
    if clean_logprobs is None:
        clean_logprobs = next_token_logprobs(model, batch, batch_size)
    names = list(orders)
    kl = np.zeros((len(names), len(counts), batch.n_prompts, len(KL_METRICS)))
    jobs = [(i, j) for i in range(len(names)) for j, n in enumerate(counts) if n > 0]
    for i, j in tqdm(jobs, desc="ablation steps", disable=not progress):
        heads = [tuple(map(int, h)) for h in orders[names[i]][: counts[j]]]
        with ablated(model, heads, mode, **ablation_kw):
            result = teacher_forced_kl(model, batch, clean_logprobs, batch_size=batch_size)
        for m, metric in enumerate(KL_METRICS):
            kl[i, j, :, m] = result[metric].double().numpy()
    counts_arr = np.asarray(counts, dtype=int)
    order_layer = np.stack([np.asarray(orders[n])[:, 0] for n in names])
    order_head = np.stack([np.asarray(orders[n])[:, 1] for n in names])
    return xr.Dataset(
        {
            "kl": (("order", "n_removed", "prompt", "metric"), kl),
            "order_layer": (("order", "rank"), order_layer),
            "order_head": (("order", "rank"), order_head),
        },
        coords={
            "order": names,
            "n_removed": counts_arr,
            "fraction": ("n_removed", counts_arr / layout.n_total),
            "prompt": np.arange(batch.n_prompts),
            "metric": list(KL_METRICS),
            "rank": np.arange(order_layer.shape[1]),
        },
        attrs={
            "mode": mode,
            "n_layers": layout.n_layers,
            "n_heads": layout.n_heads,
            "n_total": layout.n_total,
            "n_new_tokens": int(batch.target_ids.shape[1]),
            "description": (
                "Teacher-forced next-token KL (nats per token, mean over each prompt's "
                "generated tokens) after removing the first n_removed heads of each order. "
                "kl_clean_ablated = KL(p_clean || p_ablated), kl_ablated_clean = reverse."
            ),
        },
    )


def ablation_curves(
    model: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str] | Continuations,
    order_by: Any,
    step: int = 5,
    max_fraction: float = 0.25,
    n_random: int = 5,
    seed: int = 0,
    *,
    max_new_tokens: int = 48,
    generation_batch_size: int = 8,
    batch_size: int | None = None,
    template: str = "auto",
    padding_side: str = "left",
    mode: str = "zero",
    progress: bool = True,
    **ablation_kw: Any,
) -> xr.Dataset:
    """Cumulative ablation curves (SCIENCE.md, Ablation (behaviour)).

    Parameters
    ----------
    prompts
        Texts (the clean model's greedy continuations of ``max_new_tokens`` tokens are
        generated first) or ready :class:`Continuations` (``tokenizer`` may then be None).
    order_by
        Head scores (n_layers, n_heads), e.g. the synergy gradient; higher = more synergistic.
    step, max_fraction
        Heads removed per step and the largest fraction of all heads removed.
    n_random, seed
        Number of seeded random orders.
    batch_size
        ``None``: one forward pass per step for all prompts; an int splits rows (memory).
    mode, ablation_kw
        Passed to :func:`ablated` (the paper zeroes heads).

    Returns
    -------
    Dataset with ``kl`` (order, n_removed, prompt, metric) in nats per token; coordinates
    ``order`` (synergy_first, redundancy_first, random_0, ...), ``n_removed`` with
    ``fraction``, ``metric`` (:data:`KL_METRICS`); ``order_layer``/``order_head`` (order,
    rank) hold each removal order.
    """
    scores = _check_scores(order_by, model)
    if isinstance(prompts, Continuations):
        continuations = prompts
    else:
        if tokenizer is None:
            raise ValueError("a tokenizer is needed to encode text prompts")
        continuations = greedy_continuations(
            model,
            tokenizer,
            prompts,
            max_new_tokens,
            generation_batch_size,
            template,
            progress=progress,
        )
    pad = _pad_id(model, tokenizer)
    batch = teacher_forced_batch(continuations, pad, padding_side)
    layout = head_layout(model)
    counts = removal_counts(layout.n_total, step, max_fraction)
    orders = head_orders(scores, n_random, seed)
    ds = curves_on_batch(
        model,
        batch,
        orders,
        counts,
        mode=mode,
        batch_size=batch_size,
        progress=progress,
        **ablation_kw,
    )
    ds.attrs.update(
        step=int(step),
        max_fraction=float(max_fraction),
        n_random=int(n_random),
        seed=int(seed),
        padding_side=padding_side,
    )
    if continuations.prompts is not None:
        ds = ds.assign_coords(prompt_text=("prompt", list(continuations.prompts)))
    ds["generated_ids"] = (("prompt", "token"), continuations.generated_ids)
    return ds


def random_orders(curves: xr.Dataset) -> list[str]:
    return [str(o) for o in curves["order"].values if str(o).startswith("random_")]


def curve_auc(curves: xr.Dataset, metric: str = "kl_clean_ablated") -> xr.DataArray:
    """Area under each prompt's KL curve against the fraction of heads removed (trapezoid):
    (order, prompt), in nats per token x fraction."""
    kl = curves["kl"].sel(metric=metric).transpose("order", "prompt", "n_removed")
    x = curves["fraction"].values
    area = np.trapezoid(kl.values, x=x, axis=-1)
    return xr.DataArray(
        area,
        dims=("order", "prompt"),
        coords={"order": curves["order"].values, "prompt": curves["prompt"].values},
    )


def auc_ratio(
    curves: xr.Dataset,
    numerator: str = "synergy_first",
    denominator: str = "random",
    metric: str = "kl_clean_ablated",
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Ratio of areas under the mean curves, ``numerator`` / ``denominator``, with a CI.

    ``denominator="random"`` averages over all random orders. The percentile bootstrap
    resamples prompts (paired: the same prompts in numerator and denominator) and, for a random
    denominator, random orders, with replacement.

    Returns ``{"value", "ci_low", "ci_high", "n_bootstrap"}`` (NaN when the denominator area
    is 0 or there is no random order).
    """
    area = curve_auc(curves, metric)
    rand_names = random_orders(curves)
    num = area.sel(order=numerator).values  # (P,)
    if denominator == "random":
        if not rand_names:
            return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_bootstrap": 0}
        den = area.sel(order=rand_names).values  # (R, P)
    else:
        den = area.sel(order=[denominator]).values
    n_rand, n_prompts = den.shape

    def ratio(n: float, d: float) -> float:
        return n / d if d > 0 else math.nan

    value = ratio(num.mean(), den.mean())
    rng = np.random.default_rng(seed)
    p_idx = rng.integers(0, n_prompts, size=(n_bootstrap, n_prompts))
    r_idx = rng.integers(0, n_rand, size=(n_bootstrap, n_rand))
    num_b = num[p_idx].mean(axis=1)
    den_by_order = den[:, p_idx].mean(axis=2)  # (R, B)
    den_b = np.take_along_axis(den_by_order.T, r_idx, axis=1).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(den_b > 0, num_b / den_b, np.nan)
    alpha = (1 - confidence) / 2
    finite = ratios[np.isfinite(ratios)]
    low, high = (
        (float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha)))
        if finite.size
        else (math.nan, math.nan)
    )
    return {"value": float(value), "ci_low": low, "ci_high": high, "n_bootstrap": int(n_bootstrap)}


def kl_at(
    curves: xr.Dataset, n_removed: int | None = None, metric: str = "kl_clean_ablated"
) -> dict[str, float]:
    """Mean KL over prompts after removing ``n_removed`` heads (default: the last count):
    synergy-first, redundancy-first, and the mean and sd (ddof 1) over random orders."""
    if n_removed is None:
        n_removed = int(curves["n_removed"].values[-1])
    kl = curves["kl"].sel(metric=metric, n_removed=n_removed).mean("prompt")
    rand = kl.sel(order=random_orders(curves)).values
    return {
        "n_removed": int(n_removed),
        "fraction": float(n_removed / curves.attrs["n_total"]),
        "synergy": float(kl.sel(order="synergy_first")),
        "redundancy": float(kl.sel(order="redundancy_first")),
        "random_mean": float(rand.mean()) if rand.size else math.nan,
        "random_sd": float(rand.std(ddof=1)) if rand.size > 1 else math.nan,
    }


# --- accuracy under perturbation --------------------------------------------------------


def head_group(
    scores: Any, group: str, fraction: float = 0.25, rng: np.random.Generator | None = None
) -> list[Head]:
    """The top (``"synergistic"``), bottom (``"redundant"``) or a ``"random"`` ``fraction`` of
    heads by score; floor(fraction * n_total) heads."""
    scores = _check_scores(scores)
    if group not in HEAD_GROUPS:
        raise ValueError(f"unknown head group {group!r}; choose one of {HEAD_GROUPS}")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    k = int(math.floor(fraction * scores.size + 1e-9))
    orders = head_orders(scores, 0)
    if group == "synergistic":
        chosen = orders["synergy_first"][:k]
    elif group == "redundant":
        chosen = orders["redundancy_first"][:k]
    else:
        if rng is None:
            raise ValueError("group 'random' needs rng")
        pairs = orders["synergy_first"]
        chosen = pairs[rng.choice(len(pairs), size=k, replace=False)]
    return sorted((int(layer), int(head)) for layer, head in chosen)


def generate_answers(
    model: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int = 24,
    batch_size: int = 8,
    template: str = "auto",
) -> list[str]:
    """Greedy replies to ``prompts``, stopping at end of sequence, decoded to text."""
    eos = eos_token_ids(model, tokenizer)
    pad = _pad_id(model, tokenizer)
    ids = [render_prompt(tokenizer, p, template) for p in prompts]
    texts: list[str] = []
    for start in range(0, len(ids), batch_size):
        result = greedy_decode(
            model,
            ids[start : start + batch_size],
            max_new_tokens,
            eos_token_ids=eos,
            stop_at_eos=True,
            pad_token_id=pad,
        )
        texts += tokenizer.batch_decode(result.generated, skip_special_tokens=True)
    return texts


def accuracy_conditions(modes: Sequence[str], n_draws: int) -> list[dict[str, Any]]:
    """The perturbation conditions and how many draws each gets: intact (1); ``zero`` on the
    synergistic / redundant core (deterministic: 1) and on random heads (``n_draws``);
    noise modes on every group (``n_draws``)."""
    conditions = [{"mode": "none", "group": "intact", "n_draws": 1}]
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown ablation mode {mode!r}; choose from {MODES}")
        for group in HEAD_GROUPS:
            deterministic = mode in ("zero", "mean") and group != "random"
            conditions.append(
                {"mode": mode, "group": group, "n_draws": 1 if deterministic else int(n_draws)}
            )
    return conditions


def accuracy_under_perturbation(
    model: nn.Module,
    tokenizer: Any,
    tasks: Sequence[Any],
    scores: Any,
    *,
    fraction: float = 0.25,
    modes: Sequence[str] = ("weights-noise", "zero"),
    relative_std: float = 1.0,
    noise_std: float | None = None,
    means: np.ndarray | None = None,
    n_draws: int = 3,
    seed: int = 0,
    max_new_tokens: int = 24,
    batch_size: int = 8,
    template: str = "auto",
    check: Callable[[Any, str], bool] | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Task accuracy of the intact model and with head groups perturbed.

    Draw ``d`` of a random group uses ``default_rng([seed, d])`` for the heads, the same heads
    in every mode (paired); noise draw ``d`` uses noise seed ``seed * 1000 + d``.
    ``relative_std`` is the ``weights-noise`` scale relative to each weight matrix's std.

    Returns
    -------
    Dataset with ``correct`` (condition, draw, task): 1.0 / 0.0, NaN where a condition has
    fewer draws; ``reply`` (same dims, text); per-condition coordinates ``mode``, ``group``,
    ``n_heads``.
    """
    if check is None:
        from .tasks import check_answer as check
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    if len(tasks) == 0:
        raise ValueError("no tasks")
    scores = _check_scores(scores, model)
    conditions = accuracy_conditions(modes, n_draws)
    correct = np.full((len(conditions), n_draws, len(tasks)), np.nan)
    replies = np.full((len(conditions), n_draws, len(tasks)), "", dtype=object)
    n_heads = np.zeros(len(conditions), dtype=int)
    prompts = [t.prompt for t in tasks]
    jobs = [(c, d) for c, cond in enumerate(conditions) for d in range(cond["n_draws"])]
    for c, d in tqdm(jobs, desc="accuracy conditions", disable=not progress):
        cond = conditions[c]
        if cond["group"] == "intact":
            heads: list[Head] = []
            kw: dict[str, Any] = {}
            mode = "zero"
        else:
            rng = np.random.default_rng([seed, d])
            heads = head_group(scores, cond["group"], fraction, rng)
            mode = cond["mode"]
            kw = {
                "zero": {},
                "mean": {"means": means},
                "noise": {"std": noise_std, "seed": seed * 1000 + d},
                "weights-noise": {"relative_std": relative_std, "seed": seed * 1000 + d},
            }[mode]
        n_heads[c] = len(heads)
        with ablated(model, heads, mode, **kw):
            texts = generate_answers(
                model, tokenizer, prompts, max_new_tokens, batch_size, template
            )
        correct[c, d] = [float(check(t, x)) for t, x in zip(tasks, texts, strict=True)]
        replies[c, d] = texts
    return xr.Dataset(
        {
            "correct": (("condition", "draw", "task"), correct),
            "reply": (("condition", "draw", "task"), replies.astype(str)),
        },
        coords={
            "condition": [f"{c['mode']}/{c['group']}" for c in conditions],
            "mode": ("condition", [c["mode"] for c in conditions]),
            "group": ("condition", [c["group"] for c in conditions]),
            "n_heads": ("condition", n_heads),
            "draw": np.arange(n_draws),
            "task": np.arange(len(tasks)),
            "task_prompt": ("task", prompts),
            "task_answer": ("task", [str(t.answer) for t in tasks]),
        },
        attrs={
            "fraction": float(fraction),
            "relative_std": float(relative_std),
            "noise_std": float(noise_std) if noise_std is not None else float("nan"),
            "seed": int(seed),
        },
    )


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``."""
    from scipy.stats import norm

    if n <= 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy_table(
    accuracy: xr.Dataset, n_bootstrap: int = 1000, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per condition: accuracy (mean over draws and tasks) with

    * ``sd_draws``: sd (ddof 1) of the per-draw accuracies (NaN with one draw);
    * ``ci_low``/``ci_high``: percentile bootstrap resampling tasks and draws with replacement;
    * ``wilson_low``/``wilson_high``: Wilson interval over tasks at the mean accuracy.
    """
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    rows = []
    for c, name in enumerate(accuracy["condition"].values):
        values = accuracy["correct"].values[c]
        values = values[~np.isnan(values).all(axis=1)]  # (draws, tasks)
        n_draws, n_tasks = values.shape
        per_draw = values.mean(axis=1)
        acc = float(per_draw.mean())
        d_idx = rng.integers(0, n_draws, size=(n_bootstrap, n_draws))
        t_idx = rng.integers(0, n_tasks, size=(n_bootstrap, n_tasks))
        boot = values[d_idx[:, :, None], t_idx[:, None, :]].mean(axis=(1, 2))
        w_low, w_high = wilson_interval(acc * n_tasks, n_tasks, confidence)
        rows.append(
            {
                "condition": str(name),
                "mode": str(accuracy["mode"].values[c]),
                "group": str(accuracy["group"].values[c]),
                "n_heads": int(accuracy["n_heads"].values[c]),
                "n_draws": int(n_draws),
                "n_tasks": int(n_tasks),
                "accuracy": acc,
                "sd_draws": float(per_draw.std(ddof=1)) if n_draws > 1 else math.nan,
                "ci_low": float(np.quantile(boot, alpha)),
                "ci_high": float(np.quantile(boot, 1 - alpha)),
                "wilson_low": w_low,
                "wilson_high": w_high,
            }
        )
    return pd.DataFrame(rows)


# --- summary and verdict ----------------------------------------------------------------


def ablation_summary(
    curves: xr.Dataset,
    accuracy: pd.DataFrame | None = None,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    relative_noise_std: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Headline numbers for ``summary.json["ablation"]`` (KL at the largest fraction removed,
    area ratios with bootstrap CIs for both KL directions, the accuracy table)."""
    out: dict[str, Any] = {}
    for metric, prefix in (("kl_clean_ablated", ""), ("kl_ablated_clean", "reverse_")):
        at = kl_at(curves, metric=metric)
        out["fraction"] = at["fraction"]
        out["n_heads_removed"] = at["n_removed"]
        out[f"{prefix}kl_synergy"] = at["synergy"]
        out[f"{prefix}kl_redundancy"] = at["redundancy"]
        out[f"{prefix}kl_random_mean"] = at["random_mean"]
        out[f"{prefix}kl_random_sd"] = at["random_sd"]
        for num, den, key in (
            ("synergy_first", "random", "auc_ratio_synergy_random"),
            ("redundancy_first", "random", "auc_ratio_redundancy_random"),
            ("synergy_first", "redundancy_first", "auc_ratio_synergy_redundancy"),
        ):
            out[f"{prefix}{key}"] = auc_ratio(curves, num, den, metric, n_bootstrap, seed)
    out["n_prompts"] = int(curves.sizes["prompt"])
    out["n_random_orders"] = len(random_orders(curves))
    out["n_new_tokens"] = int(curves.attrs.get("n_new_tokens", 0))
    out["ablation_mode"] = curves.attrs.get("mode", "zero")
    out["n_total_heads"] = int(curves.attrs["n_total"])
    out["relative_noise_std"] = relative_noise_std
    out["accuracy"] = [] if accuracy is None else accuracy.to_dict(orient="records")
    out.update(extra)
    out["verdict"] = verdict(out)
    return out


def _fmt_ci(d: Mapping[str, float]) -> str:
    return f"{d['value']:.2f} (95 % CI {d['ci_low']:.2f}–{d['ci_high']:.2f})"


def _ratio_finding(d: Mapping[str, float]) -> str:
    if not all(np.isfinite([d["value"], d["ci_low"], d["ci_high"]])):
        return "undetermined"
    if d["ci_low"] > 1:
        return "above"
    if d["ci_high"] < 1:
        return "below"
    return "includes"


def verdict(summary: Mapping[str, Any]) -> str:
    """A paragraph stating whether the causal claim holds, from :func:`ablation_summary`."""
    ratio = summary["auc_ratio_synergy_random"]
    finding = _ratio_finding(ratio)
    pct = 100 * summary["fraction"]
    n_prompts = summary.get("n_prompts", "?")
    n_random = summary.get("n_random_orders", "?")
    parts = []
    head = (
        f"Removing up to {pct:.0f} % of the heads ({summary.get('n_heads_removed', '?')} of "
        f"{summary.get('n_total_heads', '?')}), the area under the KL(clean ‖ ablated) curve "
        f"for synergy-first removal is {_fmt_ci(ratio)} times that of random removal "
        f"({n_prompts} prompts, {n_random} random orders)."
    )
    parts.append(head)
    if finding == "above":
        parts.append(
            "The confidence interval lies above 1: on this model, removing the most synergistic "
            "heads first disrupts the next-token distribution faster than removing random heads, "
            "as the causal claim predicts."
        )
    elif finding == "below":
        parts.append(
            "The confidence interval lies below 1: removing the most synergistic heads first "
            "disrupts the model *less* than random removal, the opposite of the causal claim."
        )
    elif finding == "includes":
        parts.append(
            "The confidence interval includes 1, so synergy-first removal cannot be told apart "
            "from random removal: on this model the causal claim is not supported. This null "
            "result is a finding, not a failure (independent reproductions reported ratios of "
            "0.9–1.1 on some models)."
        )
    else:
        parts.append("The ratio could not be estimated (no random orders or a zero area).")
    reverse = summary.get("reverse_auc_ratio_synergy_random")
    if reverse is not None:
        same = _ratio_finding(reverse) == finding
        parts.append(
            f"The reverse divergence KL(ablated ‖ clean) gives {_fmt_ci(reverse)}"
            + (
                ", the same conclusion."
                if same
                else ", a different conclusion, so the result "
                "depends on the direction of the divergence and should be read with care."
            )
        )
    red = summary.get("auc_ratio_redundancy_random")
    if red is not None and np.isfinite(red["value"]):
        meaning = {
            "above": ", more damaging than random removal",
            "below": ", less damaging than random removal",
            "includes": ", not distinguishable from random removal",
        }.get(_ratio_finding(red), "")
        parts.append(f"Redundancy-first removal relative to random: {_fmt_ci(red)}{meaning}.")
    parts.append(
        f"At {pct:.0f} % removed the mean KL(clean ‖ ablated) is "
        f"{summary['kl_synergy']:.3f} nats per token synergy-first, "
        f"{summary['kl_redundancy']:.3f} redundancy-first and "
        f"{summary['kl_random_mean']:.3f} ± {summary['kl_random_sd']:.3f} (sd over orders) "
        "for random orders."
    )
    parts.append(
        _accuracy_sentence(summary.get("accuracy") or [], summary.get("relative_noise_std"))
    )
    if (isinstance(n_prompts, int) and n_prompts < 10) or (
        isinstance(n_random, int) and n_random < 3
    ):
        parts.append(
            f"With only {n_prompts} prompts and {n_random} random orders these intervals are "
            "wide and the run is a smoke test rather than a finding."
        )
    return " ".join(p for p in parts if p)


def _accuracy_sentence(rows: Sequence[Mapping[str, Any]], relative_std: float | None) -> str:
    if not rows:
        return ""
    table = {(r["mode"], r["group"]): r for r in rows}
    intact = table.get(("none", "intact"))
    if intact is None:
        return ""
    text = (
        f"On the checkable tasks the intact model answers {100 * intact['accuracy']:.0f} % "
        f"correctly (Wilson 95 % CI {100 * intact['wilson_low']:.0f}–"
        f"{100 * intact['wilson_high']:.0f} %, {intact['n_tasks']} tasks)."
    )
    if intact["wilson_high"] < 0.15:
        return text + (
            " That is too close to zero for a drop to show, so the accuracy test is "
            "uninformative on this model and these tasks."
        )
    for mode in ("weights-noise", "zero"):
        syn, red, rnd = (table.get((mode, g)) for g in ("synergistic", "redundant", "random"))
        if syn is None or rnd is None:
            continue
        label = {"zero": "zeroing", "mean": "mean ablation", "noise": "output noise"}.get(
            mode, "weight noise"
        )
        if mode == "weights-noise" and relative_std is not None:
            label += f" (relative std {relative_std:g})"
        phrase = (
            f" With {label} on a quarter of the heads: synergistic core "
            f"{100 * syn['accuracy']:.0f} %, random {100 * rnd['accuracy']:.0f} %"
            + (f", redundant core {100 * red['accuracy']:.0f} %" if red is not None else "")
            + "."
        )
        if syn["ci_high"] < rnd["ci_low"]:
            phrase += " Perturbing the synergistic core hurts more than random heads (CIs apart)."
        elif syn["ci_low"] > rnd["ci_high"]:
            phrase += " Perturbing the synergistic core hurts less than random heads (CIs apart)."
        else:
            phrase += (
                " The synergistic-core and random conditions overlap within their "
                "confidence intervals."
            )
        text += phrase
    return text
