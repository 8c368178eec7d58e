"""The Gradio chat: answers with their citations, and the `/ask` API endpoint."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from .engine import QA
from .models import Answer


def render_answer(answer: Answer) -> str:
    """Answer text and its sources as escaped HTML (document text is never interpreted)."""
    parts = [html.escape(answer.answer)]
    if answer.short_answer:
        parts.append(f"<p><strong>{html.escape(answer.short_answer)}</strong></p>")
    for citation in answer.citations:
        if citation.highlights or answer.abstained:
            parts.append(f"<p>[{citation.n}] {html.escape(citation.title)} — {html.escape(citation.source)}</p>")
    return "\n".join(parts)


def build_ui(qa: QA) -> gr.Blocks:
    """The chat page, with `/ask` returning the same JSON as `python -m qa ask --json`."""

    def chat(message: str, history: list[dict[str, Any]]) -> str:
        return render_answer(qa.ask(message, history))

    def ask(question: str, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return qa.ask(question, history or []).to_dict()

    with gr.Blocks(title="Document Q&A") as demo:
        gr.ChatInterface(chat, title="Document Q&A")
        gr.api(ask, api_name="ask")
    return demo
