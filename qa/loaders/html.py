"""HTML pages: the main text, with scripts, navigation and page chrome dropped."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, NavigableString, Tag

from .registry import Extracted, Unusable

_PARSER = "lxml" if importlib.util.find_spec("lxml") else "html.parser"
_DROP = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe", "svg"]
_CHROME = {"header", "footer"}
# Breaks inserted at these elements so the page's layout survives get_text().
_PARAGRAPHS = ["p", "div", "section", "article", "main", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
               "table", "ul", "ol", "dl", "figure", "figcaption", "address", "hr"]
_LINES = ["li", "tr", "dt", "dd", "caption", "br"]
_CELLS = ["td", "th"]
_BLANK_RUN = re.compile(r"\n{3,}")
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_ANY_SPACE = re.compile(r"\s+")


def load_html(data: bytes, max_bytes: int) -> Iterator[Extracted]:
    """The page's main text (its <main> or <article>, else its body), titled by <title> or the first <h1>."""
    if b"\x00" in data:
        raise Unusable("binary content (NUL bytes) in an HTML file")
    soup = BeautifulSoup(data, _PARSER)
    for tag in soup.find_all(_DROP):
        # An article's own <header>/<footer> holds its headline and byline, not page chrome.
        if tag.name in _CHROME and tag.find_parent(["main", "article"]):
            continue
        tag.decompose()
    body = soup.find("main") or soup.find("article") or soup.body or soup
    candidates = ((soup.head or soup).find("title"), body.find("h1"))
    titles = [_ANY_SPACE.sub(" ", tag.get_text()).strip() for tag in candidates if tag]
    yield Extracted(_text(body), next(filter(None, titles), None))


def _text(root: Tag) -> str:
    for string in root.find_all(string=True):
        if type(string) is not NavigableString:  # comments, doctypes, CDATA
            string.extract()
        elif string.find_parent("pre") is None:
            # Outside <pre>, source line breaks are just spaces to a browser.
            string.replace_with(_ANY_SPACE.sub(" ", string))
    for tag in root.find_all(_PARAGRAPHS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    # One break after, not around, so "a<br>b" and consecutive <li>s stay on adjacent lines.
    for tag in root.find_all(_LINES):
        tag.insert_after("\n")
    for tag in root.find_all(_CELLS):
        tag.insert_after(" ")
    lines = (_INLINE_SPACE.sub(" ", line).strip() for line in root.get_text().split("\n"))
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()
