"""Toy layer representations of known geometry, for validating the rules of
:mod:`synergy_utils.report.claims.revised`.

Every generator returns point clouds stacked by layer, ``(layer, point, feature)`` float64,
with the same points (prompts) in every layer, seeded:

* :func:`dimension_stack`: each layer's points lie on a curved manifold (a unit sphere
  ``S^k``) of a chosen intrinsic dimension ``k``, placed by a random orthonormal map into
  ``ambient`` dimensions, plus isotropic Gaussian noise; the middle third
  (:func:`synergy_utils.series.thirds`) on ``middle_dim``, the outer thirds on ``outer_dim``
  (equal dimensions: no effect);
* :func:`alignment_stacks`: the states of rule A in vocabulary 1, rule A in vocabulary 2 and
  rule B in vocabulary 2. Where a layer is *aligned*, rule A's two vocabularies share one
  latent state mapped by a known rotation (plus noise); elsewhere, and always for rule B,
  the latents are independent. ``aligned="middle"`` plants the claimed effect, ``"all"`` and
  ``"none"`` are no-effect cases (the same-rule advantage does not change with depth).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ortho_group

from .series import thirds

ALIGNED_CASES = ("middle", "all", "none")


def _sphere(n_points: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_points, dim + 1)`` points uniform on the unit sphere ``S^dim``."""
    s = rng.standard_normal((n_points, dim + 1))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def _placed(z: np.ndarray, ambient: int, rng: np.random.Generator) -> np.ndarray:
    """``z`` ``(n, k)`` mapped into ``ambient`` dimensions by a random orthonormal basis."""
    basis, _ = np.linalg.qr(rng.standard_normal((ambient, z.shape[1])))
    return z @ basis.T


def dimension_stack(
    n_layers: int = 6,
    n_points: int = 150,
    *,
    outer_dim: int = 8,
    middle_dim: int = 3,
    ambient: int = 40,
    noise: float = 1e-3,
    seed: int = 0,
) -> np.ndarray:
    """``(n_layers, n_points, ambient)`` clouds: the middle third of the layers on ``S^middle_dim``,
    the outer thirds on ``S^outer_dim`` (unit radius), each with Gaussian noise of standard
    deviation ``noise`` per coordinate. ``middle_dim == outer_dim`` is the no-effect case."""
    if min(outer_dim, middle_dim) < 1 or max(outer_dim, middle_dim) >= ambient:
        raise ValueError("dimensions must be >= 1 and below the ambient dimension")
    rng = np.random.default_rng(seed)
    _, middle, _ = thirds(n_layers)
    dims = [middle_dim if middle.start <= k < middle.stop else outer_dim for k in range(n_layers)]
    clouds = [_placed(_sphere(n_points, d, rng), ambient, rng) for d in dims]
    return np.stack(clouds) + noise * rng.standard_normal((n_layers, n_points, ambient))


def alignment_stacks(
    n_layers: int = 6,
    n_points: int = 150,
    *,
    dim: int = 5,
    ambient: int = 20,
    noise: float = 0.5,
    aligned: str = "middle",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a1, a2, b2)``, each ``(n_layers, n_points, ambient)``: rule A in vocabulary 1, rule
    A in vocabulary 2, rule B in vocabulary 2, point i being prompt i in all three.

    Each state is a ``dim``-dimensional standard Gaussian latent placed in ``ambient``
    dimensions, plus noise of standard deviation ``noise`` per coordinate. In an aligned layer
    ``a2``'s latent is ``a1``'s times a fixed random rotation (the known map between the
    vocabularies); otherwise it is independent, as ``b2``'s always is. ``aligned`` picks the
    aligned layers: ``"middle"`` (the middle third), ``"all"`` or ``"none"``.
    """
    if aligned not in ALIGNED_CASES:
        raise ValueError(f"aligned must be one of {ALIGNED_CASES}, got {aligned!r}")
    rng = np.random.default_rng(seed)
    rotation = ortho_group.rvs(dim, random_state=rng)
    _, middle, _ = thirds(n_layers)
    stacks: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for k in range(n_layers):
        on = aligned == "all" or (aligned == "middle" and middle.start <= k < middle.stop)
        z_a = rng.standard_normal((n_points, dim))
        z_a2 = z_a @ rotation if on else rng.standard_normal((n_points, dim))
        z_b = rng.standard_normal((n_points, dim))
        for out, z in zip(stacks, (z_a, z_a2, z_b), strict=True):
            out.append(_placed(z, ambient, rng) + noise * rng.standard_normal((n_points, ambient)))
    a1, a2, b2 = (np.stack(s) for s in stacks)
    return a1, a2, b2
