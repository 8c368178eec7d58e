"""Word documents: paragraphs and table cells in order, after refusing decompression bombs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import docx
from docx.table import Table

from .registry import Extracted, Unusable
from .text import normalise

# A .docx is a zip; its declared member sizes are enforced by zipfile while reading,
# so checking them up front is enough to refuse decompression bombs.
_MAX_EXPANSION = 20  # total uncompressed size, as a multiple of max_bytes
_ZIP_MAX_RATIO = 100  # real Office XML compresses ~10x; bombs reach ~1000x
_ZIP_RATIO_FLOOR = 1024 * 1024  # tiny members may compress absurdly well and harmlessly


def load_docx(data: bytes, max_bytes: int) -> Iterator[Extracted]:
    """The document's paragraphs and table cells joined by blank lines; titled by its core properties."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile as exc:
        raise Unusable("not a valid .docx (not a zip archive)") from exc
    total = sum(member.file_size for member in members)
    if total > _MAX_EXPANSION * max_bytes:
        raise Unusable(f"refusing .docx that expands to {total:,} bytes (zip bomb?)")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _ZIP_RATIO_FLOOR and ratio > _ZIP_MAX_RATIO:
            raise Unusable(f"refusing .docx: '{member.filename}' compresses {ratio:.0f}x (zip bomb?)")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types on a foreign zip
        raise Unusable(f"not a valid .docx: {exc}") from exc
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
    text = "\n\n".join(normalise(block).strip() for block in blocks if block.strip())
    yield Extracted(text, (document.core_properties.title or "").strip() or None)
