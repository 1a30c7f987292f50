"""Task generators and the answer parser.

Answers are checked by re-reading each generated prompt *as text* and solving it here with
an independent reference (Python arithmetic, list slicing, a dictionary walk), so a generator
whose stored answer disagrees with what its prompt says fails.
"""

from __future__ import annotations

import re

import pytest

from synergy_utils.stages.tasks import (
    CATEGORY_FAMILY,
    COPY_SYMBOLS,
    TASK_FAMILIES,
    Task,
    accuracy,
    candidate_levels,
    check_answer,
    difficulty_levels,
    generate_tasks,
    level_bounds,
    parse_answer,
    reply_budget,
)

N_PER_LEVEL = 25


# --- independent solvers that read the prompt text ------------------------------------


def solve_addition(prompt: str) -> tuple[str, int]:
    a, b = re.fullmatch(r"What is (\d+) \+ (\d+)\? Reply with the number only\.", prompt).groups()
    assert len(a) == len(b)
    return str(int(a) + int(b)), len(a)


def solve_chain(prompt: str) -> tuple[str, int]:
    start = int(re.search(r"Start with (\d+)\.", prompt).group(1))
    assert "left to right" in prompt  # the evaluation convention is stated
    steps = re.search(r"precedence\): (.*)\. What is the final total", prompt).group(1)
    total = start
    ops = steps.split(", then ")
    for op in ops:
        kind, value = re.fullmatch(r"(add|subtract|multiply by) (\d+)", op).groups()
        total = {"add": total + int(value), "subtract": total - int(value)}.get(
            kind, total * int(value)
        )
    return str(total), len(ops)


def solve_reversal(prompt: str) -> tuple[str, int]:
    inner = re.search(r"list: \[([^\]]*)\]", prompt).group(1)
    items = [int(x) for x in inner.split(",")]
    return ", ".join(str(x) for x in reversed(items)), len(items)


def solve_multi_hop(prompt: str) -> tuple[str, int]:
    table = dict(re.findall(r"^([a-z]) = (\w+)$", prompt, flags=re.M))
    start = re.search(r"what number does ([a-z]) finally stand for", prompt).group(1)
    current, hops = start, 0
    while True:
        current, hops = table[current], hops + 1
        if current.isdigit():
            return current, hops
        assert hops < 50, "reference cycle"


def solve_copy(prompt: str) -> tuple[str, int]:
    inner = re.fullmatch(
        r"Repeat this list exactly: \[([^\]]*)\]\. Reply with the list only\.", prompt
    ).group(1)
    items = [int(x) for x in inner.split(", ")]
    assert set(items) <= {0, 1, 2}
    return ", ".join(map(str, items)), len(items)


def solve_digit_sum(prompt: str) -> tuple[str, int]:
    inner = re.fullmatch(r"What is ([\d +]+)\? Reply with the number only\.", prompt).group(1)
    terms = [int(x) for x in inner.split(" + ")]
    assert all(1 <= t <= 5 for t in terms)
    return str(sum(terms)), len(terms)


def solve_bounded(prompt: str) -> tuple[str, int]:
    """The sum, and the larger operand (the level is the operands' upper bound)."""
    a, b = re.fullmatch(r"What is (\d+) \+ (\d+)\? Reply with the number only\.", prompt).groups()
    return str(int(a) + int(b)), max(int(a), int(b))


SOLVERS = {
    "addition": solve_addition,
    "arithmetic_chain": solve_chain,
    "list_reversal": solve_reversal,
    "multi_hop": solve_multi_hop,
    "copy_list": solve_copy,
    "digit_sum": solve_digit_sum,
    "addition_bounded": solve_bounded,
}
#: Families whose level is an upper bound that the solver's measure may not exceed.
BOUNDED = {"addition_bounded"}


def test_every_family_has_a_solver_and_six_levels():
    assert set(SOLVERS) == set(TASK_FAMILIES)
    for family in [*TASK_FAMILIES, CATEGORY_FAMILY]:
        levels = difficulty_levels(family)
        assert len(levels) >= 6
        assert levels == sorted(set(levels))


@pytest.mark.parametrize("family", TASK_FAMILIES)
def test_answers_match_an_independent_solution_and_difficulty_scales(family):
    for level in difficulty_levels(family):
        tasks = generate_tasks(family, level, N_PER_LEVEL, seed=3)
        assert len(tasks) == N_PER_LEVEL
        for task in tasks:
            assert isinstance(task, Task)
            assert (task.family, task.difficulty, task.seed) == (family, level, 3)
            expected, measured_difficulty = SOLVERS[family](task.prompt)
            assert task.answer == expected, task.prompt
            # difficulty really is digits / operations / length / hops / terms / bound
            if family in BOUNDED:
                assert (level + 1) // 2 <= measured_difficulty <= level, task.prompt
            else:
                assert measured_difficulty == level, task.prompt
            # the stored answer passes the checker, in a bare reply and in a sentence
            assert check_answer(task, task.answer)
            assert check_answer(task, f"The answer is {task.answer}.")


def test_multi_hop_tables_grow_and_distractors_never_enter_the_chain():
    sizes = []
    for level in difficulty_levels("multi_hop"):
        for task in generate_tasks("multi_hop", level, 10, seed=1):
            rows = re.findall(r"^([a-z]) = (\w+)$", task.prompt, flags=re.M)
            names = [r[0] for r in rows]
            assert len(names) == len(set(names))  # each variable assigned once
            chain = set(task.meta["chain"])
            for name, target in rows:
                if name not in chain:
                    assert target not in chain
            sizes.append((level, len(rows)))
    by_level = {}
    for level, size in sizes:
        by_level.setdefault(level, []).append(size)
    means = [sum(v) / len(v) for _, v in sorted(by_level.items())]
    assert means == sorted(means) and means[-1] > means[0]


def test_chain_values_stay_small_non_negative_integers():
    for level in difficulty_levels("arithmetic_chain"):
        for task in generate_tasks("arithmetic_chain", level, 50, seed=2):
            assert 0 <= int(task.answer) < 10_000


def test_reversal_never_a_palindrome():
    for level in difficulty_levels("list_reversal"):
        for task in generate_tasks("list_reversal", level, 30, seed=0):
            assert task.meta["items"] != task.meta["items"][::-1]


@pytest.mark.parametrize("family", TASK_FAMILIES)
def test_deterministic_per_seed_and_different_across_seeds(family):
    level = difficulty_levels(family)[2]
    first = generate_tasks(family, level, 8, seed=11)
    again = generate_tasks(family, level, 8, seed=11)
    other = generate_tasks(family, level, 8, seed=12)
    assert [t.prompt for t in first] == [t.prompt for t in again]
    assert [t.answer for t in first] == [t.answer for t in again]
    assert [t.prompt for t in first] != [t.prompt for t in other]
    # prompts within one batch are not all the same
    assert len({t.prompt for t in first}) > 1


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown task family"):
        generate_tasks("sudoku", 1, 3)
    with pytest.raises(ValueError, match="difficulty"):
        generate_tasks("addition", 0, 3)
    with pytest.raises(ValueError, match="length"):
        generate_tasks("list_reversal", 1, 3)
    with pytest.raises(ValueError, match="parser"):
        parse_answer("42", "sudoku")
    with pytest.raises(ValueError, match="2 tasks but 1 texts"):
        accuracy(generate_tasks("addition", 1, 2), ["1"])


# --- the parser -----------------------------------------------------------------------

NUMBER_REPLIES = [
    ("42", "42"),
    ("42.", "42"),
    ("The answer is 42.", "42"),
    ("The answer is: 42", "42"),
    ("Answer: 42", "42"),
    ("**42**", "42"),
    ("The answer is **42**.", "42"),
    ("= 42", "42"),
    ("47 + 85 = 132", "132"),
    ("42\n\nExplanation: 7 + 3 = 10, then 10 * 2 = 20, minus 4 gives 16.", "42"),
    ("  \n 42 \n\nI added the numbers.", "42"),
    ("The sum of 47 and 85 is 132.", "132"),
    ("Sure! 47 + 85 equals 132.", "132"),
    ("7 + 3 = 10\n10 * 2 = 20\n20 - 4 = 16", "16"),
    ("The total is 10. Then we double it, so the final total is 20.", "20"),
    ("The answer is 42. Explanation: the first result is 20.", "42"),
    ("Final answer: 1,234", "1234"),
    ("12,345,678", "12345678"),
    ("\\boxed{17}", "17"),
    ("The result is $17$.", "17"),
    ("Answer: -5", "-5"),
    ("The answer is 42.0", "42"),
    ("answer: twelve", "12"),
    ("d = q and q = 7, so d stands for 7.", "7"),
    ("The value of d is 7.", "7"),
    ("It is 9", "9"),
    ("It is 9!", "9"),
    ("The sum is 132 (I added the units first).", "132"),
]
NUMBER_NON_ANSWERS = [
    "",
    "I don't know.",
    "The answer is unknown.",
    "Let me think about it...",
    # restates the operands without a result: must not be read as the answer 63
    "To add 97 and 63, we need to find a common multiple of 97 and 63, which",
]


@pytest.mark.parametrize(("reply", "expected"), NUMBER_REPLIES)
def test_parser_reads_numeric_phrasings(reply, expected):
    for family in ("addition", "arithmetic_chain", "multi_hop"):
        assert parse_answer(reply, family) == expected


@pytest.mark.parametrize("reply", NUMBER_NON_ANSWERS)
def test_parser_returns_none_without_a_number(reply):
    assert parse_answer(reply, "addition") is None


LIST_REPLIES = [
    ("[3, 1, 2]", "3, 1, 2"),
    ("3, 1, 2", "3, 1, 2"),
    ("3 1 2", "3, 1, 2"),
    ("[3,1,2]", "3, 1, 2"),
    ("The reversed list is [3, 1, 2].", "3, 1, 2"),
    ("Reversed: 3, 1, 2", "3, 1, 2"),
    ("Sure! Reversing [2, 1, 3] gives [3, 1, 2].", "3, 1, 2"),
    ("[3, 1, 2]\n\nThe original list was [2, 1, 3].", "3, 1, 2"),
    ("Here you go:\n[3, 1, 2]", "3, 1, 2"),
    ("**[3, 1, 2]**", "3, 1, 2"),
    ("The answer is 3, 1, 2.", "3, 1, 2"),
    ("The original list is [2, 1, 3].\nThe reversed list is [3, 1, 2].", "3, 1, 2"),
    ("[3, 1, 2].\nThat gives [9] as the first item.", "3, 1, 2"),
    ("Reversed list: [10, -1, 2]", "10, -1, 2"),
]


@pytest.mark.parametrize(("reply", "expected"), LIST_REPLIES)
def test_parser_reads_list_phrasings(reply, expected):
    assert parse_answer(reply, "list_reversal") == expected


def test_checker_rejects_wrong_answers():
    task = Task("addition", 2, "What is 47 + 85? Reply with the number only.", "132")
    assert check_answer(task, "The answer is 132.")
    for wrong in ["The answer is 131.", "1320", "13", "I don't know", "47 + 85 = 122", "132.5"]:
        assert not check_answer(task, wrong), wrong
    listing = Task("list_reversal", 3, "Reverse the order of this list: [2, 1, 3].", "3, 1, 2")
    for wrong in ["[2, 1, 3]", "[3, 1]", "3, 1, 2, 4", "[1, 2, 3]", "none"]:
        assert not check_answer(listing, wrong), wrong


def test_accuracy_counts_correct_replies():
    tasks = generate_tasks("addition", 2, 4, seed=0)
    texts = [f"The answer is {tasks[0].answer}.", tasks[1].answer, "no", "0"]
    assert accuracy(tasks, texts) == pytest.approx(0.5)
    assert accuracy([], []) != accuracy([], [])  # NaN


# --- the calibrated families ----------------------------------------------------------


def test_new_families_draw_from_their_stated_ranges():
    items = [i for t in generate_tasks("copy_list", 40, 20, seed=0) for i in t.meta["items"]]
    assert set(items) == set(COPY_SYMBOLS)  # three symbols, all used
    terms = [v for t in generate_tasks("digit_sum", 12, 20, seed=0) for v in t.meta["terms"]]
    assert set(terms) == {1, 2, 3, 4, 5}
    operands = [
        v for t in generate_tasks("addition_bounded", 30, 200, seed=0) for v in t.meta["operands"]
    ]
    assert min(operands) == 15 and max(operands) == 30  # uniform on ceil(N/2)..N


@pytest.mark.parametrize("family", TASK_FAMILIES)
def test_scan_candidates_lie_inside_the_bounds_and_replies_fit_the_budget(family):
    low, high = level_bounds(family)
    candidates = candidate_levels(family)
    assert candidates == sorted(set(candidates)) and len(candidates) >= 5
    assert low <= candidates[0] and candidates[-1] <= high
    for level in candidates:
        # a bare reply that restates the answer fits the budget (digits, commas, spaces,
        # lead-in); the list families need about three tokens per item
        task = generate_tasks(family, level, 1, seed=0)[0]
        assert reply_budget(family, level) >= len(task.answer) + 10


def test_new_families_refuse_levels_outside_their_bounds():
    for family in ("copy_list", "digit_sum", "addition_bounded"):
        low, high = level_bounds(family)
        generate_tasks(family, low, 1)
        generate_tasks(family, high, 1)
        for bad in (low - 1, high + 1):
            with pytest.raises(ValueError, match="supports difficulty"):
                generate_tasks(family, bad, 1)


COPY_REPLIES = [
    ("The list is [0, 1, 2].", "0, 1, 2"),
    ("The list is: [0, 1, 2].", "0, 1, 2"),
    ("The list is: 0, 1, 2.", "0, 1, 2"),
    ("[0, 1, 2]", "0, 1, 2"),
    ("The list is [0, 1,", "0, 1"),  # a prefix of a reply reads as the partial list
]


@pytest.mark.parametrize(("reply", "expected"), COPY_REPLIES)
def test_parser_reads_copied_lists(reply, expected):
    assert parse_answer(reply, "copy_list") == expected


def test_parser_reads_the_sums_of_the_arithmetic_families():
    for family in ("digit_sum", "addition_bounded"):
        assert parse_answer("2 + 3 + 4 = 9", family) == "9"
        assert parse_answer("The answer is 10.", family) == "10"
        assert parse_answer("2 + 3 + 4 = 1", family) == "1"  # a prefix: not yet 10
