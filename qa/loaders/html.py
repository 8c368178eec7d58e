"""HTML pages: the main text (trafilatura), else the whole page with scripts, navigation and chrome dropped."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator

import lxml.etree
import lxml.html
import trafilatura
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
# Below this many characters trafilatura has fallen back to a whole-page baseline of its own (its
# MIN_EXTRACTED_SIZE); on such small pages the tag-based reading below did better.
_MAIN_TEXT_MIN_CHARS = 250
_INLINE_PRE_PARENTS = {"p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
_TITLE_SEPARATOR = re.compile(r"\s+(?:\||-|–|—|--|::|·|»)\s+")
_LOOSE = re.compile(r"\W+")


def load_html(data: bytes, max_bytes: int) -> Iterator[Extracted]:
    """The page's main text and headline; the whole page's text when no main text is found."""
    if b"\x00" in data:
        raise Unusable("binary content (NUL bytes) in an HTML file")
    text, title = _main_text(data) or _whole_page(data)
    yield Extracted(text, title)


def _main_text(data: bytes) -> tuple[str, str | None] | None:
    """The article's text and headline as trafilatura finds them; None when it finds too little."""
    try:
        # One call gives the main content as simple HTML (headings, paragraphs, lists, tables) and
        # the page's metadata title; on 16 saved pages it kept 8% of hand-listed boilerplate strings
        # where the whole-page reading kept 99%, and 96% of the main-text sentences (README).
        found = trafilatura.extract(
            data, output_format="html", with_metadata=True, include_tables=True,
            include_comments=False, include_images=False, include_links=False,
        )
    except Exception:  # noqa: BLE001 - any failure of the library leaves the whole-page reading
        return None
    if not found:
        return None
    # html.parser keeps trafilatura's nesting (lxml would end a <p> at a <pre>).
    soup = BeautifulSoup(found, "html.parser")
    for pre in soup.find_all("pre"):
        # trafilatura writes inline <code> as <pre>: inside a paragraph it is a word, not a block.
        if pre.parent is not None and pre.parent.name in _INLINE_PRE_PARENTS and "\n" not in pre.get_text():
            pre.unwrap()
    meta = soup.find("meta", attrs={"name": "title"})
    title = meta.get("content") if meta else None
    if meta:
        meta.decompose()
    text = _text(soup.body or soup)
    if len(text) < _MAIN_TEXT_MIN_CHARS:
        return None
    return text, headline(title if isinstance(title, str) else None, _h1_texts(data))


def _h1_texts(data: bytes) -> list[str]:
    # lxml directly: a second BeautifulSoup parse of the page doubled the loader's time.
    try:
        root = lxml.html.fromstring(data)
    except (lxml.etree.LxmlError, ValueError):
        return []
    return [_ANY_SPACE.sub(" ", h1.text_content()).strip() for h1 in root.iter("h1")]


def headline(title: str | None, h1s: list[str]) -> str | None:
    """The <h1> that the page title contains, else the title's longest separated part (not the site name)."""
    title = _ANY_SPACE.sub(" ", title or "").strip()
    loose_title = _LOOSE.sub(" ", title).casefold()
    for h1 in filter(None, h1s):
        loose = _LOOSE.sub(" ", h1).strip().casefold()
        if loose and loose in loose_title:
            return h1.strip(" ¶#")
    parts = [part.strip() for part in _TITLE_SEPARATOR.split(title) if part.strip()]
    best = max(parts, key=len) if parts else next(filter(None, h1s), "")
    return best.strip(" ¶#") or None


def _whole_page(data: bytes) -> tuple[str, str | None]:
    """The page's <main> or <article> (else its body) without chrome, titled by <title> or the first <h1>."""
    soup = BeautifulSoup(data, _PARSER)
    for tag in soup.find_all(_DROP):
        # An article's own <header>/<footer> holds its headline and byline, not page chrome.
        if tag.name in _CHROME and tag.find_parent(["main", "article"]):
            continue
        tag.decompose()
    body = soup.find("main") or soup.find("article") or soup.body or soup
    candidates = ((soup.head or soup).find("title"), body.find("h1"))
    titles = [_ANY_SPACE.sub(" ", tag.get_text()).strip() for tag in candidates if tag]
    return _text(body), next(filter(None, titles), None)


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
