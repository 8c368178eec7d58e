"""The Gradio chat: cited answers whose evidence is one click away, and the `/ask` API endpoint."""

from __future__ import annotations

import html
import json
import re
import threading
from itertools import pairwise
from pathlib import Path
from typing import Any

import gradio as gr

from ..engine import QA
from ..errors import QuestionError
from ..models import Answer, Citation, StoredDocument
from .signin import Sessions

STATIC = Path(__file__).resolve().parent / "static"
TITLE = "Document Q&A"
# Questions that the two bundled seed articles answer; offered only when those articles are indexed.
SEED_EXAMPLES = {
    "000_5b672d860f205277.txt": [
        "How many people were arrested on Nov. 15?",
        "When did the most recent wave of protests in Iraq erupt?",
    ],
    "002_a4b40d0ff9340f7b.txt": ["Who is the Supreme Leader of Iran?"],
}
PENDING = '<div class="qa-pending">Searching the documents…</div>'
# Characters of context kept on each side of the supporting sentences in a source card.
SNIPPET_CONTEXT = 200


def esc(text: str) -> str:
    """Text from a document or a user, made inert for HTML (quotes too, for attribute values)."""
    return html.escape(text, quote=True)


def _squash(text: str) -> str:
    # Runs of whitespace (newlines of the source file) read as one space in a card.
    return re.sub(r"\s+", " ", text)


def citation_key(citation: Citation) -> str:
    """What a click on a marker or source sends to `open_document`: the document and the spans to show."""
    return json.dumps(
        {"doc": citation.doc_id, "start": citation.start, "end": citation.end, "hl": citation.highlights, "n": citation.n},
        separators=(",", ":"),
    )


def snippet_html(citation: Citation) -> str:
    """The passage around its supporting sentences, the sentences in `<mark>`, everything escaped."""
    text = citation.passage
    spans = sorted(
        (max(0, s - citation.start), min(len(text), e - citation.start))
        for s, e in citation.highlights
        if e > citation.start and s < citation.end
    )
    if spans:
        low, high = max(0, spans[0][0] - SNIPPET_CONTEXT), min(len(text), spans[-1][1] + SNIPPET_CONTEXT)
    else:
        low, high = 0, min(len(text), 2 * SNIPPET_CONTEXT)
    # Cut at word boundaries so the card never starts or ends mid-word.
    if low > 0:
        space = text.find(" ", low, spans[0][0] if spans else high)
        low = space + 1 if space >= 0 else low
    if high < len(text):
        space = text.rfind(" ", spans[-1][1] if spans else low, high)
        high = space if space >= 0 else high
    parts = ["… " if low > 0 else ""]
    position = low
    for start, end in spans:
        parts.append(esc(_squash(text[position:start])))
        parts.append(f"<mark>{esc(_squash(text[start:end]))}</mark>")
        position = end
    parts.append(esc(_squash(text[position:high])))
    parts.append(" …" if high < len(text) else "")
    return "".join(parts).strip()


def _location(citation: Citation) -> str:
    name = Path(citation.source).name or citation.source
    return f"{name} · page {citation.page}" if citation.page else name


def source_card(citation: Citation) -> str:
    """One source under an answer: number, title, file (and page), and the highlighted passage."""
    # The button's name is its visible text, short ("Source 1 title file.txt"); the passage sits beside
    # the button, readable on its own, instead of making the whole passage the button's name.
    return (
        f'<div class="qa-source-card">'
        f'<button type="button" class="qa-source" value="{esc(citation_key(citation))}" '
        f'title="Source {citation.n}: {esc(citation.title)}">'
        f'<span class="qa-source-head"><span class="qa-sr-only">Source </span><span class="qa-n">{citation.n}</span>'
        f'<span class="qa-source-title">{esc(citation.title)}</span></span>'
        f'<span class="qa-file">{esc(_location(citation))}</span></button>'
        f'<span class="qa-snippet">{snippet_html(citation)}</span></div>'
    )


def answer_text_html(answer: Answer) -> str:
    """The answer's sentences (its `segments`), escaped, each followed by its clickable citation marker."""
    by_number = {c.n: c for c in answer.citations}
    # Markers come from the segments only: a "[3]" inside a document's own text stays text.
    return " ".join(f"{esc(s.text)} {_marker(by_number[s.n])}" for s in answer.segments if s.n in by_number)


def _marker(citation: Citation) -> str:
    return (
        f'<button type="button" class="qa-cite" value="{esc(citation_key(citation))}" '
        f'title="Source {citation.n}: {esc(citation.title)}">[{citation.n}]</button>'
    )


def plain_answer(answer: Answer) -> str:
    """The answer as plain text with its numbered sources (title, file, page): what "Copy answer" copies."""
    cited = [c for c in answer.citations if c.highlights]
    sources = [f"[{c.n}] {_squash(c.title).strip()} ({_location(c).replace(' · ', ', ')})" for c in cited]
    return answer.answer + ("\n\nSources:\n" + "\n".join(sources) if sources else "")


def copy_button(answer: Answer) -> str:
    """A button that puts `plain_answer` on the clipboard (chat.js; `value` is kept by Gradio's sanitizer)."""
    return (
        f'<div class="qa-actions"><button type="button" class="qa-copy" value="{esc(plain_answer(answer))}">'
        "Copy answer</button></div>"
    )


def render_answer(answer: Answer) -> str:
    """An answer as the chat shows it: short answer, cited text, then its sources; all document text escaped."""
    if answer.abstained:
        nearest = "".join(source_card(c) for c in answer.citations[:3])
        offered = (
            f'<div class="qa-sources"><div class="qa-sources-label">Nearest passages</div>{nearest}</div>'
            if nearest
            else ""
        )
        return (
            '<div class="qa-answer qa-abstained"><div class="qa-notfound">Not found in the documents</div>'
            f'<p class="qa-text">{esc(answer.answer)} The closest passages are below; they may still help.</p>'
            f"{offered}</div>"
        )
    cited = [c for c in answer.citations if c.highlights]
    others = [c for c in answer.citations if not c.highlights]
    short = (
        f'<div class="qa-short"><span class="qa-short-label">Answer</span>'
        f'<span class="qa-short-text">{esc(answer.short_answer)}</span></div>'
        if answer.short_answer
        else ""
    )
    more = (
        f'<details class="qa-more"><summary>{len(others)} more passage{"s" if len(others) != 1 else ""} searched</summary>'
        f'{"".join(source_card(c) for c in others)}</details>'
        if others
        else ""
    )
    return (
        f'<div class="qa-answer">{short}<p class="qa-text">{answer_text_html(answer)}</p>'
        f'<div class="qa-sources"><div class="qa-sources-label">Sources</div>'
        f'{"".join(source_card(c) for c in cited)}{more}</div>{copy_button(answer)}</div>'
    )


def render_error(message: str) -> str:
    """A problem with the question, said plainly in the chat."""
    return f'<div class="qa-answer qa-error">{esc(message)}</div>'


def render_document(record: StoredDocument, start: int, end: int, highlights: list[list[int]], n: int | None = None) -> str:
    """The whole document, escaped, with the cited passage shaded and its supporting sentences in `<mark>`."""
    text = record.text
    size = len(text)
    start, end = max(0, min(start, size)), max(0, min(end, size))
    marks = [(max(0, min(s, size)), max(0, min(e, size))) for s, e in highlights if s < e]
    page_starts = {int(s): int(p) for s, _, p in record.pages if 0 <= int(s) < size}
    cuts = sorted({0, size, start, end, *page_starts, *(x for span in marks for x in span)})
    body, targeted = [], False
    for low, high in pairwise(cuts):
        if low in page_starts:
            body.append(f'<span class="qa-page">Page {page_starts[low]}</span>')
        piece = esc(text[low:high])
        marked = any(s <= low < e for s, e in marks)
        in_passage = start <= low < end
        # The scroll target: the first supporting sentence, or the passage when nothing is marked.
        target = not targeted and (marked or (in_passage and not marks))
        anchor = ' id="qa-target"' if target else ""
        targeted = targeted or target
        if marked:
            body.append(f'<mark class="qa-hl"{anchor}>{piece}</mark>')
        elif in_passage:
            body.append(f'<span class="qa-span"{anchor}>{piece}</span>')
        else:
            body.append(piece)
    page = record.page_at(start)
    meta = " · ".join(
        part
        for part in (
            esc(Path(record.source).name or record.source),
            f"page {page}" if page else "",
            f"source [{n}]" if n else "",
        )
        if part
    )
    return (
        f'<div class="qa-doc"><div class="qa-doc-head"><div class="qa-doc-heading">'
        f'<div class="qa-doc-title" tabindex="-1">{esc(record.title)}</div><div class="qa-doc-meta">{meta}</div></div>'
        f'<button type="button" class="qa-close" aria-label="Close the document">×</button></div>'
        # Focusable so the keyboard can scroll it (axe scrollable-region-focusable); named for screen readers.
        f'<div class="qa-doc-body" tabindex="0" role="region" aria-label="Text of {esc(record.title)}">'
        f'{"".join(body)}</div></div>'
    )


def viewer_placeholder() -> str:
    """What the document panel shows before a source is opened."""
    return (
        '<div class="qa-doc qa-doc-empty"><div class="qa-doc-head"><div class="qa-doc-heading">'
        '<div class="qa-doc-title">Full document</div>'
        '<div class="qa-doc-meta">Click a source or a [n] marker to read it here, with the cited sentences highlighted.</div>'
        '</div><button type="button" class="qa-close" aria-label="Close the document">×</button></div></div>'
    )


def header_html(qa: QA, compact: bool, user: str | None = None) -> str:
    """Title, a one-line description of what is indexed, and who is signed in."""
    stats = qa.stats()
    documents, chunks = int(stats["documents"]), int(stats["chunks"])
    line = (
        f"Answers from {documents} document{'s' if documents != 1 else ''} "
        f"({chunks} passage{'s' if chunks != 1 else ''}), each with the sentences that support it."
    )
    if documents == 0:
        line = "No documents are indexed yet: add some on the Documents page, or index a folder with `python -m qa index PATH`."
    # A plain form: signing out works without the page's script.
    account = (
        f'<form class="qa-account" method="post" action="/logout"><span>Signed in as {esc(user)}</span>'
        '<button type="submit" class="qa-signout">Sign out</button></form>'
        if user
        else ""
    )
    return (
        f'<div class="qa-header{" qa-compact-header" if compact else ""}"><div class="qa-title-row"><h1>{TITLE}</h1>{account}</div>'
        f"<p>{esc(line)}</p></div>"
    )


EXAMPLE_CANDIDATES = 200


def example_questions(qa: QA, limit: int = 3) -> list[str]:
    """A few questions the index really answers: known ones for the seeds, else one per document title."""
    # The first documents give enough candidates; listing all of them cost seconds at 125,000.
    documents = qa.documents(EXAMPLE_CANDIDATES)
    names = {Path(d.source).name for d in documents}
    candidates = [q for name, questions in SEED_EXAMPLES.items() if name in names for q in questions]
    for document in documents:
        title = _squash(document.title).strip().rstrip("….")
        if 3 <= len(title.split()) <= 14:
            candidates.append(f"What does “{title}” report?")
    answerable: list[str] = []
    for question in candidates:
        if len(answerable) >= limit:
            break
        if not qa.ask(question).abstained:
            answerable.append(question)
    return answerable


class ExampleCache:
    """Example questions, worked out again only when the index changed (an upload, a delete, a re-index)."""

    def __init__(self, qa: QA) -> None:
        self.qa = qa
        self._cached: dict[tuple[int, int], list[str]] = {}
        self._lock = threading.Lock()

    def get(self, limit: int) -> list[str]:
        """Up to `limit` answerable example questions for the index as it is now."""
        key = (self.qa.generation(), limit)
        with self._lock:
            if key not in self._cached:
                # Asking each candidate costs a few questions' time, once per index generation.
                self._cached = {k: v for k, v in self._cached.items() if k[0] == key[0]}
                self._cached[key] = example_questions(self.qa, limit)
            return self._cached[key]


def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


class ChatHandlers:
    """What the chat's events do, bound to one engine."""

    def __init__(self, qa: QA) -> None:
        self.qa = qa

    def record_feedback(self, answers: dict[int, dict[str, Any]], given: dict[int, int], like: gr.LikeData,
                        request: gr.Request) -> tuple[dict[int, int], int, Any, str]:
        """A thumb on an answer: kept with the question, the answer and its citations; a thumb down asks what was wrong."""
        index = like.index if isinstance(like.index, int) else like.index[0]
        answer = answers.get(index)
        if answer is None:
            return given, -1, gr.Column(visible=False), "This message is not an answer: nothing was recorded."
        liked = like.liked is True or like.liked == "Like"
        if index in given:
            self.qa.revise_feedback(given[index], liked=liked)
        else:
            given = {**given, index: self.qa.record_feedback(answer, liked, user=getattr(request, "username", None))}
        note = "Thanks: marked as a good answer." if liked else "Thanks: marked as a wrong answer. You can say what was wrong below."
        return given, given[index], gr.Column(visible=not liked), note

    def record_comment(self, feedback_id: int, comment: str) -> tuple[str, Any, str]:
        """The optional comment of a thumb down."""
        if feedback_id >= 0 and comment.strip():
            self.qa.revise_feedback(feedback_id, comment=comment.strip())
            return "", gr.Column(visible=False), "Thanks: your comment is saved with the answer."
        return "", gr.Column(visible=False), ""

    def check_question(self, question: Any) -> str:
        """The question, stripped, or a gr.Error saying why it cannot be asked."""
        try:
            return self.qa.validate_question(question).strip()
        except QuestionError as error:
            raise gr.Error(str(error)) from error

    def ask(self, question: str, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Answer `question` (follow-ups use `history`, role/content dicts) as `python -m qa ask --json` does."""
        if history is not None and not (isinstance(history, list) and all(isinstance(t, dict) for t in history)):
            raise gr.Error("history must be a list of {'role': ..., 'content': ...} objects.")
        return self.qa.ask(self.check_question(question), history or []).to_dict()

    def add_question(self, message: str, shown: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], str]:
        """Show the question at once, with a pending answer, and hand it to `answer_question`."""
        if not message.strip():
            return message, shown, ""
        return "", [*shown, {"role": "user", "content": esc(message.strip())}, {"role": "assistant", "content": PENDING}], message

    def pick_example(self, shown: list[dict[str, Any]], selection: gr.SelectData) -> tuple[str, list[dict[str, Any]], str]:
        """An example question clicked: asked like a typed one."""
        return self.add_question(selection.value["text"], shown)

    def answer_question(self, question: str, shown: list[dict[str, Any]], history: list[dict[str, str]],
                        answers: dict[int, dict[str, Any]]):
        """Replace the pending answer with the rendered one and remember the turn (and the answer, for feedback)."""
        if not question.strip():
            return shown, history, answers
        try:
            answer = self.qa.ask(self.check_question(question), history)
        except gr.Error as error:
            return [*shown[:-1], {"role": "assistant", "content": render_error(str(error.message))}], history, answers
        turns = [{"role": "user", "content": answer.question}, {"role": "assistant", "content": answer.answer}]
        answers = {**answers, len(shown) - 1: answer.to_dict()}
        return [*shown[:-1], {"role": "assistant", "content": render_answer(answer)}], [*history, *turns], answers

    def open_document(self, key: str) -> str:
        """The full document for a clicked marker or source (the key comes from `citation_key`)."""
        try:
            wanted = json.loads(key)
            record = self.qa.document(str(wanted["doc"]))
            spans = [[int(s), int(e)] for s, e in wanted.get("hl", [])]
            start, end, n = int(wanted["start"]), int(wanted["end"]), int(wanted.get("n") or 0)
        except (TypeError, ValueError, KeyError):
            return render_error("That source link is malformed.")
        if record is None:
            return render_error("This document is no longer in the index; ask again to get fresh sources.")
        return render_document(record, start, end, spans, n or None)


def build_ui(qa: QA, compact: bool = False, sessions: Sessions | None = None, examples: ExampleCache | None = None) -> gr.Blocks:
    """The chat page (or, `compact`, the phone-sized widget), with `/ask` returning `qa ask --json`'s object.

    With `sessions`, the full chat gets the Documents page beside it (qa/web/documents.py)."""
    handlers = ChatHandlers(qa)
    concurrency = qa.settings.server.concurrency
    examples = examples or ExampleCache(qa)
    limit = 2 if compact else 3

    # Gradio marks the functions it exposes with attributes, which bound methods cannot carry.
    def open_document(key: str) -> str:
        """The full document for a clicked marker or source."""
        return handlers.open_document(key)

    def ask(question: str, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Answer `question` (follow-ups use `history`, role/content dicts) as `python -m qa ask --json` does."""
        return handlers.ask(question, history)

    def on_load(request: gr.Request) -> tuple[str, Any]:
        # Counts, the signed-in user and examples for the index as it is now (uploads change all three).
        questions = examples.get(limit)
        return header_html(qa, compact, getattr(request, "username", None)), gr.Chatbot(examples=[{"text": q} for q in questions] or None)

    head = f"<style>{_asset('chat.css')}</style>"
    with gr.Blocks(title=TITLE, fill_height=compact) as demo:
        if sessions is not None and not compact:
            gr.Navbar(main_page_name="Chat", elem_id="qa-nav")
        with gr.Column(scale=1, elem_classes=["qa-app", "qa-compact" if compact else "qa-full"]):
            header = gr.HTML(header_html(qa, compact), head=head, elem_classes=["qa-header-block"])
            with gr.Row(equal_height=False, elem_classes=["qa-main"]):
                with gr.Column(scale=3, min_width=300, elem_classes=["qa-chat-column"]):
                    chatbot = _chatbot(compact, examples.get(limit))
                    note = gr.HTML("", elem_classes=["qa-feedback-note"], elem_id="qa-feedback-note")
                    with gr.Column(visible=False, elem_id="qa-comment-box") as comment_box:
                        with gr.Row(equal_height=True):
                            comment = gr.Textbox(label="What was wrong? (optional)", max_lines=3, scale=5, elem_id="qa-comment",
                                                 max_length=2000)
                            send_comment = gr.Button("Send", scale=1, min_width=70, elem_id="qa-send-comment")
                    with gr.Row(elem_classes=["qa-input-row"]):
                        box = gr.Textbox(
                            placeholder="Ask a question about the documents…",
                            show_label=False,
                            lines=1,
                            max_lines=4,
                            autofocus=not compact,
                            scale=5,
                            container=False,
                            elem_id="qa-question",
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="qa-send")
                    new = gr.Button("New conversation", variant="secondary", size="sm", elem_id="qa-new")
                viewer = gr.HTML(
                    viewer_placeholder(),
                    js_on_load=_asset("chat.js"),
                    server_functions=[open_document],
                    elem_id="qa-viewer",
                    min_width=280,
                )
        history = gr.State([])
        pending = gr.State("")
        # Per browser tab: message index -> the answer shown there, and -> the id of the feedback given on it.
        answers = gr.State({})
        given = gr.State({})
        feedback_id = gr.State(-1)
        private: dict[str, Any] = {"queue": False, "api_visibility": "private"}

        def answered(event: Any) -> None:
            # The quick step shows the question at once; answering then queues with its own concurrency.
            event.then(handlers.answer_question, [pending, chatbot, history, answers], [chatbot, history, answers],
                       concurrency_limit=concurrency, concurrency_id="answer", api_visibility="private", show_progress="hidden")

        for submitted in (box.submit, send.click):
            answered(submitted(handlers.add_question, [box, chatbot], [box, chatbot, pending], **private))
        answered(chatbot.example_select(handlers.pick_example, [chatbot], [box, chatbot, pending], **private))
        cleared = [chatbot, history, box, viewer, answers, given, comment_box, note]
        new.click(lambda: ([], [], "", viewer_placeholder(), {}, {}, gr.Column(visible=False), ""), None, cleared, **private)
        # The chat's own trash button clears the display; the remembered turns must go with it.
        chatbot.clear(lambda: ([], viewer_placeholder(), {}, {}), None, [history, viewer, answers, given], **private)
        chatbot.like(handlers.record_feedback, [answers, given], [given, feedback_id, comment_box, note], api_visibility="private")
        for commented in (send_comment.click, comment.submit):
            commented(handlers.record_comment, [feedback_id, comment], [comment, comment_box, note], api_visibility="private")
        demo.load(on_load, None, [header, chatbot], api_visibility="private", show_progress="hidden")
        gr.api(ask, api_name="ask", concurrency_limit=concurrency, concurrency_id="answer")
    if sessions is not None and not compact:
        from .documents import add_documents_page

        add_documents_page(demo, qa, sessions, head)
    demo.queue(default_concurrency_limit=concurrency)
    return demo


def _chatbot(compact: bool, examples: list[str]) -> gr.Chatbot:
    return gr.Chatbot(
        autoscroll=False,
        elem_id="qa-chat",
        show_label=False,
        # The widget's iframe is the whole viewport: the chat takes what the title and input leave.
        height="calc(100vh - 215px)" if compact else "68vh",
        min_height=220 if compact else 420,
        render_markdown=False,
        sanitize_html=True,
        allow_tags=False,
        latex_delimiters=[],
        buttons=[],
        # Thumbs on each answer; what they record: ChatHandlers.record_feedback.
        feedback_options=("Like", "Dislike"),
        layout="panel",
        placeholder=None,
        examples=[{"text": q} for q in examples] or None,
        scale=1,
    )
