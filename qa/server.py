"""One process serving the chat: builds the index first when it is missing or stale."""

from __future__ import annotations

from pathlib import Path

from .config import Settings
from .engine import QA
from .store import DB_NAME


def index_is_stale(settings: Settings) -> bool:
    """True when the index is missing or a file in the docs folder is newer than it."""
    db = settings.index_dir / DB_NAME
    if not db.exists():
        return True
    built = max(p.stat().st_mtime for p in [db, *settings.index_dir.glob(DB_NAME + "-wal")])
    return any(p.stat().st_mtime > built for p in Path(settings.docs_dir).rglob("*") if p.is_file())


def prepare(settings: Settings) -> QA:
    """Open the index, indexing the docs folder first if needed."""
    stale = index_is_stale(settings)
    qa = QA(settings)
    if stale and Path(settings.docs_dir).exists():
        print(f"Indexing {settings.docs_dir} ...", flush=True)
        print(qa.index([settings.docs_dir]).summary(), flush=True)
    return qa


def serve(settings: Settings) -> None:
    """Serve the chat on settings.host:settings.port until interrupted."""
    from .ui import build_ui

    qa = prepare(settings)
    demo = build_ui(qa)
    demo.queue(default_concurrency_limit=settings.concurrency)
    demo.launch(server_name=settings.host, server_port=settings.port)
