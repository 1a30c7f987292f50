"""Symbolic-rule tasks in disjoint vocabularies (stages.rule_tasks): the vocabularies share
nothing, the answers are right (a slow reference below), seeds reproduce, replies are read."""

from __future__ import annotations

from itertools import combinations

import pytest

from synergy_utils.stages import rule_tasks as rt


def _reference_answer(rule: str, query: list[int]) -> list[int]:
    """Each rule written out by hand, one symbol at a time."""
    out: list[int] = []
    if rule == "copy":
        for i in query:
            out.append(i)
    elif rule == "reverse":
        for k in range(len(query) - 1, -1, -1):
            out.append(query[k])
    elif rule == "successor":
        for i in query:
            out.append(0 if i == 9 else i + 1)
    elif rule == "permutation":
        table = {0: 3, 1: 7, 2: 0, 3: 9, 4: 1, 5: 8, 6: 4, 7: 2, 8: 6, 9: 5}
        for i in query:
            out.append(table[i])
    else:
        total = query[0] + query[1]
        out.append(total - 10 if total >= 10 else total)
    return out


def _indices(vocabulary: str, text: str) -> list[int]:
    symbols = rt.VOCABULARIES[vocabulary]
    return [symbols.index(s) for s in text.split()]


def test_vocabularies_are_disjoint_and_complete():
    assert len(rt.VOCABULARIES) >= 3
    for symbols in rt.VOCABULARIES.values():
        assert len(symbols) == rt.BASE == len(set(symbols))
        assert all(s and " " not in s and rt.ARROW not in s for s in symbols)
    for (_, a), (_, b) in combinations(rt.VOCABULARIES.items(), 2):
        assert not set(a) & set(b)
        # no symbol of one occurs inside a symbol of another (case-sensitive)
        assert not any(x in y or y in x for x in a for y in b)


def test_the_permutation_is_a_derangement():
    assert sorted(rt.PERMUTATION) == list(range(rt.BASE))
    assert all(rt.PERMUTATION[i] != i for i in range(rt.BASE))
    assert all(rt.PERMUTATION[i] != (i + 1) % rt.BASE for i in range(rt.BASE))


@pytest.mark.parametrize("rule", rt.RULES)
@pytest.mark.parametrize("vocabulary", list(rt.VOCABULARIES))
def test_every_line_of_every_prompt_is_right(rule, vocabulary):
    items = rt.make_items(rule, vocabulary, 15, seed=3)
    for item in items:
        lines = item.prompt.split("\n")
        assert len(lines) == rt.N_SHOTS + 1
        for line in lines[:-1]:
            left, right = line.split(f" {rt.ARROW} ")
            assert _indices(vocabulary, right) == _reference_answer(
                rule, _indices(vocabulary, left)
            )
        assert lines[-1].endswith(f" {rt.ARROW}")
        query = _indices(vocabulary, lines[-1][: -len(rt.ARROW) - 1])
        assert list(item.query) == query
        assert list(item.answer_indices) == _reference_answer(rule, query)
        assert _indices(vocabulary, item.answer) == list(item.answer_indices)
        assert len(query) == (2 if rule == "modular_addition" else rt.LENGTH)
        # the prompt is written in its vocabulary only
        others = {s for v, syms in rt.VOCABULARIES.items() if v != vocabulary for s in syms}
        assert not others & set(item.prompt.split())


def test_seeds_reproduce_and_instances_match_across_vocabularies():
    a = rt.make_items("successor", "letters", 8, seed=5)
    assert a == rt.make_items("successor", "letters", 8, seed=5)
    assert a != rt.make_items("successor", "letters", 8, seed=6)
    words = rt.make_items("successor", "words", 8, seed=5)
    assert [i.query for i in a] == [i.query for i in words]
    assert [i.prompt for i in a] != [i.prompt for i in words]
    # different rules draw different instances from the same seed
    assert [i.query for i in a] != [i.query for i in rt.make_items("copy", "letters", 8, seed=5)]
    suite = rt.make_suite(2, seed=1)
    assert len(suite) == 2 * len(rt.RULES) * len(rt.VOCABULARIES)


def test_check_reads_replies():
    item = rt.make_items("reverse", "words", 1, seed=0)[0]
    answer = item.answer
    assert rt.check("reverse", item, " " + answer + "\n" + "dax wug -> wug dax")
    assert rt.check("reverse", item, "\n" + answer.replace(" ", "  ") + ".")
    assert not rt.check("reverse", item, answer.upper())
    assert not rt.check("reverse", item, answer + " dax")
    assert not rt.check("reverse", item, " ".join(answer.split()[:-1]))
    assert not rt.check("reverse", item, "")
    with pytest.raises(ValueError, match="not 'copy'"):
        rt.check("copy", item, answer)
    other = rt.make_items("modular_addition", "digits", 4, seed=0)
    texts = [other[0].answer, "x", other[2].answer, other[3].answer + " 1"]
    assert rt.accuracy(other, texts) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rt.make_items("sort", "digits", 3), "unknown rule"),
        (lambda: rt.make_items("copy", "greek", 3), "unknown vocabulary"),
        (lambda: rt.make_items("copy", "digits", 0), "n_items"),
        (lambda: rt.apply_rule("modular_addition", (1, 2, 3)), "two symbols"),
        (lambda: rt.apply_rule("copy", (10,)), "indices"),
        (lambda: rt.accuracy(rt.make_items("copy", "digits", 2), ["0"]), "replies"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
