"""Sentence splitting with exact offsets, web-debris flags, and model-sized chunks of whole sentences."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import pairwise

from .models import Chunk, Document, Sentence

# Words whose trailing period does not end a sentence ("Jan. 6", "Dr. Smith", "No. 5").
ABBREVIATIONS = frozenset(
    """
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep rev hon pres supt
    no nos vol vols p pp fig figs ed eds est approx dept univ inc ltd co corp bros assn
    vs etc al cf ca viz e.g i.e a.m p.m
    """.split()
)

# A candidate sentence end: terminal punctuation, optional closing quotes/brackets, then space.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")
_NEXT_STARTS_SENTENCE = re.compile(r"\s*[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ#@*•\-–—]")

# Web boilerplate: ad sizes, sign-up and consent lines, share buttons.
_DEBRIS = re.compile(
    r"""^\W*(\d{2,4}\s*[x×]\s*\d{2,4})\W*$
    |sign\s*up\s+(to|for)\b|subscribe\s+(to|for|now)\b|newsletter
    |by\s+(submitting|clicking|signing)\b.*\b(agree|consent|terms)
    |\bI\s+agree\s+to\s+the\s+terms|accept\s+(all\s+)?cookies|cookie\s+(policy|settings)
    |all\s+rights\s+reserved|^\W*(share|tweet|print|email)(\s+(this|on\s+\w+))?\W*$
    |^\W*(advertisement|sponsored( content)?|read\s+more|click\s+here)\W*$
    """,
    re.IGNORECASE | re.VERBOSE,
)


def is_debris(sentence_text: str) -> bool:
    """True for web boilerplate (ad sizes, newsletter and consent lines) that must never be an answer."""
    return bool(_DEBRIS.search(sentence_text.strip()))


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentence spans; `text[s.start:s.end]` is the sentence, stripped of outer space."""
    sentences: list[Sentence] = []
    for para_start, para_end in _paragraphs(text):
        for start, end in _split_paragraph(text, para_start, para_end):
            start, end = _strip(text, start, end)
            if start < end:
                sentences.append(Sentence(start, end, is_debris(text[start:end])))
    return sentences


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for match in _BLANK_LINE.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _split_paragraph(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = [start]
    for line_break in _line_breaks(text, start, end):
        cuts.append(line_break)
    for match in _END.finditer(text, start, end):
        if _ends_sentence(text, match.start(), match.end(), end):
            cuts.append(match.end())
    cuts = sorted(set(cuts)) + [end]
    return [(a, b) for a, b in pairwise(cuts) if a < b]


def _line_breaks(text: str, start: int, end: int) -> list[int]:
    """Single line breaks that end a sentence: a headline or list line, not a wrapped sentence."""
    breaks = []
    pos = text.find("\n", start, end)
    while pos != -1:
        before = text[start:pos].rstrip()
        after = text[pos + 1 : end]
        wrapped = before.endswith((",", ";", ":", "-", "(")) or before[-1:].islower() and after[:1].islower()
        if before and not wrapped and _NEXT_STARTS_SENTENCE.match(after):
            breaks.append(pos)
        pos = text.find("\n", pos + 1, end)
    return breaks


def _ends_sentence(text: str, punct_start: int, punct_end: int, limit: int) -> bool:
    if not _NEXT_STARTS_SENTENCE.match(text, punct_end, limit):
        return False
    if text[punct_start] != ".":
        return True
    word_match = _WORD_BEFORE.search(text, max(0, punct_start - 20), punct_start)
    if not word_match:
        return True
    word = word_match.group(1).lower()
    # Capitalised "Vet." abbreviates (journal names: "Vet. Rec."); "took the dog to the vet. He" ends.
    if word_match.group(1) == "Vet":
        return False
    # Initials and dotted acronyms ("U.S.", "U.N.", "J. R.") keep the sentence going.
    if len(word) == 1 or re.fullmatch(r"(?:[a-z]\.)+[a-z]?", word):
        return False
    return word.rstrip(".") not in ABBREVIATIONS


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


TokenCounter = Callable[[Sequence[str]], list[int]]


def chunk_document(
    document: Document,
    count_tokens: TokenCounter,
    max_tokens: int,
    overlap_sentences: int = 1,
    split_long: Callable[[str, int], list[tuple[int, int]]] | None = None,
) -> list[Chunk]:
    """Group the document's non-debris sentences into chunks of at most `max_tokens` model tokens.

    Debris sentences break a chunk, so no chunk ever carries them. A sentence longer than the
    budget is cut into pieces (by `split_long`, or at word boundaries) so nothing is truncated.
    """
    text = document.text
    pieces: list[Sentence] = []
    for sentence in split_sentences(text):
        if sentence.debris:
            pieces.append(sentence)
            continue
        pieces.extend(_fit_sentence(text, sentence, count_tokens, max_tokens, split_long))
    token_counts = count_tokens([text[s.start : s.end] for s in pieces])

    chunks: list[Chunk] = []
    group: list[int] = []

    def flush() -> None:
        if group:
            members = tuple(pieces[i] for i in group)
            start, end = members[0].start, members[-1].end
            chunks.append(Chunk(document.doc_id, len(chunks), start, end, text[start:end], members))

    i = 0
    while i < len(pieces):
        if pieces[i].debris:
            flush()
            group = []
            i += 1
            continue
        # One extra token per sentence boundary is a safe margin for joining whitespace.
        size = sum(token_counts[j] + 1 for j in group)
        if group and size + token_counts[i] + 1 > max_tokens:
            flush()
            keep = group[-overlap_sentences:] if overlap_sentences > 0 else []
            # Overlap only while it leaves room for the new sentence.
            while keep and sum(token_counts[j] + 1 for j in keep) + token_counts[i] + 1 > max_tokens:
                keep = keep[1:]
            group = keep
        group.append(i)
        i += 1
    flush()
    return _drop_contained(chunks)


def _drop_contained(chunks: list[Chunk]) -> list[Chunk]:
    """Overlap can leave a chunk that is a strict tail of its predecessor; it adds nothing."""
    kept: list[Chunk] = []
    for chunk in chunks:
        if kept and kept[-1].start <= chunk.start and chunk.end <= kept[-1].end:
            continue
        kept.append(Chunk(chunk.doc_id, len(kept), chunk.start, chunk.end, chunk.text, chunk.sentences))
    return kept


def _fit_sentence(
    text: str,
    sentence: Sentence,
    count_tokens: TokenCounter,
    max_tokens: int,
    split_long: Callable[[str, int], list[tuple[int, int]]] | None,
) -> list[Sentence]:
    body = text[sentence.start : sentence.end]
    if count_tokens([body])[0] + 1 <= max_tokens:
        return [sentence]
    spans = split_long(body, max_tokens - 1) if split_long else _split_words(body, count_tokens, max_tokens - 1)
    pieces = []
    for a, b in spans:
        a, b = _strip(text, sentence.start + a, sentence.start + b)
        if a < b:
            pieces.append(Sentence(a, b, False))
    return pieces


def _split_words(body: str, count_tokens: TokenCounter, budget: int) -> list[tuple[int, int]]:
    """Greedy word-boundary cut of an over-long sentence into pieces within `budget` tokens."""
    words = [m.span() for m in re.finditer(r"\S+", body)]
    counts = count_tokens([body[a:b] for a, b in words])
    # A word over budget (a URL, a blob) is cut by characters: a WordPiece token spans >= 1 char.
    fitted: list[tuple[tuple[int, int], int]] = []
    for (a, b), n in zip(words, counts, strict=True):
        if n <= budget:
            fitted.append(((a, b), n))
        else:
            fitted.extend(((s, min(s + budget, b)), min(budget, b - s)) for s in range(a, b, budget))
    words, counts = [span for span, _ in fitted], [n for _, n in fitted]
    spans, start, used, prev_end = [], None, 0, 0
    for (a, b), n in zip(words, counts, strict=True):
        if start is not None and used + n > budget:
            spans.append((start, prev_end))
            start, used = None, 0
        if start is None:
            start = a
        used += n
        prev_end = b
    if start is not None:
        spans.append((start, prev_end))
    return spans
