"""The ground-truth battery: shapes, seeding, and the synergistic group's design."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_utils.phiid import lag_correlation, phiid_pairwise_stack, self_information
from synergy_utils.series import thirds
from synergy_utils.simulation import (
    BATTERY,
    NO_CORE_VERDICTS,
    SYSTEMS,
    ar1,
    battery,
    crossed_pairs,
    group_scales,
    shared_driver,
    simulate,
    synergistic_group,
)
from synergy_utils.stats.pair_null import null_corrected_atoms


def ccs_available() -> bool:
    try:
        phiid_pairwise_stack(np.random.default_rng(0).standard_normal((1, 50, 3)), 1, "ccs")
    except ValueError:
        return False
    return True


REDUNDANCIES = [
    "mmi",
    pytest.param(
        "ccs",
        marks=pytest.mark.skipif(
            not ccs_available(), reason="the ΦID engine does not implement redundancy='ccs' yet"
        ),
    ),
]


@pytest.mark.parametrize("name", BATTERY)
def test_every_system_is_shaped_seeded_and_described(name):
    system = simulate(name, seed=3)
    assert system.values.shape == (12, 100, 12, 4)
    assert system.values.dtype == np.float64 and np.isfinite(system.values).all()
    assert np.array_equal(system.values, simulate(name, seed=3).values)
    assert not np.allclose(system.values, simulate(name, seed=4).values)
    assert system.truth in ("middle core", "edge core", "no core")
    assert set(system.expected) == {"mmi", "ccs"} and system.description
    assert system.group.shape == system.persistence.shape == (12, 4)
    # every head has unit variance (within sampling error)
    assert np.allclose(system.values.var(axis=(0, 1)), 1.0, atol=0.35)
    if system.truth == "no core":
        assert set(system.expected["ccs"]) == set(NO_CORE_VERDICTS)


def test_truths_and_group_placement():
    first, middle, last = thirds(12)
    mid = simulate("middle_core", seed=0)
    edge = simulate("edge_core", seed=0)
    assert mid.group[middle].all() and not mid.group[first].any() and not mid.group[last].any()
    assert edge.group.sum() == mid.group.sum() == 16
    assert not edge.group[middle].any()
    assert mid.expected == {"mmi": ("supported",), "ccs": ("supported",)}
    assert edge.expected == {"mmi": ("not supported",), "ccs": ("not supported",)}
    crossed = SYSTEMS["crossed_transfer"]
    assert crossed.expected["mmi"] == ("supported", "inconclusive")  # MMI: transfer as synergy
    assert set(crossed.expected["ccs"]) == set(NO_CORE_VERDICTS)
    small = simulate("core_rising_persistence", seed=0)
    assert small.group.sum() == 8 and small.group[middle].sum() == 8
    assert set(battery(seed=1, names=["independent", "edge_core"])) == {"independent", "edge_core"}
    with pytest.raises(ValueError):
        simulate("no such system")


def test_building_blocks():
    rng = np.random.default_rng(0)
    x = ar1([0.0, 0.6, 0.9], 20000, 1, rng)[0]
    assert np.allclose(x.var(axis=0), 1.0, atol=0.1)
    assert np.allclose(lag_correlation(x), [0.0, 0.6, 0.9], atol=0.03)
    z = crossed_pairs(1, 20000, 1, rng, coupling=0.8)[0]
    assert abs(lag_correlation(z[:, 0])) < 0.03  # no self-prediction at lag 1
    assert abs(np.corrcoef(z[:-1, 1], z[1:, 0])[0, 1] - 0.8) < 0.03
    d = shared_driver(3, 20000, 1, rng, phi=0.6, share=0.7)[0]
    assert np.allclose(np.corrcoef(d.T)[np.triu_indices(3, 1)], 0.7, atol=0.05)
    assert np.allclose(lag_correlation(d), 0.6, atol=0.03)
    scales = group_scales(16)
    assert len(np.unique(scales)) == 16 and np.all(np.abs(scales) >= 2.0)
    with pytest.raises(ValueError):
        synergistic_group(3, 50, 1, rng, scales=[2.0, 2.0, 3.0])


@pytest.mark.parametrize("redundancy", REDUNDANCIES)
def test_every_pair_of_the_group_is_synergistic(redundancy):
    """At the battery's shape (12 prompts x 100 steps), each of the 120 pairs of the
    16-head group has positive sts, and positive sts beyond its circular-shift null; alone
    the heads are barely persistent."""
    rng = np.random.default_rng(7)
    group = synergistic_group(16, 100, 12, rng)  # (P, T, 16)
    atoms = phiid_pairwise_stack(group, 1, redundancy, select=("sts", "rtr"))  # prompt means
    upper = np.triu_indices(16, 1)
    assert np.all(atoms[0][upper] > 0.01)
    nulls = null_corrected_atoms(
        group[:, :, None, :], atoms=("sts",), redundancy=redundancy, n_surrogates=40, seed=1
    )
    delta = nulls["delta"].sel(atom="sts").values
    assert np.all(delta[upper] > 0.01)
    self_info = self_information(group, axis=1)  # (P, 16)
    assert self_info.mean() < 0.03  # an AR(0.6) head has 0.22 nats
    assert self_information(ar1(0.6, 100, 12, rng), axis=1).mean() > 0.15
