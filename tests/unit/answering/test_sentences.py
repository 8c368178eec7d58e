"""Which sentences may be answers: never a heading, a title line, a label, a question or a bare number."""

from __future__ import annotations

import pytest

from qa.answering.sentences import is_fragment


@pytest.mark.parametrize(
    "text",
    ["COVID-19 Emergence", "6.", "What Are Your Choices?", "B. Personally Identifiable Information.", "Contact information.",
     "Information We Collect", "Last updated: March 2019", "Why?", "(iv) Cookies.", "Privacy Policy",
     "Massive rallies in cities checkered across central and southern Iraq"],
)
def test_headings_labels_and_questions_are_fragments(text: str) -> None:
    assert is_fragment(text)


@pytest.mark.parametrize(
    "text",
    ["We use cookies.", "He left.", "Smith resigned.", "The mother of three lives in Ohio with her husband.",
     "The Normans (Norman: Nourmands; French: Normands) were the people who gave their name to Normandy, a region in France.",
     "HRM also reported that more than 12,000 people were arrested on Nov. 15 [6] [7]."],
)
def test_statements_are_not_fragments(text: str) -> None:
    assert not is_fragment(text)
