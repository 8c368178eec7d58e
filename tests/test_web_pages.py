"""Saved web pages through the HTML loader: main text kept, page chrome dropped, the headline as title."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.loaders import html as html_loader
from qa.loaders import load_paths
from qa.models import Document

PAGES = Path(__file__).resolve().parent / "fixtures" / "web"

# Per page: its headline, distinctive main-text sentences and boilerplate strings, listed by hand.
CASES = {
    "webstruct_tutorial": (
        "Tutorial",
        ["This tutorial assumes you are familiar with machine learning.", "Get annotated data",
         "Text is extracted from HTML and split into tokens.", "To compute feature dicts we'll use HtmlFeatureExtractor.",
         "ner.extract_groups(html, dont_penalize={'TEL', 'FAX'})", "Model Development"],
        ["Edit on GitHub", "Search docs", "Read the Docs v: latest", "Free document hosting provided by Read the Docs",
         "Project Home", "Builds"],
    ),
    "mozilla.org.firefox.developer": (
        "Welcome to Firefox Developer Edition",
        ["Get to know the features that make it the most complete browser for building the Web.", "Features and tools",
         "Developer Edition comes with a new profile so you can run it alongside other versions of Firefox.",
         "Step through JavaScript code and examine or modify its state"],
        [],
    ),
    "seed_000_debris": (
        "Iraqis Continue Protests Against Corruption and Iran's Meddling",
        ["Social network users post videos and photos of citizens",
         "The most recent wave of protests erupted on Oct. 1 with a leaderless uprising in Iraq.",
         "HRM also reported that more than 12,000 people were arrested on Nov. 15",
         "The population rejects Iran's interference in the country."],
        ["Sign up to receive our latest news!", "By submitting this form, I agree to the terms.", "We use cookies to ensure",
         "Share on Facebook", "RELATED ARTICLES", "LEAVE A REPLY", "MOST POPULAR", "All rights reserved", "1,204 views"],
    ),
    "seed_002_debris": (
        "The largest demonstrations in Iraq against Iran's malign influence",
        ["Iran, November 2, 2019—The Iraqi people's uprising against the corrupt government",
         "Ruhollah Bagheri, Khamenei's representative in the city of Pishva",
         "Iranian officials are worried that the continuation and expansion of protests"],
        ["728 x 90", "Massive rallies in cities checkered across central and southern Iraq", "We use cookies to ensure",
         "Lebanon Protests Enter Third Week", "Please enter your comment!", "Privacy Policy", "Iraq Protests 2019"],
    ),
}


def loose(text: str) -> str:
    """Curly quotes straight, whitespace collapsed, case folded: the pages mix both quote styles."""
    return " ".join(text.replace("’", "'").replace("“", '"').replace("”", '"').split()).casefold()


def load_page(name: str) -> Document:
    (document,) = load_paths([PAGES / f"{name}.html"])
    assert isinstance(document, Document), document
    return document


@pytest.mark.parametrize("name", sorted(CASES))
def test_saved_page_keeps_main_text_and_drops_chrome(name: str) -> None:
    headline, main, boilerplate = CASES[name]
    document = load_page(name)
    text = loose(document.text)
    assert loose(document.title) == loose(headline)
    assert [sentence for sentence in main if loose(sentence) not in text] == []
    assert [string for string in boilerplate if loose(string) in text] == []


def test_inline_code_stays_inside_its_sentence() -> None:
    # trafilatura writes inline <code> as <pre>; left as a block it split this sentence in three lines.
    lines = load_page("webstruct_tutorial").text.replace("’", "'").splitlines()
    assert "To compute feature dicts we'll use HtmlFeatureExtractor." in lines


def test_a_failing_extractor_falls_back_to_the_whole_page(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(html_loader.trafilatura, "extract", broken)
    document = load_page("seed_000_debris")
    # Today's tag-based reading: the article is there, and so is the chrome it cannot tell apart.
    assert "more than 12,000 people were arrested on Nov. 15" in document.text
    assert "Share on Facebook" in document.text


@pytest.mark.parametrize(
    ("title", "h1s", "expected"),
    [
        ("Storm Hits Coast | Daily News", ["Storm Hits Coast"], "Storm Hits Coast"),
        ("Daily News - Storm Hits the Whole Coast", [], "Storm Hits the Whole Coast"),
        ("Tutorial — webstruct 0.6 documentation", ["Tutorial¶"], "Tutorial"),
        (None, ["", "Only Heading"], "Only Heading"),
        (None, [], None),
    ],
)
def test_headline_rule(title: str | None, h1s: list[str], expected: str | None) -> None:
    assert html_loader.headline(title, h1s) == expected
