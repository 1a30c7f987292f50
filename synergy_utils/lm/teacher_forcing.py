"""Teacher forcing: the clean model's greedy continuations fed back to a (possibly ablated)
model, and the per-token KL divergence between the two next-token distributions.

Everything returns plain numpy at the boundary, so the ablation stage never handles tensors.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .decoding import (
    _model_device,
    _pad_batch,
    eos_token_ids,
    greedy_decode,
    pad_token_id,
    render_prompt,
)
from .interventions import ablated

#: Names of the two KL directions (the ``metric`` coordinate of the curves).
KL_METRICS: tuple[str, ...] = ("kl_clean_ablated", "kl_ablated_clean")


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

    Uses :func:`synergy_utils.lm.decoding.greedy_decode` (KV cache, left padding, the same
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

    Prompts are encoded with :func:`synergy_utils.lm.decoding.render_prompt` (``template``:
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
        pad_token_id=pad_token_id(model, tokenizer),
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


def kl_under_ablation(
    model: nn.Module,
    batch: TeacherForcedBatch,
    head_sets: Sequence[Sequence[tuple[int, int]]],
    *,
    clean_logprobs: torch.Tensor | None = None,
    mode: str = "zero",
    batch_size: int | None = None,
    progress: bool = False,
    **ablation_kw: Any,
) -> np.ndarray:
    """Teacher-forced KL of each prompt with each set of heads ablated.

    One forward pass (all prompts) per head set. Returns float64 (n_sets, n_prompts, 2): the
    mean over each prompt's generated tokens of KL(clean || ablated) and KL(ablated || clean)
    (:data:`KL_METRICS` order), in nats per token. An empty set gives 0.
    """
    if clean_logprobs is None:
        clean_logprobs = next_token_logprobs(model, batch, batch_size)
    kl = np.zeros((len(head_sets), batch.n_prompts, len(KL_METRICS)))
    jobs = [k for k, heads in enumerate(head_sets) if len(heads)]
    for k in tqdm(jobs, desc="ablation steps", disable=not progress):
        with ablated(model, head_sets[k], mode, **ablation_kw):
            result = teacher_forced_kl(model, batch, clean_logprobs, batch_size=batch_size)
        for m, metric in enumerate(KL_METRICS):
            kl[k, :, m] = result[metric].double().numpy()
    return kl
