"""Property tests: for any text, sentence and chunk spans are exact, ordered, complete and within budget."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.chunking import chunk_document, split_sentences
from qa.models import Document

# Pieces that exercise the splitter's rules: abbreviations, initials, quotes, line and paragraph
# breaks, non-Latin scripts, emoji and long unbroken runs, mixed with arbitrary text.
FRAGMENTS = st.sampled_from([
    "The U.S. Army", "Dr. Smith", "Nov. 15", "e.g. this", "No. 5", "J. R. R. Tolkien", "Hello.", "Why?",
    "Stop!", "\"Quoted.\"", "(Aside.)", "... ", "…", "\n", "\n\n", "\n \n", "\t", "  ", " ",
    "Привет мир.", "東京は大きい。", "مرحبا بالعالم.", "😀🎉", "naïve café", "x" * 300, "supercalifragilistic" * 12,
    "728 x 90", "Sign up for our newsletter.", "- item", "• bullet", "1. First", "# Heading",
    "a", "B", "1", ".", "?", "!", "'", "’", "”", ")", "[", "]",
])
TEXTS = st.one_of(
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=12)), max_size=60).map("".join),
    st.text(max_size=400),
)


def non_space_positions(text: str, spans: list[tuple[int, int]]) -> tuple[set[int], set[int]]:
    wanted = {i for i, ch in enumerate(text) if not ch.isspace()}
    covered = {i for start, end in spans for i in range(start, end) if not text[i].isspace()}
    return wanted, covered


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_sentence_spans_are_exact_ordered_and_cover_every_non_space_character(text: str) -> None:
    sentences = split_sentences(text)
    previous_end = 0
    for sentence in sentences:
        assert previous_end <= sentence.start < sentence.end <= len(text)
        body = text[sentence.start : sentence.end]
        assert body == body.strip() and body
        previous_end = sentence.end
    wanted, covered = non_space_positions(text, [(s.start, s.end) for s in sentences])
    assert wanted == covered


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS, st.integers(min_value=8, max_value=64), st.integers(min_value=0, max_value=2))
def test_chunks_round_trip_stay_in_budget_and_keep_every_non_debris_sentence(encoder, text: str, budget: int, overlap: int) -> None:
    document = Document("doc", "doc.txt", "Title", text, "hash")
    chunks = chunk_document(document, encoder.count_tokens, budget, overlap)
    previous = (-1, -1)
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert text[chunk.start : chunk.end] == chunk.text
        assert (chunk.start, chunk.end) > previous, "chunks out of order"
        previous = (chunk.start, chunk.end)
        for piece in chunk.sentences:
            assert chunk.start <= piece.start < piece.end <= chunk.end and not piece.debris
        # The budget is in real model tokens of the chunk text as embedded.
        assert encoder.count_tokens([chunk.text])[0] <= budget
    _, wanted = non_space_positions(text, [(s.start, s.end) for s in split_sentences(text) if not s.debris])
    _, covered = non_space_positions(text, [(c.start, c.end) for c in chunks])
    assert wanted <= covered, f"text of a non-debris sentence is in no chunk: {text!r}"
