"""Teacher forcing: the clean model's greedy continuations fed back to a (possibly ablated)
model, and the per-token KL divergence between the two next-token distributions.

Three ways of not computing what is already known, each tested against the plain pass:

* **Shared prefix** (``share_prefix=True``): the tokens every prompt starts with (a chat
  template's system message) run once per pass, under the current ablation, and their
  key/value cache is repeated over the batch. Equal to the unshared pass to float rounding.
* **Residual-stream reuse**: ablating heads of layers ``>= l0`` leaves the layers below
  untouched, so :func:`clean_pass` records every decoder layer's output and an ablated pass
  replays them below ``l0`` (:func:`replayed_below`). Bit-identical to the full pass.
* **Batching**: one forward pass for all prompts, left padded so that the scored positions sit
  in the trailing columns and only those are projected onto the vocabulary.

Everything returns plain numpy at the boundary, so the ablation stage never handles tensors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .architectures import decoder_layers
from .decoding import (
    _cache_keyword,
    _forward_parameters,
    _model_device,
    _output_cache,
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


def common_prefix_length(rows: Sequence[Sequence[int]], keep: int = 1) -> int:
    """Length of the token prefix shared by every row, leaving at least ``keep`` tokens of
    the shortest row outside it (0 for a single row or no shared start)."""
    if len(rows) < 2:
        return 0
    n = min(len(r) for r in rows) - keep
    first = rows[0]
    for i in range(max(n, 0)):
        if any(r[i] != first[i] for r in rows[1:]):
            return i
    return max(n, 0)


# --- teacher-forced batches ------------------------------------------------------------------


@dataclass
class TeacherForcedBatch:
    """Prompt + continuation of every prompt, padded into one batch for teacher forcing.

    ``score_positions[b, j]`` is the column of ``input_ids`` whose next-token distribution
    generated token ``j`` of prompt ``b`` (the last prompt token for ``j = 0``).

    With a shared prefix (``prefix_ids``, (1, P)), ``input_ids`` holds only what follows the
    prefix, ``attention_mask`` is (B, P + S) (the prefix, then the rows), and ``position_ids``
    count from P.
    """

    input_ids: torch.Tensor  # (B, S) long
    attention_mask: torch.Tensor  # (B, S) or (B, P + S) long, 1 = real token
    position_ids: torch.Tensor  # (B, S) long
    score_positions: torch.Tensor  # (B, n_new) long
    target_ids: torch.Tensor  # (B, n_new) long
    prefix_ids: torch.Tensor | None = None  # (1, P) long

    def model_inputs(self) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "position_ids": self.position_ids,
        }

    def select(self, index: Sequence[int], trim: bool = True) -> TeacherForcedBatch:
        """Rows ``index``; with ``trim``, without the columns that are padding in all of them."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        ids, mask, positions = self.input_ids[idx], self.attention_mask[idx], self.position_ids[idx]
        scored = self.score_positions[idx]
        n_prefix = self.prefix_length
        if trim:
            cols = mask[:, n_prefix:].bool().any(dim=0).nonzero()
            start, stop = int(cols.min()), int(cols.max()) + 1
            ids, positions, scored = ids[:, start:stop], positions[:, start:stop], scored - start
            mask = torch.cat([mask[:, :n_prefix], mask[:, n_prefix + start : n_prefix + stop]], 1)
        targets = self.target_ids[idx]
        return TeacherForcedBatch(ids, mask, positions, scored, targets, self.prefix_ids)

    @property
    def n_prompts(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def prefix_length(self) -> int:
        return 0 if self.prefix_ids is None else int(self.prefix_ids.shape[1])

    @property
    def n_tokens(self) -> int:
        """Token positions one pass computes (real and padding, prefix once)."""
        return int(self.input_ids.numel()) + self.prefix_length


def teacher_forced_batch(
    continuations: Continuations,
    pad_token_id: int = 0,
    padding_side: str = "left",
    *,
    share_prefix: bool = False,
) -> TeacherForcedBatch:
    """Pad prompt + continuation rows into one batch (``padding_side`` 'left' or 'right').

    Position ids count real tokens only, so both sides give each row the result it has alone.
    Left padding aligns every row's scored positions in the last columns, which lets
    :func:`next_token_logprobs` skip the vocabulary projection of the prompt columns.
    ``share_prefix``: split off the tokens every prompt starts with (see the module notes).
    """
    prompts = [list(p) for p in continuations.prompt_ids]
    n_prefix = common_prefix_length(prompts) if share_prefix else 0
    rows = [
        p[n_prefix:] + [int(t) for t in g]
        for p, g in zip(prompts, continuations.generated_ids, strict=True)
    ]
    padded = _pad_batch(rows, pad_token_id, padding_side)
    width = padded["input_ids"].shape[1]
    n_new = continuations.n_new
    positions = []
    for p, row in zip(prompts, rows, strict=True):
        offset = width - len(row) if padding_side == "left" else 0
        first = offset + len(p) - n_prefix - 1
        positions.append(list(range(first, first + n_new)))
    mask, prefix = padded["attention_mask"], None
    if n_prefix:
        prefix = torch.as_tensor([prompts[0][:n_prefix]], dtype=torch.long)
        mask = torch.cat([torch.ones(len(rows), n_prefix, dtype=torch.long), mask], dim=1)
    return TeacherForcedBatch(
        padded["input_ids"],
        mask,
        padded["position_ids"] + n_prefix,
        torch.as_tensor(positions, dtype=torch.long).reshape(len(rows), n_new),
        torch.as_tensor(continuations.generated_ids, dtype=torch.long),
        prefix,
    )


def _prefix_cache(model: nn.Module, prefix_ids: torch.Tensor, n_rows: int) -> Any:
    """Key/value cache of the shared prefix under the model's current state, repeated over
    ``n_rows`` rows."""
    device = _model_device(model)
    prefix = prefix_ids.to(device)
    kwargs: dict[str, Any] = {
        "input_ids": prefix,
        "attention_mask": torch.ones_like(prefix),
        "position_ids": torch.arange(prefix.shape[1], device=device)[None],
        "use_cache": True,
    }
    if "logits_to_keep" in _forward_parameters(model):
        kwargs["logits_to_keep"] = 1
    cache = _output_cache(model(**kwargs))
    cache.batch_repeat_interleave(n_rows)
    return cache


def _chunks(batch: TeacherForcedBatch, batch_size: int | None) -> list[list[int]]:
    """Row groups of at most ``batch_size`` rows, by increasing length (so that each group,
    trimmed, carries little padding); one group of all rows for ``None``."""
    n_rows = batch.n_prompts
    if batch_size is None or batch_size >= n_rows:
        return [list(range(n_rows))]
    lengths = batch.attention_mask.sum(dim=1).tolist()
    order = sorted(range(n_rows), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, n_rows, batch_size)]


# --- residual-stream reuse ---------------------------------------------------------------------


class _Replay(nn.Module):
    """Stands in for a decoder layer and returns that layer's recorded clean output."""

    def __init__(self, original: nn.Module, output: Any) -> None:
        super().__init__()
        self._held = (original, output)  # a tuple, so the layer is not registered twice

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._held[1]

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:  # attributes the model reads off its layers (attention_type)
            return getattr(self.__dict__["_held"][0], name)


@contextmanager
def replayed_below(model: nn.Module, outputs: Sequence[Any], first_layer: int) -> Iterator:
    """Inside the block, decoder layers ``0 .. first_layer - 1`` return ``outputs[l]`` (their
    recorded outputs) instead of computing; the layers are put back on exit, also on error."""
    layers = decoder_layers(model)
    originals = [layers[i] for i in range(first_layer)]
    try:
        for i, original in enumerate(originals):
            layers[i] = _Replay(original, outputs[i])
        yield model
    finally:
        for i, original in enumerate(originals):
            layers[i] = original


@contextmanager
def _recording_layers(model: nn.Module, store: list[Any]) -> Iterator:
    layers = decoder_layers(model)
    store[:] = [None] * len(layers)

    def make(i: int):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            store[i] = output

        return hook

    handles = [layer.register_forward_hook(make(i)) for i, layer in enumerate(layers)]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


@dataclass
class CleanPass:
    """The intact model on a batch: log-probabilities at the scored positions and, when
    recorded, every decoder layer's output per row chunk (for :func:`replayed_below`)."""

    logprobs: torch.Tensor  # (B, n_new, vocab) float32
    batch_size: int | None = None
    layer_outputs: list[list[Any]] | None = field(default=None, repr=False)
    _probs: torch.Tensor | None = field(default=None, repr=False)

    @property
    def probs(self) -> torch.Tensor:
        """``exp(logprobs)``, computed once."""
        if self._probs is None:
            self._probs = self.logprobs.exp()
        return self._probs


def clean_pass(
    model: nn.Module,
    batch: TeacherForcedBatch,
    batch_size: int | None = None,
    *,
    record_layers: bool = True,
) -> CleanPass:
    """Run the intact model once: its log-probabilities and (``record_layers``) the decoder
    layer outputs that let an ablated pass start at its first ablated layer."""
    if not record_layers:
        return CleanPass(next_token_logprobs(model, batch, batch_size), batch_size)
    outputs: list[list[Any]] = []
    parts = []
    chunks = _chunks(batch, batch_size)
    for rows in chunks:
        store: list[Any] = []
        with _recording_layers(model, store):
            parts.append(_logprobs_of_rows(model, batch, rows, len(chunks) == 1))
        outputs.append(list(store))
    return CleanPass(_in_row_order(parts, chunks), batch_size, outputs)


def _in_row_order(parts: Sequence[torch.Tensor], chunks: Sequence[list[int]]) -> torch.Tensor:
    if len(parts) == 1:
        return parts[0]
    out = parts[0].new_empty((sum(len(c) for c in chunks), *parts[0].shape[1:]))
    for part, rows in zip(parts, chunks, strict=True):
        out[torch.as_tensor(rows)] = part
    return out


@torch.no_grad()
def _logprobs_of_rows(
    model: nn.Module,
    batch: TeacherForcedBatch,
    rows: list[int],
    whole: bool,
    replay: tuple[Sequence[Any], int] | None = None,
) -> torch.Tensor:
    """Log-probabilities of ``rows``; the shared prefix runs first (never replayed), then the
    rows, with the layers below ``replay[1]`` replaying ``replay[0]``."""
    device = _model_device(model)
    sub = batch if whole else batch.select(rows)
    inputs: dict[str, Any] = {k: v.to(device) for k, v in sub.model_inputs().items()}
    parameters = _forward_parameters(model)
    if sub.prefix_ids is not None:
        inputs[_cache_keyword(parameters)] = _prefix_cache(model, sub.prefix_ids, len(rows))
        inputs["use_cache"] = True
    else:
        inputs["use_cache"] = False
    pos = sub.score_positions.to(device)
    width = sub.input_ids.shape[1]
    if "logits_to_keep" in parameters:
        # project only the trailing columns that hold scored positions onto the vocabulary
        keep = width - int(pos.min())
        inputs["logits_to_keep"] = keep
        pos = pos - (width - keep)
    if replay is not None and replay[1] > 0:
        with replayed_below(model, replay[0], replay[1]):
            logits = model(**inputs).logits
    else:
        logits = model(**inputs).logits
    trailing = torch.arange(logits.shape[1] - pos.shape[1], logits.shape[1], device=device)
    if not torch.equal(pos, trailing.expand_as(pos)):  # left padding: already the columns
        logits = logits[torch.arange(len(rows), device=device)[:, None], pos]
    return torch.log_softmax(logits.float(), dim=-1).cpu()


def next_token_logprobs(
    model: nn.Module,
    batch: TeacherForcedBatch,
    batch_size: int | None = None,
    *,
    replay: tuple[CleanPass, int] | None = None,
) -> torch.Tensor:
    """Log-probabilities (float32, (B, n_new, vocab)) at the scored positions.

    One forward pass over the whole batch (``batch_size=None``) or over chunks of at most
    ``batch_size`` rows of similar length, each without its all-padding columns. When
    the model takes ``logits_to_keep``, only the trailing columns from the first scored
    position on are projected onto the vocabulary (with left padding: ``n_new`` columns).
    ``replay=(clean, l0)``: layers below ``l0`` replay ``clean``'s recorded outputs (``clean``
    must come from :func:`clean_pass` on the same batch and ``batch_size``).
    """
    chunks = _chunks(batch, batch_size)
    first_layer = 0 if replay is None else int(replay[1])
    if first_layer and (replay[0].layer_outputs is None or replay[0].batch_size != batch_size):
        raise ValueError(
            "replay needs a CleanPass recorded with record_layers=True and the same batch_size"
        )
    out = []
    for c, rows in enumerate(chunks):
        layer_replay = (replay[0].layer_outputs[c], first_layer) if first_layer else None
        out.append(_logprobs_of_rows(model, batch, rows, len(chunks) == 1, layer_replay))
    return _in_row_order(out, chunks)


def kl_both_directions(
    logp: torch.Tensor, logq: torch.Tensor, p: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(KL(p || q), KL(q || p))`` over the last axis, with one difference, one
    exponential and two dot products (``p = exp(logp)`` may be passed precomputed);
    ``logq`` is overwritten."""
    diff = logp - logq
    forward = torch.linalg.vecdot(logp.exp() if p is None else p, diff)
    reverse = -torch.linalg.vecdot(logq.exp_(), diff)
    return forward, reverse


def teacher_forced_kl(
    model: nn.Module,
    batch: TeacherForcedBatch,
    clean_logprobs: torch.Tensor | CleanPass,
    *,
    batch_size: int | None = None,
    per_token: bool = False,
    first_layer: int = 0,
) -> dict[str, torch.Tensor]:
    """KL between clean and current (e.g. ablated) next-token distributions, teacher forced.

    Run inside :func:`ablated`. ``clean_logprobs`` is :func:`next_token_logprobs` of the
    intact model on the same batch, or a :class:`CleanPass`; with a recorded ``CleanPass``,
    ``first_layer > 0`` replays the clean layers below it (valid when no head below it is
    ablated).

    Returns
    -------
    ``{"kl_clean_ablated": KL(p_clean || p_model), "kl_ablated_clean": KL(p_model || p_clean)}``
    in nats, each (B,) averaged over the generated tokens of each prompt, or (B, n_new) with
    ``per_token=True``.
    """
    clean = clean_logprobs if isinstance(clean_logprobs, CleanPass) else None
    logp = clean.logprobs if clean is not None else clean_logprobs
    replay = (clean, first_layer) if clean is not None and first_layer > 0 else None
    logq = next_token_logprobs(model, batch, batch_size, replay=replay)
    if logq.shape != logp.shape:
        raise ValueError(
            f"clean_logprobs has shape {tuple(logp.shape)}, the batch gives {tuple(logq.shape)}"
        )
    forward, reverse = kl_both_directions(logp, logq, clean.probs if clean is not None else None)
    if not per_token:
        forward, reverse = forward.mean(dim=1), reverse.mean(dim=1)
    return {"kl_clean_ablated": forward, "kl_ablated_clean": reverse}


def kl_under_ablation(
    model: nn.Module,
    batch: TeacherForcedBatch,
    head_sets: Sequence[Sequence[tuple[int, int]]],
    *,
    clean: CleanPass | None = None,
    reuse_residual: bool = True,
    mode: str = "zero",
    batch_size: int | None = None,
    progress: bool = False,
    **ablation_kw: Any,
) -> np.ndarray:
    """Teacher-forced KL of each prompt with each set of heads ablated.

    One forward pass (all prompts) per head set; with ``reuse_residual`` the pass starts at
    the set's lowest layer (the clean layer outputs below it are replayed). Returns float64
    (n_sets, n_prompts, 2): the mean over each prompt's generated tokens of KL(clean ||
    ablated) and KL(ablated || clean) (:data:`KL_METRICS` order), in nats per token. An empty
    set gives 0.
    """
    if clean is None or (reuse_residual and clean.layer_outputs is None):
        clean = clean_pass(model, batch, batch_size, record_layers=reuse_residual)
    kl = np.zeros((len(head_sets), batch.n_prompts, len(KL_METRICS)))
    jobs = [k for k, heads in enumerate(head_sets) if len(heads)]
    for k in tqdm(jobs, desc="ablation steps", disable=not progress):
        first = min(int(layer) for layer, _ in head_sets[k]) if reuse_residual else 0
        with ablated(model, head_sets[k], mode, **ablation_kw):
            result = teacher_forced_kl(
                model, batch, clean, batch_size=batch_size, first_layer=first
            )
        for m, metric in enumerate(KL_METRICS):
            kl[k, :, m] = result[metric].double().numpy()
    return kl


# --- greedy replies with a shared prefix ------------------------------------------------------


@torch.no_grad()
def greedy_replies(
    model: nn.Module,
    prompt_ids: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    eos_token_ids: Sequence[int] = (),
    pad_token_id: int = 0,
    share_prefix: bool = True,
) -> list[list[int]]:
    """Greedy replies that stop at end of sequence, all prompts in one batch, the shared
    prefix computed once (:func:`common_prefix_length`); each reply ends with its EOS token
    when it stopped there. Same tokens as :func:`synergy_utils.lm.decoding.greedy_decode`
    with ``stop_at_eos=True`` up to float rounding of the prefix."""
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    device = _model_device(model)
    rows = [list(map(int, p)) for p in prompt_ids]
    n_prefix = common_prefix_length(rows) if share_prefix else 0
    padded = _pad_batch([r[n_prefix:] for r in rows], pad_token_id, "left")
    n_rows = len(rows)
    parameters = _forward_parameters(model)
    mask = padded["attention_mask"].to(device)
    if n_prefix:
        mask = torch.cat([mask.new_ones(n_rows, n_prefix), mask], dim=1)
    kwargs: dict[str, Any] = {
        "input_ids": padded["input_ids"].to(device),
        "position_ids": padded["position_ids"].to(device) + n_prefix,
        "use_cache": True,
    }
    if n_prefix:
        prefix = torch.as_tensor([rows[0][:n_prefix]], dtype=torch.long)
        kwargs[_cache_keyword(parameters)] = _prefix_cache(model, prefix, n_rows)
    if "logits_to_keep" in parameters:
        kwargs["logits_to_keep"] = 1
    eos = torch.as_tensor(sorted(set(eos_token_ids)), dtype=torch.long, device=device)
    finished = torch.zeros(n_rows, dtype=torch.bool, device=device)
    generated: list[torch.Tensor] = []
    for _ in range(max_new_tokens):
        outputs = model(attention_mask=mask, **kwargs)
        next_tokens = outputs.logits[:, -1, :].argmax(dim=-1).masked_fill(finished, pad_token_id)
        generated.append(next_tokens)
        finished |= torch.isin(next_tokens, eos)
        if bool(finished.all()):
            break
        kwargs = {
            "input_ids": next_tokens[:, None],
            "position_ids": kwargs["position_ids"][:, -1:] + 1,
            "use_cache": True,
            _cache_keyword(parameters): _output_cache(outputs),
        }
        mask = torch.cat([mask, mask.new_ones(n_rows, 1)], dim=1)
    tokens = torch.stack(generated, dim=1).cpu().tolist()
    eos_set = set(eos.tolist())
    replies = []
    for row in tokens:
        stop = next((i for i, t in enumerate(row) if t in eos_set), None)
        replies.append(row if stop is None else row[: stop + 1])
    return replies
