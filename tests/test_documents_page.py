"""The Documents page's handlers on a real engine: admin actions need an unlocked session, and hostile files
(names, types, contents) get a reason each while nothing lands outside the index's uploads folder."""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from fastapi import Request
from fastapi.responses import Response

from qa.web.documents import DocumentsPage
from qa.web.signin import COOKIE, Sessions

FACT = "The Glimmerwick lantern fair in Oskarbay draws exactly 4,271 visitors every March.\n"


def browser_with(sessions: Sessions, **rights: object) -> SimpleNamespace:
    """What a Gradio handler sees of a browser whose session holds `rights`."""
    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "scheme": "http", "server": ("x", 80), "query_string": b""}
    response = Response()
    sessions.grant(Request(scope), response, **rights)
    return SimpleNamespace(cookies={COOKIE: response.headers["set-cookie"].split(";")[0].split("=", 1)[1]}, username=None)


@pytest.fixture
def page(make_qa) -> DocumentsPage:
    return DocumentsPage(make_qa(admin_token="t0ken-for-the-page"), Sessions(3600))


def test_admin_actions_need_the_unlocked_session(page: DocumentsPage, tmp_path: Path) -> None:
    (tmp_path / "fair.txt").write_text(FACT)
    for visitor in (browser_with(page.sessions), browser_with(page.sessions, user="alice"), SimpleNamespace(cookies={})):
        with pytest.raises(gr.Error, match="Unlock admin actions"):
            page.add([str(tmp_path / "fair.txt")], visitor)
        with pytest.raises(gr.Error, match="Unlock admin actions"):
            page.delete(["uploads/fair.txt"], visitor)
        with pytest.raises(gr.Error, match="Unlock admin actions"):
            page.reindex(visitor)
    assert page.qa.documents() == []


def test_hostile_files_each_get_a_reason_and_stay_inside_uploads(page: DocumentsPage, tmp_path: Path) -> None:
    admin = browser_with(page.sessions, admin=True)
    sent = tmp_path / "sent"
    sent.mkdir()
    bomb = sent / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b" " * 30_000_000 + b"</w:document>")
    contents = {
        "binary.txt": b"\x7fELF\x02\x01\x00\x00" * 64,
        "empty.txt": b"",
        "tool.sh": b"#!/bin/sh\nrm -rf /\n",
        "broken.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer <<>>\n%%EOF",
        "..\\..\\windows.txt": FACT.encode(),
        ".hidden.txt": FACT.replace("4,271", "4,272").encode(),
        "<script>alert(1)<\\script>.md": FACT.replace("4,271", "4,273").encode(),
        "x" * 200 + ".txt": FACT.replace("4,271", "4,274").encode(),
    }
    for name, data in contents.items():
        (sent / name).write_bytes(data)
    report = page.add([str(sent / name) for name in [*contents, "bomb.docx"]], admin)
    for name, words in [("binary.txt", "binary content"), ("empty.txt", "empty file"), ("tool.sh", "unsupported file type"),
                        ("broken.pdf", "PDF"), ("bomb.docx", "zip bomb")]:
        assert f"<strong>{name}</strong>: skipped: " in report and words in report.split(f"<strong>{name}</strong>")[1].split("</li>")[0]
    assert "<script>" not in report and "&lt;script&gt;" in report
    uploaded = {d.doc_id for d in page.qa.documents()}
    # Backslashes are folders (a Windows path), so only the last part of those names is kept.
    assert uploaded == {"uploads/windows.txt", "uploads/hidden.txt", "uploads/script_.md", "uploads/" + "x" * 116 + ".txt"}
    kept = {p.relative_to(page.uploads_dir).as_posix() for p in page.uploads_dir.rglob("*") if p.is_file()}
    assert kept == {doc_id.removeprefix("uploads/") for doc_id in uploaded}
    # Nothing else lands in the index folder: the uploads and the index's own files (database, vectors, word index).
    own = ("qa.sqlite", "vectors-", "lexical-")
    assert [p.name for p in page.qa.settings.index_dir.iterdir() if p.name != "uploads" and not p.name.startswith(own)] == []
    assert page.qa.ask("How many visitors does the Glimmerwick lantern fair draw?").short_answer in {"4,271", "4,272", "4,273", "4,274"}

    removed = page.delete(["uploads/hidden.txt", "uploads/not-there.txt"], admin)
    assert "Deleted 1 document: uploads/hidden.txt." in removed
    assert not (page.uploads_dir / "hidden.txt").exists()


def test_the_table_lists_the_first_documents_and_says_how_many_there_are(page: DocumentsPage, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(FACT.replace("Glimmerwick", name[0].upper() + "limmerwick"))
    before = page.qa.generation()
    page.qa.index([tmp_path])
    assert page.qa.generation() > before
    monkeypatch.setattr("qa.web.documents.LISTED", 2)
    assert [row[1] for row in page.rows()] == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    assert "3 documents, 3 passages. The table lists the first 2 by id; GET /api/documents lists them all." in page.intro()
    assert [d.doc_id for d in page.qa.documents()] == [d.doc_id for d in page.qa.documents(3)] != []
    assert len(page.qa.documents(2)) == 2 and page.qa.documents(0) == []
