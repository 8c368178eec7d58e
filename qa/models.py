"""Typed records that cross module boundaries: documents -> chunks -> passages -> answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Document:
    """A loaded source document; every offset elsewhere points into `text`."""

    doc_id: str
    source: str
    title: str
    text: str
    content_hash: str
    # (start, end, page_number) spans of `text`, for formats with pages (PDF).
    pages: tuple[tuple[int, int, int], ...] = ()
    root: str = ""

    def page_at(self, offset: int) -> int | None:
        """Page number (1-based) holding the character at `offset`, if the format has pages."""
        return page_at(self.pages, offset)


def page_at(pages: Iterable[Sequence[int]], offset: int) -> int | None:
    """The page number of the (start, end, number) span holding `offset`, or None."""
    for start, end, number in pages:
        if start <= offset < end:
            return number
    return None


@dataclass(frozen=True)
class DocumentSummary:
    """One indexed document, as listed by `QA.documents()` and `GET /api/documents`."""

    doc_id: str
    title: str
    source: str
    chunks: int
    indexed_at: float


@dataclass(frozen=True)
class StoredDocument:
    """A document's full text and metadata, as `QA.document()` and `GET /api/documents/{id}` return it."""

    doc_id: str
    title: str
    source: str
    chunks: int
    indexed_at: float
    text: str
    content_hash: str
    # [start, end, page number] spans of `text`, for paged formats.
    pages: list[list[int]]

    def page_at(self, offset: int) -> int | None:
        """Page number (1-based) holding the character at `offset`, if the format has pages."""
        return page_at(self.pages, offset)


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, with a reason a person can act on."""

    source: str
    reason: str


@dataclass(frozen=True)
class Sentence:
    """One sentence span of a document; `debris` marks web boilerplate never offered as an answer."""

    start: int
    end: int
    debris: bool = False


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one document, sized to fit the model without truncation."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[Sentence, ...]


@dataclass
class PreparedDocument:
    """A document with its chunks and vectors, ready to be written in one transaction."""

    document: Document
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_spans: list[tuple[int, int]]
    sentence_vectors: np.ndarray


@dataclass(frozen=True)
class Changes:
    """One batch of index changes, committed together as one generation."""

    upserts: Sequence[PreparedDocument] = ()
    deletes: Sequence[str] = ()
    # doc_id -> the indexed folder it now belongs to (unchanged documents that moved).
    roots: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredSentence:
    """A sentence span of a stored chunk with its embedding (unit length)."""

    start: int
    end: int
    vector: np.ndarray


@dataclass
class Passage:
    """A retrieved chunk with its score, its sentences, and the data needed to cite it."""

    chunk_id: int
    doc_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = None
    sentences: tuple[StoredSentence, ...] = ()
    # Where the chunk stood in the dense ranking (None: not among its candidates), and its cosine. (Not its
    # BM25 rank: a sharded index merges BM25 by each shard's own statistics, and the calibrated confidence
    # must not depend on how the index is sharded.)
    dense_rank: int | None = None
    dense_score: float | None = None

    def sentence_text(self, sentence: StoredSentence) -> str:
        """The text of one of this passage's sentences."""
        return self.text[sentence.start - self.start : sentence.end - self.start]


@dataclass
class Citation:
    """A cited passage: `start`/`end` and `highlights` are offsets into the document text."""

    n: int
    doc_id: str
    source: str
    title: str
    passage: str
    start: int
    end: int
    highlights: list[list[int]]
    page: int | None
    score: float


@dataclass
class Segment:
    """One answer sentence in answer order: its verbatim text, its citation number and its offsets in that document."""

    text: str
    n: int
    doc_id: str
    start: int
    end: int


@dataclass
class Answer:
    """The JSON contract of `qa ask --json`, `/api/ask` and the Gradio `/ask` endpoint."""

    question: str
    answer: str
    short_answer: str | None
    abstained: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The answer's sentences with their sources, so no client parses `[n]` out of `answer`.
    segments: list[Segment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict in the documented key order."""
        return asdict(self)


@dataclass
class IndexReport:
    """What an indexing run did, for the CLI summary and the API."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line of counts."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; {self.chunks} chunks embedded "
            f"in {self.seconds:.1f}s"
        )
