"""Synthetic "models" whose truth is known: the battery a claim-1 rule must pass.

Each system is shaped like the head series of a small language model: ``(P, T, L, H)``
float64 arrays (prompts, decoding steps, layers, heads; node ``n = layer * H + head``), one
independent realisation per prompt, seeded. The same head keeps its role (its persistence,
its group membership) in every prompt, as a real head would.

Systems (see :data:`SYSTEMS` and ``docs/validation.md``):

* ``independent``: no interaction; every head an AR(1) with its own coefficient in 0..0.9.
* ``rising_persistence``: independent heads whose persistence rises towards the middle layers
  (MMI counts persistence as synergy: Varley 2024).
* ``edge_redundancy``: every head AR(0.6); the heads of the outer thirds share one zero-lag
  driver (redundant with each other), middle heads are independent.
* ``middle_core``: a synergistic group made of all heads of the middle third (see
  :func:`synergistic_group`); the other heads are independent AR(0.6).
* ``edge_core``: the same group placed in the outer layers.
* ``crossed_transfer``: middle heads in pairs with crossed dynamics ``x_{t+1} = c y_t + e``;
  MMI assigns the pair's information to ``sts``, CCS to transfer (``xty``, ``ytx``). Under
  MMI a rule may call it *supported* (MMI books transfer as synergy) or, the crossed pairs
  being a few of the middle pairs, *inconclusive*.
* ``core_rising_persistence``: a smaller group (two heads per middle layer) among heads whose
  persistence rises towards the middle.
* ``middle_redundancy``: ``edge_redundancy`` turned inside out: the shared zero-lag driver sits
  in the middle third. No synergistic mechanism, but heads that are noisy copies of one signal.

Systems at the persistence of a real model (:func:`study_persistence`: each layer's mean
lag-1 autocorrelation as measured on the bundled default model, rising from about 0.15 at the
edges to 0.45 in the middle, with a spread of 0.1 between the heads of a layer):

* ``common_input``: no synergy; AR(1) heads whose innovations share one component
  (15 % of each innovation's variance), as when one token drives every head.
* ``weak_middle_core``: the middle-third heads are each a mix of a synergistic group
  (weight ``core_weight``) and their own AR(1) series: a weak core (about 0.01 nats of
  Δsts per pair under MMI at the default weight; :data:`WEAK_CORE_WEIGHT`).
* ``weak_core_common_input``: the weak core among heads with the shared innovation.
* ``sparse_core``: two heads per middle layer form a synergistic group.

Imports numpy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .series import thirds
from .summary import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

#: Verdicts that are right for a system without a middle-layer core.
NO_CORE_VERDICTS: tuple[str, ...] = (NOT_SUPPORTED, INCONCLUSIVE)


@dataclass
class SimulatedSystem:
    """One realisation of a battery system.

    Attributes:
        name: the system's key in :data:`SYSTEMS`.
        values: float64 ``(n_prompts, n_steps, n_layers, n_heads)`` head series.
        truth: ``"middle core"``, ``"edge core"`` or ``"no core"`` (for the rule's claim:
            a group of middle-layer heads whose joint past predicts their joint future beyond
            what each head predicts of itself).
        description: one sentence on how the series are made.
        expected: redundancy function -> verdicts of the claim-1 rule that count as right.
        group: ``(n_layers, n_heads)`` bool, the heads of the synergistic group (or of the
            crossed pairs), all False without one.
        persistence: ``(n_layers, n_heads)`` lag-1 coefficient of each head's own AR(1)
            dynamics (NaN for group heads, whose persistence comes from the shared signal).
        params: the construction's parameters.
    """

    name: str
    values: np.ndarray
    truth: str
    description: str
    expected: dict[str, tuple[str, ...]]
    group: np.ndarray
    persistence: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(self.values.shape)  # type: ignore[return-value]

    def right(self, verdict: str, redundancy: str = "mmi") -> bool:
        """Whether ``verdict`` is a right answer for this system under ``redundancy``."""
        return verdict in self.expected[redundancy.lower()]


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def ar1(
    phi: Any, n_steps: int, n_prompts: int, rng: np.random.Generator, n_series: int | None = None
) -> np.ndarray:
    """Stationary unit-variance AR(1) series ``x_{t+1} = phi x_t + sqrt(1 - phi^2) e_t``.

    ``phi`` is a scalar or one coefficient per series (``|phi| < 1``). Returns
    ``(n_prompts, n_steps, n_series)``; the first step is drawn from the stationary law, so
    there is no burn-in.
    """
    phi = np.asarray(phi, dtype=np.float64)
    if n_series is None:
        n_series = 1 if phi.ndim == 0 else phi.shape[0]
    phi = np.broadcast_to(phi, (n_series,))
    if np.any(np.abs(phi) >= 1):
        raise ValueError("AR(1) coefficients must lie in (-1, 1)")
    noise = rng.standard_normal((n_prompts, n_steps, n_series))
    out = np.empty_like(noise)
    out[:, 0] = noise[:, 0]
    scale = np.sqrt(1.0 - phi**2)
    for t in range(1, n_steps):
        out[:, t] = phi * out[:, t - 1] + scale * noise[:, t]
    return out


def group_scales(n_members: int, low: float = 2.0, high: float = 3.5) -> np.ndarray:
    """Distinct loadings of the group heads on the shared noise: magnitudes evenly spaced in
    ``[low, high]``, signs alternating (so that neighbours in magnitude differ in sign)."""
    if n_members < 2:
        raise ValueError("a synergistic group needs at least 2 heads")
    half = (n_members + 1) // 2
    magnitudes = np.linspace(low, high, half) if half > 1 else np.array([low])
    scales = np.empty(n_members)
    scales[0::2] = magnitudes[: len(scales[0::2])]
    scales[1::2] = -magnitudes[: len(scales[1::2])]
    return scales


def synergistic_group(
    n_members: int,
    n_steps: int,
    n_prompts: int,
    rng: np.random.Generator,
    *,
    signal_ar: float = 0.9,
    scales: Sequence[float] | None = None,
    noise: float = 0.05,
) -> np.ndarray:
    """Series of a group in which every pair is synergistic: ``(n_prompts, n_steps, n_members)``.

    Head ``g`` is ``s_t + c_g xi_t + noise * e_{g,t}``: ``s`` a persistent unit-variance
    AR(``signal_ar``) signal shared by the group, ``xi`` a loud shared white noise, ``c_g``
    distinct loadings (:func:`group_scales`, magnitudes 2..3.5) and ``e`` small independent
    noise. Alone, a head is mostly white noise (lag-1 correlation about
    ``signal_ar / (1 + c_g^2)``, self-information near 0.01 nats); any two heads cancel
    ``xi`` together and reveal ``s``, so their joint past predicts their joint future although
    neither past predicts either future: information that only the pair holds, on both sides
    of the lag (``sts`` under MMI and under CCS). Each head is scaled to unit variance.
    """
    c = group_scales(n_members) if scales is None else np.asarray(scales, dtype=np.float64)
    if c.shape != (n_members,) or len(np.unique(c)) != n_members:
        raise ValueError("scales must hold one distinct loading per group member")
    signal = ar1(signal_ar, n_steps, n_prompts, rng)  # (P, T, 1)
    shared = rng.standard_normal((n_prompts, n_steps, 1))
    own = noise * rng.standard_normal((n_prompts, n_steps, n_members))
    series = signal + shared * c + own
    return series / np.sqrt(1.0 + c**2 + noise**2)


def crossed_pairs(
    n_pairs: int, n_steps: int, n_prompts: int, rng: np.random.Generator, coupling: float = 0.8
) -> np.ndarray:
    """``(n_prompts, n_steps, 2 * n_pairs)`` pairs with crossed dynamics
    ``x_{t+1} = c y_t + e``, ``y_{t+1} = c x_t + e'`` (columns ``2k, 2k + 1`` form pair k).

    Each head's past predicts only its partner's future (no lag-1 self-prediction); the
    population TDMI at c = 0.8 is 1.02 nats, which MMI-ΦID puts in ``sts`` and CCS in the
    transfer atoms ``xty`` and ``ytx`` (about 0.51 nats each). Stationary start, unit variance.
    """
    if not abs(coupling) < 1:
        raise ValueError("coupling must lie in (-1, 1)")
    scale = np.sqrt(1.0 - coupling**2)
    noise = rng.standard_normal((n_prompts, n_steps, n_pairs, 2))
    z = np.empty_like(noise)
    z[:, 0] = noise[:, 0]
    for t in range(1, n_steps):
        z[:, t] = coupling * z[:, t - 1, :, ::-1] + scale * noise[:, t]
    return z.reshape(n_prompts, n_steps, 2 * n_pairs)


def shared_driver(
    n_members: int,
    n_steps: int,
    n_prompts: int,
    rng: np.random.Generator,
    *,
    phi: float = 0.6,
    share: float = 0.7,
) -> np.ndarray:
    """``(n_prompts, n_steps, n_members)`` heads ``sqrt(share) D_t + sqrt(1 - share) e_t`` with
    one driver ``D`` and own series ``e``, all AR(``phi``): every head is exactly AR(``phi``)
    with unit variance, and any two heads correlate ``share`` at lag 0 (zero-lag redundancy)."""
    driver = ar1(phi, n_steps, n_prompts, rng)
    own = ar1(phi, n_steps, n_prompts, rng, n_series=n_members)
    return np.sqrt(share) * driver + np.sqrt(1.0 - share) * own


def rising_phi(n_layers: int, edge: float = 0.3, middle: float = 0.9) -> np.ndarray:
    """Per-layer AR coefficient rising linearly from ``edge`` (first and last layer) to
    ``middle`` (centre of the depth axis)."""
    depth = np.linspace(0.0, 1.0, n_layers)
    return edge + (middle - edge) * (1.0 - np.abs(2.0 * depth - 1.0))


#: Mean lag-1 autocorrelation of the heads of each of the 30 layers of the bundled default
#: model (SmolLM2-135M-Instruct, 60 prompts × 100 steps, the full profile's recording),
#: rounded: the persistence profile of the systems "at the study's persistence".
STUDY_LAYER_PERSISTENCE: tuple[float, ...] = (
    0.14, 0.06, 0.13, 0.14, 0.13, 0.19, 0.20, 0.28, 0.21, 0.06, 0.21, 0.23, 0.33, 0.34, 0.47,
    0.37, 0.45, 0.45, 0.41, 0.41, 0.43, 0.31, 0.37, 0.21, 0.17, 0.16, 0.17, 0.15, 0.21, 0.25,
)  # fmt: skip
#: Spread (standard deviation) of the lag-1 autocorrelation between the heads of a layer.
STUDY_HEAD_SPREAD = 0.1
#: Share of each innovation's variance that all heads share in the common-input systems.
COMMON_INPUT_SHARE = 0.15
#: Weight of the synergistic group in the weak-core heads, per redundancy function: about
#: 0.01 nats of Δsts per pair (middle–middle over outer–outer, prompt-shuffle null) under each.
WEAK_CORE_WEIGHT: dict[str, float] = {"mmi": 0.27, "ccs": 0.4}


def study_persistence(n_layers: int, n_heads: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_layers, n_heads)`` AR(1) coefficients: :data:`STUDY_LAYER_PERSISTENCE` stretched
    to ``n_layers`` by linear interpolation over depth, plus a head-to-head spread of
    :data:`STUDY_HEAD_SPREAD`, clipped to ``[-0.2, 0.9]``."""
    profile = np.interp(
        np.linspace(0, 1, n_layers), np.linspace(0, 1, len(STUDY_LAYER_PERSISTENCE)),
        STUDY_LAYER_PERSISTENCE,
    )  # fmt: skip
    spread = STUDY_HEAD_SPREAD * rng.standard_normal((n_layers, n_heads))
    return np.clip(profile[:, None] + spread, -0.2, 0.9)


def ar1_common(
    phi: np.ndarray,
    n_steps: int,
    n_prompts: int,
    rng: np.random.Generator,
    share: float = COMMON_INPUT_SHARE,
) -> np.ndarray:
    """``(n_prompts, n_steps, n_series)`` stationary unit-variance AR(1) series whose
    innovations are ``sqrt(1 - share) e_n + sqrt(share) u``, ``u`` one white noise shared by
    every series (zero-lag redundancy through the input, no synergistic mechanism)."""
    phi = np.asarray(phi, dtype=np.float64)
    if np.any(np.abs(phi) >= 1) or not 0 <= share < 1:
        raise ValueError("need |phi| < 1 and 0 <= share < 1")
    common = rng.standard_normal((n_prompts, n_steps, 1))
    noise = np.sqrt(1 - share) * rng.standard_normal((n_prompts, n_steps, phi.size))
    noise += np.sqrt(share) * common
    out = np.empty_like(noise)
    out[:, 0] = noise[:, 0]
    scale = np.sqrt(1.0 - phi**2)
    for t in range(1, n_steps):
        out[:, t] = phi * out[:, t - 1] + scale * noise[:, t]
    return out


# --------------------------------------------------------------------------------------------
# the systems
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemSpec:
    """A battery system: how to build it and what the truth is."""

    name: str
    truth: str
    description: str
    expected: dict[str, tuple[str, ...]]
    build: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]]


def _layer_range(sl: slice) -> range:
    return range(sl.start, sl.stop)


def _edge_layers(n_layers: int, n_group_layers: int) -> list[int]:
    """``n_group_layers`` layers taken from both ends (first half from the start)."""
    first, _, last = thirds(n_layers)
    n_first = min((n_group_layers + 1) // 2, first.stop)
    n_last = min(n_group_layers - n_first, n_layers - last.start)
    return list(range(n_first)) + list(range(n_layers - n_last, n_layers))


def _fill_group(out, group, phis, layers, heads_per_layer, rng, **kwargs):
    members = [(layer, h) for layer in layers for h in range(heads_per_layer)]
    series = synergistic_group(len(members), out.shape[1], out.shape[0], rng, **kwargs)
    for k, (layer, h) in enumerate(members):
        out[:, :, layer, h] = series[:, :, k]
        group[layer, h] = True
        phis[layer, h] = np.nan


def _independent(out, phis, mask, rng):
    """Fill the heads where ``mask`` is True with independent AR(phis) series."""
    idx = np.argwhere(mask)
    if len(idx):
        series = ar1(phis[mask], out.shape[1], out.shape[0], rng)
        for k, (layer, h) in enumerate(idx):
            out[:, :, layer, h] = series[:, :, k]


def _build_independent(shape, rng, phi_low=0.0, phi_high=0.9):
    n_prompts, n_steps, n_layers, n_heads = shape
    out = np.empty(shape)
    phis = rng.uniform(phi_low, phi_high, size=(n_layers, n_heads))
    group = np.zeros((n_layers, n_heads), dtype=bool)
    _independent(out, phis, ~group, rng)
    return out, group, phis, {"phi_range": (phi_low, phi_high)}


def _build_rising(shape, rng, edge=0.3, middle=0.9):
    n_prompts, n_steps, n_layers, n_heads = shape
    out = np.empty(shape)
    phis = np.repeat(rising_phi(n_layers, edge, middle)[:, None], n_heads, axis=1)
    group = np.zeros((n_layers, n_heads), dtype=bool)
    _independent(out, phis, ~group, rng)
    return out, group, phis, {"phi_edge": edge, "phi_middle": middle}


def _build_redundancy(shape, rng, where="edges", phi=0.6, share=0.7):
    n_prompts, n_steps, n_layers, n_heads = shape
    out = np.empty(shape)
    first, middle, last = thirds(n_layers)
    if where == "edges":
        shared = list(_layer_range(first)) + list(_layer_range(last))
    else:
        shared = list(_layer_range(middle))
    members = [(layer, h) for layer in shared for h in range(n_heads)]
    series = shared_driver(len(members), n_steps, n_prompts, rng, phi=phi, share=share)
    mask = np.ones((n_layers, n_heads), dtype=bool)
    for k, (layer, h) in enumerate(members):
        out[:, :, layer, h] = series[:, :, k]
        mask[layer, h] = False
    phis = np.full((n_layers, n_heads), phi)
    _independent(out, phis, mask, rng)
    group = np.zeros((n_layers, n_heads), dtype=bool)
    return out, group, phis, {"phi": phi, "share": share, "driver_layers": shared}


def _build_core(shape, rng, where="middle", phi=0.6, heads_per_layer=None, rising=False):
    n_prompts, n_steps, n_layers, n_heads = shape
    out = np.empty(shape)
    _, middle, _ = thirds(n_layers)
    n_group_layers = middle.stop - middle.start
    layers = (
        list(_layer_range(middle)) if where == "middle" else _edge_layers(n_layers, n_group_layers)
    )
    per_layer = n_heads if heads_per_layer is None else min(heads_per_layer, n_heads)
    if rising:
        phis = np.repeat(rising_phi(n_layers)[:, None], n_heads, axis=1)
    else:
        phis = np.full((n_layers, n_heads), phi)
    group = np.zeros((n_layers, n_heads), dtype=bool)
    _fill_group(out, group, phis, layers, per_layer, rng)
    _independent(out, phis, ~group, rng)
    return out, group, phis, {"group_layers": layers, "group_heads_per_layer": per_layer}


def _build_crossed(shape, rng, coupling=0.8, phi=0.6):
    n_prompts, n_steps, n_layers, n_heads = shape
    out = np.empty(shape)
    _, middle, _ = thirds(n_layers)
    n_pairs_layer = n_heads // 2
    group = np.zeros((n_layers, n_heads), dtype=bool)
    phis = np.full((n_layers, n_heads), phi)
    layers = list(_layer_range(middle))
    if n_pairs_layer:
        series = crossed_pairs(n_pairs_layer * len(layers), n_steps, n_prompts, rng, coupling)
        k = 0
        for layer in layers:
            for h in range(2 * n_pairs_layer):
                out[:, :, layer, h] = series[:, :, k]
                group[layer, h] = True
                phis[layer, h] = 0.0
                k += 1
    _independent(out, phis, ~group, rng)
    return out, group, phis, {"coupling": coupling, "pairs_in_layers": layers}


def _build_study(shape, rng, *, common=False, core_weight=None, heads_per_layer=None):
    """Heads at the study's persistence; optionally a shared innovation and a (weak or
    sparse) synergistic group in the middle third."""
    n_prompts, n_steps, n_layers, n_heads = shape
    phis = study_persistence(n_layers, n_heads, rng)
    flat = phis.reshape(-1)
    if common:
        out = ar1_common(flat, n_steps, n_prompts, rng).reshape(shape)
    else:
        out = ar1(flat, n_steps, n_prompts, rng).reshape(shape)
    group = np.zeros((n_layers, n_heads), dtype=bool)
    params: dict[str, Any] = {"common_input_share": COMMON_INPUT_SHARE if common else 0.0}
    if core_weight is None and heads_per_layer is None:
        return out, group, phis, params
    _, middle, _ = thirds(n_layers)
    per_layer = n_heads if heads_per_layer is None else min(heads_per_layer, n_heads)
    members = [(layer, h) for layer in _layer_range(middle) for h in range(per_layer)]
    series = synergistic_group(len(members), n_steps, n_prompts, rng)
    weight = 1.0 if core_weight is None else float(core_weight)
    for k, (layer, h) in enumerate(members):
        own = out[:, :, layer, h]
        out[:, :, layer, h] = np.sqrt(weight) * series[:, :, k] + np.sqrt(1 - weight) * own
        group[layer, h] = weight > 0
        if weight == 1.0:
            phis[layer, h] = np.nan
    params.update(core_weight=weight, group_heads_per_layer=per_layer)
    return out, group, phis, params


_NO_CORE = {"mmi": NO_CORE_VERDICTS, "ccs": NO_CORE_VERDICTS}
#: A weak or sparse core: found, or missed for want of power, never rejected (the power test
#: of the rule, at a study-like shape, asks it to be found).
_WEAK_CORE = {"mmi": (SUPPORTED, INCONCLUSIVE), "ccs": (SUPPORTED, INCONCLUSIVE)}

#: The battery, by name.
SYSTEMS: dict[str, SystemSpec] = {
    spec.name: spec
    for spec in (
        SystemSpec(
            "independent",
            "no core",
            "independent heads, each an AR(1) with its own coefficient drawn from U(0, 0.9)",
            _NO_CORE,
            _build_independent,
        ),
        SystemSpec(
            "rising_persistence",
            "no core",
            "independent heads whose AR(1) coefficient rises from 0.3 (first and last layer) "
            "to 0.9 (middle)",
            _NO_CORE,
            _build_rising,
        ),
        SystemSpec(
            "edge_redundancy",
            "no core",
            "every head AR(0.6); outer-third heads share one zero-lag AR(0.6) driver "
            "(pairwise correlation 0.7), middle heads are independent",
            _NO_CORE,
            lambda shape, rng: _build_redundancy(shape, rng, "edges"),
        ),
        SystemSpec(
            "middle_core",
            "middle core",
            "all middle-third heads form one synergistic group (shared persistent signal "
            "hidden under a shared loud noise with distinct loadings); other heads "
            "independent AR(0.6)",
            {"mmi": (SUPPORTED,), "ccs": (SUPPORTED,)},
            lambda shape, rng: _build_core(shape, rng, "middle"),
        ),
        SystemSpec(
            "edge_core",
            "edge core",
            "the same synergistic group, placed in the first and last layers; other heads "
            "independent AR(0.6)",
            {"mmi": (NOT_SUPPORTED,), "ccs": (NOT_SUPPORTED,)},
            lambda shape, rng: _build_core(shape, rng, "edges"),
        ),
        SystemSpec(
            "crossed_transfer",
            "no core",
            "middle heads in pairs with crossed dynamics x_{t+1} = 0.8 y_t + e (transfer, "
            "no self-prediction); other heads independent AR(0.6). MMI puts the pair's "
            "information in sts, CCS in the transfer atoms",
            {"mmi": (SUPPORTED, INCONCLUSIVE), "ccs": NO_CORE_VERDICTS},
            _build_crossed,
        ),
        SystemSpec(
            "core_rising_persistence",
            "middle core",
            "a synergistic group of two heads per middle layer among independent heads whose "
            "AR(1) coefficient rises from 0.3 (edges) to 0.9 (middle)",
            {"mmi": (SUPPORTED,), "ccs": (SUPPORTED,)},
            lambda shape, rng: _build_core(shape, rng, "middle", heads_per_layer=2, rising=True),
        ),
        SystemSpec(
            "middle_redundancy",
            "no core",
            "every head AR(0.6); middle-third heads share one zero-lag AR(0.6) driver "
            "(pairwise correlation 0.7), outer heads are independent",
            _NO_CORE,
            lambda shape, rng: _build_redundancy(shape, rng, "middle"),
        ),
        SystemSpec(
            "common_input",
            "no core",
            "heads at the study's persistence (AR(1), rising from about 0.15 at the edges to "
            "0.45 in the middle); 15 % of every innovation is shared by all heads",
            _NO_CORE,
            lambda shape, rng, **kw: _build_study(shape, rng, common=True),
        ),
        SystemSpec(
            "weak_middle_core",
            "middle core",
            "heads at the study's persistence; each middle-third head mixes a synergistic "
            "group (weight core_weight, default 0.27: about 0.01 nats per pair under MMI) "
            "with its own AR(1) series",
            _WEAK_CORE,
            lambda shape, rng, core_weight=WEAK_CORE_WEIGHT["mmi"]: _build_study(
                shape, rng, core_weight=core_weight
            ),
        ),
        SystemSpec(
            "weak_core_common_input",
            "middle core",
            "the weak middle core among heads whose innovations share 15 % of their variance",
            _WEAK_CORE,
            lambda shape, rng, core_weight=WEAK_CORE_WEIGHT["mmi"]: _build_study(
                shape, rng, common=True, core_weight=core_weight
            ),
        ),
        SystemSpec(
            "sparse_core",
            "middle core",
            "heads at the study's persistence; two heads per middle layer form a synergistic group",
            _WEAK_CORE,
            lambda shape, rng, **kw: _build_study(shape, rng, heads_per_layer=2),
        ),
    )
}

#: The systems every claim-1 rule must get right, in a fixed order.
BATTERY: tuple[str, ...] = tuple(SYSTEMS)
#: Systems whose core strength ``simulate(..., core_weight=...)`` sets.
WEAK_CORE_SYSTEMS: tuple[str, ...] = ("weak_middle_core", "weak_core_common_input")


def simulate(
    name: str,
    *,
    n_prompts: int = 12,
    n_steps: int = 100,
    n_layers: int = 12,
    n_heads: int = 4,
    seed: int = 0,
    core_weight: float | None = None,
) -> SimulatedSystem:
    """One realisation of battery system ``name`` (see :data:`SYSTEMS`).

    The default shape (12 prompts × 100 steps, 12 layers × 4 heads) is that of a small model
    recorded on a short prompt set. ``seed`` fixes everything (the heads' roles and the
    series); different seeds give independent realisations. ``core_weight`` sets the group's
    weight in the systems of :data:`WEAK_CORE_SYSTEMS` (default :data:`WEAK_CORE_WEIGHT`
    under MMI).
    """
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; choose one of {list(SYSTEMS)}")
    if n_layers < 3 or n_heads < 2 or n_prompts < 1 or n_steps < 10:
        raise ValueError("need >= 3 layers, >= 2 heads, >= 1 prompt and >= 10 steps")
    spec = SYSTEMS[name]
    rng = np.random.default_rng([seed, BATTERY.index(name)])
    shape = (n_prompts, n_steps, n_layers, n_heads)
    if core_weight is not None:
        if name not in WEAK_CORE_SYSTEMS:
            raise ValueError(f"core_weight applies to {WEAK_CORE_SYSTEMS}, not {name!r}")
        if not 0 <= core_weight <= 1:
            raise ValueError(f"core_weight must lie in [0, 1], got {core_weight}")
        values, group, phis, params = spec.build(shape, rng, core_weight=core_weight)
    else:
        values, group, phis, params = spec.build(shape, rng)
    params = dict(params, seed=seed)
    return SimulatedSystem(
        name=name,
        values=values,
        truth=spec.truth,
        description=spec.description,
        expected={k: tuple(v) for k, v in spec.expected.items()},
        group=group,
        persistence=phis,
        params=params,
    )


def battery(seed: int = 0, names: Sequence[str] | None = None, **shape: int):
    """``{name: SimulatedSystem}`` for every system in :data:`BATTERY` (or ``names``)."""
    return {name: simulate(name, seed=seed, **shape) for name in (names or BATTERY)}
