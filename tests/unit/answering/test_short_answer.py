"""The short answer cut from a chosen sentence, for each kind of question."""

from __future__ import annotations

import pytest

from qa.answering.question_types import question_type
from qa.answering.short_answer import short_answer

SENTENCE = "HRM also reported that more than 12,000 people were arrested on Nov. 15, and at least 1,500 protesters were killed."


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the protests start?", "date"),
        ("In what year was it founded?", "date"),
        ("How many people were arrested?", "number"),
        ("Who is the Supreme Leader of Iran?", "person"),
        ("Which company built it?", "person"),
        ("Where did the protests erupt?", "place"),
        ("Why did they protest?", None),
    ],
)
def test_question_types(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_a_count_with_its_quantifier_near_the_asked_words() -> None:
    assert short_answer("How many people were arrested?", SENTENCE) == "more than 12,000"
    assert short_answer("How many protesters were killed?", SENTENCE) == "at least 1,500"


def test_a_date_is_not_read_as_a_count_and_the_specific_date_wins() -> None:
    assert short_answer("When were people arrested?", SENTENCE) == "Nov. 15"
    assert short_answer("How many days?", "It began on Jan. 6 in 2019.") is None


def test_names_skip_words_the_question_already_says() -> None:
    sentence = "Iran's Supreme Leader Ali Khamenei blamed foreign enemies."
    assert short_answer("Who is the Supreme Leader of Iran?", sentence) == "Ali Khamenei"


def test_no_short_answer_for_nationalities_months_or_open_questions() -> None:
    assert short_answer("Who attacked?", "The British attacked in March.") is None
    assert short_answer("Why did it happen?", SENTENCE) is None
