"""The REST API: ask, list and read documents, upload and delete them (admin), health."""

from __future__ import annotations

import dataclasses
import hmac
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.datastructures import UploadFile

from .engine import QA
from .loading import SUPPORTED_SUFFIXES, load_paths
from .models import Answer, Document, Skipped
from .ratelimit import RateLimiter

UPLOADS_FOLDER = "uploads"
# Uploaded documents get ids under this prefix, so they never replace a document of the docs folder.
UPLOAD_ID_PREFIX = "uploads/"
# Files of an upload wait in a hidden folder of this prefix until the index has them.
STAGING_PREFIX = ".incoming-"
MAX_HISTORY_TURNS = 50
MAX_FILE_NAME_CHARS = 120


class Turn(BaseModel):
    """One earlier message of the conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: StrictStr


class AskRequest(BaseModel):
    """A question, with earlier turns for follow-ups."""

    model_config = ConfigDict(extra="forbid")
    question: StrictStr = Field(description="The question; at most QA_MAX_QUESTION_CHARS characters.")
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
    top_k: StrictInt | None = Field(default=None, ge=1, le=50, description="Passages to retrieve (default QA_TOP_K).")


class DocumentSummary(BaseModel):
    """One indexed document."""

    doc_id: str
    title: str
    source: str
    chunks: int
    indexed_at: float


class DocumentList(BaseModel):
    """Every indexed document, by id."""

    documents: list[DocumentSummary]


class DocumentOut(DocumentSummary):
    """A document's full text, to show a cited span in context."""

    text: str
    content_hash: str
    pages: list[list[int]] = Field(description="[start, end, page number] spans of text, for paged formats.")


class SkippedOut(BaseModel):
    """An uploaded file that was not indexed, and why."""

    source: str
    reason: str


class UploadReport(BaseModel):
    """What an upload changed in the index."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    skipped: list[SkippedOut]
    chunks: int


class DeleteReport(BaseModel):
    """The documents removed."""

    removed: list[str]


class ErrorOut(BaseModel):
    """Why a request was refused."""

    detail: str


class Health(BaseModel):
    """Whether the app can answer, with index counts."""

    status: Literal["ready", "not ready"]
    documents: int
    chunks: int


# Field errors (422) share FastAPI's own validation-error shape.
VALIDATION_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}
ORIGIN_REFUSED = {"model": ErrorOut, "description": "the request's Origin is not in QA_ALLOWED_ORIGINS"}
TOO_LARGE = {"model": ErrorOut, "description": "body over QA_MAX_REQUEST_BYTES"}
UNPARSABLE = {"model": ErrorOut, "description": "the body cannot be decoded (not UTF-8 JSON, or a broken multipart form)"}
RATE_LIMITED = {"model": ErrorOut, "description": "rate limit; see Retry-After",
                "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}}
UNAUTHORIZED = {"model": ErrorOut, "description": "missing or wrong admin token",
                "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}}
ADMIN_FORBIDDEN = {"model": ErrorOut, "description": "QA_ADMIN_TOKEN unset, or the Origin is not in QA_ALLOWED_ORIGINS"}
NOT_FOUND = {"model": ErrorOut, "description": "no such document"}
UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "one or more documents"}}}}}}


def field_error(field: str, message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the body field at fault."""
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": kind}])


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


def build_router(qa: QA, max_body_bytes: int) -> APIRouter:
    """All /api routes and /healthz, bound to one engine."""
    settings = qa.settings
    uploads_dir = Path(settings.index_dir) / UPLOADS_FOLDER
    # An upload killed mid-way leaves its staging folder behind; nothing in it was committed.
    for leftover in uploads_dir.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    limiter = RateLimiter(settings.rate_limit_per_minute)
    # Answering is CPU-bound: a few threads at once; index writes one at a time.
    answer_slots = anyio.CapacityLimiter(max(1, settings.concurrency))
    write_slot = anyio.CapacityLimiter(1)
    # Every API path answers 403 to a browser Origin that is not allowed (origins.OriginGuard).
    router = APIRouter(max_body_size=max_body_bytes, responses={403: ORIGIN_REFUSED})

    async def rate_limited(request: Request) -> None:
        wait = limiter.acquire(request.client.host if request.client else "unknown")
        if wait:
            raise HTTPException(
                429,
                f"too many questions from this client: the limit is {settings.rate_limit_per_minute} per minute; retry in {wait}s",
                headers={"Retry-After": str(wait)},
            )

    async def admin(request: Request) -> None:
        if not settings.admin_token:
            raise HTTPException(403, "uploads and deletions are off: set QA_ADMIN_TOKEN on the server to enable them")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = f"Bearer {settings.admin_token}".encode()
        given = f"{scheme} {token.strip()}".encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, "missing or wrong admin token: send 'Authorization: Bearer <QA_ADMIN_TOKEN>'",
                                headers={"WWW-Authenticate": "Bearer"})

    @router.post("/api/ask", response_model=Answer, dependencies=[Depends(rate_limited)],
                 responses={400: UNPARSABLE, 413: TOO_LARGE, 429: RATE_LIMITED})
    async def ask(body: AskRequest) -> JSONResponse:
        """Answer a question with cited sentences: the same JSON as `python -m qa ask --json`."""
        if not body.question.strip():
            raise field_error("question", "the question is empty")
        if len(body.question) > settings.max_question_chars:
            raise field_error("question", f"the question is {len(body.question)} characters; the limit is {settings.max_question_chars}",
                              "string_too_long")
        history = [turn.model_dump() for turn in body.history]
        answer: Answer = await anyio.to_thread.run_sync(qa.ask, body.question, history, body.top_k, limiter=answer_slots)
        return JSONResponse(answer.to_dict())

    @router.get("/api/documents", response_model=DocumentList)
    async def documents() -> dict[str, Any]:
        """Every indexed document: id, title, source, chunk count and index time."""
        return {"documents": await anyio.to_thread.run_sync(qa.store.documents)}

    @router.get("/api/documents/{doc_id:path}", response_model=DocumentOut, responses={404: NOT_FOUND})
    async def document(doc_id: str) -> dict[str, Any]:
        """One document's text and metadata (citation offsets point into `text`)."""
        record = await anyio.to_thread.run_sync(qa.store.document, doc_id)
        if record is None:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        return record

    @router.post("/api/documents", response_model=UploadReport, status_code=201, dependencies=[Depends(admin)],
                 responses={400: UNPARSABLE, 401: UNAUTHORIZED, 403: ADMIN_FORBIDDEN, 413: TOO_LARGE,
                            422: {"description": "no usable file, or a malformed form", "content": VALIDATION_ERROR}},
                 openapi_extra={"requestBody": UPLOAD_BODY})
    async def upload(request: Request) -> dict[str, Any]:
        """Add or replace documents (admin): they are indexed at once under ids `uploads/<name>`."""
        # Read here, not as a `File` parameter: FastAPI parses those before dependencies run, which
        # let anyone without the token make the server parse (and spool) a whole multipart body.
        async with request.form() as form:
            files = form.getlist("files")
            if not files or not all(isinstance(item, UploadFile) for item in files):
                raise field_error("files", "send one or more files as multipart/form-data parts named 'files'", "missing")
            return await store_uploads(files)

    async def store_uploads(files: list[UploadFile]) -> dict[str, Any]:
        """Index the usable files; the whole upload is a 422 when none could be indexed."""
        named: list[tuple[str, bytes]] = []
        skipped: list[Skipped] = []
        for upload_file in files:
            name = safe_upload_name(upload_file.filename)
            data = await upload_file.read()
            if not name:
                skipped.append(Skipped(upload_file.filename or "(no name)", "the file has no usable name"))
            elif Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(name, f"unsupported file type; use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}"))
            elif any(name == earlier for earlier, _ in named):
                skipped.append(Skipped(name, "the same file name appears twice in this upload"))
            else:
                named.append((name, data))
        report = await anyio.to_thread.run_sync(ingest, qa, uploads_dir, named, limiter=write_slot)
        report["skipped"] = [dataclasses.asdict(s) for s in skipped] + report["skipped"]
        if not (report["added"] or report["updated"] or report["unchanged"]):
            reasons = "; ".join(f"{s['source']}: {s['reason']}" for s in report["skipped"])
            raise field_error("files", f"no file could be indexed ({reasons})")
        return report

    @router.delete("/api/documents/{doc_id:path}", response_model=DeleteReport, dependencies=[Depends(admin)],
                   responses={401: UNAUTHORIZED, 403: ADMIN_FORBIDDEN, 404: NOT_FOUND})
    async def delete(doc_id: str) -> dict[str, Any]:
        """Remove a document from the index (admin); an uploaded file is deleted too."""
        if await anyio.to_thread.run_sync(qa.store.document, doc_id) is None:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        await anyio.to_thread.run_sync(remove, qa, uploads_dir, doc_id, limiter=write_slot)
        return {"removed": [doc_id]}

    @router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "the index cannot be read"}})
    async def healthz() -> JSONResponse:
        """Ready or not, with document and chunk counts."""
        try:
            stats = await anyio.to_thread.run_sync(qa.stats)
        except Exception:  # noqa: BLE001 - any failure to read the index means not ready
            return JSONResponse({"status": "not ready", "documents": 0, "chunks": 0}, status_code=503)
        return JSONResponse({"status": "ready", "documents": stats["documents"], "chunks": stats["chunks"]})

    return router


def ingest(qa: QA, uploads_dir: Path, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Index uploaded files and keep the usable ones in `uploads_dir`; a bad file replaces nothing."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=uploads_dir))
    try:
        for name, data in files:
            (staging / name).write_bytes(data)
        documents: list[Document] = []
        skipped: list[dict[str, str]] = []
        for item in load_paths([staging / name for name, _ in files]):
            if isinstance(item, Skipped):
                skipped.append({"source": _upload_source(item.source, staging), "reason": item.reason})
            else:
                documents.append(_as_upload(item, staging, uploads_dir))
        report = qa.upsert(documents)
        for name in {doc.source.removeprefix(UPLOAD_ID_PREFIX).split("#")[0] for doc in documents}:
            (staging / name).replace(uploads_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "skipped": skipped, "chunks": report.chunks}


def _upload_source(source: str, staging: Path) -> str:
    return UPLOAD_ID_PREFIX + source.removeprefix(staging.as_posix() + "/")


def _as_upload(document: Document, staging: Path, uploads_dir: Path) -> Document:
    """The document under its upload id (a BEIR .jsonl record keeps its own id after the file name)."""
    source = _upload_source(document.source, staging)
    file_name = source.removeprefix(UPLOAD_ID_PREFIX).split("#")[0]
    record = source.partition("#")[2]
    doc_id = UPLOAD_ID_PREFIX + file_name + (f"#{record}" if record else "")
    return dataclasses.replace(document, doc_id=doc_id, source=source, root=str(uploads_dir.resolve()))


def remove(qa: QA, uploads_dir: Path, doc_id: str) -> None:
    """Delete a document from the index, and its uploaded file once no record of it is left."""
    qa.delete([doc_id])
    if not doc_id.startswith(UPLOAD_ID_PREFIX):
        return
    file_name = doc_id.removeprefix(UPLOAD_ID_PREFIX).split("#")[0]
    path = uploads_dir / file_name
    if path.parent.resolve() != uploads_dir.resolve():
        return
    prefix = UPLOAD_ID_PREFIX + file_name
    if not any(d["doc_id"] == prefix or d["doc_id"].startswith(prefix + "#") for d in qa.store.documents()):
        path.unlink(missing_ok=True)
