"""Symbolic-rule tasks written in disjoint vocabularies, with checkable answers.

A *rule* maps a query, a tuple of symbol indices in ``0 .. BASE - 1``, to an answer tuple:

``copy``
    the query itself;
``reverse``
    the query backwards;
``successor``
    every symbol replaced by the next one, cyclically (index ``i`` -> ``(i + 1) mod BASE``);
``permutation``
    every symbol replaced through the fixed permutation :data:`PERMUTATION` (no fixed point and
    no successor, so it never agrees with ``copy`` or ``successor`` symbol by symbol);
``modular_addition``
    a query of two symbols ``a b`` gives the one symbol ``(a + b) mod BASE``.

A *vocabulary* (:data:`VOCABULARIES`) writes the indices as symbols: digits ``0``-``9``,
capital letters ``A``-``J``, or ten made-up lower-case words. No symbol of one vocabulary
equals, or occurs inside, a symbol of another (case-sensitively), so the same rule instance in
two vocabularies shares no symbol.

A prompt is few-shot and names no rule: :data:`N_SHOTS` solved examples, one per line
(``3 1 4 2 -> 4 2 5 3``), then the query line ending in the arrow; the model is to complete the
line. :func:`make_items` is seeded, and the indices it draws depend on the rule and the seed
only, never on the vocabulary: item ``i`` of one rule is the same instance in every
vocabulary (its states can be compared across vocabularies point by point). :func:`check`
reads a generated reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Number of symbols in every vocabulary (the modulus of ``successor`` and addition).
BASE = 10
#: The vocabularies, each ``BASE`` symbols in index order.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "digits": tuple("0123456789"),
    "letters": tuple("ABCDEFGHIJ"),
    "words": ("dax", "wug", "blick", "fep", "tove", "zib", "mup", "gorp", "lune", "vork"),
}
#: The rules, in a fixed order (a rule's position also seeds its draws).
RULES: tuple[str, ...] = ("copy", "reverse", "successor", "permutation", "modular_addition")
#: The fixed permutation of the ``permutation`` rule: index ``i`` -> ``PERMUTATION[i]``.
PERMUTATION: tuple[int, ...] = (3, 7, 0, 9, 1, 8, 4, 2, 6, 5)
#: Solved examples before the query in every prompt.
N_SHOTS = 3
#: Query length of the sequence rules (``modular_addition`` always takes two symbols).
LENGTH = 4
#: What separates a query from its answer on a line.
ARROW = "->"
#: Punctuation a reply may put around its symbols (stripped before the comparison).
_PUNCTUATION = ".,;:!?\"'`*()[]"


@dataclass(frozen=True)
class RuleItem:
    """One prompt: the rule ``task`` (one of :data:`RULES`) in ``vocabulary``; ``query`` and
    ``answer_indices`` as symbol indices, ``prompt`` (ending in the arrow) and ``answer`` (the
    symbols, space-separated)."""

    task: str
    vocabulary: str
    seed: int
    index: int
    query: tuple[int, ...]
    answer_indices: tuple[int, ...]
    prompt: str
    answer: str


def _check_names(rule: str, vocabulary: str | None = None) -> None:
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose from {RULES}")
    if vocabulary is not None and vocabulary not in VOCABULARIES:
        raise ValueError(f"unknown vocabulary {vocabulary!r}; choose from {list(VOCABULARIES)}")


def apply_rule(rule: str, query: Sequence[int]) -> tuple[int, ...]:
    """The answer indices of ``rule`` on ``query`` (indices in ``0 .. BASE - 1``)."""
    _check_names(rule)
    q = tuple(int(i) for i in query)
    if not q or any(not 0 <= i < BASE for i in q):
        raise ValueError(f"a query is a non-empty tuple of indices in 0..{BASE - 1}, got {q}")
    if rule == "copy":
        return q
    if rule == "reverse":
        return q[::-1]
    if rule == "successor":
        return tuple((i + 1) % BASE for i in q)
    if rule == "permutation":
        return tuple(PERMUTATION[i] for i in q)
    if len(q) != 2:
        raise ValueError(f"modular_addition takes two symbols, got {len(q)}")
    return ((q[0] + q[1]) % BASE,)


def render(vocabulary: str, indices: Sequence[int]) -> str:
    """``indices`` written in ``vocabulary``, space-separated."""
    symbols = VOCABULARIES[vocabulary]
    return " ".join(symbols[i] for i in indices)


def _query_length(rule: str, length: int) -> int:
    return 2 if rule == "modular_addition" else length


def make_items(
    rule: str,
    vocabulary: str,
    n_items: int,
    *,
    seed: int = 0,
    length: int = LENGTH,
    n_shots: int = N_SHOTS,
) -> list[RuleItem]:
    """``n_items`` prompts of ``rule`` written in ``vocabulary``, reproducibly from ``seed``.

    Each prompt has ``n_shots`` solved examples and one query, every query (and example) of
    ``length`` symbols (two for ``modular_addition``), drawn uniformly with a generator seeded
    by ``(seed, rule)``: the same seed gives the same instances in every vocabulary.
    """
    _check_names(rule, vocabulary)
    if n_items < 1 or length < 1 or n_shots < 0:
        raise ValueError("need n_items >= 1, length >= 1 and n_shots >= 0")
    rng = np.random.default_rng([seed, RULES.index(rule)])
    k = _query_length(rule, length)
    draws = rng.integers(0, BASE, size=(n_items, n_shots + 1, k))
    items = []
    for index, rows in enumerate(draws):
        lines = [
            f"{render(vocabulary, q)} {ARROW} {render(vocabulary, apply_rule(rule, q))}"
            for q in rows[:n_shots]
        ]
        query = tuple(int(i) for i in rows[n_shots])
        answer = apply_rule(rule, query)
        lines.append(f"{render(vocabulary, query)} {ARROW}")
        items.append(
            RuleItem(rule, vocabulary, seed, index, query, answer, "\n".join(lines),
                     render(vocabulary, answer))
        )  # fmt: skip
    return items


def make_suite(
    n_items: int,
    *,
    rules: Sequence[str] = RULES,
    vocabularies: Sequence[str] = tuple(VOCABULARIES),
    seed: int = 0,
    length: int = LENGTH,
    n_shots: int = N_SHOTS,
) -> list[RuleItem]:
    """:func:`make_items` for every rule and vocabulary, rule by rule."""
    return [
        item
        for rule in rules
        for vocabulary in vocabularies
        for item in make_items(rule, vocabulary, n_items, seed=seed, length=length,
                               n_shots=n_shots)
    ]  # fmt: skip


def reply_symbols(text: str) -> list[str]:
    """The symbols of a reply: its first non-empty line, split on white space, with
    surrounding punctuation stripped from every symbol."""
    for line in text.splitlines():
        tokens = [t.strip(_PUNCTUATION) for t in line.split()]
        tokens = [t for t in tokens if t]
        if tokens:
            return tokens
    return []


def check(task: str, prompt_item: RuleItem, generated_text: str) -> bool:
    """Whether ``generated_text`` (the model's continuation of ``prompt_item.prompt``, an item
    of the rule ``task``) answers it: its first non-empty line holds exactly the answer's
    symbols, in order, and nothing else (case-sensitive; punctuation around symbols ignored)."""
    _check_names(task)
    if prompt_item.task != task:
        raise ValueError(f"the item is of rule {prompt_item.task!r}, not {task!r}")
    return reply_symbols(generated_text) == prompt_item.answer.split()


def accuracy(items: Sequence[RuleItem], texts: Sequence[str]) -> float:
    """Fraction of ``items`` answered by ``texts`` (one reply per item)."""
    if len(items) != len(texts):
        raise ValueError(f"{len(items)} items but {len(texts)} replies")
    if not items:
        raise ValueError("no items")
    return float(np.mean([check(i.task, i, t) for i, t in zip(items, texts, strict=True)]))
