"""Follow-up questions: what to search for when a question leans on the conversation before it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .text import content_terms

# Words that make a short question lean on the previous turn ("How many did it say?").
_REFERRING = frozenset("it its they them their this that these those he she his her there such".split())


def user_turns(history: Sequence[Any]) -> list[str]:
    """The user's earlier questions from a history of role/content dicts or (user, bot) pairs."""
    turns = []
    for item in history:
        if isinstance(item, dict):
            if item.get("role") == "user" and isinstance(item.get("content"), str):
                turns.append(item["content"])
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            turns.append(item[0])
    return turns


def resolve_follow_up(question: str, history: Sequence[Any]) -> str:
    """The text to retrieve with: the question, joined to the previous one when it leans on it."""
    previous = user_turns(history)
    if not previous:
        return question
    words = set(question.lower().replace("?", " ").split())
    if len(content_terms(question)) <= 1 or words & _REFERRING:
        return f"{previous[-1]} {question}"
    return question
