"""The project's 60 prompts: 10 in each of six categories ordered by cognitive complexity.

The categories follow the reference method (Urbina-Rodriguez et al. 2026), from simplest to
most demanding: syntax and grammar correction < part-of-speech tagging < basic numerical
reasoning < common-sense reasoning < abstract and creative thinking < emotional and social
cognition. The prompt texts were written for this project.

Categories are named by short identifiers (:data:`CATEGORIES`, in complexity order);
:data:`CATEGORY_TITLES` gives the readable titles. :func:`category_rank` turns a category into
its ordinal 0-5, the difficulty scale used by the phase-transition stage.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Category identifiers, ordered from the simplest (rank 0) to the most demanding (rank 5).
CATEGORIES: tuple[str, ...] = (
    "syntax_grammar",
    "pos_tagging",
    "numerical",
    "common_sense",
    "abstract_creative",
    "emotional_social",
)

#: Readable title of each category.
CATEGORY_TITLES: dict[str, str] = {
    "syntax_grammar": "Syntax and grammar correction",
    "pos_tagging": "Part-of-speech tagging",
    "numerical": "Basic numerical reasoning",
    "common_sense": "Common-sense reasoning",
    "abstract_creative": "Abstract and creative thinking",
    "emotional_social": "Emotional and social cognition",
}

_TEXTS: dict[str, tuple[str, ...]] = {
    "syntax_grammar": (
        'Correct the grammar in this sentence: "Me and him goes to the market every Saturdays."',
        'Fix the errors: "The list of items are on the desk, and neither of the answers were '
        'right."',
        'Rewrite this sentence correctly: "She don\'t know where did he put the keys."',
        'Correct the sentence: "Their going to bring they\'re dog to the park over there."',
        'Fix the verb tenses: "Yesterday I walk to the library and borrow three book."',
        'Correct the punctuation and grammar: "its raining so we should of stayed inside"',
        'Fix the agreement errors: "Each of the students have their own locker, and the dogs '
        'barks loudly."',
        'Correct this sentence: "Having finished the homework, the television was turned on by '
        'Maria."',
        'Rewrite with the correct word order: "Always she forgets where put she her glasses."',
        'Correct the errors: "The childs was more happier after they eated lunch."',
    ),
    "pos_tagging": (
        'Label the part of speech of each word: "The quick brown fox jumps over the lazy dog."',
        'Tag every word with its part of speech: "She quietly opened the old wooden door."',
        'Identify the nouns, verbs and adjectives in: "Bright lanterns lit the narrow street at '
        'night."',
        'What part of speech is "fast" in each sentence: "He runs fast." and "They broke their '
        'fast at dawn."',
        'Give the part of speech of each word: "Children often play outside after school."',
        'Tag each word with its part of speech: "Although it rained, we walked home happily."',
        'Identify the prepositions and conjunctions in: "The cat slept under the table while '
        'the dog waited by the door."',
        'Which words are adverbs in: "She sings beautifully and almost never misses a note."',
        "Label each word as noun, verb, adjective, adverb, pronoun, preposition, determiner or "
        'conjunction: "They carefully carried the heavy boxes upstairs."',
        'Give the part of speech of "light" each time it appears: "Please light the candle; the '
        'room needs more light, and the box is light."',
    ),
    "numerical": (
        "A baker makes 24 rolls and sells 17 of them. How many rolls are left?",
        "A train travels at 60 kilometres per hour for 3 hours. How far does it go?",
        "What is 15 percent of 80?",
        "Tom has twice as many marbles as Ana, who has 7. How many marbles do they have together?",
        "A rectangle is 8 cm long and 5 cm wide. What are its area and its perimeter?",
        "What is the next number in the sequence 3, 6, 12, 24?",
        "A shirt costs 40 dollars and is discounted by 25 percent. What is the new price?",
        "If 4 pencils cost 2 dollars, how much do 10 pencils cost?",
        "Which is larger, 3/4 or 5/8, and by how much?",
        "A meeting starts at 9:45 and lasts 1 hour and 50 minutes. When does it end?",
    ),
    "common_sense": (
        "If you leave ice cream on a sunny windowsill for an hour, what will happen to it?",
        "Why do people usually take an umbrella when the sky is full of dark clouds?",
        "You want a book from a shelf that is too high to reach. What could you do?",
        "Can a fish survive for long after it is taken out of water? Explain why.",
        "Why should you not put a metal fork in a microwave oven?",
        "If a glass falls off a table onto a tiled floor, what is likely to happen?",
        "Why do people wear heavier clothes in winter than in summer?",
        "A candle has been burning for several hours. How has its length changed?",
        "The streets are wet but it is not raining now. What probably happened?",
        "Why might a shop be crowded on the day before a major holiday?",
    ),
    "abstract_creative": (
        "Invent a new holiday and describe how people would celebrate it.",
        "Describe the colour blue to someone who has never been able to see.",
        "Write a short poem about time from the point of view of a clock.",
        "What would change in daily life if people could never forget anything?",
        "Imagine a city built entirely under the sea. How would its people travel and communicate?",
        "Propose an unusual use for an ordinary paperclip and explain it.",
        "In what ways is a library like a garden? Develop the comparison.",
        "Tell a very short story that begins with a door that only opens at midnight.",
        "If silence were a building material, what could you build with it?",
        "Design a game that two people could play with only a pencil and a sheet of paper.",
    ),
    "emotional_social": (
        "Your friend did not get the job they wanted and has gone quiet. What could you say to "
        "support them?",
        "A coworker keeps interrupting others in meetings. How might you raise this politely?",
        "Why might someone feel nervous about moving to a new city, even though they chose to go?",
        "A child breaks a vase and hides the pieces. What might the child be feeling, and how "
        "should a parent respond?",
        "Two friends both want the front seat on a long trip. How could they settle it fairly?",
        "How can you tell that someone is upset even when they say they are fine?",
        "Your neighbour plays loud music late at night. How would you bring it up without "
        "starting a conflict?",
        "Why do people sometimes laugh when they are embarrassed?",
        "A classmate was left out of a group project. How might they feel, and what could the "
        "group do about it?",
        "How would you apologise to a close friend after forgetting their birthday?",
    ),
}

#: All prompts as ``(category, text)`` pairs, grouped by category in complexity order.
PROMPTS: tuple[tuple[str, str], ...] = tuple(
    (category, text) for category in CATEGORIES for text in _TEXTS[category]
)


def category_rank(category: str) -> int:
    """Ordinal complexity of ``category``: 0 (syntax and grammar) ... 5 (emotional and social).

    Accepts the identifier (``"numerical"``) or the readable title, case-insensitively.
    """
    return CATEGORIES.index(_canonical(category))


def _canonical(category: str) -> str:
    key = category.strip().lower()
    for name in CATEGORIES:
        if key in (name, CATEGORY_TITLES[name].lower()):
            return name
    raise ValueError(
        f"unknown prompt category {category!r}; choose from {', '.join(CATEGORIES)} "
        "(or their titles in CATEGORY_TITLES)"
    )


def parse_categories(categories: str | Sequence[str] | None) -> list[str]:
    """Category identifiers from ``None``/``"all"``, a comma-separated string or a sequence.

    The result is in complexity order, without duplicates.
    """
    if categories is None:
        return list(CATEGORIES)
    if isinstance(categories, str):
        if categories.strip().lower() in ("", "all"):
            return list(CATEGORIES)
        categories = [part for part in categories.split(",") if part.strip()]
    chosen = {_canonical(c) for c in categories}
    if not chosen:
        raise ValueError("no prompt category selected")
    return [c for c in CATEGORIES if c in chosen]


def _balanced(
    texts: dict[str, tuple[str, ...]],
    n_prompts: int | None,
    categories: str | Sequence[str] | None,
    what: str,
) -> list[tuple[str, str]]:
    """``n_prompts`` of ``texts`` taken round robin over ``categories``, grouped by category."""
    chosen = parse_categories(categories)
    available = sum(len(texts[c]) for c in chosen)
    if n_prompts is None:
        n_prompts = available
    if not isinstance(n_prompts, int) or isinstance(n_prompts, bool) or n_prompts < 1:
        raise ValueError(f"n_prompts must be a positive integer, got {n_prompts!r}")
    if n_prompts > available:
        raise ValueError(f"n_prompts={n_prompts} but {what} {chosen} hold only {available} prompts")
    picked: list[tuple[int, int]] = []  # (category rank, index within category)
    index = 0
    while len(picked) < n_prompts:
        for category in chosen:
            if index < len(texts[category]) and len(picked) < n_prompts:
                picked.append((CATEGORIES.index(category), index))
        index += 1
    return [(CATEGORIES[rank], texts[CATEGORIES[rank]][i]) for rank, i in sorted(picked)]


def select_prompts(
    n_prompts: int | None = None, categories: str | Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """``n_prompts`` prompts from ``categories``, balanced across the categories.

    Prompts are taken round robin (the first prompt of each category, then the second of each,
    ...), so any ``n_prompts`` gives category counts that differ by at most one; the result is
    returned grouped by category in complexity order. ``None`` means every prompt of the chosen
    categories.

    Returns:
        list of ``(category, text)`` pairs.
    """
    return _balanced(_TEXTS, n_prompts, categories, "the categories")


# --- held-out prompts ---------------------------------------------------------------------------
#
# A second set in the same six categories, written for this project and disjoint from the 60
# prompts above. The ablation stage ranks heads on the prompts whose series the extraction
# stage recorded (the set above) and ablates on these, so that a ranking is never tested on
# the text it was measured on.

_HELD_OUT_TEXTS: dict[str, tuple[str, ...]] = {
    "syntax_grammar": (
        'Correct the grammar: "There is many reasons why he leave early yesterday."',
        'Fix this sentence: "Between you and I, the plan were never going to work."',
        'Rewrite correctly: "The team have finished they\'re work and goes home."',
        'Correct the errors: "If I would have known, I would of called you sooner."',
        'Fix the sentence: "Who did you gave the letter to, and when it arrived?"',
        'Correct the grammar: "Less people comes to the concerts since the prices raised."',
        'Fix the tenses: "Tomorrow we went to the beach and swim all day."',
        'Correct this sentence: "The informations you sended me was very usefull."',
        'Fix the pronouns: "Sarah and me asked the teacher to help Tom and I."',
        'Correct the errors: "Walking into the room, the lights was already switched off."',
    ),
    "pos_tagging": (
        'Tag each word with its part of speech: "A small bird sang sweetly in the garden."',
        'Label the part of speech of every word: "We rarely eat dinner before eight."',
        'Identify the verbs and adverbs in: "The old man slowly climbed the steep stairs."',
        'What part of speech is "book" in: "I will book a table." and "Read this book."',
        'Give the part of speech of each word: "Their new neighbours seem very friendly."',
        'Tag every word: "Because the road was icy, the bus arrived late."',
        'Find the adjectives and determiners in: "Those three tall trees shade the quiet lane."',
        'Which words are pronouns in: "She told him that they would meet us there."',
        'Label each word as noun, verb or adjective: "Happy children build large sandcastles."',
        'Give the part of speech of "round" each time: "The round table went round the room '
        'for another round of talks."',
    ),
    "numerical": (
        "A box holds 12 eggs. How many eggs are in 7 boxes?",
        "A cyclist rides 45 kilometres in 3 hours. What is her average speed?",
        "What is 30 percent of 250?",
        "Lena is 4 years older than her brother, who is 9. How old will Lena be in 5 years?",
        "A square has a perimeter of 36 cm. What is the length of one side and its area?",
        "What comes next in the sequence 2, 5, 11, 23?",
        "A jacket costs 80 dollars and the price rises by 15 percent. What is the new price?",
        "If 3 notebooks cost 9 dollars, how much do 8 notebooks cost?",
        "Which is smaller, 2/3 or 7/10, and by how much?",
        "A film starts at 7:20 in the evening and lasts 2 hours and 15 minutes. When does it end?",
    ),
    "common_sense": (
        "If you forget to water a house plant for a month, what will probably happen to it?",
        "Why do people turn on the lights when the sun goes down?",
        "You locked your keys inside the car. What are some sensible things you could do?",
        "Why does bread become hard if it is left out of its bag for a few days?",
        "Why should you not touch a pan that has just come off the stove?",
        "If you drop a rubber ball on the pavement, what happens next?",
        "Why do many people carry a bottle of water on a long hike?",
        "A snowman was built in the morning and the afternoon was warm. What happened to it?",
        "The grass is wet early in the morning although it did not rain. Why?",
        "Why might a road be closed for a few hours on the day of a marathon?",
    ),
    "abstract_creative": (
        "Invent a musical instrument that has never existed and describe how it sounds.",
        "Describe the taste of lemon to someone who has never eaten anything sour.",
        "Write a short poem about rain from the point of view of a window.",
        "What would change in cities if nobody ever needed to sleep?",
        "Imagine a country where people speak only in songs. How would schools work there?",
        "Suggest a surprising use for an empty glass jar and explain why it works.",
        "In what ways is a river like a conversation? Develop the comparison.",
        "Tell a very short story that begins with a letter that arrives fifty years late.",
        "If memories could be traded at a market, what would be the most expensive one?",
        "Design a sport that could be played on the surface of the moon.",
    ),
    "emotional_social": (
        "Your sister failed her driving test for the second time. What could you say to "
        "encourage her?",
        "A friend always arrives late when you meet. How could you tell them it bothers you?",
        "Why might a person feel lonely at a party full of people?",
        "A teenager is teased at school about their clothes. How might they feel, and how "
        "could a teacher help?",
        "Two roommates disagree about how often to clean the kitchen. How could they reach a "
        "fair agreement?",
        "How can you tell that a friend is proud of something even if they do not say so?",
        "Your manager praised your work but forgot to mention a colleague who helped. What "
        "would you do?",
        "Why do people sometimes cry when they are very happy?",
        "A new student eats lunch alone every day. What could classmates do to include them?",
        "How would you thank a neighbour who looked after your cat for two weeks?",
    ),
}

#: The held-out prompts as ``(category, text)`` pairs, grouped by category in complexity
#: order; no text is also in :data:`PROMPTS`.
HELD_OUT_PROMPTS: tuple[tuple[str, str], ...] = tuple(
    (category, text) for category in CATEGORIES for text in _HELD_OUT_TEXTS[category]
)


def select_held_out_prompts(
    n_prompts: int | None = None, categories: str | Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """``n_prompts`` prompts of :data:`HELD_OUT_PROMPTS`, balanced across ``categories`` as
    :func:`select_prompts` balances the ranking set (round robin, grouped by category)."""
    return _balanced(_HELD_OUT_TEXTS, n_prompts, categories, "the held-out categories")
