"""Files and folders -> `Document`s; every file that cannot be used becomes a `Skipped` with a reason.

Formats are pluggable: `register((".ext",), loader)` adds one (see `registry.Loader`).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from ..models import Document, Skipped
from . import docx, html, jsonl, pdf, text
from .registry import Extracted, Loader, RecordProblem, Unusable, loader_for, register, supported_suffixes

__all__ = ["MAX_FILE_BYTES", "Extracted", "Loader", "RecordProblem", "Unusable", "load_paths", "register", "supported_suffixes"]

MAX_FILE_BYTES = 50 * 1024 * 1024

register((".txt",), text.load_plain)
register((".md", ".markdown"), text.load_markdown)
register((".html", ".htm"), html.load_html)
register((".pdf",), pdf.load_pdf)
register((".docx",), docx.load_docx)
register((".jsonl",), jsonl.load_jsonl)

_TITLE_MAX_CHARS = 120
# A title made from a text's opening sentence is cut to about this many characters, on a word.
_OPENING_TITLE_CHARS = 80
_TITLE_SCAN_LINES = 10
_WORD = re.compile(r"[^\W\d_]{2}")  # a word with at least two letters, in any script
_LINE = re.compile(r"[^\n]+")  # lazily, so a huge text is not split whole for a title
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")


def load_paths(paths: Iterable[str | Path], max_bytes: int = MAX_FILE_BYTES) -> Iterator[Document | Skipped]:
    """Yield a Document for every usable file under `paths` and a Skipped for every other file."""
    for given in paths:
        given = Path(given)
        try:
            if given.is_dir():
                yield from _load_folder(given, max_bytes)
            elif given.exists():
                yield from _load_file(given, given.name, given.resolve(), max_bytes)
            elif given.is_symlink():
                yield Skipped(given.as_posix(), "broken symlink: its target does not exist")
            else:
                yield Skipped(given.as_posix(), "path does not exist")
        except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop
            yield Skipped(given.as_posix(), f"cannot read: {exc}")


def _load_folder(folder: Path, max_bytes: int) -> Iterator[Document | Skipped]:
    root = folder.resolve()
    errors: list[OSError] = []
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        # os.walk does not descend into symlinked folders (no cycles, no escaping
        # the folder) but lists them, so one pointing outside still gets a reason.
        links = [name for name in dirnames if os.path.islink(os.path.join(dirpath, name))]
        found += [Path(dirpath, name) for name in filenames + links if not name.startswith(".")]

    for error in errors:
        where = Path(error.filename or root).relative_to(root).as_posix()
        yield Skipped((folder / where).as_posix(), f"cannot read folder: {error.strerror}")
    for doc_id, path in sorted((path.relative_to(root).as_posix(), path) for path in found):
        source = (folder / doc_id).as_posix()
        try:
            if path.is_symlink() and not path.exists():
                yield Skipped(source, "broken symlink: its target does not exist")
            elif not path.resolve().is_relative_to(root):
                yield Skipped(source, "symlink points outside the folder")
            elif not path.is_dir():  # a symlinked folder inside is walked anyway
                yield from _load_file(path, doc_id, root, max_bytes, source)
        except (OSError, RuntimeError) as exc:
            yield Skipped(source, f"cannot read: {exc}")


def _load_file(path: Path, doc_id: str, root: Path, max_bytes: int, source: str | None = None) -> Iterator[Document | Skipped]:
    source = source or path.as_posix()
    suffix = path.suffix.lower()
    loader = loader_for(suffix)
    if loader is None:
        kind = f"'{suffix}'" if suffix else "(no extension)"
        yield Skipped(source, f"unsupported file type {kind}")
        return
    try:
        found = list(loader(_read(path, max_bytes), max_bytes))
    except Unusable as exc:
        yield Skipped(source, str(exc))
        return
    # Any other failure inside a third-party parser belongs to this file only.
    except Exception as exc:  # noqa: BLE001
        yield Skipped(source, f"could not read {suffix} file: {type(exc).__name__}: {exc}")
        return
    for item in found:
        if isinstance(item, RecordProblem):
            yield Skipped(f"{source}#{item.record_id}" if item.record_id else source, item.reason)
        elif item.record_id is not None:
            title = item.title or _title_from_text(item.text) or _name_or_opening(item.record_id, item.text)
            yield _document(item.record_id, f"{source}#{item.record_id}", title, item.text, item.pages, str(root))
        elif not item.text.strip():
            yield Skipped(source, "no text found after extraction")
        else:
            title = item.title or _title_from_text(item.text) or _name_or_opening(path.stem, item.text)
            yield _document(doc_id, source, title, item.text, item.pages, str(root))


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise Unusable("not a regular file")
        if info.st_size > max_bytes:
            raise Unusable(f"file is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes")
        if info.st_size == 0:
            raise Unusable("empty file (0 bytes)")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise Unusable(f"cannot read file: {exc.strerror or exc}") from exc
    # The file may have grown since stat().
    if len(data) > max_bytes:
        raise Unusable(f"file is over the limit of {max_bytes:,} bytes")
    return data


def _document(doc_id: str, source: str, title: str, text: str, pages: tuple[tuple[int, int, int], ...], root: str) -> Document:
    # The title is hashed too, so retitling a document re-indexes it.
    digest = hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()
    return Document(doc_id=doc_id, source=source, title=title, text=text, content_hash=digest, pages=pages, root=root)


def _title_from_text(text: str) -> str | None:
    """The first worded line when it reads as a headline; None when the text opens with prose."""
    lines = (match.group().strip() for match in _LINE.finditer(text))
    for line in islice(filter(None, lines), _TITLE_SCAN_LINES):
        words = sum(1 for word in line.split() if _WORD.search(word))
        if words < 2:
            continue  # labels and debris such as "728 x 90" or "Advertisement"
        if len(line) <= _TITLE_MAX_CHARS and not line.endswith((".", ",", ";", ":")):
            return line
        return None
    return None


def _name_or_opening(name: str, text: str) -> str:
    """A file's name as its title when it reads as words; else (a hash, a number) the text's opening words."""
    if any(part.isalpha() and len(part) >= 2 for part in re.split(r"[\W_\d]*\d[\W_\d]*|[\W_]+", name)):
        return name
    return _opening(text) or name


def _opening(text: str) -> str | None:
    """The first worded line's first sentence, cut on a word to about `_OPENING_TITLE_CHARS`."""
    lines = (match.group().strip() for match in _LINE.finditer(text))
    for line in islice(filter(None, lines), _TITLE_SCAN_LINES):
        if sum(1 for word in line.split() if _WORD.search(word)) < 2:
            continue
        sentence = _SENTENCE_END.split(line, maxsplit=1)[0].rstrip(".")
        if len(sentence) <= _OPENING_TITLE_CHARS:
            return sentence
        cut = sentence.rfind(" ", 0, _OPENING_TITLE_CHARS)
        return sentence[: cut if cut > 0 else _OPENING_TITLE_CHARS].rstrip(" ,;:–—-") + "…"
    return None
