"""What a question asks for (a date, a number, a person, a place) and the patterns that find one in a sentence."""

from __future__ import annotations

import re

MONTH = (
    r"(?:Jan(?:uary|\.)?|Feb(?:ruary|\.)?|Mar(?:ch|\.)?|Apr(?:il|\.)?|May|June?|July?|Aug(?:ust|\.)?"
    r"|Sep(?:t(?:ember)?|\.)?\.?|Oct(?:ober|\.)?|Nov(?:ember|\.)?|Dec(?:ember|\.)?)"
)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
    r"|hundreds?|thousands?|millions?|billions?|dozens?)"
)
_QUANTIFIER = r"(?:(?:more|less|fewer) than|at least|at most|nearly|about|around|approximately|almost|over|under|up to|some)\s+"
_FRACTION = r"(?:(?:one|two|three|four|a)[\s-]+(?:half|halves|thirds?|quarters?|fourths?|fifths?|tenths?))"
_AMOUNT = rf"(?:[$€£]\s?)?\b(?:{_FRACTION}|\d[\d,]*(?:\.\d+)?|{_NUMBER_WORDS})"
PATTERNS = {
    "date": re.compile(
        rf"\b(?:{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{MONTH}(?:\s+\d{{4}})?|{MONTH}\s+\d{{4}}"
        rf"|(?:in\s+)?(?:1[0-9]|20)\d{{2}}s?)\b"
    ),
    # A whole amount: a fraction ("one third"), a range ("5 to 10", "between 5 and 10"), a scale word, a percent sign.
    "number": re.compile(
        rf"(?:{_QUANTIFIER}|between\s+)?{_AMOUNT}(?:\s*(?:-|–|to|and)\s*{_AMOUNT})?"
        r"(?:\s+(?:million|billion|thousand|hundred|percent|per cent))?%?",
        re.IGNORECASE,
    ),
    "name": re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:of|the|de|al|bin|van|von|and)?\s*[A-Z][\w’'.-]*)*"),
}

_QUESTION_TYPES = [
    ("date", re.compile(r"^\s*(when|what (year|date|day|month|time|decade|century)"
                        r"|which (year|date|day|month|decade|century)|in what year)\b", re.I)),
    ("number", re.compile(r"\b(how (many|much|long|old|far|large|big|tall|high)"
                          r"|what (number|percentage|amount|proportion)|how often)\b", re.I)),
    ("person", re.compile(r"^\s*(who|whom|whose)\b|\b(which|what) "
                          r"(person|man|woman|leader|president|king|queen|author|organi[sz]ation|group|company)\b", re.I)),
    ("place", re.compile(r"^\s*where\b|\b(which|what) (city|country|place|state|region|province|town|square|continent|river)\b", re.I)),
]


def question_type(question: str) -> str | None:
    """The kind of short answer the question wants: date, number, person, place, or None."""
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None
