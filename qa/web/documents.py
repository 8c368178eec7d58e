"""The Documents page beside the chat: what is indexed (search, read) and, for the admin, upload, delete, re-index.

Admin actions are unlocked once per browser session: the page sends the token straight to
`POST /api/admin/session` (never to a Gradio event, so it is never in the page's state or a log), which
marks this browser's server-side session; every admin handler checks that mark again.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import gradio as gr

from .. import uploads
from ..engine import QA
from .signin import Sessions

COLUMNS = ["Title", "Source", "Passages", "Indexed at", "Id"]
# Rows the table and the delete list show: a browser table of 125,000 documents took seconds to build
# on every page load; `GET /api/documents` and `python -m qa index --stats` still list them all.
LISTED = 1000

UNLOCK_JS = """async (token) => {
  if (!token) return ["", "Type the admin token first."];
  const response = await fetch("/api/admin/session", {method: "POST", credentials: "same-origin",
                                                       headers: {Authorization: "Bearer " + token}});
  if (response.ok) return ["", ""];
  return ["", response.status === 401 ? "Wrong admin token." : "Admin actions could not be unlocked (" + response.status + ")."];
}"""
LOCK_JS = """async () => { await fetch("/api/admin/session", {method: "DELETE", credentials: "same-origin"}); return []; }"""
# Gradio names its drop zone "Click to upload or drop files..." while it shows other words
# (axe label-content-name-mismatch, WCAG 2.5.3): without the name its visible text is read.
DROP_ZONE_JS = """new MutationObserver(() => document.querySelectorAll('#qa-docs-files button[aria-label]')
  .forEach((button) => button.removeAttribute('aria-label')))
  .observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['aria-label']});"""


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


class DocumentsPage:
    """The page's handlers, bound to one engine and the browser sessions."""

    def __init__(self, qa: QA, sessions: Sessions) -> None:
        self.qa = qa
        self.sessions = sessions
        self.admin_enabled = bool(qa.settings.server.admin_token)
        self.uploads_dir = uploads.uploads_dir(qa.settings.index_dir)
        self.docs_dir = Path(qa.settings.docs_dir)

    def rows(self) -> list[list[Any]]:
        """The table: one row per listed document."""
        return [[d.title, d.source, d.chunks, _when(d.indexed_at), d.doc_id] for d in self.qa.documents(LISTED)]

    def intro(self) -> str:
        """What the page holds and what an owner may do here."""
        stats = self.qa.stats()
        documents, chunks = int(stats["documents"]), int(stats["chunks"])
        counts = f"{documents:,} document{'s' if documents != 1 else ''}, {chunks:,} passage{'s' if chunks != 1 else ''}."
        if documents > LISTED:
            counts += f" The table lists the first {LISTED:,} by id; GET /api/documents lists them all."
        if not self.admin_enabled:
            how = ("Read-only. To add, delete and re-index documents from this page, start the server with "
                   "<code>QA_ADMIN_TOKEN</code> set (any long random text) and unlock with it here.")
        else:
            how = "Select a row to read a document. The admin token unlocks adding, deleting and re-indexing."
        return f'<div class="qa-header"><h1>Documents</h1><p>{counts} {how}</p></div>'

    def is_admin(self, request: gr.Request) -> bool:
        """Whether this browser unlocked admin actions with the token (checked on the server, every time)."""
        return self.admin_enabled and self.sessions.of(dict(request.cookies)).admin

    def require_admin(self, request: gr.Request) -> None:
        """A gr.Error unless admin actions are unlocked in this browser."""
        if not self.is_admin(request):
            raise gr.Error("Unlock admin actions with the admin token first.")

    def refresh(self, request: gr.Request) -> tuple[Any, ...]:
        """Page load and after every change: intro, table, delete choices, and the admin tools' visibility."""
        admin = self.is_admin(request)
        ids = [d.doc_id for d in self.qa.documents(LISTED)]
        return (
            self.intro(),
            gr.Dataframe(value=self.rows()),
            gr.Dropdown(choices=ids, value=[]),
            gr.Column(visible=self.admin_enabled and not admin),
            gr.Column(visible=admin),
        )

    def open_row(self, event: gr.SelectData) -> Any:
        """The text of the selected document."""
        record = self.qa.document(str(event.row_value[-1]))
        if record is None:
            return gr.Textbox(value="This document is no longer in the index.", label="Document")
        return gr.Textbox(value=record.text, label=f"Text of {record.title}")

    def add(self, files: list[str] | None, request: gr.Request, progress: gr.Progress = gr.Progress()) -> str:
        """Index uploaded files one by one, with progress, and say for each what happened."""
        self.require_admin(request)
        if not files:
            raise gr.Error("Choose or drop one or more files first.")
        lines = []
        for number, path in enumerate(files):
            progress((number, len(files)), desc=f"Indexing {Path(path).name} ({number + 1} of {len(files)})")
            named, skipped = uploads.screen([(Path(path).name, Path(path).read_bytes())])
            report = uploads.ingest(self.qa, self.uploads_dir, named) if named else None
            reasons = skipped + (report.skipped if report else [])
            if report and report.added:
                outcome = f"added ({report.chunks} passage{'s' if report.chunks != 1 else ''})"
            elif report and report.updated:
                outcome = f"replaced the earlier version ({report.chunks} passage{'s' if report.chunks != 1 else ''})"
            elif report and report.unchanged:
                outcome = "unchanged: the same file is already indexed"
            else:
                outcome = "skipped: " + "; ".join(s.reason for s in reasons)
            lines.append(f"<li><strong>{_esc(Path(path).name)}</strong>: {_esc(outcome)}</li>")
        progress((len(files), len(files)), desc="Done")
        return f'<ul class="qa-upload-report">{"".join(lines)}</ul>'

    def delete(self, doc_ids: list[str] | None, request: gr.Request) -> str:
        """Remove the chosen documents (and their uploaded files)."""
        self.require_admin(request)
        if not doc_ids:
            raise gr.Error("Choose the documents to delete first.")
        present = [doc_id for doc_id in doc_ids if self.qa.document(doc_id) is not None]
        for doc_id in present:
            uploads.remove(self.qa, self.uploads_dir, doc_id)
        return f"<p>Deleted {len(present)} document{'s' if len(present) != 1 else ''}: {_esc(', '.join(present))}.</p>"

    def reindex(self, request: gr.Request, progress: gr.Progress = gr.Progress()) -> str:
        """Bring the docs folder's documents up to date (uploads are left as they are)."""
        self.require_admin(request)
        if not self.docs_dir.is_dir():
            raise gr.Error(f"The docs folder {self.docs_dir} does not exist (QA_DOCS_DIR).")
        progress(0, desc=f"Re-indexing {self.docs_dir.name}")
        report = self.qa.index([self.docs_dir])
        skipped = "".join(f"<li>{_esc(s.source)}: {_esc(s.reason)}</li>" for s in report.skipped)
        return f"<p>{_esc(report.summary())}</p>" + (f"<ul>{skipped}</ul>" if skipped else "")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def add_documents_page(demo: gr.Blocks, qa: QA, sessions: Sessions, head: str) -> None:
    """Add the Documents page at /documents to the chat's Blocks (called outside its `with` block)."""
    page = DocumentsPage(qa, sessions)
    with demo.route("Documents", "/documents"):
        gr.Navbar(main_page_name="Chat")
        # The page's load event fills the intro and the table: building them here made start-up grow with the corpus.
        intro = gr.HTML('<div class="qa-header"><h1>Documents</h1></div>', head=head, js_on_load=DROP_ZONE_JS,
                        elem_classes=["qa-header-block"])
        with gr.Column(visible=page.admin_enabled, elem_id="qa-unlock-box") as unlock_box:
            with gr.Row(equal_height=True):
                token = gr.Textbox(type="password", label="Admin token", scale=4, elem_id="qa-admin-token", max_lines=1)
                unlock = gr.Button("Unlock admin actions", scale=1, elem_id="qa-unlock")
            unlock_note = gr.Textbox(visible=False)
        message = gr.HTML("", elem_id="qa-docs-message")
        table = gr.Dataframe(value=[], headers=COLUMNS, show_search="search", interactive=False, wrap=True,
                             elem_id="qa-docs-table", label="Indexed documents", max_height=420,
                             column_widths=["34%", "30%", "9%", "13%", "14%"])
        text = gr.Textbox(label="Document (select a row to read it)", lines=8, max_lines=20, interactive=False, elem_id="qa-docs-text")
        with gr.Column(visible=False, elem_id="qa-admin-box") as admin_box:
            gr.HTML('<h2 class="qa-docs-h2">Add documents</h2><p class="qa-docs-hint">Drop or choose one or more files '
                    "(.txt, .md, .html, .pdf, .docx, .jsonl). Each is indexed at once; a file with the same name replaces its "
                    "earlier version.</p>")
            files = gr.File(file_count="multiple", label="Files to add", elem_id="qa-docs-files")
            add = gr.Button("Index these files", variant="primary", elem_id="qa-docs-add")
            report = gr.HTML("", elem_id="qa-docs-report")
            gr.HTML('<h2 class="qa-docs-h2">Delete or re-index</h2>')
            chosen = gr.Dropdown(choices=[], multiselect=True, label="Documents to delete", elem_id="qa-docs-delete-pick")
            with gr.Row():
                delete = gr.Button("Delete selected", variant="stop", elem_id="qa-docs-delete")
                reindex = gr.Button("Re-index the docs folder", elem_id="qa-docs-reindex")
                lock = gr.Button("Lock admin actions", variant="secondary", elem_id="qa-lock")
        shown = [intro, table, chosen, unlock_box, admin_box]
        private: dict[str, Any] = {"api_visibility": "private"}

        def unlocked(note: str) -> str:
            # Said in the page (role="alert" via gr.HTML below) when the token was refused.
            return f'<p class="qa-error" role="alert">{_esc(note)}</p>' if note else ""

        unlock_event = {"fn": None, "inputs": [token], "outputs": [token, unlock_note], "js": UNLOCK_JS, **private}
        for trigger in (unlock.click, token.submit):
            trigger(**unlock_event).then(unlocked, [unlock_note], [message], **private).then(page.refresh, None, shown, **private)
        lock.click(None, None, None, js=LOCK_JS, **private).then(page.refresh, None, shown, **private)
        write = {"concurrency_id": "write", "concurrency_limit": 1, **private}
        add.click(page.add, [files], [report], **write).then(lambda: None, None, [files], **private).then(page.refresh, None, shown,
                                                                                                           **private)
        delete.click(page.delete, [chosen], [report], **write).then(page.refresh, None, shown, **private)
        reindex.click(page.reindex, None, [report], **write).then(page.refresh, None, shown, **private)
        table.select(page.open_row, None, text, **private)
        demo.load(page.refresh, None, shown, show_progress="hidden", **private)
