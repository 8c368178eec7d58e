"""Typed records that cross module boundaries: documents -> chunks -> passages -> answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


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
class Passage:
    """A retrieved chunk with its scores and the data needed to cite it."""

    chunk_id: int
    doc_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    dense_score: float | None = None
    lexical_rank: int | None = None
    dense_rank: int | None = None
    page: int | None = None


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
class Answer:
    """The JSON contract of `qa ask --json`, `/api/ask` and the Gradio `/ask` endpoint."""

    question: str
    answer: str
    short_answer: str | None
    abstained: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict in the documented key order."""
        return asdict(self)
