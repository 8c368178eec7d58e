"""PDF files: the text layer of each page, with page spans for citations."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pypdf

from .registry import Extracted, Unusable
from .text import normalise


def load_pdf(data: bytes, max_bytes: int) -> Iterator[Extracted]:
    """The pages' text joined by blank lines, each page's span recorded; titled by the PDF metadata."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted only to restrict editing and open with an empty password.
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise Unusable("encrypted PDF: a password is required to read it")
        texts = [normalise(page.extract_text() or "") for page in reader.pages]
        title = (reader.metadata.title or "").strip() if reader.metadata else ""
    except Unusable:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on malformed input
        raise Unusable(f"malformed PDF: {type(exc).__name__}: {exc}") from exc
    if not any(text.strip() for text in texts):
        raise Unusable("no text layer (scanned PDF?): run OCR on it first")
    pages = []
    start = 0
    for number, text in enumerate(texts, start=1):
        pages.append((start, start + len(text), number))
        start += len(text) + 2
    yield Extracted("\n\n".join(texts), title or None, tuple(pages))
