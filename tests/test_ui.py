"""Rendering of answers, sources and documents: right content, cited spans marked, document text inert."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import gradio as gr
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.models import Answer, Citation, Segment, StoredDocument
from qa.web.ui import build_ui, citation_key, example_questions, render_answer, render_document, snippet_html, source_card

ARRESTS = "How many people were arrested on Nov. 15?"
HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> ${window.__pwned=1}'
# Every tag and attribute the renderer itself writes; anything else would have come from a document.
OUR_TAGS = {"div", "p", "span", "mark", "button", "details", "summary"}
OUR_ATTRIBUTES = {"class", "type", "value", "title", "id", "aria-label", "tabindex", "role"}


class Markup(HTMLParser):
    """Collects tags, attributes, text and `<mark>` contents of a rendered fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.values: list[str] = []
        self.text: list[str] = []
        self.marks: list[str] = []
        self._in_mark = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes |= {name for name, _ in attrs}
        self.values += [value for name, value in attrs if name == "value"]
        self._in_mark += tag == "mark"
        if tag == "mark":
            self.marks.append("")

    def handle_endtag(self, tag):
        self._in_mark -= tag == "mark"

    def handle_data(self, data):
        self.text.append(data)
        if self._in_mark:
            self.marks[-1] += data



def stored(title: str, source: str, text: str, pages: list[list[int]] | None = None) -> StoredDocument:
    """A document as `QA.document` returns it."""
    return StoredDocument(source, title, source, 1, 0.0, text, "hash", pages or [])

def parse(fragment: str) -> Markup:
    markup = Markup()
    markup.feed(fragment)
    markup.close()
    return markup


def hostile_answer(text: str) -> Answer:
    passage = f"Before. {text} After."
    sentence = (8, 8 + len(text))
    citation = Citation(1, "evil.html", "docs/evil.html", text, passage, 0, len(passage), [list(sentence)], 2, 0.9)
    return Answer("q", f"{text} [1]", text, False, 0.9, [citation], segments=[Segment(text, 1, "evil.html", *sentence)])


def test_answer_shows_short_answer_marker_and_highlighted_source(seeds_qa):
    answer = seeds_qa.ask(ARRESTS)
    markup = parse(render_answer(answer))
    text = "".join(markup.text)
    assert "more than 12,000" in text and "[1]" in text and "000_5b672d860f205277.txt" in text
    assert any("12,000 people were arrested on Nov. 15" in mark for mark in markup.marks)
    first = answer.citations[0]
    assert json.loads(markup.values[0]) == {"doc": first.doc_id, "start": first.start, "end": first.end, "hl": first.highlights, "n": 1}


def test_abstention_says_not_found_and_offers_nearest_passages(seeds_qa):
    answer = seeds_qa.ask("What is the recipe for chocolate cake?")
    assert answer.abstained
    markup = parse(render_answer(answer))
    text = "".join(markup.text)
    assert "Not found in the documents" in text and "Nearest passages" in text
    assert markup.tags.count("button") == min(3, len(answer.citations)) and not markup.marks


def test_document_marks_exact_cited_span_and_scroll_target(seeds_qa):
    citation = seeds_qa.ask(ARRESTS).citations[0]
    record = seeds_qa.document(citation.doc_id)
    rendered = render_document(record, citation.start, citation.end, citation.highlights, citation.n)
    (start, end), = citation.highlights
    markup = parse(rendered)
    assert markup.marks == [record.text[start:end]]
    assert rendered.count('id="qa-target"') == 1 and '<mark class="qa-hl" id="qa-target">' in rendered
    # The whole document is there, not just the passage.
    assert "".join(markup.text).replace("×", "").endswith(record.text[-40:])


def test_document_shows_page_breaks_for_paged_formats():
    record = stored("Report", "docs/report.pdf", "First page.Second page.", [[0, 11, 1], [11, 23, 2]])
    rendered = render_document(record, 11, 23, [[11, 23]], 1)
    assert "Page 2</span><mark" in rendered and "report.pdf · page 2 · source [1]" in rendered


def test_markers_come_only_from_the_answerer_not_from_document_text():
    text = "Footnoted claim [2] stands here."
    passage = text
    citation = Citation(1, "d", "d.txt", "T", passage, 0, len(passage), [[0, len(text)]], None, 0.5)
    segment = Segment(text, 1, "d", 0, len(text))
    rendered = render_answer(Answer("q", f"{text} [1]", None, False, 0.5, [citation], segments=[segment]))
    assert rendered.count('class="qa-cite"') == 1 and "Footnoted claim [2] stands here. <button" in rendered


def test_hostile_document_text_is_escaped_everywhere():
    answer = hostile_answer(HOSTILE)
    record = stored(HOSTILE, "docs/" + HOSTILE, answer.citations[0].passage)
    for fragment in (render_answer(answer), render_document(record, 0, 10, [[8, 20]], 1)):
        markup = parse(fragment)
        assert set(markup.tags) <= OUR_TAGS and markup.attributes <= OUR_ATTRIBUTES
        assert "<script>window.__pwned=1</script>" in "".join(markup.text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>&\"' =/abcimgsrpt;\n")), min_size=1, max_size=60))
def test_any_text_renders_without_adding_markup(text):
    answer = hostile_answer(text)
    markup = parse(render_answer(answer))
    assert set(markup.tags) <= OUR_TAGS and markup.attributes <= OUR_ATTRIBUTES
    assert json.loads(markup.values[0])["doc"] == "evil.html"
    snippet = parse(snippet_html(answer.citations[0]))
    assert snippet.tags == ["mark"]


def test_source_link_carries_any_document_id_intact():
    doc_id = 'a"b\'<c>&{x}.txt'
    citation = Citation(3, doc_id, doc_id, "t", "passage", 5, 12, [[5, 12]], None, 0.1)
    (value,) = parse(source_card(citation)).values
    assert value == citation_key(citation) and json.loads(value)["doc"] == doc_id


def test_examples_are_answerable_questions_from_the_index(seeds_qa):
    examples = example_questions(seeds_qa)
    assert ARRESTS in examples and 1 <= len(examples) <= 3
    assert not any(seeds_qa.ask(question).abstained for question in examples)


def test_build_ui_exposes_only_the_ask_endpoint(seeds_qa):
    for compact in (False, True):
        demo = build_ui(seeds_qa, compact=compact)
        assert isinstance(demo, gr.Blocks)
        assert list(demo.get_api_info()["named_endpoints"]) == ["/ask"]
