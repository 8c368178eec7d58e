"""The chat in a real Chromium: ask, read the cited answer, open the source at its highlighted sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

ARRESTS = "How many people were arrested on Nov. 15?"
SUPPORT = "more than 12,000 people were arrested on Nov. 15"
TIMEOUT = 60_000


@pytest.fixture
def page_at(browser):
    """Factory: a fresh page of the given size at a URL, closed after the test."""
    contexts = []

    def open_page(url: str, width: int, height: int):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        page.goto(url)
        page.wait_for_selector("#qa-question textarea")
        return page

    yield open_page
    for context in contexts:
        context.close()


def ask(page, question: str, answers_before: int = 0):
    """Type a question, press Enter, and return the new answer once it is shown."""
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-answer').length > n", arg=answers_before, timeout=TIMEOUT
    )
    return page.locator("#qa-chat .qa-answer").nth(answers_before)


def wait_until_scrolled_to_target(page) -> None:
    """Wait until the cited span (#qa-target) lies within the document body's visible box and the window."""
    page.wait_for_function(
        """() => {
            const target = document.querySelector('#qa-viewer #qa-target');
            const body = document.querySelector('#qa-viewer .qa-doc-body');
            if (!target || !body) return false;
            const a = target.getBoundingClientRect(), b = body.getBoundingClientRect();
            return a.height > 0 && a.top >= b.top && a.bottom <= b.bottom && a.top >= 0 && a.bottom <= window.innerHeight;
        }""",
        timeout=10_000,
    )


def test_answer_cites_and_opens_the_highlighted_source(page_at, app_server, tmp_path: Path):
    page = page_at(app_server.url + "/", 1280, 860)
    assert "2 documents" in page.locator(".qa-header").inner_text()
    answer = ask(page, ARRESTS)
    assert "12,000" in answer.inner_text()
    assert answer.locator(".qa-short-text").inner_text() == "more than 12,000"
    assert answer.locator(".qa-cite").first.inner_text() == "[1]"
    assert SUPPORT in answer.locator(".qa-source-card mark").first.inner_text()

    answer.locator(".qa-source").first.click()
    mark = page.locator("#qa-viewer mark.qa-hl")
    mark.wait_for()
    assert SUPPORT in mark.inner_text()
    assert "000_5b672d860f205277.txt" in page.locator("#qa-viewer .qa-doc-meta").inner_text()
    wait_until_scrolled_to_target(page)
    page.screenshot(path=str(tmp_path / "answer.png"))

    follow_up = ask(page, "How many were killed?", answers_before=1)
    assert follow_up.locator(".qa-short-text").inner_text() == "at least 1,500"
    page.evaluate("() => { document.querySelector('#qa-viewer .qa-doc-body').scrollTop = 0; }")
    follow_up.locator(".qa-cite").first.click()
    wait_until_scrolled_to_target(page)
    assert "1,500 protesters were killed" in page.locator("#qa-viewer mark.qa-hl").first.inner_text()

    page.locator("#qa-new").click()
    page.wait_for_function("() => !document.querySelector('#qa-chat .qa-answer')")
    assert page.get_by_role("button", name=f"Select example 1: {ARRESTS}").is_visible()


def test_phone_opens_the_document_over_the_chat(page_at, app_server, tmp_path: Path):
    page = page_at(app_server.url + "/", 390, 844)
    page.get_by_role("button", name=f"Select example 1: {ARRESTS}").click()
    page.wait_for_selector("#qa-chat .qa-answer")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "phone-answer.png"))

    page.locator("#qa-chat .qa-cite").first.click()
    page.locator("#qa-viewer mark.qa-hl").wait_for()
    box = page.locator("#qa-viewer").bounding_box()
    assert box["x"] == 0 and box["width"] == 390 and box["height"] == 844
    wait_until_scrolled_to_target(page)
    page.screenshot(path=str(tmp_path / "phone-document.png"))
    page.locator("#qa-viewer .qa-close").click()
    page.locator("#qa-viewer").wait_for(state="hidden")


def test_compact_widget_answers_in_a_small_frame(page_at, app_server, tmp_path: Path):
    page = page_at(app_server.url + "/embed", 380, 560)
    answer = ask(page, ARRESTS)
    assert "12,000" in answer.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 380
    page.screenshot(path=str(tmp_path / "compact.png"))


def test_hostile_document_renders_as_text(page_at, start_app, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    payload = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> ${window.__pwned=1}'
    (docs / "zebra.txt").write_text(f"The zebra parade in Quonset drew 4,000 visitors. {payload} The parade ended at noon.\n")
    # In HTML the payload arrives as text (escaped in the source), next to a real script the loader drops.
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    (docs / "okapi.html").write_text(
        f"<html><head><title>Okapi {escaped}</title><script>window.__pwned=1</script></head>"
        f"<body><p>The okapi census counted 312 okapis in Epulu. {escaped}</p></body></html>"
    )
    app = start_app(docs_dir=docs)
    page = page_at(app.url + "/", 1280, 860)
    for number, (question, source) in enumerate(
        [("How many visitors did the zebra parade draw?", "zebra.txt"), ("How many okapis did the okapi census count?", "okapi.html")]
    ):
        answer = ask(page, question, answers_before=number)
        assert "<script>window.__pwned=1</script>" in answer.inner_text()
        answer.locator(".qa-source").first.click()
        page.locator("#qa-viewer .qa-doc-meta", has_text=source).wait_for()
        assert '<img src=x onerror="window.__pwned=1">' in page.locator("#qa-viewer .qa-doc-body").inner_text()
    page.screenshot(path=str(tmp_path / "hostile.png"))
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#qa-chat img, #qa-viewer img, #qa-chat script, #qa-viewer script").count() == 0
