"""A question as the engine accepts it: checked once, in one place, for the CLI, the API and the chat."""

from __future__ import annotations

from typing import Any

from .errors import QuestionError


def validate_question(question: Any, max_chars: int) -> str:
    """`question` if it can be asked; else a QuestionError saying why (empty, or over `max_chars`)."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("Type a question first: the question is empty.", "empty")
    if len(question) > max_chars:
        raise QuestionError(
            f"The question is {len(question):,} characters; the limit is {max_chars:,} (QA_MAX_QUESTION_CHARS).", "too_long"
        )
    return question


def well_formed(text: str) -> str:
    """`text` with lone surrogates replaced by "?"."""
    # They arrive from JSON escapes ("\\ud800") and from command-line bytes that are not UTF-8,
    # and the tokenizer and any UTF-8 output refuse them.
    return text.encode("utf-8", "replace").decode("utf-8")
