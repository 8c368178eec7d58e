"""WCAG 2.2 AA in a real Chromium: no critical or serious axe-core violation on any page state (light and dark,
desktop and phone, empty and answered with a document open), and the keyboard and screen-reader flows work."""

from __future__ import annotations

import re

import pytest

from tests.conftest import serious_violations

ARRESTS = "How many people were arrested on Nov. 15?"
TIMEOUT = 60_000
DESKTOP, PHONE = {"width": 1280, "height": 860}, {"width": 390, "height": 844}
WIDGET_FRAME = {"width": 400, "height": 600}


@pytest.fixture
def new_page(browser):
    """Factory: a page in a fresh context with a colour scheme and size; closed after the test."""
    contexts = []

    def make(scheme: str = "light", viewport: dict[str, int] = DESKTOP):
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def ask(page, question: str) -> None:
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.locator("#qa-chat .qa-answer").first.wait_for()


def open_first_source(page) -> None:
    page.locator("#qa-chat .qa-cite").first.click()
    page.locator("#qa-viewer mark.qa-hl").first.wait_for()


def check(page, state: str, found: dict[str, list[str]]) -> None:
    found[state] = serious_violations(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["/", "/embed/"])
def test_chat_pages_have_no_serious_violations(new_page, owner_site, path: str, scheme: str) -> None:
    wide = DESKTOP if path == "/" else WIDGET_FRAME
    page = new_page(scheme, wide)
    page.goto(owner_site.url + path)
    page.locator("#qa-chat .example").first.wait_for()
    found: dict[str, list[str]] = {}
    check(page, "empty, wide", found)
    ask(page, ARRESTS)
    open_first_source(page)
    check(page, "answered, document open, wide", found)
    page.keyboard.press("Escape")
    page.set_viewport_size(PHONE)
    open_first_source(page)
    check(page, "answered, document open, phone", found)
    page.keyboard.press("Escape")
    page.locator("#qa-new").click()
    page.locator("#qa-chat .example").first.wait_for()
    check(page, "empty, phone", found)
    assert {state: v for state, v in found.items() if v} == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_widget_and_its_chat_have_no_serious_violations(new_page, owner_site, scheme: str) -> None:
    page = new_page(scheme)
    page.goto(owner_site.host + "/index.html")
    page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator('iframe[title="Document Q&A chat"]')
    frame.locator("#qa-chat .example").first.wait_for()
    chat = next(f for f in page.frames if f.url.startswith(owner_site.url))
    found = {"host page, open": serious_violations(page), "widget chat, empty": serious_violations(chat)}
    frame.locator("#qa-question textarea").fill(ARRESTS)
    frame.locator("#qa-question textarea").press("Enter")
    frame.locator("#qa-chat .qa-cite").first.click()
    frame.locator("#qa-viewer mark.qa-hl").first.wait_for()
    found["widget chat, document open"] = serious_violations(chat)
    assert {state: v for state, v in found.items() if v} == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_documents_page_has_no_serious_violations(new_page, owner_site, scheme: str) -> None:
    page = new_page(scheme)
    page.goto(owner_site.url + "/documents")
    page.locator("#qa-docs-table [role=row]").nth(2).wait_for()
    found = {"locked, wide": serious_violations(page)}
    page.locator("#qa-admin-token input").fill(owner_site.token)
    page.locator("#qa-unlock").click()
    page.locator("#qa-admin-box").wait_for(state="visible")
    page.locator("#qa-docs-table .virtual-body [role=gridcell]").first.click()
    found["unlocked, document shown, wide"] = serious_violations(page)
    page.set_viewport_size(PHONE)
    found["unlocked, phone"] = serious_violations(page)
    assert {state: v for state, v in found.items() if v} == {}


def focused(page, script: str):
    return page.evaluate(f"() => {{ const e = document.activeElement; return {script}; }}")


def test_keyboard_and_screen_reader_flow_on_the_chat(new_page, owner_site) -> None:
    page = new_page()
    page.goto(owner_site.url + "/")
    box = page.locator("#qa-question textarea")
    box.wait_for()
    # The example list is a named group (Gradio's list of buttons was an axe critical).
    assert page.get_by_role("group", name="Example questions").is_visible()
    box.focus()
    assert box.evaluate("e => getComputedStyle(e).outlineStyle") != "none"
    page.keyboard.type(ARRESTS)
    page.keyboard.press("Enter")
    page.locator("#qa-chat .qa-answer").first.wait_for()
    # The live region says the answer and its sentences, not the passages of the sources.
    page.wait_for_function("() => document.querySelector('#qa-live').textContent.startsWith('Answer: more than 12,000.')")
    spoken = page.locator("#qa-live").text_content()
    assert "1 source below" in spoken and "Among its tactics" not in spoken and len(spoken) < 400
    assert page.locator('#qa-chat [role="log"]').get_attribute("aria-live") == "off"
    # Short names: markers and source buttons say which source, not their HTML or their whole passage.
    marker = page.get_by_role("button", name=re.compile(r"^Source 1: Social network users"))
    assert marker.first.inner_text() == "[1]"
    names = page.locator("#qa-chat .qa-source").evaluate_all("bs => bs.map(b => b.innerText.replace(/\\s+/g, ' ').trim())")
    assert names and max(map(len, names)) <= 140, names
    assert page.locator("#qa-chat [data-testid=bot][aria-label]").count() == 0
    # A marker opens the document and takes the focus there; Escape brings it back to the marker.
    marker.first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.classList.contains('qa-doc-body')")
    assert focused(page, "e.getAttribute('aria-label')").startswith("Text of Social network users")
    page.keyboard.press("Escape")
    assert focused(page, "e.classList.contains('qa-cite')")
    # An over-long question is answered with a clear message, not cut short silently.
    box.fill("word " * 500)
    box.press("Enter")
    limit = "The question is 2,500 characters; the limit is 2,000 (QA_MAX_QUESTION_CHARS)."
    page.locator("#qa-chat .qa-error").get_by_text(limit).wait_for()
    page.wait_for_function("text => document.querySelector('#qa-live').textContent.includes(text)", arg=limit)


def test_phone_overlay_is_a_modal_dialog_that_keeps_the_focus(new_page, owner_site) -> None:
    page = new_page("light", PHONE)
    page.goto(owner_site.url + "/")
    ask(page, ARRESTS)
    page.locator("#qa-chat .qa-cite").first.focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name="Document").wait_for()
    for _ in range(8):
        page.keyboard.press("Tab")
        assert focused(page, "e.closest('#qa-viewer') !== null")
    page.keyboard.press("Escape")
    assert focused(page, "e.classList.contains('qa-cite')")


def test_escape_inside_the_widget_chat_closes_it_and_focus_returns_to_the_launcher(new_page, owner_site) -> None:
    page = new_page()
    page.goto(owner_site.host + "/index.html")
    launcher = page.get_by_role("button", name="Open chat")
    launcher.focus()
    page.keyboard.press("Enter")
    frame = page.frame_locator('iframe[title="Document Q&A chat"]')
    frame.locator("#qa-question textarea").focus()
    page.keyboard.press("Escape")
    page.get_by_role("dialog", name="Ask our documents").wait_for(state="hidden")
    assert page.evaluate("document.querySelector('document-qa-widget').shadowRoot.activeElement.className") == "launcher"
