"""Turn files and folders into `Document`s; every file that cannot be used becomes a `Skipped`."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import re
import stat
import zipfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import docx
import pypdf
from bs4 import BeautifulSoup, NavigableString, Tag
from docx.table import Table

from qa.models import Document, Skipped

SUPPORTED_SUFFIXES = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".jsonl"}
)
MAX_FILE_BYTES = 50 * 1024 * 1024

# A .docx is a zip; its declared member sizes are enforced by zipfile while reading,
# so checking them up front is enough to refuse decompression bombs.
_DOCX_MAX_EXPANSION = 20  # total uncompressed size, as a multiple of max_bytes
_ZIP_MAX_RATIO = 100  # real Office XML compresses ~10x; bombs reach ~1000x
_ZIP_RATIO_FLOOR = 1024 * 1024  # tiny members may compress absurdly well and harmlessly

_TITLE_MAX_CHARS = 120
_TITLE_SCAN_LINES = 10

_TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
_HTML_SUFFIXES = {".html", ".htm"}

_HTML_PARSER = "lxml" if importlib.util.find_spec("lxml") else "html.parser"
_HTML_DROP = ["script", "style", "noscript", "template", "nav", "header", "footer",
              "aside", "form", "iframe", "svg"]
_HTML_CHROME = {"header", "footer"}
# Breaks inserted at these elements so the page's layout survives get_text().
_HTML_PARAGRAPHS = ["p", "div", "section", "article", "main", "blockquote", "pre",
                    "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl",
                    "figure", "figcaption", "address", "hr"]
_HTML_LINES = ["li", "tr", "dt", "dd", "caption", "br"]
_HTML_CELLS = ["td", "th"]

_WORD = re.compile(r"[^\W\d_]{2}")  # a word with at least two letters, in any script
_LINE = re.compile(r"[^\n]+")  # lazily, so a huge text is not split whole for a title
_BLANK_RUN = re.compile(r"\n{3,}")
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_ANY_SPACE = re.compile(r"\s+")
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
# cp1252 decodes almost any byte string, so a fallback result holding control
# characters is treated as binary rather than as text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class _Unusable(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


def load_paths(
    paths: Iterable[str | Path], max_bytes: int = MAX_FILE_BYTES
) -> Iterator[Document | Skipped]:
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


def _load_file(
    path: Path, doc_id: str, root: Path, max_bytes: int, source: str | None = None
) -> Iterator[Document | Skipped]:
    source = source or path.as_posix()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}'" if suffix else "(no extension)"
        yield Skipped(source, f"unsupported file type {kind}")
        return
    try:
        data = _read(path, max_bytes)
        if suffix == ".jsonl":
            yield from _jsonl_documents(data, source, str(root))
            return
        text, title, pages = _extract(suffix, data, max_bytes)
    except _Unusable as exc:
        yield Skipped(source, str(exc))
        return
    # Any other failure inside a third-party parser belongs to this file only.
    except Exception as exc:  # noqa: BLE001
        yield Skipped(source, f"could not read {suffix} file: {type(exc).__name__}: {exc}")
        return
    if not text.strip():
        yield Skipped(source, "no text found after extraction")
        return
    title = title or _title_from_text(text) or path.stem
    yield _document(doc_id, source, title, text, pages, str(root))


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise _Unusable("not a regular file")
        if info.st_size > max_bytes:
            raise _Unusable(
                f"file is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes"
            )
        if info.st_size == 0:
            raise _Unusable("empty file (0 bytes)")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise _Unusable(f"cannot read file: {exc.strerror or exc}") from exc
    # The file may have grown since stat().
    if len(data) > max_bytes:
        raise _Unusable(f"file is over the limit of {max_bytes:,} bytes")
    return data


def _extract(
    suffix: str, data: bytes, max_bytes: int
) -> tuple[str, str | None, tuple[tuple[int, int, int], ...]]:
    if suffix in _TEXT_SUFFIXES:
        text = _normalise(_decode(data))
        return text, _markdown_title(text) if suffix != ".txt" else None, ()
    if suffix in _HTML_SUFFIXES:
        return *_html(data), ()
    if suffix == ".pdf":
        return _pdf(data)
    return *_docx(data, max_bytes), ()


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise _Unusable("binary content (NUL bytes) in a text file")
    # utf-8-sig also reads plain UTF-8; it just drops a leading byte-order mark.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise _Unusable("text is neither valid UTF-8 nor cp1252") from None
    if _CONTROL.search(text):
        raise _Unusable("text is not valid UTF-8 and looks binary")
    return text


def _markdown_title(text: str) -> str | None:
    headings = _MD_HEADING.findall(text)
    best = next((h for h in headings if h[0] == "#"), headings[0] if headings else None)
    return best[1] if best else None


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _html(data: bytes) -> tuple[str, str | None]:
    if b"\x00" in data:
        raise _Unusable("binary content (NUL bytes) in an HTML file")
    soup = BeautifulSoup(data, _HTML_PARSER)
    for tag in soup.find_all(_HTML_DROP):
        # An article's own <header>/<footer> holds its headline and byline, not page chrome.
        if tag.name in _HTML_CHROME and tag.find_parent(["main", "article"]):
            continue
        tag.decompose()
    body = soup.find("main") or soup.find("article") or soup.body or soup
    candidates = ((soup.head or soup).find("title"), body.find("h1"))
    titles = [_ANY_SPACE.sub(" ", tag.get_text()).strip() for tag in candidates if tag]
    return _html_text(body), next(filter(None, titles), None)


def _html_text(root: Tag) -> str:
    for string in root.find_all(string=True):
        if type(string) is not NavigableString:  # comments, doctypes, CDATA
            string.extract()
        elif string.find_parent("pre") is None:
            # Outside <pre>, source line breaks are just spaces to a browser.
            string.replace_with(_ANY_SPACE.sub(" ", string))
    for tag in root.find_all(_HTML_PARAGRAPHS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    # One break after, not around, so "a<br>b" and consecutive <li>s stay on adjacent lines.
    for tag in root.find_all(_HTML_LINES):
        tag.insert_after("\n")
    for tag in root.find_all(_HTML_CELLS):
        tag.insert_after(" ")
    lines = (_INLINE_SPACE.sub(" ", line).strip() for line in root.get_text().split("\n"))
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def _pdf(data: bytes) -> tuple[str, str | None, tuple[tuple[int, int, int], ...]]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted only to restrict editing and open with an empty password.
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise _Unusable("encrypted PDF: a password is required to read it")
        texts = [_normalise(page.extract_text() or "") for page in reader.pages]
        title = (reader.metadata.title or "").strip() if reader.metadata else ""
    except _Unusable:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on malformed input
        raise _Unusable(f"malformed PDF: {type(exc).__name__}: {exc}") from exc
    if not any(text.strip() for text in texts):
        raise _Unusable("no text layer (scanned PDF?): run OCR on it first")
    pages = []
    start = 0
    for number, text in enumerate(texts, start=1):
        pages.append((start, start + len(text), number))
        start += len(text) + 2
    return "\n\n".join(texts), title or None, tuple(pages)


def _docx(data: bytes, max_bytes: int) -> tuple[str, str | None]:
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile as exc:
        raise _Unusable("not a valid .docx (not a zip archive)") from exc
    total = sum(member.file_size for member in members)
    if total > _DOCX_MAX_EXPANSION * max_bytes:
        raise _Unusable(f"refusing .docx that expands to {total:,} bytes (zip bomb?)")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _ZIP_RATIO_FLOOR and ratio > _ZIP_MAX_RATIO:
            raise _Unusable(
                f"refusing .docx: '{member.filename}' compresses {ratio:.0f}x (zip bomb?)"
            )
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types on a foreign zip
        raise _Unusable(f"not a valid .docx: {exc}") from exc
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            # A merged cell is listed once per grid position it spans; keeping the
            # XML elements (not their ids) alive keeps lxml's proxies stable.
            seen: set[object] = set()
            for row in item.rows:
                for cell in row.cells:
                    if cell._tc not in seen:
                        seen.add(cell._tc)
                        blocks.append(cell.text)
        else:
            blocks.append(item.text)
    text = "\n\n".join(_normalise(block).strip() for block in blocks if block.strip())
    return text, (document.core_properties.title or "").strip() or None


def _jsonl_documents(data: bytes, source: str, root: str) -> Iterator[Document | Skipped]:
    results: list[Document | Skipped] = []
    seen: set[str] = set()
    # split("\n"), not splitlines(): JSON strings may hold raw U+2028 and friends.
    for number, line in enumerate(_normalise(_decode(data)).split("\n"), start=1):
        if line.strip():
            results.append(_jsonl_record(line, number, source, root, seen))
    if not any(isinstance(result, Document) for result in results):
        raise _Unusable("not a BEIR corpus: no line has '_id' and 'text'")
    yield from results


def _jsonl_record(
    line: str, number: int, source: str, root: str, seen: set[str]
) -> Document | Skipped:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return Skipped(source, f"line {number}: invalid JSON ({exc.msg})")
    if not (isinstance(record, dict) and isinstance(record.get("_id"), (str, int))
            and isinstance(record.get("text"), str)):
        return Skipped(source, f"line {number}: needs an '_id' and a string 'text'")
    doc_id = str(record["_id"])
    text = _normalise(record["text"])
    if doc_id in seen:
        return Skipped(source, f"line {number}: duplicate _id '{doc_id}'")
    if not text.strip():
        return Skipped(f"{source}#{doc_id}", f"line {number}: empty text")
    seen.add(doc_id)
    title = record.get("title")
    title = title.strip() if isinstance(title, str) else ""
    title = title or _title_from_text(text) or doc_id
    try:
        return _document(doc_id, f"{source}#{doc_id}", title, text, (), root)
    except UnicodeEncodeError:
        return Skipped(source, f"line {number}: text holds invalid Unicode (lone surrogate)")


def _document(
    doc_id: str, source: str, title: str, text: str,
    pages: tuple[tuple[int, int, int], ...], root: str,
) -> Document:
    # The title is hashed too, so retitling a document re-indexes it.
    digest = hashlib.sha256(f"{title}\x00{text}".encode("utf-8")).hexdigest()
    return Document(doc_id=doc_id, source=source, title=title, text=text,
                    content_hash=digest, pages=pages, root=root)


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
