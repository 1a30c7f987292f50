"""Interventions on a model's attention heads: ablation in a ``with`` block, reference head
means, and perturbed, randomised or re-initialised copies of a whole model.

The per-head site is the one used for recording: the input of each layer's attention output
projection, where head ``h`` occupies the slice ``[h * head_dim, (h + 1) * head_dim)`` of the
last dimension (:mod:`synergy_utils.lm.architectures`). :func:`ablated` edits those slices
with a forward pre-hook (modes ``zero``, ``mean``, ``noise``) or perturbs the head's weights
in place (``weights-noise``: Gaussian noise on the head's query-projection rows and
output-projection columns), and restores the model exactly on exit, also on an exception.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .architectures import head_layout, out_proj_head_weight, output_projections, query_head_weight
from .decoding import _model_device, _pad_batch, pad_token_id, render_prompt

MODES: tuple[str, ...] = ("zero", "mean", "resample", "noise", "weights-noise")

Head = tuple[int, int]


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


def _check_mode_kwargs(mode: str, kwargs: Mapping[str, Any], model: nn.Module) -> None:
    allowed = {
        "zero": set(),
        "mean": {"means"},
        "resample": {"shift"},
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
    if mode == "resample" and int(kwargs.get("shift", 1)) == 0:
        raise ValueError("mode 'resample' needs shift != 0 (rows of the batch to roll by)")
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
        ``"resample"``: the slice is replaced by the same head's output at the same position
        on another prompt of the batch (rows rolled by ``shift``, default 1; with left padding
        the generated tokens of equally long continuations line up). A one-row pass (a prefix
        shared by all prompts, computed once) is left as it is: it is the same on every prompt;
        so a batch of one prompt is not changed at all.
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
    with ExitStack() as stack:
        if head_list:
            grouped = _by_layer(head_list)
            if mode == "weights-noise":
                _perturb_head_weights(model, grouped, stack, kw)
            else:
                _hook_head_outputs(model, grouped, stack, mode, kw)
        yield model


def _perturb_head_weights(
    model: nn.Module, grouped: Mapping[int, list[int]], stack: ExitStack, kw: Mapping[str, Any]
) -> None:
    """Add seeded noise to the heads' query rows and output columns; register the restore."""
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []

    def restore() -> None:
        with torch.no_grad():
            for view, original in reversed(saved):
                view.copy_(original)

    stack.callback(restore)
    generator = torch.Generator(device=_model_device(model)).manual_seed(int(kw.get("seed", 0)))
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
                        device=generator.device,
                        dtype=torch.float32,
                    )
                    view.add_((noise * (rel * sd)).to(device=view.device, dtype=view.dtype))


def _slice_edit(mode: str, layer: int, kw: Mapping[str, Any], state: dict[str, Any]) -> Callable:
    """The in-place edit of one layer's head slices for the output modes."""
    if mode == "zero":

        def edit(v: torch.Tensor, idx: torch.Tensor) -> None:
            v[..., idx, :] = 0

    elif mode == "mean":
        layer_means = state["means"][layer]

        def edit(v: torch.Tensor, idx: torch.Tensor) -> None:
            v[..., idx, :] = layer_means[idx.cpu()].to(device=v.device, dtype=v.dtype)

    elif mode == "resample":
        shift = int(kw.get("shift", 1))

        def edit(v: torch.Tensor, idx: torch.Tensor) -> None:
            # a one-row pass (a prompt prefix shared by every row) is the same on every prompt
            v[..., idx, :] = v[..., idx, :].roll(shift, dims=0)

    else:
        generator, std = state["generator"], float(kw["std"])

        def edit(v: torch.Tensor, idx: torch.Tensor) -> None:
            target = v[..., idx, :]
            noise = torch.randn(
                target.shape, generator=generator, device=generator.device, dtype=torch.float32
            )
            v[..., idx, :] = target + (std * noise).to(device=v.device, dtype=v.dtype)

    return edit


def _hook_head_outputs(
    model: nn.Module,
    grouped: Mapping[int, list[int]],
    stack: ExitStack,
    mode: str,
    kw: Mapping[str, Any],
) -> None:
    """Register one forward pre-hook per layer that edits the heads' slices."""
    layout = head_layout(model)
    state: dict[str, Any] = {}
    if mode == "mean":
        state["means"] = torch.as_tensor(np.asarray(kw["means"]), dtype=torch.float32)
    if mode == "noise":
        device = _model_device(model)
        state["generator"] = torch.Generator(device=device).manual_seed(int(kw.get("seed", 0)))
    projections = output_projections(model)
    for layer, layer_heads in grouped.items():
        edit = _slice_edit(mode, layer, kw, state)
        handle = projections[layer].register_forward_pre_hook(
            _slice_hook(layer_heads, layout.n_heads, layout.head_dim, edit)
        )
        stack.callback(handle.remove)


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
    ``template`` as in :func:`synergy_utils.lm.decoding.render_prompt`), a
    :class:`TeacherForcedBatch`, or an iterable of mappings with ``input_ids`` and
    ``attention_mask`` tensors (B, S).

    Returns
    -------
    float64 array (n_layers, n_heads, head_dim): the mean of each head's slice of the
    attention output-projection input, for ``ablated(..., mode="mean", means=...)``.
    """
    layout = head_layout(model)
    if hasattr(source, "model_inputs"):  # a TeacherForcedBatch
        batches: Iterable = [source.model_inputs()]
    elif hasattr(source, "encode"):
        if not prompts:
            raise ValueError("head_mean_outputs with a tokenizer needs a non-empty prompts list")
        ids = [render_prompt(source, p, template) for p in prompts]
        pad = pad_token_id(model, source)
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


def _generator(seed: int):
    import torch

    return torch.Generator(device="cpu").manual_seed(int(seed))


def randomised_model(model, seed: int = 0, noise_std: float = 10.0):
    """Deep copy of ``model`` with ``N(0, noise_std^2)`` noise added to every parameter.

    This is the predecessor's "randomised network" control (its code adds N(0, 10^2) to all
    weights, embeddings and norms included). The original model is untouched.
    """
    import torch

    noisy = copy.deepcopy(model)
    gen = _generator(seed)
    with torch.no_grad():
        for param in noisy.parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float32)
            param.add_(noise.to(param.dtype).to(param.device) * noise_std)
    return noisy.eval()


def perturbed_model(model, relative_std: float, seed: int = 0):
    """Deep copy with each parameter tensor ``W`` plus ``N(0, (relative_std * std(W))^2)``.

    Noise is scaled to each tensor's own standard deviation, so ``relative_std = 0.1`` is a
    10 % perturbation everywhere; tensors with a single element or zero spread (e.g. norms
    initialised to ones) are left unchanged.
    """
    import torch

    if relative_std < 0:
        raise ValueError("relative_std must be >= 0")
    noisy = copy.deepcopy(model)
    gen = _generator(seed)
    with torch.no_grad():
        for param in noisy.parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float32)
            if param.numel() < 2:
                continue
            scale = float(param.detach().float().std()) * relative_std
            if scale > 0:
                param.add_(noise.to(param.dtype).to(param.device) * scale)
    return noisy.eval()


def reinitialised_model(model, seed: int = 0):
    """A model of the same class and config with fresh random weights (``cls(config)``).

    Uses the library's own initialisation, seeded without touching the global torch RNG;
    dtype and device follow ``model``, and a model placed by ``device_map`` (``hf_device_map``)
    is re-dispatched over the same devices.
    """
    import torch

    param = next(model.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        fresh = model.__class__(copy.deepcopy(model.config))
    fresh = fresh.to(dtype=param.dtype)
    device_map = getattr(model, "hf_device_map", None)
    if device_map:
        from accelerate import dispatch_model

        return dispatch_model(fresh, device_map=dict(device_map)).eval()
    return fresh.to(device=param.device).eval()


#: Names accepted for a model copy's floating-point type.
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def cast_copy(model: nn.Module, dtype: str | torch.dtype) -> nn.Module:
    """A deep copy of ``model`` whose floating-point parameters and buffers are ``dtype``
    (``"float32"``, ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``); the original is
    untouched (casting in place and back would not restore it exactly)."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        dtype = DTYPES[dtype]
    return copy.deepcopy(model).to(dtype).eval()


def model_dtype(model: nn.Module) -> str:
    """The name of the floating-point type of ``model``'s first parameter."""
    dtype = next(model.parameters()).dtype
    return str(dtype).removeprefix("torch.")
