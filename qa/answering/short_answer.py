"""The short answer: the number, date, person or place a question asks for, cut from the chosen sentence."""

from __future__ import annotations

import re

from ..text import content_terms, terms
from .question_types import MONTH, PATTERNS, question_type


def short_answer(question: str, sentence: str, query: str = "") -> str | None:
    """The number, date, person or place in `sentence` that the question asks for, if one stands there.

    Precision first: none rather than a candidate that repeats what the question says."""
    kind = question_type(question)
    if kind is None:
        return None
    pattern = PATTERNS["name" if kind in ("person", "place") else kind]
    asked = set(terms(question)) | set(terms(query))
    dates = [m.span() for m in PATTERNS["date"].finditer(sentence)]
    # A dateline ("WASHINGTON (CNN) --") names where the story was filed, not what it says.
    body = _DATELINE.match(sentence)
    opening = body.end() if body else 0
    candidates = []
    for match in pattern.finditer(sentence, opening):
        start, end = match.span()
        if kind == "number" and any(a <= start and end <= b for a, b in dates):
            continue  # "6" of "Jan. 6" and a bare year are dates, not counts
        if kind in ("person", "place"):
            start = _skip_asked_words(sentence, start, end, asked)
            if match.start() == opening and len(terms(sentence[start:end])) == 1:
                continue  # a capitalised first word is usually just the start of the sentence
            start = _skip_connectives(sentence, start, end)
        if kind == "date" and sentence[start:end].lower().startswith("in "):
            start += 3  # "in 1169" answers "when" as "1169"
        phrase = sentence[start:end].strip(" ,.")
        if kind in ("person", "place") and _NOT_A_NAME.fullmatch(phrase):
            continue
        phrase_terms = [t for t in terms(phrase) if t not in {"in", "the", "of", "and"}]
        # Measured (docs/evaluation.md): a candidate holding any asked word is wrong more often than right.
        if not phrase_terms or any(_is_asked(t, asked) for t in phrase_terms):
            continue
        # Prefer the most specific date: "Jan. 6" over a bare "2019".
        vagueness = 40 if kind == "date" and not re.search(MONTH, phrase) else 0
        candidates.append((start, end, phrase, vagueness))
    if not candidates:
        return None
    anchors = [m.start() for t in content_terms(question) for m in re.finditer(rf"\b{re.escape(t)}", sentence.lower())]

    def distance(candidate: tuple[int, int, str, int]) -> int:
        start, end, _, vagueness = candidate
        nearest = min((min(abs(a - start), abs(a - end)) for a in anchors), default=0)
        return nearest + vagueness

    return min(candidates, key=distance)[2]


# Capitalised words that are no answer to "who" or "where": nationality adjectives, months, days.
_NOT_A_NAME = re.compile(
    rf"[A-Z][a-z]+(?:ian|ean|ese|ish|ic)|(?:French|Dutch|Greek|Swiss|Thai|German|American|Roman|Arab|Norman|Huguenot)s?"
    rf"|{MONTH}|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
)
# Capitalised sentence openers a name match can start with ("Though the British" -> "British", "But Leo" -> "Leo").
_CONNECTIVES = frozenset(
    """the a an though although however after before when while in on at by for from this these its but and or so yet
    then also thus hence still meanwhile instead indeed later today now as if because since once unlike like despite
    during according following with without under between among through within each every both some many most his her
    their our your my""".split()
)
# "WASHINGTON (CNN) --", "PARIS, France (AP) -", "LONDON:": an upper-case place, an optional agency, a dash or colon.
_DATELINE = re.compile(
    r"\s*(?:[A-Z][A-Z.'’-]+(?:[ ,]+[A-Z][A-Za-z.'’-]*)*\s*(?:\([A-Za-z .&]+\))?|\([A-Za-z .&]+\))\s*(?:—|–|--|-|:)\s+"
)


def _skip_connectives(sentence: str, start: int, end: int) -> int:
    """Move a name's start past leading connective words."""
    for word in re.finditer(r"\S+", sentence[start:end]):
        if word.group(0).lower() not in _CONNECTIVES:
            return start + word.start()
    return end


def _is_asked(term: str, asked: set[str]) -> bool:
    """A term the question already says, allowing for endings ("Iranian" for "Iran")."""
    return term in asked or any(len(a) >= 4 and (term.startswith(a) or a.startswith(term)) for a in asked)


def _skip_asked_words(sentence: str, start: int, end: int, asked: set[str]) -> int:
    """Move a name's start past leading words the question already used ("Supreme Leader" Ali Khamenei)."""
    for word in re.finditer(r"\S+", sentence[start:end]):
        if not all(_is_asked(t, asked) for t in terms(word.group(0))):
            return start + word.start()
    return end
