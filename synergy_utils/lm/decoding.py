"""Prompt templates and greedy decoding with a KV cache, one new position per pass.

Decoding is our own loop (not ``model.generate``), so that each forward pass handles exactly
one new position per prompt and recording hooks read only that position. End-of-sequence
tokens are suppressed by default, so every prompt gets the same number of new tokens.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

#: Prompt templates: "auto" picks "chat" when the tokenizer has a chat template, else "base".
TEMPLATES: tuple[str, ...] = ("auto", "chat", "base", "none")
#: The template for base (non-chat) models.
BASE_TEMPLATE = "Question: {prompt}\nAnswer:"


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


def pad_token_id(model: nn.Module, tokenizer: Any = None) -> int:
    """The tokenizer's pad id, else the first end-of-sequence id, else 0."""
    pad = getattr(tokenizer, "pad_token_id", None) if tokenizer is not None else None
    if pad is not None:
        return int(pad)
    eos = eos_token_ids(model, tokenizer)
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
        eos_steps: per prompt, the first step at which an EOS id was the greedy choice (the
            prompt's natural end), whether EOS was then suppressed or not; None if never.
    """

    generated: list[list[int]]
    stop_steps: list[int | None]
    n_forward: int
    eos_steps: list[int | None] = field(default_factory=list)


def _mark_natural_end(
    logits: torch.Tensor, eos: torch.Tensor, eos_step: torch.Tensor, done: torch.Tensor, step: int
) -> None:
    """Record ``step`` for rows whose greedy choice is EOS for the first time (before any
    suppression; rows already stopped are skipped)."""
    if eos.numel():
        chose = torch.isin(logits.argmax(dim=-1), eos) & (eos_step < 0) & ~done
        eos_step[chose] = step


def _all_ended(eos_step: torch.Tensor, step: int, natural_stop_after: int | None) -> bool:
    """Whether ``natural_stop_after`` steps ran and every row has passed its natural end."""
    if natural_stop_after is None or step + 1 < natural_stop_after:
        return False
    return bool((eos_step >= 0).all())


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
    natural_stop_after: int | None = None,
) -> DecodeResult:
    """Greedy decoding of a batch of prompts with a KV cache, one new position per pass.

    Prompts are left-padded to a common length with an attention mask, and position ids count
    only real tokens, so each prompt decodes as it would alone. The first pass runs over the
    whole (padded) prompt; pass ``k > 0`` feeds token ``k - 1`` only. ``on_step(k)`` is called
    before pass ``k``. EOS ids have their logits set to -inf unless ``stop_at_eos``, in which
    case a prompt that emits EOS stops (its later inputs are padding) and the loop ends when
    every prompt has stopped. With EOS suppressed, ``natural_stop_after = m`` ends the loop
    once at least ``m`` tokens were generated and every prompt has passed its natural end
    (``DecodeResult.eos_steps``); the prompts keep their own suppressed continuations meanwhile.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    device = _model_device(model)
    n_rows = len(prompt_ids)
    input_ids, attention_mask = _left_pad(prompt_ids, pad_token_id, device)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)

    parameters = _forward_parameters(model)
    cache_keyword = _cache_keyword(parameters)
    first_extra = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
    eos = torch.as_tensor(sorted(set(eos_token_ids)), dtype=torch.long, device=device)
    generated = torch.full((n_rows, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    finished = torch.zeros(n_rows, dtype=torch.bool, device=device)
    stop_step = torch.full((n_rows,), -1, dtype=torch.long, device=device)
    eos_step = torch.full((n_rows,), -1, dtype=torch.long, device=device)

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
        _mark_natural_end(logits, valid_eos, eos_step, finished, step)
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
        if _all_ended(eos_step, step, natural_stop_after):
            break
        step_input = next_tokens[:, None]
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((n_rows, 1))], dim=1)
        step_positions = step_positions[:, -1:] + 1

    return _decode_result(generated, stop_step, eos_step, n_steps)


def _left_pad(
    prompt_ids: Sequence[Sequence[int]], pad_token_id: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ``(input_ids, attention_mask)``, both (n_prompts, longest prompt)."""
    n_rows, width = len(prompt_ids), max(len(ids) for ids in prompt_ids)
    input_ids = torch.full((n_rows, width), pad_token_id, dtype=torch.long, device=device)
    attention_mask = torch.zeros((n_rows, width), dtype=torch.long, device=device)
    for row, ids in enumerate(prompt_ids):
        if len(ids) == 0:
            raise ValueError(f"prompt {row} has no tokens")
        input_ids[row, width - len(ids) :] = torch.as_tensor(list(ids), device=device)
        attention_mask[row, width - len(ids) :] = 1
    return input_ids, attention_mask


def _decode_result(
    generated: torch.Tensor, stop_step: torch.Tensor, eos_step: torch.Tensor, n_steps: int
) -> DecodeResult:
    """The decoded tokens of each prompt, cut after its EOS when it stopped there."""
    generated_list, stops = [], []
    stop_cpu = stop_step.cpu().tolist()
    gen_cpu = generated.cpu().tolist()
    for row in range(len(gen_cpu)):
        stop = stop_cpu[row] if stop_cpu[row] >= 0 else None
        stops.append(stop)
        generated_list.append(gen_cpu[row][: (stop + 1 if stop is not None else n_steps)])
    natural = [int(s) if s >= 0 else None for s in eos_step.cpu().tolist()]
    return DecodeResult(generated_list, stops, n_steps, natural)


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
    pad = pad_token_id(model, tokenizer)
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
