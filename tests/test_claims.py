"""One claim interface: every module registered in ``report.claims.CLAIMS`` assesses into an
``Assessment`` with a valid verdict, words it in a paragraph that names the verdict, and
round-trips through the ``summary.json`` codec.

A claim module joins by registering itself in ``CLAIMS`` and adding a function to
:data:`EXAMPLES` here that returns example assessments from its own ``assess(...)``: one per
verdict the rule can give, from small inputs of known truth.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from synergy_utils.report.claims import CLAIMS
from synergy_utils.results import read_json, write_json
from synergy_utils.schema import from_dict, to_dict
from synergy_utils.summary import VERDICTS, Assessment


def _universality_examples() -> list[Assessment]:
    from synergy_utils.report.claims.universality import ModelVerdicts, assess
    from synergy_utils.summary import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

    def models(*rows):
        return [ModelVerdicts(m, f, {"mmi": a, "ccs": b}) for m, f, a, b in rows]

    return [
        assess(models(("a", "llama", SUPPORTED, SUPPORTED), ("b", "qwen2", SUPPORTED, SUPPORTED))),
        assess(
            models(
                ("a", "llama", SUPPORTED, SUPPORTED), ("b", "gemma3", NOT_SUPPORTED, NOT_SUPPORTED)
            )
        ),  # fmt: skip
        assess(models(("a", "llama", SUPPORTED, INCONCLUSIVE))),
    ]


def _core_examples() -> list[Assessment]:
    from synergy_utils.report.claims.core import assess
    from synergy_utils.simulation import simulate

    shape = {"n_prompts": 8, "n_steps": 80, "n_layers": 6, "n_heads": 3}
    return [
        assess(simulate(name, seed=1, **shape).values, n_surrogates=20, n_bootstrap=200)
        for name in ("middle_core", "edge_core")
    ]


def _revised_examples() -> list[Assessment]:
    import numpy as np

    from synergy_utils.report.claims.revised import assess

    rng = np.random.default_rng(0)
    noise = rng.normal(scale=0.05, size=(6, 100))
    low_middle = np.array([8.0, 8.0, 3.0, 3.0, 8.0, 8.0])  # middle third of 6 layers: 2, 3
    flat = np.full(6, 8.0)
    cka_gain = np.array([0.1, 0.1, 0.6, 0.6, 0.1, 0.1])
    return [
        assess("dimension", low_middle, low_middle[:, None] + noise, flat,
               flat[:, None] + noise),
        assess("dimension", flat, flat[:, None] + noise, flat, flat[:, None] + noise),
        assess("alignment", 0.2 + cka_gain, (0.2 + cka_gain)[:, None] + 0.1 * noise,
               np.full(6, 0.2), 0.2 + 0.1 * noise),
    ]  # fmt: skip


def _ablation_given_examples() -> list[Assessment]:
    from synergy_utils.report.claims.ablation_given import assess, evidence
    from synergy_utils.report.claims.ablation_toy import order_area, simulate_toy
    from synergy_utils.stages.matched_orders import (
        matched_contrast,
        matched_random_orders,
        score_order,
    )
    from synergy_utils.stages.synergy_regression import synergy_coefficient

    out = []
    for beta in (0.5, 0.0):  # a real effect of synergy, and none
        toy = simulate_toy(beta, 0.0, 3)
        tested = order_area(toy["damage"], score_order(toy["synergy"]))
        matched = order_area(
            toy["damage"], matched_random_orders(toy["synergy"], toy["norm"], 30, 3)
        )
        coef = synergy_coefficient(
            toy["damage"], toy["synergy"], toy["norm"], toy["self_information"], 200, 3
        )
        out.append(assess(evidence(coef, matched_contrast(tested, matched, 200, 3))))
    return out  # fmt: skip


#: Claim name -> example assessments, from the claim's own ``assess``.
EXAMPLES: dict[str, Callable[[], list[Assessment]]] = {
    "ablation_given": _ablation_given_examples,
    "core": _core_examples,
    "revised": _revised_examples,
    "universality": _universality_examples,
}


def test_every_registered_claim_has_examples():
    assert set(CLAIMS) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_a_claim_assesses_words_and_round_trips(name, tmp_path):
    module = CLAIMS[name]
    assert callable(module.assess) and callable(module.paragraph)
    examples = EXAMPLES[name]()
    assert examples, f"{name}: no example assessment"
    for i, assessment in enumerate(examples):
        assert isinstance(assessment, Assessment), type(assessment)
        assert assessment.verdict in VERDICTS, assessment.verdict
        assert assessment.reason and assessment.rule
        text = module.paragraph(assessment)
        assert isinstance(text, str) and assessment.verdict in text, text
        path = write_json(tmp_path / f"{name}_{i}.json", {"assessment": to_dict(assessment)})
        back = from_dict(type(assessment), read_json(path)["assessment"], name)
        assert dataclasses.asdict(back) == dataclasses.asdict(assessment)
        assert module.paragraph(back) == text
    verdicts = {a.verdict for a in examples}
    assert len(verdicts) > 1 or len(examples) == 1, f"{name}: the examples give one verdict"
