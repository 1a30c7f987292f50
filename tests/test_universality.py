"""The universality rule: counting families, counter-examples, and known truth end to end."""

from __future__ import annotations

import pytest

from synergy_utils.report.claims.core import assess_core
from synergy_utils.report.claims.universality import (
    MIN_FAMILIES,
    ModelVerdicts,
    family_verdict,
    universality,
    universality_sentence,
)
from synergy_utils.simulation import simulate
from synergy_utils.summary import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

S, N, U = SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE  # U: undecided


def _models(*rows: tuple[str, str, str, str]) -> list[ModelVerdicts]:
    return [ModelVerdicts(model, family, {"mmi": m, "ccs": c}) for model, family, m, c in rows]


def test_family_verdict_needs_every_model_and_any_counter_example_counts():
    assert family_verdict([S, S]) == S
    assert family_verdict([S, N]) == N
    assert family_verdict([S, U]) == U
    assert family_verdict([]) == U


@pytest.mark.parametrize(
    ("rows", "verdict", "statement"),
    [
        (
            [("a", "llama", S, S), ("b", "gemma3", S, S), ("c", "qwen2", S, S)],
            S,
            "holds in 3 of 3 families under MMI, 3 under CCS",
        ),
        (
            [("a", "llama", S, S), ("b", "gemma3", N, N), ("c", "qwen2", S, S)],
            N,
            "holds in 2 of 3 families under MMI, 2 under CCS",
        ),
        (  # MMI and CCS disagree in one family: not a counter-example, not a success
            [("a", "llama", S, S), ("b", "gemma3", S, N), ("c", "qwen2", S, S)],
            U,
            "holds in 3 of 3 families under MMI, 2 under CCS",
        ),
        (
            [("a", "llama", U, U), ("b", "gemma3", S, S)],
            U,
            "holds in 1 of 2 families under MMI, 1 under CCS",
        ),
        (  # one family only, however many models
            [("a", "llama", S, S), ("b", "llama", S, S)],
            U,
            "holds in 1 of 1 family under MMI, 1 under CCS",
        ),
        (  # two models of one family: one counter-example refutes the family
            [("a", "llama", S, S), ("b", "llama", N, N), ("c", "qwen2", S, S)],
            N,
            "holds in 1 of 2 families under MMI, 1 under CCS",
        ),
    ],
)
def test_rule_on_verdict_tables(rows, verdict, statement):
    result = universality(_models(*rows))
    assert (result.verdict, result.statement) == (verdict, statement)
    assert result.n_families == len({r[1] for r in rows})
    assert result.verdict in universality_sentence(result)
    if verdict == N:
        assert result.counter_examples
    assert MIN_FAMILIES == 2


#: Three "families" of different shapes (layers, heads per layer), as architectures differ.
SHAPES = {"family_a": (9, 4), "family_b": (12, 3), "family_c": (6, 6)}
SEEDS = range(3)


def _known_truth(system_of: dict[str, str], seed: int) -> str:
    """Universality verdict over simulated families whose claim-1 truth is known."""
    rows = []
    for family, (n_layers, n_heads) in SHAPES.items():
        values = simulate(system_of[family], n_layers=n_layers, n_heads=n_heads, seed=seed).values
        verdicts = {
            r: assess_core(values, redundancy=r, n_shuffles=40, n_bootstrap=300, seed=seed).verdict
            for r in ("mmi", "ccs")
        }
        rows.append(ModelVerdicts(family, family, verdicts))
    return universality(rows).verdict


@pytest.mark.parametrize("seed", SEEDS)
def test_known_truth_every_family_has_a_core(seed):
    assert _known_truth(dict.fromkeys(SHAPES, "middle_core"), seed) == SUPPORTED


@pytest.mark.parametrize("seed", SEEDS)
def test_known_truth_one_family_has_its_core_at_the_edges(seed):
    systems = {"family_a": "middle_core", "family_b": "edge_core", "family_c": "middle_core"}
    assert _known_truth(systems, seed) == NOT_SUPPORTED


@pytest.mark.parametrize("seed", SEEDS)
def test_known_truth_transfer_only_family_is_not_counted_as_a_core(seed):
    """Crossed transfer looks like a core to MMI but not to CCS: never "supported"."""
    systems = {"family_a": "middle_core", "family_b": "crossed_transfer", "family_c": "middle_core"}
    assert _known_truth(systems, seed) != SUPPORTED
