"""The geometry estimators (synergy_utils.stats.geometry) against exact values, known truth
and slow obvious references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import procrustes as scipy_procrustes
from scipy.stats import ortho_group

from synergy_utils.stats.geometry import (
    bootstrap_by_layer,
    bootstrap_interval,
    bootstrap_samples,
    linear_cka,
    participation_ratio,
    procrustes_score,
    two_nn,
)

AMBIENT = 60


def _embed(z: np.ndarray, rng: np.random.Generator, ambient: int = AMBIENT) -> np.ndarray:
    """``z`` (n, k) placed on a random k-dimensional linear subspace of R^ambient."""
    basis, _ = np.linalg.qr(rng.standard_normal((ambient, z.shape[1])))
    return z @ basis.T


def _n_points(d: int) -> int:
    # TwoNN's downward bias grows with d at a fixed number of points (about -5 % at d = 10
    # with 3000 points), so the 10 % test uses more points there.
    return 3000 if d == 10 else 1500


@pytest.mark.parametrize("d", [2, 5, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_nn_recovers_d_on_a_linear_subspace(d, seed):
    rng = np.random.default_rng(seed)
    points = _embed(rng.standard_normal((_n_points(d), d)), rng)
    assert two_nn(points) == pytest.approx(d, rel=0.10)


@pytest.mark.parametrize("d", [2, 5, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_nn_recovers_d_on_a_curved_manifold_with_noise(d, seed):
    # the unit d-sphere (curved, intrinsic dimension d) in R^60, noise sd 1e-4 per coordinate
    rng = np.random.default_rng(100 + seed)
    s = rng.standard_normal((_n_points(d), d + 1))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    points = _embed(s, rng) + 1e-4 * rng.standard_normal((s.shape[0], AMBIENT))
    assert two_nn(points) == pytest.approx(d, rel=0.10)


def _two_nn_slow(points: np.ndarray, discard: float = 0.1) -> float:
    """TwoNN by loops: each point's two nearest neighbours, the sorted ratios, the fit."""
    n = len(points)
    mus = []
    for i in range(n):
        dists = sorted(
            float(np.sqrt(sum((points[i, k] - points[j, k]) ** 2 for k in range(points.shape[1]))))
            for j in range(n)
            if j != i
        )
        mus.append(dists[1] / dists[0])
    mus.sort()
    keep = int(np.floor(n * (1 - discard)))
    xs = [np.log(m) for m in mus[:keep]]
    ys = [-np.log(1 - (i + 1) / n) for i in range(keep)]
    return sum(x * y for x, y in zip(xs, ys, strict=True)) / sum(x * x for x in xs)


def test_two_nn_matches_a_slow_reference_and_counts_repeated_points_once():
    rng = np.random.default_rng(3)
    points = rng.standard_normal((40, 3))
    assert two_nn(points) == pytest.approx(_two_nn_slow(points), rel=1e-12)
    doubled = np.concatenate([points, points[:7]])
    assert two_nn(doubled) == pytest.approx(two_nn(points), rel=1e-12)


@pytest.mark.parametrize("d", [3, 8])
def test_participation_ratio_of_an_isotropic_gaussian_is_d(d):
    rng = np.random.default_rng(d)
    points = _embed(rng.standard_normal((4000, d)), rng)
    assert participation_ratio(points) == pytest.approx(d, rel=0.03)


def test_participation_ratio_exact_on_known_variances():
    # orthogonal centred columns with sample variances 16/3, 4/3, 4/3: PR = 8^2 / 32 = 2
    signs = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    x = signs * np.array([2.0, 1.0, 1.0])
    assert np.allclose(x.T @ x / 3, np.diag([16 / 3, 4 / 3, 4 / 3]))
    assert participation_ratio(x) == pytest.approx(2.0, abs=1e-12)
    assert participation_ratio(signs[:, :1]) == pytest.approx(1.0, abs=1e-12)


def _cka_slow(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA by loops: Gram matrices, double centring, HSIC ratios."""
    n = len(x)

    def gram(a):
        return [[sum(a[i, k] * a[j, k] for k in range(a.shape[1])) for j in range(n)]
                for i in range(n)]  # fmt: skip

    def centre(g):
        rows = [sum(r) / n for r in g]
        total = sum(rows) / n
        return [[g[i][j] - rows[i] - rows[j] + total for j in range(n)] for i in range(n)]

    def hsic(a, b):
        return sum(a[i][j] * b[i][j] for i in range(n) for j in range(n))

    k, ell = centre(gram(x)), centre(gram(y))
    return hsic(k, ell) / np.sqrt(hsic(k, k) * hsic(ell, ell))


def test_linear_cka_matches_the_slow_reference():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 4))
    y = x[:, :3] @ rng.standard_normal((3, 5)) + 0.5 * rng.standard_normal((9, 5))
    assert linear_cka(x, y) == pytest.approx(_cka_slow(x, y), abs=1e-12)


def test_linear_cka_of_a_rotated_scaled_shifted_copy_is_one():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((200, 12)) @ rng.standard_normal((12, 12))
    rotation = ortho_group.rvs(12, random_state=5)
    assert linear_cka(x, 3.7 * x @ rotation + 2.0) == pytest.approx(1.0, abs=1e-10)


def test_linear_cka_of_independent_data_is_near_zero():
    # independent Gaussian clouds: E[CKA] is about sqrt(p q) / n = 5 / 2000 = 0.0025; the
    # bound 0.01 is four times that expectation
    rng = np.random.default_rng(6)
    values = [linear_cka(rng.standard_normal((2000, 5)), rng.standard_normal((2000, 5)))
              for _ in range(5)]  # fmt: skip
    assert max(values) < 0.01


def test_procrustes_score_is_one_for_a_rotated_copy_and_matches_scipy():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((100, 6))
    rotation = ortho_group.rvs(6, random_state=7)
    assert procrustes_score(x, 0.3 * x @ rotation - 1.0) == pytest.approx(1.0, abs=1e-10)
    y = x @ rng.standard_normal((6, 6)) + rng.standard_normal((100, 6))
    disparity = scipy_procrustes(x, y)[2]
    assert procrustes_score(x, y) == pytest.approx(1 - disparity, abs=1e-10)
    assert 0 <= procrustes_score(x, rng.standard_normal((100, 6))) < 1
    # a narrower cloud is padded: a 3-dimensional copy inside 6 dimensions still scores 1
    assert procrustes_score(x[:, :3], x[:, :3] @ rotation[:3]) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: two_nn(np.ones((50, 4))), "constant"),
        (lambda: two_nn(np.zeros((5, 3)) + np.arange(5)[:, None]), "at least"),
        (lambda: participation_ratio(np.array([[0.0, np.nan], [1, 2], [3, 4]])), "NaN"),
        (lambda: linear_cka(np.eye(5), np.eye(6)), "same points"),
        (lambda: procrustes_score(np.ones((5, 2)), np.eye(5)), "constant"),
        (lambda: linear_cka(np.ones((2, 2)), np.ones((2, 2))), "at least"),
        (lambda: participation_ratio(np.zeros((3, 2, 2))), "n_points"),
    ],
)
def test_bad_input_is_refused_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((80, 5))
    y = x @ rng.standard_normal((5, 5)) + rng.standard_normal((80, 5))
    a = bootstrap_samples(linear_cka, x, y, n_bootstrap=50, seed=1)
    assert np.array_equal(a, bootstrap_samples(linear_cka, x, y, n_bootstrap=50, seed=1))
    assert not np.array_equal(a, bootstrap_samples(linear_cka, x, y, n_bootstrap=50, seed=2))
    est = bootstrap_interval(linear_cka, x, y, n_bootstrap=200, seed=1)
    assert est["ci_low"] < est["value"] < est["ci_high"]
    assert est["value"] == linear_cka(x, y)


def test_bootstrap_by_layer_uses_the_same_rows_in_every_layer():
    rng = np.random.default_rng(9)
    stack = rng.standard_normal((3, 60, 4))
    stack[2] = stack[0]  # layers 0 and 2 identical: identical resampled values
    values, boot = bootstrap_by_layer("two_nn", stack, n_bootstrap=20, seed=0)
    assert values.shape == (3,) and boot.shape == (3, 20)
    assert np.array_equal(boot[0], boot[2]) and values[0] == two_nn(stack[0])
    pr_values, pr_boot = bootstrap_by_layer(participation_ratio, stack, n_bootstrap=20, seed=0)
    assert np.array_equal(pr_boot[0], pr_boot[2])
    assert pr_values[1] == participation_ratio(stack[1])
    _, cka = bootstrap_by_layer(linear_cka, stack, stack, n_bootstrap=5, seed=0)
    assert np.allclose(cka, 1.0)
