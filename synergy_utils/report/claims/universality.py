"""Does claim 1 hold across architectures? One rule over the per-model claim-1 verdicts.

The preprint says its picture holds "across multiple LLM architectures". The cross-model
chapter judges claim 1 on every model with the same rule (:func:`.core.core_verdict`, under
MMI and under CCS redundancy); :func:`assess` turns those verdicts into one statement,
"holds in k of n families under MMI, j under CCS", and a verdict (an
:class:`~synergy_utils.summary.UniversalityAssessment`, worded by :func:`paragraph`;
:func:`universality` is the same verdict in the layout of ``summary.json``'s ``models``
section):

* **supported**: at least :data:`MIN_FAMILIES` families, and claim 1 is supported in every
  family under both redundancy functions;
* **not supported**: some family is a counter-example, i.e. claim 1 is *not supported* in it
  under both redundancy functions (so the picture is not universal, whatever the others say);
* **inconclusive**: anything else (too few families, undecided families, or families where
  MMI and CCS disagree).

A family is a model architecture (``config.model_type``); several models of one family count
once, and the family holds under a redundancy function only when every one of its models
does (one counter-example inside a family is still a counter-example).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...summary import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Models,
    ModelStudy,
    Universality,
    UniversalityAssessment,
    UniversalityEvidence,
)

#: Fewest distinct families for a claim about architectures in general.
MIN_FAMILIES = 2
#: The redundancy functions the rule needs a claim-1 verdict under, in order.
REDUNDANCIES: tuple[str, ...] = ("mmi", "ccs")

UNIVERSALITY_RULE = (
    f"Supported: at least {MIN_FAMILIES} model families, and claim 1 is supported in every "
    "family under both MMI and CCS redundancy. Not supported: in some family claim 1 is not "
    "supported under both. Inconclusive: anything else. A family holds only if every one of "
    "its models does."
)


@dataclass(frozen=True)
class ModelVerdicts:
    """The claim-1 verdicts of one model: its label, family and verdict per redundancy."""

    model: str
    family: str
    verdicts: Mapping[str, str]  #: redundancy function ("mmi", "ccs") -> claim-1 verdict


def family_verdict(verdicts: Sequence[str]) -> str:
    """One family's verdict from its models' verdicts under one redundancy function:
    supported if all are, not supported if any is, else inconclusive."""
    if not verdicts:
        return INCONCLUSIVE
    if any(v == NOT_SUPPORTED for v in verdicts):
        return NOT_SUPPORTED
    if all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return INCONCLUSIVE


def assess(models: Sequence[ModelVerdicts]) -> UniversalityAssessment:
    """Apply :data:`UNIVERSALITY_RULE` to the claim-1 verdicts of several models."""
    by_family: dict[str, list[ModelVerdicts]] = {}
    for entry in models:
        by_family.setdefault(entry.family, []).append(entry)
    families = {
        family: {
            r: family_verdict([str(m.verdicts.get(r, INCONCLUSIVE)) for m in members])
            for r in REDUNDANCIES
        }
        for family, members in by_family.items()
    }
    n = len(families)
    holds = {r: sum(v[r] == SUPPORTED for v in families.values()) for r in REDUNDANCIES}
    counter = [f for f, v in families.items() if all(v[r] == NOT_SUPPORTED for r in REDUNDANCIES)]
    statement = (
        f"holds in {holds['mmi']} of {n} famil{'y' if n == 1 else 'ies'} under MMI, "
        f"{holds['ccs']} under CCS"
    )
    if counter:
        verdict = NOT_SUPPORTED
        reason = f"not supported under either redundancy function in {', '.join(counter)}"
    elif n >= MIN_FAMILIES and all(holds[r] == n for r in REDUNDANCIES):
        verdict, reason = SUPPORTED, "supported in every family under both"
    elif n < MIN_FAMILIES:
        verdict = INCONCLUSIVE
        reason = f"{n} famil{'y' if n == 1 else 'ies'}: at least {MIN_FAMILIES} are needed"
    else:
        open_families = [f for f, v in families.items() if any(x != SUPPORTED for x in v.values())]
        verdict = INCONCLUSIVE
        reason = f"undecided or split between MMI and CCS in {', '.join(open_families)}"
    evidence = UniversalityEvidence(statement, n, holds, counter, families)
    return UniversalityAssessment(verdict, reason, UNIVERSALITY_RULE, evidence)


def paragraph(assessment: UniversalityAssessment) -> str:
    """One sentence for the landing page and the chapter: the statement, verdict, reason."""
    statement = assessment.evidence.statement if assessment.evidence else "was not assessed"
    return f"Claim 1 {statement}: **{assessment.verdict}** ({assessment.reason})."


def universality(models: Sequence[ModelVerdicts]) -> Universality:
    """:func:`assess` in the layout of the ``models`` section of ``summary.json``."""
    result = assess(models)
    ev = result.evidence
    return Universality(
        verdict=result.verdict,
        statement=ev.statement,
        reason=result.reason,
        rule=result.rule,
        n_families=ev.n_families,
        holds=ev.holds,
        counter_examples=ev.counter_examples,
        families=ev.families,
    )


def universality_sentence(result: Universality) -> str:
    """One sentence for the landing page and the chapter (:func:`paragraph` of the stored
    section)."""
    evidence = UniversalityEvidence(
        result.statement, result.n_families, result.holds, result.counter_examples, result.families
    )
    return paragraph(UniversalityAssessment(result.verdict, result.reason, result.rule, evidence))


def model_verdicts(study: ModelStudy) -> ModelVerdicts:
    """One model's claim-1 verdicts, each judged from its stored numbers by the one rule."""
    from .core import core_verdict

    return ModelVerdicts(
        study.model, study.family, {r: core_verdict(ev) for r, ev in study.evidence.items()}
    )


def models_section(
    studies: Sequence[ModelStudy],
    skipped: Mapping[str, str],
    settings: Mapping[str, Any],
    provenance: Mapping[str, Any] | None = None,
) -> Models:
    """The ``models`` section of ``summary.json``: the studies, the universality verdict
    over their families and the paragraph that states it."""
    result = universality([model_verdicts(s) for s in studies])
    section = Models(
        models=list(studies),
        skipped=dict(skipped),
        universality=result,
        settings=dict(settings),
        verdict_paragraph="",
        provenance=dict(provenance or {}),
    )
    section.verdict_paragraph = models_paragraph(section)
    return section


def models_paragraph(section: Models) -> str:
    """The chapter's reading: the universality sentence, then one line per model (claim 1
    under each redundancy function with its reason, the untrained copy, the ablation)."""
    from .ablation import ratios_verdict
    from .ablation_given import given_sentence
    from .core import verdict_reason

    lines = [universality_sentence(section.universality)]
    for m in section.models:
        claim1 = "; ".join(
            "{} {} ({})".format(r.upper(), *verdict_reason(ev)) for r, ev in m.evidence.items()
        )
        untrained = ", ".join(
            f"{r.upper()} {verdict_reason(ev)[0]}" for r, ev in m.untrained.items()
        )
        text = f"- **{m.model.split(' (')[0]}** ({m.family}): claim 1 {claim1}. "
        text += f"Re-initialised copy: {untrained or 'not run'}."
        if m.ablation is not None and m.ablation.given is not None:
            text += f" Claim 4 given norm and layer: {given_sentence(m.ablation.given)}."
        if m.ablation is not None:
            text += f" Order comparison (claim 4, KL part): {ratios_verdict(m.ablation)}."
        lines.append(text)
    for name, why in section.skipped.items():
        lines.append(f"- *{name}*: skipped, {why}.")
    return "\n".join(lines)
