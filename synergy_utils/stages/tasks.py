"""Graded-difficulty tasks whose answers can be checked exactly.

Each task *family* turns an integer difficulty into a prompt and its exact answer,
procedurally and reproducibly from a seed:

``addition``
    n-digit + n-digit addition; difficulty = n (number of digits of each operand).
``arithmetic_chain``
    a start value and k operations (add, subtract, multiply by a small integer) on small
    integers, applied one after the other, left to right, to a running total (the prompt says
    so; there is no operator precedence); difficulty = k.
``list_reversal``
    reverse a list of k single-digit integers; difficulty = k.
``multi_hop``
    follow k references through a small table of variable assignments (``d = q``,
    ``q = 7``), shuffled and padded with distractor rows, to reach a number; difficulty = k.
``copy_list``
    repeat a list of k items drawn from only three symbols (0, 1, 2); difficulty = k. With
    so few symbols the same short pattern recurs many times in a list, so copying by
    "find the last place this token appeared and continue from there" becomes ambiguous as the
    list grows: small models fail at modest lengths, and the answer spans about 3k tokens.
``digit_sum``
    add k small integers (1 to 5): a multi-step sum; difficulty = k.
``addition_bounded``
    add two integers drawn uniformly from ceil(N/2)..N; difficulty = N. The operands grow
    smoothly from single digits to two (and three) digits, so the accuracy falls over a range
    of N rather than at one step (``addition`` jumps from one digit to two).

:func:`candidate_levels` gives, per family, the coarse levels of a calibration scan,
:func:`level_bounds` the levels the generator supports and :func:`reply_budget` the number of
tokens a complete reply may need.

The six prompt categories of the reference study (syntax < part of speech < numerical <
common sense < abstract < social) are an *ordinal* difficulty scale without checkable answers;
:mod:`synergy_utils.stages.phase` handles them through :mod:`synergy_utils.stages.prompts`
under the family name :data:`CATEGORY_FAMILY`.

The answer parser :func:`parse_answer` reads how a model phrases its reply ("The answer is
42.", "**42**", "= 42", "42\\n\\nExplanation ...", "[3, 1, 2]", "3, 1, 2", "3 1 2") and
returns the answer in the canonical form stored in :attr:`Task.answer` (an integer written in
decimal without separators; a list as ``"3, 1, 2"``), or None when it finds none.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Families with generated, exactly checkable tasks.
TASK_FAMILIES: tuple[str, ...] = (
    "addition",
    "arithmetic_chain",
    "list_reversal",
    "multi_hop",
    "copy_list",
    "digit_sum",
    "addition_bounded",
)
#: Pseudo-family: the six prompt categories as an ordinal difficulty scale (rank 0..5, as
#: :func:`synergy_utils.stages.prompts.category_rank`).
CATEGORY_FAMILY = "categories"

_LEVELS: dict[str, list[int]] = {
    "addition": [1, 2, 3, 4, 5, 6, 7, 8],
    "arithmetic_chain": [1, 2, 3, 4, 5, 6, 7, 8],
    "list_reversal": [2, 3, 4, 5, 6, 8, 10, 12],
    "multi_hop": [1, 2, 3, 4, 5, 6, 7, 8],
    "copy_list": [2, 4, 6, 8, 10, 12, 14],
    "digit_sum": [2, 3, 4, 5, 6, 7, 8],
    "addition_bounded": [4, 10, 16, 22, 28, 34, 40],
}
#: Coarse levels of the calibration scan (:func:`synergy_utils.stages.phase.accuracy_scan`).
_CANDIDATES: dict[str, list[int]] = {
    "addition": [1, 2, 3, 4, 5],
    "arithmetic_chain": [1, 2, 3, 4, 6],
    "list_reversal": [2, 3, 4, 6, 8],
    "multi_hop": [1, 2, 3, 4, 6],
    "copy_list": [3, 5, 7, 10, 13, 16],
    "digit_sum": [2, 3, 4, 5, 6],
    "addition_bounded": [4, 8, 16, 32, 64, 128],
}
#: Smallest and largest level each generator supports.
_BOUNDS: dict[str, tuple[int, int]] = {
    "addition": (1, 12),
    "arithmetic_chain": (1, 20),
    "list_reversal": (2, 40),
    "multi_hop": (1, 10),
    "copy_list": (2, 60),
    "digit_sum": (2, 20),
    "addition_bounded": (2, 999),
}
_NUMERIC_FAMILIES = frozenset(
    {"addition", "arithmetic_chain", "multi_hop", "digit_sum", "addition_bounded"}
)
_LIST_FAMILIES = frozenset({"list_reversal", "copy_list"})


@dataclass(frozen=True)
class Task:
    """One generated problem.

    ``answer`` is canonical: a decimal integer (``"-12"``) for numeric families, and
    ``"3, 1, 2"`` for lists. ``seed`` is the seed of the whole batch the task came from and
    ``meta`` holds the generator's ingredients (operands, operations, table, ...).
    """

    family: str
    difficulty: int
    prompt: str
    answer: str
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


def _check_family(family: str) -> None:
    if family not in TASK_FAMILIES:
        raise ValueError(f"unknown task family {family!r}; choose one of {TASK_FAMILIES}")


def difficulty_levels(family: str) -> list[int]:
    """The default difficulty levels of ``family`` (at least six, increasing).

    For :data:`CATEGORY_FAMILY` these are the category ranks 0 (syntax) ... 5 (social).
    """
    if family == CATEGORY_FAMILY:
        return [0, 1, 2, 3, 4, 5]
    _check_family(family)
    return list(_LEVELS[family])


def candidate_levels(family: str) -> list[int]:
    """Coarse levels spanning what ``family`` supports, for a calibration scan."""
    _check_family(family)
    return list(_CANDIDATES[family])


def level_bounds(family: str) -> tuple[int, int]:
    """The smallest and largest difficulty the generator of ``family`` supports."""
    _check_family(family)
    return _BOUNDS[family]


def reply_budget(family: str, difficulty: int) -> int:
    """New tokens enough for a complete reply at ``difficulty`` (a list needs about three
    tokens per item: digit, comma, space), with room for a short lead-in such as "The list
    is"."""
    _check_family(family)
    k = int(difficulty)
    if family in ("copy_list", "list_reversal"):
        return 3 * k + 16
    if family == "digit_sum":
        return 2 * k + 16
    if family == "addition_bounded":
        return 28
    return 40


# --- generators -------------------------------------------------------------------------


def _addition(rng: random.Random, n_digits: int) -> tuple[str, str, dict[str, Any]]:
    low = 0 if n_digits == 1 else 10 ** (n_digits - 1)
    high = 10**n_digits - 1
    a, b = rng.randint(low, high), rng.randint(low, high)
    prompt = f"What is {a} + {b}? Reply with the number only."
    return prompt, str(a + b), {"operands": [a, b]}


_OP_WORDS = {"+": "add {v}", "-": "subtract {v}", "*": "multiply by {v}"}


def _arithmetic_chain(rng: random.Random, n_ops: int) -> tuple[str, str, dict[str, Any]]:
    start = rng.randint(1, 9)
    total = start
    ops: list[tuple[str, int]] = []
    for _ in range(n_ops):
        # keep the running total a small non-negative integer: multiply only small totals,
        # subtract at most the current total
        choices = ["+", "-", "*"] if total <= 30 else ["+", "-"]
        if total == 0:
            choices = ["+"]
        op = rng.choice(choices)
        if op == "+":
            value = rng.randint(1, 9)
            total += value
        elif op == "-":
            value = rng.randint(1, min(9, total))
            total -= value
        else:
            value = rng.randint(2, 3)
            total *= value
        ops.append((op, value))
    steps = ", then ".join(_OP_WORDS[op].format(v=v) for op, v in ops)
    prompt = (
        f"Start with {start}. Apply these operations one at a time, from left to right, each to "
        f"the running total (no operator precedence): {steps}. What is the final total? "
        "Reply with the number only."
    )
    return prompt, str(total), {"start": start, "operations": [[o, v] for o, v in ops]}


def _list_reversal(rng: random.Random, length: int) -> tuple[str, str, dict[str, Any]]:
    while True:
        items = [rng.randint(0, 9) for _ in range(length)]
        if items != items[::-1]:  # a palindrome would make the task trivial
            break
    shown = ", ".join(map(str, items))
    prompt = f"Reverse the order of this list: [{shown}]. Reply with the reversed list only."
    answer = ", ".join(map(str, items[::-1]))
    return prompt, answer, {"items": items}


_VARIABLE_NAMES = "abcdefghjkmnpqrstuvwxyz"  # no i, l, o (easily confused with digits)


def _multi_hop(rng: random.Random, hops: int) -> tuple[str, str, dict[str, Any]]:
    n_distractors = max(2, hops)
    names = rng.sample(_VARIABLE_NAMES, hops + n_distractors)
    chain, others = names[:hops], names[hops:]
    value = rng.randint(1, 9)
    rows = [f"{chain[i]} = {chain[i + 1]}" for i in range(hops - 1)]
    rows.append(f"{chain[-1]} = {value}")
    # distractors: numbers, or references to other distractors (never into the chain)
    for j, name in enumerate(others):
        if j > 0 and rng.random() < 0.5:
            rows.append(f"{name} = {others[rng.randrange(j)]}")
        else:
            rows.append(f"{name} = {rng.randint(1, 9)}")
    rng.shuffle(rows)
    table = "\n".join(rows)
    prompt = (
        "Here is a table of assignments. A variable can point to another variable.\n"
        f"{table}\n"
        f"Follow the references: what number does {chain[0]} finally stand for? "
        "Reply with the number only."
    )
    return prompt, str(value), {"chain": chain, "value": value, "table": rows}


#: The three symbols of ``copy_list``.
COPY_SYMBOLS: tuple[int, ...] = (0, 1, 2)


def _copy_list(rng: random.Random, length: int) -> tuple[str, str, dict[str, Any]]:
    items = [rng.choice(COPY_SYMBOLS) for _ in range(length)]
    shown = ", ".join(map(str, items))
    prompt = f"Repeat this list exactly: [{shown}]. Reply with the list only."
    return prompt, shown, {"items": items}


def _digit_sum(rng: random.Random, n_terms: int) -> tuple[str, str, dict[str, Any]]:
    terms = [rng.randint(1, 5) for _ in range(n_terms)]
    prompt = f"What is {' + '.join(map(str, terms))}? Reply with the number only."
    return prompt, str(sum(terms)), {"terms": terms}


def _addition_bounded(rng: random.Random, bound: int) -> tuple[str, str, dict[str, Any]]:
    low = (bound + 1) // 2
    a, b = rng.randint(low, bound), rng.randint(low, bound)
    prompt = f"What is {a} + {b}? Reply with the number only."
    return prompt, str(a + b), {"operands": [a, b], "bound": bound}


_GENERATORS = {
    "addition": _addition,
    "arithmetic_chain": _arithmetic_chain,
    "list_reversal": _list_reversal,
    "multi_hop": _multi_hop,
    "copy_list": _copy_list,
    "digit_sum": _digit_sum,
    "addition_bounded": _addition_bounded,
}


def generate_tasks(family: str, difficulty: int, n: int, seed: int = 0) -> list[Task]:
    """``n`` tasks of ``family`` at ``difficulty``, identical for the same arguments.

    The random stream depends on (family, difficulty, seed), so levels and families are
    independent draws.
    """
    _check_family(family)
    difficulty = int(difficulty)
    if difficulty < 1:
        raise ValueError(f"difficulty must be >= 1, got {difficulty}")
    if family == "list_reversal" and difficulty < 2:
        raise ValueError("list_reversal needs a list of length >= 2")
    if family == "multi_hop" and difficulty > 10:
        raise ValueError("multi_hop supports at most 10 hops (the variable names run out)")
    low, high = _BOUNDS[family]
    if family in ("copy_list", "digit_sum", "addition_bounded") and not low <= difficulty <= high:
        raise ValueError(f"{family} supports difficulty {low}..{high}, got {difficulty}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"{family}|{difficulty}|{seed}")
    tasks = []
    for _ in range(n):
        prompt, answer, meta = _GENERATORS[family](rng, difficulty)
        tasks.append(Task(family, difficulty, prompt, answer, seed, meta))
    return tasks


# --- answer parsing ---------------------------------------------------------------------

_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
# a number: optional sign, digits with optional thousands separators, optional decimals
_NUM = r"[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−]?\d+(?:\.\d+)?"
_NUM_RE = re.compile(rf"(?<![\w.])(?:{_NUM})(?![\d])")
_WORD_RE = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
# phrases after which the answer follows; "answer" phrases outrank the generic ones
_COPULA = r"(?:is|would\s+be|will\s+be|becomes|equals|is\s+equal\s+to|=|:)"
_ANSWER_MARKER_RE = re.compile(rf"(?:final\s+answer|answer)\s*{_COPULA}\s*[:=]?\s*", re.I)
_MARKER_RE = re.compile(
    r"(?:(?:final\s+total|total|sum|result|reversed\s+list|reversed|output|"
    rf"value(?:\s+of\s+\w+)?)\s*{_COPULA}|equals|is\s+equal\s+to|stands\s+for|gives)"
    r"\s*[:=]?\s*",
    re.IGNORECASE,
)
_BARE_NUMBER_LINE_RE = re.compile(rf"^[^\w\-−]*({_NUM})[^\w]*$")


def _clean(text: str) -> str:
    text = re.sub(r"\\boxed\{([^}]*)\}", r" \1 ", text)
    text = re.sub(r"\\\(|\\\)|\\\[|\\\]|\$", " ", text)
    text = text.replace("**", " ").replace("__", " ").replace("`", " ")
    text = text.replace("\u2212", "-").replace("\u00d7", "*")
    return text


def _canonical_number(token: str) -> str:
    token = token.replace(",", "").replace("\u2212", "-")
    if "." in token:
        value = float(token)
        return str(int(value)) if value.is_integer() else repr(value)
    return str(int(token))


def _numbers(segment: str) -> list[str]:
    """Numbers in ``segment`` in order (digits, or number words zero..twenty)."""
    found = [(m.start(), _canonical_number(m.group())) for m in _NUM_RE.finditer(segment)]
    found += [(m.start(), str(_NUMBER_WORDS[m[0].lower()])) for m in _WORD_RE.finditer(segment)]
    return [value for _, value in sorted(found)]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def _after_markers(text: str, regex: re.Pattern) -> list[str]:
    """The rest of the line after each match of ``regex``, last match first."""
    return [text[m.end() :].split("\n")[0] for m in reversed(list(regex.finditer(text)))]


def _first_number_after(text: str, regex: re.Pattern) -> str | None:
    for segment in _after_markers(text, regex):
        numbers = _numbers(segment[:60])
        if numbers:
            return numbers[0]
    return None


def _parse_number(text: str) -> str | None:
    # 1. an explicit "answer is/answer:" phrase: the first number after it
    found = _first_number_after(text, _ANSWER_MARKER_RE)
    if found is not None:
        return found
    first = _first_line(text)
    # 2. a first line that is just a number ("42", "**42**", "42.")
    bare = _BARE_NUMBER_LINE_RE.match(first.strip())
    if bare:
        return _canonical_number(bare.group(1))
    # 3. a generic phrase ("result is", "total:", "equals", "gives", ...)
    found = _first_number_after(text, _MARKER_RE)
    if found is not None:
        return found
    # 4. the last "= number" (worked solutions end on the result)
    equals = re.findall(rf"=\s*({_NUM})", text)
    if equals:
        return _canonical_number(equals[-1])
    # 5. the last number of the first non-empty line, if it ends its sentence ("The sum of 4
    # and 5 is 9."; not "To add 97 and 63, we need ...", which states no result)
    matches = list(_NUM_RE.finditer(first)) + list(_WORD_RE.finditer(first))
    if matches:
        last = max(matches, key=lambda m: m.start())
        rest = re.split(r"[.!?](?:\s|$)", first[last.end() :], maxsplit=1)[0]
        if not re.search(r"\w", rest):
            return _numbers(last.group())[0]
    return None


def _list_items(segment: str) -> list[str]:
    return [m.group() for m in re.finditer(r"-?\d+", segment)]


def _last_bracketed(segment: str) -> list[str]:
    for inner in reversed(re.findall(r"\[([^\]]*)\]", segment)):
        items = _list_items(inner)
        if items:
            return items
    return []


def _list_after(text: str, regex: re.Pattern) -> list[str]:
    for segment in _after_markers(text, regex):
        items = _last_bracketed(segment) or _list_items(segment)
        if items:
            return items
    return []


def _parse_list(text: str) -> str | None:
    first = _first_line(text)
    bare = first if re.fullmatch(r"[\s\[\](),\d-]*\d[\s\[\](),\d.-]*", first) else ""
    items = (
        _list_after(text, _ANSWER_MARKER_RE)  # 1. after "answer is/answer:"
        or _list_items(bare)  # 2. a first line that is only a list ("[3, 1, 2]", "3 1 2")
        or _list_after(text, _MARKER_RE)  # 3. after "reversed list is", "result:", "gives"
        or _last_bracketed(first)  # 4. the last bracketed list of the first line,
        or _last_bracketed(text)  # 5. of the whole text,
        or _list_items(first)  # 6. the integers of the first non-empty line
    )
    return ", ".join(items) if items else None


def parse_answer(text: str, family: str) -> str | None:
    """The answer a model gave in ``text``, in the canonical form of ``family``, or None.

    Numbers, in this order: the first number after the last "answer is/answer:" phrase; a
    first line that is only a number; the first number after the last generic phrase ("result
    is", "total:", "equals", "gives", "stands for", ...); the last ``= number``; the last
    number of the first non-empty line if nothing but punctuation follows it in its sentence.
    Thousands separators, signs, decimals equal to integers, ``**bold**``, ``\\boxed{}`` and
    the number words zero to twenty are understood.
    Lists, in the same spirit: after an answer phrase; a first line that is only a list; after
    a generic phrase; the last bracketed list of the first line, then of the whole text; the
    integers of the first non-empty line.
    """
    if family in _NUMERIC_FAMILIES:
        parser = _parse_number
    elif family in _LIST_FAMILIES:
        parser = _parse_list
    else:
        raise ValueError(f"no answer parser for family {family!r}; checkable: {TASK_FAMILIES}")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return parser(_clean(text))


def check_answer(task: Task, text: str) -> bool:
    """Whether the model's reply ``text`` states exactly the task's answer."""
    return parse_answer(text, task.family) == task.answer


def accuracy(tasks: Sequence[Task], texts: Sequence[str]) -> float:
    """Share of ``texts`` that answer their ``tasks`` correctly (NaN for no tasks)."""
    if len(tasks) != len(texts):
        raise ValueError(f"{len(tasks)} tasks but {len(texts)} texts")
    if not tasks:
        return float("nan")
    return sum(check_answer(t, x) for t, x in zip(tasks, texts, strict=True)) / len(tasks)
