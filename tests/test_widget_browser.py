"""The README's script-tag snippet on pages of other origins, in real Chromium: allowed gets a cited answer,
not allowed gets no chat and a console-visible reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import AppServer, free_port

# Rules a careless host page might have; the widget must survive them.
HOSTILE_CSS = """
* { font-size: 3px !important; box-sizing: content-box !important; }
button, iframe, section { display: none !important; opacity: 0 !important; }
div, section { position: static !important; }
"""


def host_page(app_url: str) -> str:
    """A plain page holding the README snippet, as a site owner would paste it."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Host page</title>"
        f"<style>{HOSTILE_CSS}</style></head><body><h1>Our site</h1>"
        f'<script src="{app_url}/widget.js" data-title="Ask our documents" defer></script>'
        "</body></html>"
    )


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Two static sites on two ports (two origins) and an app that allows only the first."""
    folder = tmp_path_factory.mktemp("host-site")
    servers = [ThreadingHTTPServer(("127.0.0.1", free_port()), partial(_Quiet, directory=str(folder))) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed, refused = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    app = AppServer(tmp_path_factory.mktemp("widget-app"), {"QA_ALLOWED_ORIGINS": allowed})
    (Path(folder) / "index.html").write_text(host_page(app.url), encoding="utf-8")
    yield {"allowed": allowed, "refused": refused, "app": app.url}
    app.stop()
    for server in servers:
        server.shutdown()


def test_snippet_gives_a_working_chat_on_an_allowed_origin(browser, sites):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(sites["allowed"] + "/index.html")
        launcher = page.get_by_role("button", name="Open chat")
        launcher.click()
        panel = page.get_by_role("dialog", name="Ask our documents")
        assert panel.is_visible()
        box = panel.bounding_box()
        assert 300 <= box["width"] <= 420 and 400 <= box["height"] <= 640

        chat = page.frame_locator('iframe[title="Document Q&A chat"]')
        chat.locator("#qa-question textarea").fill("How many people were arrested on Nov. 15?")
        chat.locator("#qa-send").click()
        answer = chat.locator("#qa-chat").get_by_text("more than 12,000").first
        answer.wait_for(timeout=60_000)
        # The cited source is shown with its supporting sentence highlighted.
        chat.locator("#qa-chat").get_by_text("Social network users post videos").filter(visible=True).first.wait_for(timeout=10_000)
        chat.locator("#qa-chat mark").filter(has_text="12,000").filter(visible=True).first.wait_for(timeout=10_000)

        # Same answer through the API from this page: CORS lets the allowed origin read it.
        status = page.evaluate(
            """url => fetch(url + '/api/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
                     body: JSON.stringify({question: 'How many people were arrested on Nov. 15?'})})
                     .then(r => r.json()).then(d => d.short_answer)""",
            sites["app"],
        )
        assert status == "more than 12,000"

        # Closed stays closed on reload; open stays open.
        page.get_by_role("button", name="Close chat").click()
        assert not panel.is_visible()
        page.reload()
        page.get_by_role("button", name="Open chat").wait_for()
        assert not page.get_by_role("dialog", name="Ask our documents").is_visible()
        page.get_by_role("button", name="Open chat").click()
        page.reload()
        page.get_by_role("dialog", name="Ask our documents").wait_for()

        # A phone-sized window gets the whole screen.
        page.set_viewport_size({"width": 375, "height": 667})
        box = page.get_by_role("dialog", name="Ask our documents").bounding_box()
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 667)
    finally:
        page.close()


def test_snippet_on_a_refused_origin_gets_no_chat_and_a_console_reason(browser, sites):
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(sites["refused"] + "/index.html")
        with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=30_000):
            page.get_by_role("button", name="Open chat").click()
        chat_frames = [f for f in page.frames if f is not page.main_frame]
        assert len(chat_frames) == 1 and not chat_frames[0].url.startswith(sites["app"]), chat_frames[0].url
        assert page.frame_locator('iframe[title="Document Q&A chat"]').locator("#qa-question").count() == 0
        outcome = page.evaluate(
            """url => fetch(url + '/api/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
                     body: JSON.stringify({question: 'How many people were arrested on Nov. 15?'})})
                     .then(r => 'answered ' + r.status, e => 'blocked: ' + e.name)""",
            sites["app"],
        )
        assert outcome == "blocked: TypeError"
        assert any("CORS" in text for text in console), console
    finally:
        page.close()


def test_api_docs_render_offline(browser, sites):
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(sites["app"]) else outside.append(request.url))
    try:
        page.goto(sites["app"] + "/docs")
        page.get_by_text("/api/documents/{doc_id}").first.wait_for(timeout=30_000)
        assert page.get_by_text("/api/ask").first.is_visible()
        assert outside == []
    finally:
        page.close()
