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


def test_a_dateline_is_never_the_answer() -> None:
    sentence = "WASHINGTON (CNN) -- Human Rights Monitor reported the arrests on Friday."
    assert short_answer("Who reported the arrests?", sentence) == "Human Rights Monitor"
    assert short_answer("Who reported the arrests?", "(CNN) -- Human Rights Monitor reported the arrests.") == "Human Rights Monitor"


def test_a_connective_is_not_part_of_a_name() -> None:
    assert short_answer("Who finished first?", "But Leo finished first in the end.") == "Leo"


def test_no_short_answer_repeats_what_the_question_says() -> None:
    assert short_answer("Who is the president of France?", "Emmanuel Macron, the president of France, spoke.") == "Emmanuel Macron"
    assert short_answer("Who is the president of France?", "The president of France spoke.") is None


def test_whole_amounts_fractions_and_ranges() -> None:
    assert short_answer("How much of the population died?", "Approximately one third of the population died.") == "Approximately one third"
    assert short_answer("How many years did it last?", "It lasted between 5 and 10 years.") == "between 5 and 10"


def test_a_year_answers_when_without_its_preposition() -> None:
    assert short_answer("When did they arrive?", "They arrived in 1169 at the coast.") == "1169"
