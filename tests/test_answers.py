"""End to end on the real model and seeds/: cited extractive answers, short answers, abstention."""

from __future__ import annotations

import re

import pytest

from qa.answering import NOT_FOUND

SEED_000 = "000_5b672d860f205277.txt"
SEED_002 = "002_a4b40d0ff9340f7b.txt"
CONTRACT_KEYS = ["question", "answer", "short_answer", "abstained", "confidence", "citations", "timings_ms", "segments"]
SEGMENT_KEYS = ["text", "n", "doc_id", "start", "end"]
CITATION_KEYS = ["n", "doc_id", "source", "title", "passage", "start", "end", "highlights", "page", "score"]


def test_arrest_question_is_answered_with_the_sentence_and_its_source(seeds_qa) -> None:
    answer = seeds_qa.ask("How many people were arrested on Nov. 15?")
    assert not answer.abstained
    assert "12,000" in answer.answer
    assert answer.short_answer == "more than 12,000"
    first = answer.citations[0]
    assert first.doc_id == SEED_000 and first.n == 1
    assert answer.answer.split(" [1]")[0].endswith("during the protests.")
    text = seeds_qa.document(SEED_000).text
    assert text[first.start : first.end] == first.passage
    start, end = first.highlights[0]
    assert "more than 12,000 people were arrested on Nov. 15" in text[start:end]
    assert text[start:end] in answer.answer


def test_every_answer_sentence_is_a_verbatim_highlighted_span(seeds_qa) -> None:
    answer = seeds_qa.ask("What did Amnesty International condemn?")
    cited = {c.n: c for c in answer.citations}
    parts = re.findall(r"(.+?) \[(\d+)\](?:\s|$)", answer.answer)
    assert parts, answer.answer
    for sentence, n in parts:
        citation = cited[int(n)]
        text = seeds_qa.document(citation.doc_id).text
        assert sentence.strip() in [text[a:b] for a, b in citation.highlights]


def test_segments_are_the_answer_sentences_in_order_with_their_spans(seeds_qa) -> None:
    answer = seeds_qa.ask("What did Amnesty International condemn?")
    assert answer.segments and answer.answer == " ".join(f"{s.text} [{s.n}]" for s in answer.segments)
    cited = {c.n: c for c in answer.citations}
    for segment in answer.segments:
        assert cited[segment.n].doc_id == segment.doc_id and [segment.start, segment.end] in cited[segment.n].highlights
        assert seeds_qa.document(segment.doc_id).text[segment.start : segment.end] == segment.text
    assert list(answer.to_dict()["segments"][0]) == SEGMENT_KEYS
    assert seeds_qa.ask("What is the capital of Australia?").segments == []


@pytest.mark.parametrize(
    ("question", "expected", "doc_id"),
    [
        ("When did the most recent wave of protests erupt?", "Oct. 1", SEED_000),
        ("Where did demonstrators close down a port?", "Um Qasr", SEED_002),
        ("Who was killed in a U.S. bombing?", "Soleimani", SEED_000),
        ("How many executions were reported in 2017?", "500", SEED_000),
        ("What did Amnesty International condemn?", "vicious crimes", SEED_002),
    ],
)
def test_covered_questions_are_answered(seeds_qa, question: str, expected: str, doc_id: str) -> None:
    answer = seeds_qa.ask(question)
    assert not answer.abstained, answer
    assert expected in answer.answer
    assert answer.citations[0].doc_id == doc_id


@pytest.mark.parametrize(
    "question",
    ["What is the capital of Australia?", "How do I bake sourdough bread?", "Who won the 1998 football World Cup?",
     "What is the boiling point of water?"],
)
def test_questions_the_documents_do_not_cover_abstain(seeds_qa, question: str) -> None:
    answer = seeds_qa.ask(question)
    assert answer.abstained
    assert answer.answer == NOT_FOUND and answer.short_answer is None
    assert answer.citations, "the closest passages are still listed"
    assert all(c.highlights == [] for c in answer.citations)


def test_a_follow_up_is_resolved_against_the_previous_turn(seeds_qa) -> None:
    first = seeds_qa.ask("How many people were arrested on Nov. 15?")
    history = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.answer}]
    follow_up = seeds_qa.ask("How many did it say were killed?", history)
    assert not follow_up.abstained
    assert follow_up.short_answer == "at least 1,500"
    assert follow_up.citations[0].doc_id == SEED_000


def test_the_json_contract_has_every_documented_field(seeds_qa) -> None:
    data = seeds_qa.ask("How many people were arrested on Nov. 15?", top_k=3).to_dict()
    assert list(data) == CONTRACT_KEYS
    assert len(data["citations"]) == 3
    for citation in data["citations"]:
        assert list(citation) == CITATION_KEYS
        assert citation["source"].endswith(citation["doc_id"])
    assert {"embed", "retrieve", "answer", "total"} <= set(data["timings_ms"])
    assert 0.0 <= data["confidence"] <= 1.0
