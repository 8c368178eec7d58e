"""The loader seam: a function per file format, registered by file suffix."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


class Unusable(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Extracted:
    """The text a loader found in a file (or in one record of a multi-document file)."""

    text: str
    title: str | None = None
    # (start, end, page_number) spans of `text`, for formats with pages.
    pages: tuple[tuple[int, int, int], ...] = ()
    # Set for one record of a multi-document file (a BEIR corpus line): it becomes the doc id.
    record_id: str | None = None


@dataclass(frozen=True)
class RecordProblem:
    """One record of a multi-document file that cannot be used, and why."""

    reason: str
    record_id: str | None = None


# bytes of the file and the size limit -> what it holds; raises Unusable for the whole file.
Loader = Callable[[bytes, int], Iterable[Extracted | RecordProblem]]

_LOADERS: dict[str, Loader] = {}


def register(suffixes: Iterable[str], loader: Loader) -> None:
    """Read files with these suffixes (".txt", lower case, with the dot) with `loader`."""
    for suffix in suffixes:
        _LOADERS[suffix.lower()] = loader


def loader_for(suffix: str) -> Loader | None:
    """The loader of a file suffix, or None when the format is not supported."""
    return _LOADERS.get(suffix.lower())


def supported_suffixes() -> frozenset[str]:
    """Every registered suffix."""
    return frozenset(_LOADERS)
