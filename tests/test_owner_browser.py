"""What the people who run the bot do, in a real Chromium against one real server: manage documents on the
Documents page (upload with progress, ask, delete), unlock it only with the right token, judge answers, copy them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa import cli
from tests.conftest import screenshot_path

ARRESTS = "How many people were arrested on Nov. 15?"
LEADER = "Who is the Supreme Leader of Iran?"
OKAPI = "How many okapis did the Epulu census count?"
TIMEOUT = 60_000


@pytest.fixture
def context(browser):
    """A fresh browser context (its own cookies: its own session), closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    yield context
    context.close()


def open_documents(context, url: str):
    page = context.new_page()
    page.goto(url + "/documents")
    page.locator("#qa-docs-table [role=row]").nth(2).wait_for()
    return page


def table_text(page) -> str:
    return page.locator("#qa-docs-table").inner_text()


def unlock(page, token: str) -> None:
    page.locator("#qa-admin-token input").fill(token)
    page.locator("#qa-unlock").click()


def ask(page, question: str, answers_before: int = 0):
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .qa-answer').length > n", arg=answers_before)
    return page.locator("#qa-chat .qa-answer").nth(answers_before)


def test_a_wrong_token_is_refused_and_the_page_stays_read_only(context, owner_site) -> None:
    page = open_documents(context, owner_site.url)
    assert page.locator("#qa-admin-box").is_hidden()
    unlock(page, owner_site.token + "-not")
    assert page.get_by_role("alert").inner_text() == "Wrong admin token."
    assert page.locator("#qa-admin-box").is_hidden()
    assert page.locator("#qa-admin-token input").input_value() == ""
    # The unlock endpoint itself refuses a guessed token.
    assert page.evaluate(
        "url => fetch(url + '/api/admin/session', {method: 'POST', headers: {Authorization: 'Bearer guess'}}).then(r => r.status)",
        owner_site.url,
    ) == 401


def test_upload_with_progress_then_ask_then_delete(context, owner_site, tmp_path: Path) -> None:
    page = open_documents(context, owner_site.url)
    assert "demonstrations in Iraq" in table_text(page) and "Social network users" in table_text(page)
    # Search the list, then open a document to read it.
    page.locator("#qa-docs-table input[placeholder^='Search']").fill("demonstrations")
    page.wait_for_function("() => document.querySelectorAll('#qa-docs-table .virtual-body [role=row]').length === 1")
    page.locator("#qa-docs-table .virtual-body [role=gridcell]").first.click()
    page.wait_for_function("() => document.querySelector('#qa-docs-text textarea').value.includes('Tahrir Square')")
    page.locator("#qa-docs-table input[placeholder^='Search']").fill("")

    unlock(page, owner_site.token)
    page.locator("#qa-admin-box").wait_for(state="visible")
    assert owner_site.token not in page.content()
    page.reload()  # once per browser session, not per page load
    page.locator("#qa-admin-box").wait_for(state="visible")

    files = {
        "okapi.txt": "The Epulu census counted 312 okapis in the Ituri forest in 2024. Rangers walked every trail twice.\n",
        "notes.exe": "MZ not a document",
        "empty.md": "",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    page.locator("#qa-docs-files input[type=file]").set_input_files([str(tmp_path / name) for name in files])
    page.locator("#qa-docs-files").get_by_text("okapi.txt").wait_for()
    # Every progress text Gradio shows while the files are indexed, however briefly.
    page.evaluate("""() => { window.__progress = [];
        new MutationObserver(() => window.__progress.push(document.querySelector('#qa-docs-report').textContent))
          .observe(document.body, {childList: true, subtree: true, characterData: true}); }""")
    page.locator("#qa-docs-add").click()
    page.wait_for_function("() => document.querySelectorAll('#qa-docs-report li').length === 3")
    report = page.locator("#qa-docs-report").inner_text()
    assert "okapi.txt: added (1 passage)" in report
    assert re.search(r"notes\.exe: skipped: unsupported file type", report)
    assert "empty.md: skipped: empty file (0 bytes)" in report
    progress = " ".join(page.evaluate("window.__progress"))
    # Shown while the first file is indexed (Gradio may skip the steps that pass in a blink, and the last).
    assert "0/3 steps" in progress and "Indexing okapi.txt (1 of 3)" in progress, progress
    page.wait_for_function("() => document.querySelector('#qa-docs-table').innerText.includes('uploads/okapi.txt')")
    page.screenshot(path=str(screenshot_path(tmp_path, "documents.png")), full_page=True)

    chat = context.new_page()
    chat.goto(owner_site.url + "/")
    answer = ask(chat, OKAPI)
    assert answer.locator(".qa-short-text").inner_text() == "312"
    assert "okapi.txt" in answer.locator(".qa-source-card .qa-file").first.inner_text()

    pick = page.locator("#qa-docs-delete-pick input")
    pick.fill("okapi")
    page.get_by_role("option", name="uploads/okapi.txt").click()
    page.locator("#qa-docs-delete").click()
    page.get_by_text("Deleted 1 document: uploads/okapi.txt.").wait_for()
    page.wait_for_function("() => !document.querySelector('#qa-docs-table').innerText.includes('uploads/okapi.txt')")
    again = ask(chat, OKAPI, answers_before=1)
    assert "okapi.txt" not in again.inner_text()


def test_answers_are_judged_and_the_judgements_exported(context, owner_site, tmp_path: Path) -> None:
    page = context.new_page()
    page.goto(owner_site.url + "/")
    ask(page, ARRESTS)
    # Gradio puts each answer's thumbs in a button bar beside the message, in message order.
    page.locator("#qa-chat").get_by_role("button", name="Like", exact=True).first.click()
    page.locator("#qa-feedback-note").get_by_text("Thanks: marked as a good answer.").wait_for()
    ask(page, LEADER, answers_before=1)
    page.locator("#qa-chat").get_by_role("button", name="Dislike", exact=True).nth(1).click()
    page.get_by_label("What was wrong? (optional)").fill("Right name, but the quote is about the uprising.")
    page.locator("#qa-send-comment").click()
    page.locator("#qa-feedback-note").get_by_text("Thanks: your comment is saved with the answer.").wait_for()

    out = tmp_path / "feedback"
    assert cli.main(["feedback", "export", "--out", str(out), "--index-dir", str(owner_site.app.index_dir)]) == 0
    queries = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    judged = {q["text"]: q["metadata"] for q in queries}
    assert judged[ARRESTS]["liked"] is True and "more than 12,000" in judged[ARRESTS]["answers"]
    assert judged[LEADER]["liked"] is False and judged[LEADER]["comment"] == "Right name, but the quote is about the uprising."
    qrels = (out / "qrels" / "test.tsv").read_text()
    assert "000_5b672d860f205277.txt@" in qrels and "\t0\n" in qrels and "\t1\n" in qrels


def test_copy_puts_the_answer_and_numbered_sources_on_the_clipboard(browser, owner_site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        page.goto(owner_site.url + "/")
        answer = ask(page, ARRESTS)
        answer.get_by_role("button", name="Copy answer").click()
        answer.get_by_role("button", name="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == (
            "HRM also reported that more than 12,000 people were arrested on Nov. 15, and at least 1,500 protesters were "
            "killed by state security forces during the protests. [1]\n\nSources:\n"
            "[1] Social network users post videos and photos of citizens who continue to protest… (000_5b672d860f205277.txt)"
        )
    finally:
        context.close()
