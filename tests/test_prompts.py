"""Tests of synergy_utils.prompts: the 60 prompts and their balanced selection."""

from __future__ import annotations

from collections import Counter

import pytest

from synergy_utils.stages.prompts import (
    CATEGORIES,
    CATEGORY_TITLES,
    PROMPTS,
    category_rank,
    parse_categories,
    select_prompts,
)


def test_sixty_prompts_ten_per_category_in_complexity_order():
    assert len(CATEGORIES) == 6
    assert [CATEGORY_TITLES[c] for c in CATEGORIES] == [
        "Syntax and grammar correction",
        "Part-of-speech tagging",
        "Basic numerical reasoning",
        "Common-sense reasoning",
        "Abstract and creative thinking",
        "Emotional and social cognition",
    ]
    assert len(PROMPTS) == 60
    assert Counter(c for c, _ in PROMPTS) == {c: 10 for c in CATEGORIES}
    ranks = [category_rank(c) for c, _ in PROMPTS]
    assert ranks == sorted(ranks)
    texts = [t for _, t in PROMPTS]
    assert len(set(texts)) == 60
    assert all(t == t.strip() and 15 <= len(t) <= 200 for t in texts)


def test_category_rank():
    assert [category_rank(c) for c in CATEGORIES] == list(range(6))
    assert category_rank("Basic numerical reasoning") == 2
    assert category_rank(" EMOTIONAL_SOCIAL ") == 5
    with pytest.raises(ValueError, match="unknown prompt category"):
        category_rank("astrology")


def test_select_all_and_default():
    assert select_prompts() == list(PROMPTS)
    assert select_prompts(60, "all") == list(PROMPTS)


@pytest.mark.parametrize("n", [1, 5, 6, 7, 13, 59])
def test_select_is_balanced_and_grouped(n):
    chosen = select_prompts(n)
    assert len(chosen) == n
    counts = Counter(c for c, _ in chosen)
    assert max(counts.values()) - min(counts.get(c, 0) for c in CATEGORIES) <= 1
    # the earlier categories get the extra prompts (round robin), result grouped by rank
    expected_counts = [n // 6 + (1 if i < n % 6 else 0) for i in range(6)]
    assert [counts.get(c, 0) for c in CATEGORIES] == expected_counts
    assert [category_rank(c) for c, _ in chosen] == sorted(category_rank(c) for c, _ in chosen)
    assert set(chosen) <= set(PROMPTS)


def test_select_first_prompts_of_each_category():
    chosen = select_prompts(12)
    for category in CATEGORIES:
        own = [t for c, t in PROMPTS if c == category]
        assert [t for c, t in chosen if c == category] == own[:2]


def test_select_categories():
    chosen = select_prompts(5, "numerical, emotional_social")
    assert Counter(c for c, _ in chosen) == {"numerical": 3, "emotional_social": 2}
    assert select_prompts(None, ["pos_tagging"]) == [p for p in PROMPTS if p[0] == "pos_tagging"]
    assert parse_categories("emotional_social,syntax_grammar") == [
        "syntax_grammar",
        "emotional_social",
    ]
    assert parse_categories(None) == list(CATEGORIES)


def test_select_errors():
    with pytest.raises(ValueError, match="hold only 10"):
        select_prompts(11, "numerical")
    with pytest.raises(ValueError, match="positive"):
        select_prompts(0)
    with pytest.raises(ValueError, match="unknown prompt category"):
        select_prompts(3, "numerical,astrology")
    with pytest.raises(ValueError, match="no prompt category"):
        parse_categories([])
