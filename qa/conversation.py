"""Follow-up questions: what to search for, and which documents to prefer, when a question leans on
the conversation before it.

A question leans on the conversation when it refers back (a personal pronoun, "there", a bare
"this"/"that") or has at most one content word ("why?"). It is then resolved against the whole
conversation: the previous question, the earlier turns it leaned on in turn, the names said anywhere
earlier, and the documents the earlier answers quoted. A question that leans on nothing starts afresh:
the conversation has moved on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .text import STOPWORDS, content_terms, terms

# Words that make a question lean on what was said before ("How many did it say?", "Who was her husband?").
_REFERRING = frozenset("it its they them their theirs he she his her him hers there such".split())
# Demonstratives lean only when they stand alone ("Why is that?"), not as "this website".
_DEMONSTRATIVES = frozenset("this that these those".split())
# Earlier user turns joined into a follow-up's query at most (the chain it leans on).
MAX_CHAINED_TURNS = 3
# Earlier answers whose quoted documents the conversation is about.
FOCUS_ANSWERS = 2
_CITATION_MARK = re.compile(r"\s*\[\d+\](?=\s|$)")
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|von|van|and)?\s*[A-Z][\w'’.-]*)*")
_NOT_NAMES = frozenset(
    "What Who Whom Whose When Where Why How Which In On At From To For By During After Before The A An Did Does Do Is Was "
    "Were Are Can Could Along Since Under With About Besides Other And But Or So If".split()
)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the user's question and the answer it got (empty when unknown)."""

    question: str
    answer: str = ""


@dataclass(frozen=True)
class FollowUp:
    """What to retrieve with: the question alone, or resolved against the conversation."""

    query: str
    # The conversation leaned on: the documents its earlier answers quoted are preferred.
    leans: bool = False
    quoted: tuple[str, ...] = ()


def turns(history: Sequence[Any]) -> list[Turn]:
    """Earlier exchanges from a history of role/content dicts or (user, bot) pairs."""
    found: list[Turn] = []
    for item in history:
        if isinstance(item, dict) and isinstance(item.get("content"), str):
            if item.get("role") == "user":
                found.append(Turn(item["content"]))
            elif item.get("role") == "assistant" and found and not found[-1].answer:
                found[-1] = Turn(found[-1].question, item["content"])
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            found.append(Turn(item[0], item[1] if len(item) > 1 and isinstance(item[1], str) else ""))
    return found


def leans(question: str) -> bool:
    """Whether `question` refers back to the conversation rather than standing alone."""
    words = terms(question)
    if len(content_terms(question)) <= 1:
        return True
    for i, word in enumerate(words):
        if word in _REFERRING:
            return True
        if word in _DEMONSTRATIVES and (i + 1 == len(words) or words[i + 1] in STOPWORDS):
            return True
    return False


def names(text: str) -> list[str]:
    """Capitalised names in `text` (a question word or connective at the start is not part of one)."""
    found = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        name = re.sub(r"['’]s?$", "", " ".join(words))
        if len(name) >= 2:
            found.append(name)
    return found


def answer_sentences(answer_text: str) -> list[str]:
    """The quoted sentences of an earlier answer, without their `[n]` citation marks."""
    if not _CITATION_MARK.search(answer_text):
        return []  # not a cited answer (declined, or text the client wrote)
    return [part.strip() for part in _CITATION_MARK.split(answer_text) if part.strip()]


def resolve_follow_up(question: str, history: Sequence[Any]) -> FollowUp:
    """The question resolved against the conversation: the previous question (and the turns that one
    leaned on), names said earlier, and the sentences the latest answers quoted."""
    earlier = turns(history)
    if not earlier or not leans(question):
        return FollowUp(question)
    chain = [earlier[-1].question]
    for turn in reversed(earlier[:-1]):
        if len(chain) >= MAX_CHAINED_TURNS or not leans(chain[0]):
            break
        chain.insert(0, turn.question)
    # Names from turns before the chain: a subject said two or more turns back.
    said = " ".join(chain + [question])
    older = [n for turn in earlier[: len(earlier) - len(chain)] for n in names(turn.question)]
    recalled = list(dict.fromkeys(n for n in reversed(older) if n not in said))[:2]
    quoted = tuple(s for turn in earlier[-FOCUS_ANSWERS:] for s in answer_sentences(turn.answer)[:1])
    return FollowUp(" ".join([*recalled, *chain, question]), True, quoted)
