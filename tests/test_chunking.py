"""Sentence splitting, debris flags and model-sized chunks, with exact offsets."""

from __future__ import annotations

from itertools import pairwise

import pytest

from qa.chunking import chunk_document, is_debris, split_sentences
from qa.loaders import load_paths
from qa.models import Document

from .conftest import SEEDS

SEED_000 = "000_5b672d860f205277.txt"


def sentence_texts(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


@pytest.mark.parametrize(
    "sentence",
    [
        "On Jan. 6, the organization published its annual report.",
        "The most recent wave of protests erupted on Oct. 1 with a leaderless uprising in Iraq.",
        "He was killed in a U.S. bombing, was celebrated in Iraq.",
        "Nearly 500 executions were reported, according to the U.N. Human Rights Council report.",
        "More than 12,000 people were arrested on Nov. 15, and at least 1,500 were killed.",
        "Dr. Smith met Mr. Jones at 3.5 km from St. Mary's church.",
        "Smith et al. (2019) showed in Fig. 3 that the strain grew.",
        "Several assays (e.g. PCR and ELISA) were run, i.e. Two per sample.",
        "Patient No. 4 received approx. 20 mg a day.",
        "The isolate was described in Vet. Rec. in 2001.",
    ],
)
def test_abbreviations_stay_inside_their_sentence(sentence: str) -> None:
    text = f"First sentence here. {sentence} Last sentence here."
    assert sentence_texts(text) == ["First sentence here.", sentence, "Last sentence here."]


def test_a_lower_case_vet_at_a_sentence_end_still_ends_it() -> None:
    assert sentence_texts("She took the dog to the vet. He was fine.") == ["She took the dog to the vet.", "He was fine."]


def test_single_line_break_inside_a_sentence_does_not_end_it() -> None:
    text = (SEEDS / SEED_000).read_text(encoding="utf-8")
    wrapped = "denouncing corruption, poor services,\nand lack of jobs among other complaints."
    assert any(s.endswith(wrapped) for s in sentence_texts(text))


def test_headline_lines_and_paragraphs_are_separate_sentences() -> None:
    text = "A Headline Without Period\nBody starts here. And goes on.\n\nNew paragraph without end"
    assert sentence_texts(text) == ["A Headline Without Period", "Body starts here.", "And goes on.", "New paragraph without end"]


def test_terminal_punctuation_inside_quotes_ends_the_sentence() -> None:
    text = "He said “stop.” Then he left! Did he? Yes."
    assert sentence_texts(text) == ["He said “stop.”", "Then he left!", "Did he?", "Yes."]


@pytest.mark.parametrize(
    "line",
    ["728 x 90", "Sign up to receive our latest news!", "By submitting this form, I agree to the terms.", "Subscribe to our newsletter",
     "Accept all cookies"],
)
def test_web_debris_is_flagged(line: str) -> None:
    assert is_debris(line)


@pytest.mark.parametrize(
    "line",
    ["HRM also reported that more than 12,000 people were arrested on Nov. 15.", "The terms of the agreement were signed in 2019.",
     "Iran, November 2, 2019—The uprising"],
)
def test_real_sentences_are_not_debris(line: str) -> None:
    assert not is_debris(line)


def seed_documents() -> list[Document]:
    return [d for d in load_paths([SEEDS]) if isinstance(d, Document)]


def test_seed_chunks_round_trip_offsets_and_never_carry_debris(encoder) -> None:
    for doc in seed_documents():
        chunks = chunk_document(doc, encoder.count_tokens, 200, 1)
        assert chunks, doc.doc_id
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            for sentence in chunk.sentences:
                assert chunk.start <= sentence.start < sentence.end <= chunk.end
                assert not sentence.debris
            assert "728 x 90" not in chunk.text
            assert "Sign up to receive" not in chunk.text
        starts = [c.start for c in chunks]
        assert starts == sorted(starts)


def test_chunks_fit_the_token_budget_and_overlap_by_a_sentence(encoder) -> None:
    budget = 60
    for doc in seed_documents():
        chunks = chunk_document(doc, encoder.count_tokens, budget, 1)
        for chunk in chunks:
            assert encoder.count_tokens([chunk.text])[0] <= budget
        for before, after in pairwise(chunks):
            if after.sentences[0].start < before.end:
                assert after.sentences[0] == before.sentences[-1]


def test_an_over_long_sentence_is_cut_without_losing_text(encoder) -> None:
    words = " ".join(f"word{i}" for i in range(600))
    text = f"Short start. {words} end. Short end."
    doc = Document("long.txt", "long.txt", "Long", text, "h")
    chunks = chunk_document(doc, encoder.count_tokens, 100, 0)
    assert all(encoder.count_tokens([c.text])[0] <= 100 for c in chunks)
    covered = " ".join(c.text for c in chunks)
    for i in range(600):
        assert f"word{i}" in covered


def test_a_single_huge_token_run_is_cut_by_characters(encoder) -> None:
    blob = "x" * 5000
    doc = Document("blob.txt", "blob.txt", "Blob", f"Intro sentence. {blob}", "h")
    chunks = chunk_document(doc, encoder.count_tokens, 50, 0)
    assert all(encoder.count_tokens([c.text])[0] <= 50 for c in chunks)
    assert sum(c.text.count("x") for c in chunks) == 5000
