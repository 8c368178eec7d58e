"""What an indexing run shows while it works: bars on a terminal (tqdm), plain lines in a log, or nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import IO

from ..models import Document, PreparedDocument

# A log gets a line at most this often (and one at the end): enough to follow a long run, never a flood.
LINE_SECONDS = 10.0


class Tally:
    """Counts of a run against its plan: documents, chunks and text done, and what was committed.

    Text length is known for the whole plan before anything is embedded, so it drives the ETA; chunk
    totals are estimated from the chunks per character seen so far."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = len(documents)
        self.chars = sum(len(doc.text) for doc in documents)
        self.file_chars: dict[str, int] = {}
        for doc in documents:
            self.file_chars[file_of(doc)] = self.file_chars.get(file_of(doc), 0) + len(doc.text)
        self.began = time.perf_counter()
        self.done_documents = self.done_chunks = self.done_chars = 0
        self.committed_documents = self.committed_chunks = self.batches = 0
        self.file = ""
        self.file_done_chars = self.file_done_chunks = 0

    def prepared(self, group: Sequence[PreparedDocument]) -> None:
        """Count a prepared group."""
        for prepared in group:
            name = file_of(prepared.document)
            if name != self.file:
                self.file, self.file_done_chars, self.file_done_chunks = name, 0, 0
            self.done_documents += 1
            self.done_chunks += len(prepared.chunks)
            self.done_chars += len(prepared.document.text)
            self.file_done_chars += len(prepared.document.text)
            self.file_done_chunks += len(prepared.chunks)

    def committed(self, documents: int, chunks: int) -> None:
        """Count a committed batch."""
        self.committed_documents += documents
        self.committed_chunks += chunks
        self.batches += 1

    @property
    def elapsed(self) -> float:
        """Seconds since the run began preparing."""
        return max(time.perf_counter() - self.began, 1e-9)

    @property
    def rate(self) -> float:
        """Chunks prepared per second."""
        return self.done_chunks / self.elapsed

    def estimate_chunks(self, chars: int, done_chars: int, done_chunks: int) -> int:
        """Chunks expected in `chars` of text of which `done_chars` gave `done_chunks`."""
        if not self.done_chars:
            return done_chunks
        return done_chunks + round((chars - done_chars) * self.done_chunks / self.done_chars)

    @property
    def total_chunks(self) -> int:
        """Chunks expected in the whole plan."""
        return self.estimate_chunks(self.chars, self.done_chars, self.done_chunks)

    @property
    def eta(self) -> float | None:
        """Seconds left at the text rate so far."""
        if not self.done_chars:
            return None
        return (self.chars - self.done_chars) * self.elapsed / self.done_chars

    def file_total_chunks(self) -> int:
        """Chunks expected in the current file."""
        return self.estimate_chunks(self.file_chars.get(self.file, 0), self.file_done_chars, self.file_done_chunks)

    def line(self) -> str:
        """The run so far in one line."""
        share = self.done_chars / self.chars if self.chars else 1.0
        eta = self.eta
        text = (f"indexing: {self.done_chunks}/~{self.total_chunks} chunks ({share:.0%}), "
                f"{self.done_documents}/{self.documents} documents, {self.rate:.1f} chunks/s, "
                f"ETA {duration(eta) if eta is not None else '?'}; "
                f"committed {self.committed_chunks} chunks in {self.batches} batches")
        if self.file:
            file_share = self.file_done_chars / (self.file_chars.get(self.file) or 1)
            text += f"; file {self.file}: {self.file_done_chunks}/~{self.file_total_chunks()} chunks ({file_share:.0%})"
        return text


class Silent:
    """No display (a library call, the API)."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def prepared(self, group: Sequence[PreparedDocument]) -> None:
        self.tally.prepared(group)

    def committed(self, documents: int, chunks: int) -> None:
        self.tally.committed(documents, chunks)

    def close(self) -> None:
        pass


class Lines(Silent):
    """Plain lines on a stream that is no terminal (a log, CI): the first, one per `LINE_SECONDS`, the last."""

    def __init__(self, tally: Tally, stream: IO[str]) -> None:
        super().__init__(tally)
        self.stream = stream
        self.shown: float | None = None

    def prepared(self, group: Sequence[PreparedDocument]) -> None:
        super().prepared(group)
        self._show(force=self.shown is None)

    def committed(self, documents: int, chunks: int) -> None:
        super().committed(documents, chunks)
        self._show()

    def close(self) -> None:
        if self.tally.done_documents:
            self._show(force=True)

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or self.shown is None or now - self.shown >= LINE_SECONDS:
            self.shown = now
            print(self.tally.line(), file=self.stream, flush=True)


class Bars(Silent):
    """Two tqdm bars on a terminal: all files, and the file being embedded (chunks, rate, ETA)."""

    # tqdm's own layout, its item counts (characters here) replaced by chunks in the postfix.
    FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"

    def __init__(self, tally: Tally, stream: IO[str]) -> None:
        from tqdm import tqdm

        super().__init__(tally)
        # Bars count characters of text (known for the whole plan up front) and show chunks beside them.
        self.overall = tqdm(total=tally.chars, desc="all files", bar_format=self.FORMAT, file=stream, position=0)
        self.file = tqdm(total=1, desc="", bar_format=self.FORMAT, file=stream, position=1, leave=False)
        self.file_name = ""

    def prepared(self, group: Sequence[PreparedDocument]) -> None:
        super().prepared(group)
        tally = self.tally
        if tally.file != self.file_name:
            self.file_name = tally.file
            self.file.reset(total=tally.file_chars.get(tally.file) or 1)
            self.file.set_description_str(short(tally.file), refresh=False)
        self.file.n = tally.file_done_chars
        self.file.set_postfix_str(f"{tally.file_done_chunks}/~{tally.file_total_chunks()} chunks", refresh=True)
        self.overall.n = tally.done_chars
        self._overall_postfix()

    def committed(self, documents: int, chunks: int) -> None:
        super().committed(documents, chunks)
        self._overall_postfix()

    def _overall_postfix(self) -> None:
        tally = self.tally
        self.overall.set_postfix_str(
            f"{tally.done_chunks}/~{tally.total_chunks} chunks, {tally.rate:.1f} chunks/s, "
            f"{tally.done_documents}/{tally.documents} docs, {tally.committed_chunks} chunks committed", refresh=True)

    def close(self) -> None:
        self.file.close()
        self.overall.close()


def display(documents: Sequence[Document], show: bool, stream: IO[str] | None = None) -> Silent:
    """Progress of a run over `documents`: bars if `show` and `stream` (stderr) is a terminal, lines if `show`, else none."""
    tally = Tally(documents)
    stream = stream or sys.stderr
    if not show:
        return Silent(tally)
    return Bars(tally, stream) if stream.isatty() else Lines(tally, stream)


def file_of(document: Document) -> str:
    """The file a document came from (a JSON-lines record names its file before `#`)."""
    return document.source.split("#", 1)[0]


def short(name: str, width: int = 40) -> str:
    """`name` cut from the left to `width` characters."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def duration(seconds: float) -> str:
    """1h02m, 3m05s or 12s."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
