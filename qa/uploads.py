"""Uploaded files: safe names, the `uploads/<file>[#record]` id grammar, and their life in the index folder.

Uploaded documents get ids under `uploads/`, so they never replace a document of an indexed
folder, and their files are kept in `<index dir>/uploads/` once the index holds them.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .loaders import load_paths, supported_suffixes
from .models import Document, IndexReport, Skipped

if TYPE_CHECKING:
    from .engine import QA

UPLOADS_FOLDER = "uploads"
ID_PREFIX = "uploads/"
# Files of an upload wait in a hidden folder of this prefix until the index has them.
STAGING_PREFIX = ".incoming-"
MAX_FILE_NAME_CHARS = 120


@dataclass(frozen=True)
class UploadId:
    """The parts of an upload's document id: `uploads/<file name>` or `uploads/<file name>#<record id>`."""

    file_name: str
    record: str = ""

    def __str__(self) -> str:
        return ID_PREFIX + self.file_name + (f"#{self.record}" if self.record else "")

    @classmethod
    def parse(cls, doc_id: str) -> UploadId | None:
        """The parts of an upload id, or None for a document that was not uploaded."""
        if not doc_id.startswith(ID_PREFIX):
            return None
        file_name, _, record = doc_id.removeprefix(ID_PREFIX).partition("#")
        return cls(file_name, record)


def uploads_dir(index_dir: Path) -> Path:
    """Where the uploaded files of an index are kept."""
    return Path(index_dir) / UPLOADS_FOLDER


def clear_staging(folder: Path) -> None:
    """Remove what an upload killed mid-way left behind; nothing in it was committed."""
    for leftover in folder.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)


def safe_upload_name(raw: str | None) -> str:
    """The file name kept for an upload: no folders, no leading dots, only plain characters."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")
    name = re.sub(r"\s+", " ", name)
    if len(name) > MAX_FILE_NAME_CHARS:
        suffix = Path(name).suffix[:16]
        name = name[: MAX_FILE_NAME_CHARS - len(suffix)] + suffix
    return name


def screen(files: Sequence[tuple[str | None, bytes]]) -> tuple[list[tuple[str, bytes]], list[Skipped]]:
    """Files (as sent: name, bytes) split into those worth loading, under safe names, and those skipped."""
    named: list[tuple[str, bytes]] = []
    skipped: list[Skipped] = []
    suffixes = supported_suffixes()
    for raw_name, data in files:
        name = safe_upload_name(raw_name)
        if not name:
            skipped.append(Skipped(raw_name or "(no name)", "the file has no usable name"))
        elif Path(name).suffix.lower() not in suffixes:
            skipped.append(Skipped(name, f"unsupported file type; use one of {', '.join(sorted(suffixes))}"))
        elif any(name == earlier for earlier, _ in named):
            skipped.append(Skipped(name, "the same file name appears twice in this upload"))
        else:
            named.append((name, data))
    return named, skipped


def ingest(qa: QA, folder: Path, files: list[tuple[str, bytes]]) -> IndexReport:
    """Index uploaded files and keep the usable ones in `folder`; a bad file replaces nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    try:
        for name, data in files:
            (staging / name).write_bytes(data)
        documents: list[Document] = []
        skipped: list[Skipped] = []
        for item in load_paths([staging / name for name, _ in files]):
            if isinstance(item, Skipped):
                skipped.append(Skipped(_staged_source(item.source, staging), item.reason))
            else:
                documents.append(_as_upload(item, staging, folder))
        report = qa.upsert(documents)
        for name in {_upload_id(doc).file_name for doc in documents}:
            (staging / name).replace(folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.skipped = skipped
    return report


def remove(qa: QA, folder: Path, doc_id: str) -> None:
    """Delete a document from the index, and its uploaded file once no record of it is left."""
    qa.delete([doc_id])
    upload = UploadId.parse(doc_id)
    if upload is None:
        return
    path = folder / upload.file_name
    if path.parent.resolve() != folder.resolve():
        return
    if not any(_same_file(d.doc_id, upload.file_name) for d in qa.documents()):
        path.unlink(missing_ok=True)


def _same_file(doc_id: str, file_name: str) -> bool:
    other = UploadId.parse(doc_id)
    return other is not None and other.file_name == file_name


def _staged_source(source: str, staging: Path) -> str:
    """A loader's source path in the staging folder, as the upload's source (`uploads/<name>[#record]`)."""
    return ID_PREFIX + source.removeprefix(staging.as_posix() + "/")


def _upload_id(document: Document) -> UploadId:
    parsed = UploadId.parse(document.source)
    assert parsed is not None
    return parsed


def _as_upload(document: Document, staging: Path, folder: Path) -> Document:
    """The document under its upload id (a BEIR .jsonl record keeps its own id after the file name)."""
    source = _staged_source(document.source, staging)
    doc_id = str(UploadId.parse(source))
    return dataclasses.replace(document, doc_id=doc_id, source=source, root=str(folder.resolve()))
