"""Record nodes beyond attention heads while a model writes: routed experts and SSM heads.

The node kinds and where they live are in the node table,
:data:`synergy_utils.lm.architectures.NODE_SITES`. The recorders here have the interface of
the attention recorder of :mod:`synergy_utils.lm.recording` (``start``, ``set_step``,
``buffer``, ``attached``), so :func:`~synergy_utils.lm.recording.record_head_series` with
``nodes="experts"`` or ``nodes="ssm"`` runs the same decoding loop, caching and metadata;
only the per-layer hook differs.

* **experts** (mixture-of-experts blocks): a forward hook on the fused experts module reads
  the inputs the block routed to it (tokens, the indices of the chosen experts, the router
  weights) and, for the newest token of every prompt, runs each chosen expert alone through
  the module's own forward with its router weight: the node value is
  ``||w_e(x) * E_e(x)||_2 = w_e(x) ||E_e(x)||_2``, 0 for an expert the router did not choose.
  Shared (always-on) experts are not nodes.
* **ssm** (Mamba2-style mixers): a forward hook on the mixer's output projection reads its
  input, the gated and normalised scan output with the heads side by side, and takes the L2
  norm of each head's slice at the newest token (as the attention recorder does).

Neither kind has been run on real weights here; the tests check them on tiny random models
against a recomputation that does not use these hooks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .architectures import NODE_DESCRIPTIONS, HeadLayout, NodeLayout, node_modules
from .decoding import _model_device


class NodeRecorder:
    """Forward hooks on every node module that write (rows, nodes) per step into a buffer."""

    def __init__(self, model: nn.Module, layout: NodeLayout):
        self.layout = layout
        self.modules = [module for _, module in node_modules(model, layout.kind)]
        self.device = _model_device(model)
        self.buffer: torch.Tensor | None = None
        self.step = 0

    def start(self, n_rows: int, n_steps: int) -> None:
        """A fresh NaN buffer (n_rows, n_steps, n_layers, n_nodes) for the next batch."""
        shape = (n_rows, n_steps, self.layout.n_layers, self.layout.n_heads)
        self.buffer = torch.full(shape, math.nan, dtype=torch.float32, device=self.device)
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = step

    def values(self, module: nn.Module, args: tuple, kwargs: dict) -> torch.Tensor:
        """(n_rows, n_nodes) float32 values of one layer at the newest position."""
        raise NotImplementedError

    def _hook(self, layer: int) -> Callable:
        def hook(module: nn.Module, args: tuple, kwargs: dict, output: object) -> None:
            if self.buffer is not None:
                values = self.values(module, args, kwargs)
                self.buffer[:, self.step, layer] = values.to(self.buffer.device)

        return hook

    @contextmanager
    def attached(self) -> Iterator[NodeRecorder]:
        handles = [
            module.register_forward_hook(self._hook(layer), with_kwargs=True)
            for layer, module in enumerate(self.modules)
        ]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()


def _newest(tensor: torch.Tensor, n_rows: int) -> torch.Tensor:
    """The newest position of each row of a flattened (rows * seq, ...) tensor."""
    if tensor.shape[0] % n_rows:
        raise RuntimeError(
            f"the experts module got {tensor.shape[0]} tokens for {n_rows} prompts; expected "
            "a multiple (batch x sequence, flattened)"
        )
    return tensor.reshape(n_rows, tensor.shape[0] // n_rows, *tensor.shape[1:])[:, -1]


def _experts_inputs(args: tuple, kwargs: dict) -> tuple[torch.Tensor, ...]:
    names = ("hidden_states", "top_k_index", "top_k_weights")
    values = list(args[:3]) + [kwargs[name] for name in names[len(args[:3]) :] if name in kwargs]
    if len(values) != 3:
        raise RuntimeError(
            "the experts module was not called as experts(hidden_states, top_k_index, "
            "top_k_weights); the node table may be wrong for this model "
            "(synergy_utils.lm.architectures.NODE_SITES)"
        )
    return tuple(values)


class ExpertRecorder(NodeRecorder):
    """Router-weighted output norm of every routed expert at the newest token."""

    def values(self, module: nn.Module, args: tuple, kwargs: dict) -> torch.Tensor:
        hidden, index, weights = _experts_inputs(args, kwargs)
        n_rows = self.buffer.shape[0]
        x, idx, w = (_newest(t, n_rows) for t in (hidden, index, weights))
        out = torch.zeros(n_rows, self.layout.n_heads, dtype=torch.float32, device=x.device)
        for j in range(idx.shape[-1]):
            chosen = idx[:, j : j + 1]
            # the module's own forward (not __call__, which would run this hook again)
            weighted = module.forward(x, chosen, w[:, j : j + 1])
            norm = torch.linalg.vector_norm(weighted.to(torch.float32), dim=-1, keepdim=True)
            out.scatter_add_(1, chosen.to(torch.long), norm)
        return out


class SSMHeadRecorder(NodeRecorder):
    """L2 norm of every SSM head's slice of the mixer's output-projection input."""

    def values(self, module: nn.Module, args: tuple, kwargs: dict) -> torch.Tensor:
        x = args[0] if args else next(iter(kwargs.values()))
        n_heads, width = self.layout.n_heads, self.layout.head_dim
        if x.dim() != 3 or x.shape[-1] != n_heads * width:
            raise RuntimeError(
                f"mixer output-projection input has shape {tuple(x.shape)}, expected "
                f"(batch, seq, {n_heads * width}) = num_heads {n_heads} x head_dim {width}"
            )
        heads = x[:, -1, :].to(torch.float32).reshape(x.shape[0], n_heads, width)
        return torch.linalg.vector_norm(heads, dim=-1)


_RECORDERS: dict[str, type[NodeRecorder]] = {"experts": ExpertRecorder, "ssm": SSMHeadRecorder}


def node_recorder(model: nn.Module, layout: NodeLayout) -> NodeRecorder:
    """The recorder of ``layout.kind`` ("experts" or "ssm") for ``model``."""
    if layout.kind not in _RECORDERS:
        raise ValueError(f"no node recorder for {layout.kind!r}; kinds: {sorted(_RECORDERS)}")
    return _RECORDERS[layout.kind](model, layout)


def node_metadata(layout: HeadLayout) -> dict[str, object]:
    """What a recording of nodes other than attention heads adds to a series' metadata
    (nothing for attention heads, whose metadata stays as it was)."""
    if not isinstance(layout, NodeLayout) or layout.kind == "attention":
        return {}
    return {
        "nodes": layout.kind,
        "node_description": NODE_DESCRIPTIONS[layout.kind],
        "reduction_description": NODE_DESCRIPTIONS[layout.kind],
        "layer_indices": list(layout.layer_indices),
    }
