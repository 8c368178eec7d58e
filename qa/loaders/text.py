"""Plain text and Markdown files, and the decoding every text format shares."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .registry import Extracted, Unusable

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
# cp1252 decodes almost any byte string, so a fallback result holding control
# characters is treated as binary rather than as text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def load_plain(data: bytes, max_bytes: int) -> Iterator[Extracted]:
    """A .txt file: its text; the title comes from the text itself."""
    yield Extracted(normalise(decode(data)))


def load_markdown(data: bytes, max_bytes: int) -> Iterator[Extracted]:
    """A Markdown file: its text, titled by its first level-1 heading (else its first heading)."""
    text = normalise(decode(data))
    headings = _MD_HEADING.findall(text)
    best = next((h for h in headings if h[0] == "#"), headings[0] if headings else None)
    yield Extracted(text, best[1] if best else None)


def decode(data: bytes) -> str:
    """Text from UTF-8 (with or without a byte-order mark) or cp1252; binary data is Unusable."""
    if b"\x00" in data:
        raise Unusable("binary content (NUL bytes) in a text file")
    # utf-8-sig also reads plain UTF-8; it just drops a leading byte-order mark.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise Unusable("text is neither valid UTF-8 nor cp1252") from None
    if _CONTROL.search(text):
        raise Unusable("text is not valid UTF-8 and looks binary")
    return text


def normalise(text: str) -> str:
    """Unix line ends."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
