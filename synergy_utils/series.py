"""Per-head time series of a set of prompts: the data every stage works on.

:class:`HeadSeries` holds one number per attention head per generated token (by default the
L2 norm of the head's attention output; see :mod:`synergy_utils.lm.recording`), with the
token ids, texts and the provenance of the recording. It is plain numpy and xarray, so the
analyses never need torch; it is written to and read from self-describing NetCDF files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .phiid import ATOMS
from .results import load_dataset, save_dataset, to_jsonable

#: Ways to reduce a head's output vector (at one position) to one number.
REDUCTIONS: tuple[str, ...] = ("l2", "mean", "max", "projected")
#: Identifies files written by :meth:`HeadSeries.save`.
FILE_FORMAT = "synergy_utils.HeadSeries/1"

REDUCTION_DESCRIPTIONS: dict[str, str] = {
    "l2": "L2 norm of the head's attention output (its slice of the output-projection input)",
    "mean": "mean of the head's attention output vector",
    "max": "maximum of the head's attention output vector",
    "projected": "L2 norm of the head's contribution after the output projection (no bias)",
}


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
        categories: per prompt, its category (see :mod:`synergy_utils.stages.prompts`), or None.
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
                    "long_name": REDUCTION_DESCRIPTIONS.get(reduction, reduction),
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
        """Write to NetCDF-4, atomically. Returns the path."""
        return save_dataset(self.to_xarray(), path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> HeadSeries:
        """Read a file written by :meth:`save`."""
        return cls.from_xarray(load_dataset(path))


# --- labelled ΦID results ----------------------------------------------------------------


def atoms_as_dataarray(
    atoms: np.ndarray,
    nodes: Sequence[Any] | None = None,
    units: str = "nats",
) -> Any:
    """Wrap (16, N, N) or (P, 16, N, N) atoms as a labelled ``xarray.DataArray``.

    Dimensions ``atom, source, target`` (and a leading ``prompt``); ``nodes`` labels the
    source and target coordinates (default 0..N-1).
    """
    arr = np.asarray(atoms)
    if arr.ndim not in (3, 4) or arr.shape[-3] != 16 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"expected (16, N, N) or (P, 16, N, N), got {arr.shape}")
    labels = list(range(arr.shape[-1])) if nodes is None else list(nodes)
    dims = ("atom", "source", "target")
    coords: dict[str, Any] = {"atom": list(ATOMS), "source": labels, "target": labels}
    if arr.ndim == 4:
        dims = ("prompt",) + dims
        coords["prompt"] = np.arange(arr.shape[0])
    return xr.DataArray(arr, dims=dims, coords=coords, name="phiid", attrs={"units": units})


def thirds(n_layers: int) -> tuple[slice, slice, slice]:
    """Index slices of the first, middle and last third of ``n_layers`` layers.

    Boundaries are ``round(L/3)`` and ``round(2L/3)`` (L/3 never ends in .5, so there are no
    rounding ties); the outer thirds always have equal size, e.g. 30 -> 10/10/10,
    18 -> 6/6/6, 4 -> 1/2/1, 5 -> 2/1/2, 7 -> 2/3/2. Needs ``n_layers >= 3``.
    """
    if n_layers < 3:
        raise ValueError(f"an inverted-U statistic needs at least 3 layers, got {n_layers}")
    lo, hi = round(n_layers / 3), round(2 * n_layers / 3)
    return slice(0, lo), slice(lo, hi), slice(hi, n_layers)
