"""The REST API: ask, list and read documents, upload and delete them (admin), health."""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.datastructures import UploadFile

from .. import uploads
from ..engine import QA
from ..errors import QuestionError
from ..models import Answer
from .ratelimit import RateLimiter
from .signin import Sessions

MAX_HISTORY_TURNS = 50


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


class AdminSession(BaseModel):
    """Whether admin actions are unlocked for this browser session."""

    admin: bool


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


class Api:
    """The handlers of every /api route and /healthz, bound to one engine."""

    def __init__(self, qa: QA, sessions: Sessions) -> None:
        self.qa = qa
        self.sessions = sessions
        self.settings = qa.settings.server
        self.uploads_dir = uploads.uploads_dir(qa.settings.index_dir)
        uploads.clear_staging(self.uploads_dir)
        self.limiter = RateLimiter(self.settings.rate_limit_per_minute)
        # Answering is CPU-bound: a few threads at once; index writes one at a time.
        self.answer_slots = anyio.CapacityLimiter(self.settings.concurrency)
        self.write_slot = anyio.CapacityLimiter(1)

    async def rate_limited(self, request: Request) -> None:
        """Dependency: 429 once a client asked more than its share this minute."""
        wait = self.limiter.acquire(request.client.host if request.client else "unknown")
        if wait:
            raise HTTPException(
                429,
                f"too many questions from this client: the limit is {self.settings.rate_limit_per_minute} per minute; retry in {wait}s",
                headers={"Retry-After": str(wait)},
            )

    async def admin(self, request: Request) -> None:
        """Dependency: 403 while uploads are off, 401 without the admin token (compared in constant time)."""
        if not self.settings.admin_token:
            raise HTTPException(403, "uploads and deletions are off: set QA_ADMIN_TOKEN on the server to enable them")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = f"Bearer {self.settings.admin_token}".encode()
        given = f"{scheme} {token.strip()}".encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, "missing or wrong admin token: send 'Authorization: Bearer <QA_ADMIN_TOKEN>'",
                                headers={"WWW-Authenticate": "Bearer"})

    async def ask(self, body: AskRequest) -> JSONResponse:
        """Answer a question with cited sentences: the same JSON as `python -m qa ask --json`."""
        try:
            self.qa.validate_question(body.question)
        except QuestionError as error:
            raise field_error("question", str(error), "string_too_long" if error.kind == "too_long" else "value_error") from error
        history = [turn.model_dump() for turn in body.history]
        answer: Answer = await anyio.to_thread.run_sync(self.qa.ask, body.question, history, body.top_k, limiter=self.answer_slots)
        return JSONResponse(answer.to_dict())

    async def documents(self) -> dict[str, Any]:
        """Every indexed document: id, title, source, chunk count and index time."""
        listed = await anyio.to_thread.run_sync(self.qa.documents)
        return {"documents": [dataclasses.asdict(d) for d in listed]}

    async def document(self, doc_id: str) -> dict[str, Any]:
        """One document's text and metadata (citation offsets point into `text`)."""
        record = await anyio.to_thread.run_sync(self.qa.document, doc_id)
        if record is None:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        return dataclasses.asdict(record)

    async def upload(self, request: Request) -> dict[str, Any]:
        """Add or replace documents (admin): they are indexed at once under ids `uploads/<name>`."""
        # Read here, not as a `File` parameter: FastAPI parses those before dependencies run, which
        # let anyone without the token make the server parse (and spool) a whole multipart body.
        async with request.form() as form:
            files = form.getlist("files")
            if not files or not all(isinstance(item, UploadFile) for item in files):
                raise field_error("files", "send one or more files as multipart/form-data parts named 'files'", "missing")
            sent = [(item.filename, await item.read()) for item in files if isinstance(item, UploadFile)]
        named, skipped = uploads.screen(sent)
        report = await anyio.to_thread.run_sync(uploads.ingest, self.qa, self.uploads_dir, named, limiter=self.write_slot)
        report.skipped = skipped + report.skipped
        if not (report.added or report.updated or report.unchanged):
            reasons = "; ".join(f"{s.source}: {s.reason}" for s in report.skipped)
            raise field_error("files", f"no file could be indexed ({reasons})")
        return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
                "skipped": [dataclasses.asdict(s) for s in report.skipped], "chunks": report.chunks}

    async def delete(self, doc_id: str) -> dict[str, Any]:
        """Remove a document from the index (admin); an uploaded file is deleted too."""
        if await anyio.to_thread.run_sync(self.qa.document, doc_id) is None:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        await anyio.to_thread.run_sync(uploads.remove, self.qa, self.uploads_dir, doc_id, limiter=self.write_slot)
        return {"removed": [doc_id]}

    async def unlock_admin(self, request: Request) -> JSONResponse:
        """Unlock admin actions for this browser session (the Documents page); the token itself is not kept."""
        response = JSONResponse({"admin": True})
        self.sessions.grant(request, response, admin=True)
        return response

    async def lock_admin(self, request: Request) -> JSONResponse:
        """Lock admin actions again for this browser session (a signed-in user stays signed in)."""
        response = JSONResponse({"admin": False})
        if self.sessions.of(request.cookies).admin:
            self.sessions.grant(request, response, admin=False)
        return response

    async def healthz(self) -> JSONResponse:
        """Ready or not, with document and chunk counts."""
        try:
            stats = await anyio.to_thread.run_sync(self.qa.stats)
        except Exception:  # noqa: BLE001 - any failure to read the index means not ready
            return JSONResponse({"status": "not ready", "documents": 0, "chunks": 0}, status_code=503)
        return JSONResponse({"status": "ready", "documents": stats["documents"], "chunks": stats["chunks"]})


def build_router(qa: QA, max_body_bytes: int, sessions: Sessions) -> APIRouter:
    """All /api routes and /healthz, bound to one engine and the browser sessions."""
    api = Api(qa, sessions)
    # Every API path answers 403 to a browser Origin that is not allowed (origins.OriginGuard).
    router = APIRouter(max_body_size=max_body_bytes, responses={403: ORIGIN_REFUSED})
    router.add_api_route("/api/ask", api.ask, methods=["POST"], response_model=Answer, dependencies=[Depends(api.rate_limited)],
                         responses={400: UNPARSABLE, 413: TOO_LARGE, 429: RATE_LIMITED})
    router.add_api_route("/api/documents", api.documents, methods=["GET"], response_model=DocumentList)
    router.add_api_route("/api/documents/{doc_id:path}", api.document, methods=["GET"], response_model=DocumentOut,
                         responses={404: NOT_FOUND})
    router.add_api_route("/api/documents", api.upload, methods=["POST"], response_model=UploadReport, status_code=201,
                         dependencies=[Depends(api.admin)],
                         responses={400: UNPARSABLE, 401: UNAUTHORIZED, 403: ADMIN_FORBIDDEN, 413: TOO_LARGE,
                                    422: {"description": "no usable file, or a malformed form", "content": VALIDATION_ERROR}},
                         openapi_extra={"requestBody": UPLOAD_BODY})
    router.add_api_route("/api/documents/{doc_id:path}", api.delete, methods=["DELETE"], response_model=DeleteReport,
                         dependencies=[Depends(api.admin)], responses={401: UNAUTHORIZED, 403: ADMIN_FORBIDDEN, 404: NOT_FOUND})
    router.add_api_route("/api/admin/session", api.unlock_admin, methods=["POST"], response_model=AdminSession,
                         dependencies=[Depends(api.admin)], responses={401: UNAUTHORIZED, 403: ADMIN_FORBIDDEN},
                         summary="Unlock admin actions for this browser session (sets the session cookie)")
    router.add_api_route("/api/admin/session", api.lock_admin, methods=["DELETE"], response_model=AdminSession,
                         summary="Lock admin actions for this browser session")
    router.add_api_route("/healthz", api.healthz, methods=["GET"], response_model=Health,
                         responses={503: {"model": Health, "description": "the index cannot be read"}})
    return router
