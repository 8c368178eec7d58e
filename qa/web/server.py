"""One process serving everything: the REST API, the widget, and the Gradio chat at `/` and `/embed`."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings
from ..engine import QA
from ..errors import UsageError
from ..indexing import UNFINISHED
from ..shards import index_exists, index_folders
from ..store import DB_NAME
from .origins import OriginGuard, OriginPolicy
from .signin import Sessions, SignIn, exposed_without_sign_in
from .users import Users, load_users

WIDGET_DIR = Path(__file__).resolve().parent / "widget"


def index_is_stale(settings: Settings) -> bool:
    """True when the index is missing, its last indexing run was stopped, or a file in the docs folder is newer than it."""
    if not index_exists(settings.index_dir) or (Path(settings.index_dir) / UNFINISHED).exists():
        return True
    databases = [folder / DB_NAME for folder in index_folders(settings.index_dir)]
    built = max((p.stat().st_mtime for db in databases for p in [db, *db.parent.glob(DB_NAME + "-wal")] if p.exists()), default=0.0)
    return any(p.stat().st_mtime > built for p in Path(settings.docs_dir).rglob("*") if p.is_file())


def prepare(settings: Settings) -> QA:
    """Open the index, indexing the docs folder first if needed."""
    stale = index_is_stale(settings)
    qa = QA(settings)
    # Concurrent askers share forward passes (docs/performance.md: load figures with and without).
    qa.batch_questions(settings.server.question_batch, settings.server.question_batch_wait_ms)
    if stale and Path(settings.docs_dir).exists():
        print(f"Indexing {settings.docs_dir} ...", flush=True)
        print(qa.index([settings.docs_dir], progress=True).summary(), flush=True)
    if not qa.stats()["documents"]:
        # The chat starts all the same: uploads add documents while it runs.
        print(
            f"No documents in {settings.index_dir} yet: put files in {settings.docs_dir} (or pass --docs-dir DIR) and restart, "
            "run `python -m qa index PATH...`, or upload them with POST /api/documents (QA_ADMIN_TOKEN).",
            flush=True,
        )
    return qa


class DeclaredSizeGate:
    """Answers 413 as JSON to an API request whose Content-Length is over the limit, before reading it.

    Bodies without a Content-Length (chunked) are cut off by the API router's own max_body_size."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_bytes:
                await too_large(self.max_bytes)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def too_large(max_bytes: int) -> JSONResponse:
    """The 413 answer, naming the limit and the setting that raises it."""
    detail = f"the request body is over the limit of {max_bytes:,} bytes (QA_MAX_REQUEST_BYTES)"
    return JSONResponse({"detail": detail}, status_code=413)


def create_app(qa: QA) -> FastAPI:
    """The whole app: API routes first, then the compact chat at /embed and the full chat at /."""
    import gradio as gr

    from .api import build_router
    from .ui import ExampleCache, build_ui

    settings = qa.settings.server
    policy = OriginPolicy.from_settings(settings.allowed_origins)
    sessions = Sessions(settings.session_hours * 3600)
    signin = SignIn(Users(load_users(settings)), sessions, settings.widget_public, settings.admin_token)
    app = FastAPI(
        title="Document Q&A",
        summary="Answers questions from your documents, citing the sentences it used.",
        openapi_url="/openapi.json",
        docs_url=None,  # FastAPI's own /docs loads Swagger UI from a CDN; ours is served locally
        redoc_url=None,
    )
    add_offline_docs(app)
    app.include_router(build_router(qa, settings.max_request_bytes, sessions))
    app.include_router(signin.router())

    @app.exception_handler(HTTPException)
    async def explain_too_large(request: Request, error: HTTPException) -> Response:
        if error.status_code == 413:
            return too_large(settings.max_request_bytes)
        return await http_exception_handler(request, error)

    @app.get("/embed", include_in_schema=False)
    async def embed_without_slash() -> RedirectResponse:
        return RedirectResponse("embed/", status_code=308)

    @app.get("/widget.js", include_in_schema=False)
    async def widget_script() -> FileResponse:
        return FileResponse(WIDGET_DIR / "widget.js", media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=300"})

    # The Documents page makes the chat a multi-page app, which Gradio serves without server-side
    # rendering when mounted (as this app never uses it); its warning says only that.
    warnings.filterwarnings("ignore", message="SSR mode is not supported with multi-page apps")
    app.add_middleware(signin.gate)
    app.add_middleware(DeclaredSizeGate, max_bytes=settings.max_request_bytes)
    app.add_middleware(OriginGuard, policy=policy)
    # With sign-in on, Gradio answers 401 to its own routes (config, queue, uploads) without a user.
    chat_auth = {"auth_dependency": signin.user} if signin.enabled else {}
    widget_auth = {} if settings.widget_public else chat_auth
    examples = ExampleCache(qa)
    # Starlette tries mounts in order, so the catch-all "/" comes last.
    gr.mount_gradio_app(app, build_ui(qa, compact=True, examples=examples), path="/embed", footer_links=[], **widget_auth)
    gr.mount_gradio_app(app, build_ui(qa, sessions=sessions, examples=examples), path="/",
                        max_file_size=settings.max_request_bytes, **chat_auth)
    return app


def add_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the pinned `swagger-ui-bundle-v2` package, so it works offline."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Document Q&A API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def serve(settings: Settings) -> None:
    """Serve the app on settings.host:settings.port until interrupted."""
    import uvicorn

    try:
        OriginPolicy.from_settings(settings.server.allowed_origins)  # fail before the slow indexing
    except ValueError as error:
        raise UsageError(f"QA_ALLOWED_ORIGINS: {error}") from error
    users = load_users(settings.server)  # a bad users entry stops the start here, before the slow indexing
    host, port = settings.server.host, settings.server.port
    if exposed_without_sign_in(host, bool(users), settings.server.allowed_origins):
        print(
            f"Warning: serving on {host}, beyond this machine, with no sign-in and no allowed origins: anyone who can "
            "reach the port can read the documents through the chat. Set QA_CHAT_USERS or QA_CHAT_USERS_FILE "
            "(python -m qa users add NAME), and QA_ALLOWED_ORIGINS for the sites that embed the widget.",
            file=sys.stderr, flush=True,
        )
    if settings.cluster.ray_address:
        from ..cluster.serving import serve_on_ray

        serve_on_ray(settings, prepare)
        return
    qa = prepare(settings)
    app = create_app(qa)
    print(f"Serving on http://{host}:{port} (chat /, widget /widget.js, API /docs)", flush=True)
    # No access log: it would record every caller's path and query, and nothing reads it.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
