"""The geometry of point clouds: intrinsic dimension and the alignment of two representations.

Four estimators, numpy/scipy only, each taking points as rows (``(n_points, n_features)``):

* :func:`two_nn`: the TwoNN intrinsic dimension (Facco, d'Errico, Rodriguez & Laio 2017,
  *Sci. Rep.* 7:12140), from the ratio of each point's second to first nearest-neighbour
  distance, in the paper's **linear-fit form**: ``-log(1 - F(mu)) = d log(mu)`` fitted through
  the origin on the empirical distribution of the ratios, with the largest
  :data:`TWO_NN_DISCARD` (10 %) of the ratios discarded, as the paper recommends (they are the
  ones most affected by noise and by the manifold's curvature);
* :func:`participation_ratio`: ``(sum lambda)^2 / sum lambda^2`` of the covariance eigenvalues,
  a linear, variance-weighted dimension (``d`` for an isotropic ``d``-dimensional Gaussian);
* :func:`linear_cka`: linear centred kernel alignment (Kornblith, Norouzi, Lee & Hinton 2019,
  ICML), invariant to orthogonal maps and isotropic scaling, in [0, 1];
* :func:`procrustes_score`: ``1 -`` the Procrustes disparity (the residual sum of squares after
  centring, scaling both clouds to unit Frobenius norm and the best orthogonal map and scale,
  the quantity :func:`scipy.spatial.procrustes` returns), in [0, 1]; 1 for a rotated, shifted
  and scaled copy.

:func:`bootstrap_samples` and :func:`bootstrap_interval` resample points (rows; the same rows
of both clouds for the two-cloud scores) with a seed; :func:`bootstrap_by_layer` does so for a
stack of layers with the same resampled rows in every layer, the ``(layer, resample)`` array
the layer rules of :mod:`synergy_utils.report.claims.revised` read.

A resample with replacement repeats points, and a repeated point has a first-neighbour
distance of 0: :func:`two_nn` counts identical points once (documented there), so the TwoNN
of a resample is the TwoNN of its distinct points (about 63 % of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist, pdist, squareform

from .resampling import CI_LEVEL, as_generator, bootstrap_indices, interval, percentile_interval

#: Fraction of the largest neighbour-distance ratios that TwoNN discards (Facco et al. 2017).
TWO_NN_DISCARD = 0.1
#: Fewest distinct points for a TwoNN estimate (after discarding, a fit needs a few ratios).
MIN_POINTS_TWO_NN = 10
#: Fewest points for the covariance and alignment estimators.
MIN_POINTS = 3
#: Relative size below which a cloud's spread counts as zero (constant data).
CONSTANT_TOLERANCE = 1e-12

Estimator = Callable[..., float]


def _check(points: Any, name: str = "points", min_points: int = MIN_POINTS) -> np.ndarray:
    """``points`` as a float64 ``(n, p)`` array, or a clear error."""
    x = np.asarray(points, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be (n_points, n_features), got shape {x.shape}")
    if x.shape[0] < min_points:
        raise ValueError(f"{name}: need at least {min_points} points, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: no features")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _centred(x: np.ndarray, name: str) -> np.ndarray:
    """Column-centred copy of ``x``; refuses constant data (no spread to measure)."""
    xc = x - x.mean(axis=0)
    scale = max(1.0, float(np.abs(x).max()))
    if np.sqrt((xc**2).sum()) <= CONSTANT_TOLERANCE * scale * np.sqrt(x.size):
        raise ValueError(f"{name} is constant: every point is the same")
    return xc


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _check(x, "x"), _check(y, "y")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"x and y must hold the same points (rows): {a.shape[0]} != {b.shape[0]} rows"
        )
    return _centred(a, "x"), _centred(b, "y")


# --------------------------------------------------------------------------------------
# Intrinsic dimension
# --------------------------------------------------------------------------------------


def two_nn_from_distances(distances: Any, discard: float = TWO_NN_DISCARD) -> float:
    """TwoNN dimension from a square matrix of pairwise distances ``(n, n)`` (see
    :func:`two_nn`); rows and columns of repeated points (distance 0 off the diagonal) are
    counted once."""
    d = np.array(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distances must be a square matrix, got shape {d.shape}")
    if not 0 <= discard < 1:
        raise ValueError(f"discard must be in [0, 1), got {discard}")
    n = d.shape[0]
    zero = d <= 0
    np.fill_diagonal(zero, False)
    if zero.any():  # keep the first of every group of identical points
        keep = ~np.triu(zero, 1).any(axis=0)
        d = d[np.ix_(keep, keep)]
        n = d.shape[0]
    if n < MIN_POINTS_TWO_NN:
        raise ValueError(f"TwoNN needs at least {MIN_POINTS_TWO_NN} distinct points, got {n}")
    np.fill_diagonal(d, np.inf)
    r = np.partition(d, 1, axis=1)[:, :2]
    mu = np.sort(r[:, 1] / r[:, 0])
    n_keep = int(np.floor(n * (1 - discard)))
    x = np.log(mu[:n_keep])
    y = -np.log(1 - np.arange(1, n_keep + 1) / n)
    if not np.any(x > 0):
        raise ValueError("TwoNN is undefined: every point's two nearest neighbours tie")
    return float(np.dot(x, y) / np.dot(x, x))


def two_nn(points: Any, discard: float = TWO_NN_DISCARD) -> float:
    """TwoNN intrinsic dimension of ``points`` ``(n_points, n_features)``, dimensionless.

    For each point, ``mu = r2 / r1`` (second over first nearest-neighbour distance, Euclidean);
    on a locally uniform ``d``-manifold ``mu`` is Pareto with ``F(mu) = 1 - mu^{-d}``. The
    estimate is the linear fit through the origin of ``-log(1 - i/n)`` on ``log mu_(i)`` over
    the sorted ratios, with the largest fraction ``discard`` (default 10 %) left out (Facco et
    al. 2017, the linear-fit form; not the maximum-likelihood form). Identical points are
    counted once. Needs :data:`MIN_POINTS_TWO_NN` distinct points; NaN or infinite values,
    constant data and fewer points raise ``ValueError``.
    """
    x = _check(points, min_points=MIN_POINTS_TWO_NN)
    _centred(x, "points")
    return two_nn_from_distances(squareform(pdist(x)), discard)


def participation_ratio(points: Any) -> float:
    """Participation ratio ``(sum lambda)^2 / sum lambda^2`` of the eigenvalues ``lambda`` of
    the covariance of ``points`` ``(n_points, n_features)``: between 1 and ``min(n - 1, p)``,
    ``d`` for an isotropic ``d``-dimensional Gaussian (as ``n`` grows). Constant data, NaN and
    fewer than :data:`MIN_POINTS` points raise ``ValueError``."""
    xc = _centred(_check(points), "points")
    lam = np.linalg.svd(xc, compute_uv=False) ** 2 / (xc.shape[0] - 1)
    return float(lam.sum() ** 2 / (lam**2).sum())


# --------------------------------------------------------------------------------------
# Alignment of two representations of the same points
# --------------------------------------------------------------------------------------


def linear_cka(x: Any, y: Any) -> float:
    """Linear CKA between ``x`` ``(n, p)`` and ``y`` ``(n, q)``, rows the same points:
    ``||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F)`` on column-centred data (Kornblith et al. 2019).

    In [0, 1]; 1 when ``y`` is an orthogonal map of ``x`` times a scale (plus a shift);
    about ``sqrt(p q) / n`` for independent Gaussian clouds with ``n >> p, q``. A different
    number of rows, constant data or NaN raise ``ValueError``.
    """
    xc, yc = _pair(x, y)
    cross = np.linalg.norm(yc.T @ xc) ** 2
    return float(cross / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))


def procrustes_score(x: Any, y: Any) -> float:
    """``1 -`` Procrustes disparity between ``x`` ``(n, p)`` and ``y`` ``(n, q)`` (rows the
    same points; the narrower cloud is padded with zero columns).

    Both clouds are centred and scaled to unit Frobenius norm; the disparity is the residual
    ``min ||s X R - Y||_F^2`` over orthogonal ``R`` and scale ``s``, i.e. ``1 - ||X'Y||_*^2``
    (nuclear norm), the value :func:`scipy.spatial.procrustes` returns. The score is
    ``||X'Y||_*^2`` in [0, 1]: 1 for a rotated, reflected, shifted or scaled copy.
    """
    xc, yc = _pair(x, y)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    nuclear = np.linalg.svd(xc.T @ yc, compute_uv=False).sum()
    return float(min(1.0, nuclear**2))


# --------------------------------------------------------------------------------------
# Bootstrap over points
# --------------------------------------------------------------------------------------


def bootstrap_samples(
    estimator: Estimator, *clouds: Any, n_bootstrap: int = 1000, seed: Any = 0
) -> np.ndarray:
    """``(n_bootstrap,)`` values of ``estimator(*clouds)`` on resampled points: each resample
    draws ``n`` rows with replacement, the same rows of every cloud (so the two-cloud scores
    keep their pairing). Seeded (``seed``: int or ``numpy.random.Generator``)."""
    arrays = [_check(c, f"cloud {i}") for i, c in enumerate(clouds)]
    if not arrays:
        raise ValueError("give at least one cloud of points")
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError("every cloud must hold the same points (rows)")
    idx = bootstrap_indices(n, n_bootstrap, as_generator(seed))
    return np.array([estimator(*(a[rows] for a in arrays)) for rows in idx])


def bootstrap_interval(
    estimator: Estimator,
    *clouds: Any,
    n_bootstrap: int = 1000,
    ci_level: float = CI_LEVEL,
    seed: Any = 0,
) -> dict[str, float]:
    """``{"value", "ci_low", "ci_high"}``: ``estimator(*clouds)`` on all points and the
    central percentile interval (``ci_level``) of :func:`bootstrap_samples`."""
    samples = bootstrap_samples(estimator, *clouds, n_bootstrap=n_bootstrap, seed=seed)
    return interval(estimator(*clouds), percentile_interval(samples, ci_level))


def _two_nn_layers(points: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TwoNN per layer on all points and on each resample, from one distance matrix per
    layer (a resample's distances are a sub-matrix of it)."""
    full = np.empty(points.shape[0])
    boot = np.empty((points.shape[0], idx.shape[0]))
    for layer, cloud in enumerate(points):
        d = cdist(cloud, cloud)
        full[layer] = two_nn_from_distances(d)
        for b, rows in enumerate(idx):
            rows = np.unique(rows)
            boot[layer, b] = two_nn_from_distances(d[np.ix_(rows, rows)])
    return full, boot


def bootstrap_by_layer(
    estimator: Estimator | str, *stacks: Any, n_bootstrap: int = 200, seed: Any = 0
) -> tuple[np.ndarray, np.ndarray]:
    """An estimator per layer with bootstrap resamples over points.

    ``stacks``: one or two arrays ``(layer, point, feature)`` (the same points in every layer
    and stack). Returns ``(values, resamples)``: ``(layer,)`` on all points and
    ``(layer, n_bootstrap)`` on resamples that draw the *same* rows in every layer (so a
    contrast between layers is paired). ``estimator`` is a callable or ``"two_nn"`` (a fast
    path on one distance matrix per layer, same numbers as :func:`two_nn`).
    """
    arrays = [np.asarray(s, dtype=np.float64) for s in stacks]
    if not arrays or any(a.ndim != 3 for a in arrays):
        raise ValueError("give one or two (layer, point, feature) arrays")
    if any(a.shape[:2] != arrays[0].shape[:2] for a in arrays):
        raise ValueError("every stack must have the same layers and points")
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("the stacks contain NaN or infinite values")
    idx = bootstrap_indices(arrays[0].shape[1], n_bootstrap, as_generator(seed))
    if estimator == "two_nn":
        if len(arrays) != 1:
            raise ValueError("two_nn takes one stack")
        return _two_nn_layers(arrays[0], idx)
    if isinstance(estimator, str):
        raise ValueError(f"unknown estimator {estimator!r}: give a callable or 'two_nn'")
    n_layers = arrays[0].shape[0]
    full = np.array([estimator(*(a[k] for a in arrays)) for k in range(n_layers)])
    boot = np.array(
        [[estimator(*(a[k][rows] for a in arrays)) for rows in idx] for k in range(n_layers)]
    )
    return full, boot
