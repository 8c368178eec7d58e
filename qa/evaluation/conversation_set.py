"""A conversational test set built deterministically from a BEIR data set's own questions (no data is shipped).

    python -m qa.evaluation.conversation_set DATA_FOLDER OUT.jsonl

Shapes, each a JSON line `{"id", "shape", "history": [user turns], "question", "answers", "gold": [passage ids], ...}`:

- `pair`: a follow-up that refers to the previous question's subject by pronoun. Walking the
  questions in file order, q2 follows q1 when both are about the same gold passage and name the
  same capitalised entity E (the longest shared span, question words stripped). E in q2 (with a
  leading "the", and a possessive "'s") becomes he/his/him or she/her when such pronouns follow E
  in its gold passage (at least twice, and twice as often as "it"), they/their/them when E answers
  a who-question of the same document or looks plural, else it/its; subject, object or possessive
  by position. Skipped when E is only part of a longer name ("Fort Oswego", "DATANET 1"), is used
  as a modifier ("the Norse leader") or as a word ("the word Norman"). History: [q1].
- `gap`: the same, with one question between q1 and q2 that does not name E (history [q1, q_mid]):
  the subject is two turns back.
- `switch`: every fourth `pair` conversation, then the original (subject-naming) question of the
  `pair` conversation half the set further on (the next one on another document): the conversation
  clearly moves on.
- `sequence`: every eighth question, as written, after the previous question about the same
  document (a different one): an unrelated earlier turn must not pull the answer away.

The follow-up keeps the gold answers and gold passages of the question it was made from.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import load_eval_set

_ENTITY = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|von|van|and)?\s*[A-Z][\w'’.-]*)*")
_QUESTION_WORDS = frozenset(
    "What Who Whom Whose When Where Why How Which In On At From To For By During After Before The A An Did Does Do Is "
    "Was Were Are Can Could Along Since Under With About Besides Other".split()
)
_AUX = frozenset("did does do was were is are has have had can could will would should may might must".split())
_PREPOSITIONS = frozenset(
    "in on at of to from by with for during after before into against about between under over through than as toward "
    "towards without".split()
)
_PRONOUNS = {"he": ("he", "his", "him"), "she": ("she", "her", "her"), "they": ("they", "their", "them"), "it": ("it", "its", "it")}
_WH = frozenset("who what when where why how which".split())
SWITCH_EVERY = 4
SEQUENCE_EVERY = 8


def entities(text: str) -> list[str]:
    """Capitalised spans of `text`, without a leading question word and without a possessive ending."""
    found = []
    for match in _ENTITY.finditer(text):
        words = match.group(0).split()
        while words and words[0] in _QUESTION_WORDS:
            words = words[1:]
        span = re.sub(r"['’]s?$", "", " ".join(words))
        if (len(span) >= 3 and not span.isupper()) or (len(span) >= 2 and span.isupper()):
            found.append(span)
    return found


def pronoun_kind(entity: str, passage: str, person: bool, the: bool) -> str:
    """he, she, they or it for `entity`, read from the pronouns that follow it in its gold passage."""
    counts = {"he": 0, "she": 0, "it": 0, "they": 0}
    for match in re.finditer(re.escape(entity), passage):
        for word in re.findall(r"[a-z]+", passage[match.end() : match.end() + 120].lower()):
            for kind, forms in _PRONOUNS.items():
                if word in forms:
                    counts[kind] += 1
                    break
    gendered = max(counts["he"], counts["she"])
    if gendered >= 2 and gendered >= 2 * counts["it"] and not the:
        return "he" if counts["he"] >= counts["she"] else "she"
    plural = entity.endswith("s") and not entity.endswith(("ss", "us", "is"))
    return "they" if person or plural else "it"


def substitute(text: str, entity: str, kind: str) -> str | None:
    """`text` with `entity` replaced by a pronoun, or None when the result would not read as a follow-up."""
    subject, possessive, obj = _PRONOUNS[kind]
    matches = list(re.finditer(rf"(\b[Tt]he\s+)?\b{re.escape(entity)}(['’]s?)?(?![\w])", text))
    if len(matches) != 1:
        return None
    m = matches[0]
    before = re.findall(r"[A-Za-z]+", text[: m.start()])
    after = re.findall(r"[A-Za-z']+", text[m.end() :])
    previous = before[-1].lower() if before else ""
    following = after[0] if after else ""
    if before and before[-1][0].isupper() and m.start() > 0 and not m.group(1):
        return None  # only part of a longer name ("Fort Oswego")
    if previous == "of" and len(before) > 1 and before[-2][0].isupper():
        return None  # "War of Austrian Succession"
    if (following and (following[0].isupper() or following[0].isdigit())) or re.match(r"\s*\d", text[m.end() :]):
        return None  # "DATANET 1", "NP Complete"
    if previous in ("a", "an", "word"):
        return None  # "the word Norman": the name, not the thing
    verbish = following.lower() in _AUX or following.endswith(("ed", "ing", "s")) or following.lower() in _PREPOSITIONS
    if not m.group(2) and following and following[0].islower() and not verbish and (previous not in _AUX or m.group(1)):
        return None  # a modifier ("the Norse leader", "European Union law")
    if m.group(2):
        pronoun = possessive
    elif m.start() == 0 or previous in _AUX or previous in _WH:
        pronoun = subject
    else:
        pronoun = obj
    out = text[: m.start()] + (pronoun.capitalize() if m.start() == 0 else pronoun) + text[m.end() :]
    out = re.sub(r"\s+", " ", out).strip()
    return out if len(re.findall(r"\w+", out)) >= 3 else None


def build(folder: Path) -> list[dict[str, Any]]:
    """Every conversation of the four shapes, in a fixed order (see the module's description)."""
    eval_set = load_eval_set(folder)
    texts = _passage_texts(eval_set.corpus)
    queries = list(eval_set.queries)
    persons: dict[str | None, set[str]] = {}
    for q in queries:
        if re.match(r"\s*(who|whom|whose)\b", q.text, re.I):
            persons.setdefault(q.document, set()).update(q.answers)
    follow_ups = []
    for i in range(1, len(queries)):
        q2 = queries[i]
        for shape, back in (("pair", 1), ("gap", 2)):
            if i - back < 0:
                continue
            q1, middle = queries[i - back], queries[i - 1] if back == 2 else None
            if q1.gold != q2.gold or (middle is not None and middle.gold != q2.gold):
                continue
            shared = [e for e in entities(q2.text) if e in q1.text and not (middle and e in middle.text)]
            if not shared:
                continue
            entity = max(shared, key=len)
            passage = " ".join(texts.get(g, "") for g in sorted(q2.gold))
            the = bool(re.search(rf"\b[Tt]he\s+{re.escape(entity)}", q2.text))
            follow = substitute(q2.text, entity, pronoun_kind(entity, passage, entity in persons.get(q2.document, ()), the))
            if follow:
                history = [q1.text] + ([middle.text] if middle else [])
                follow_ups.append(_record(f"{shape}-{q2.query_id}", shape, history, follow, q2, entity=entity, original=q2.text))
    pairs = [c for c in follow_ups if c["shape"] == "pair"]
    switches = []
    for i, conversation in enumerate(pairs[::SWITCH_EVERY]):
        # Half the set away (cyclic), so the targets spread over the documents.
        start = (pairs.index(conversation) + len(pairs) // 2) % len(pairs)
        target = next((c for c in pairs[start:] + pairs[:start] if c["document"] != conversation["document"]), None)
        if target is not None:
            q = next(q for q in queries if q.query_id == target["query_id"])
            switches.append(_record(f"switch-{i}-{q.query_id}", "switch", [*conversation["history"], conversation["question"]],
                                    q.text, q))
    sequences = []
    for i in range(1, len(queries)):
        q, previous = queries[i], queries[i - 1]
        if i % SEQUENCE_EVERY == 0 and q.document == previous.document and q.gold != previous.gold:
            sequences.append(_record(f"sequence-{q.query_id}", "sequence", [previous.text], q.text, q))
    return follow_ups + switches + sequences


def _record(conversation_id: str, shape: str, history: Sequence[str], question: str, source: Any, **extra: str) -> dict[str, Any]:
    return {"id": conversation_id, "shape": shape, "history": list(history), "question": question,
            "answers": list(source.answers), "gold": sorted(source.gold), "document": source.document,
            "query_id": source.query_id, **extra}


def _passage_texts(corpus: Path) -> dict[str, str]:
    with open(corpus, encoding="utf-8") as handle:
        return {str(r["_id"]): str(r["text"]) for r in map(json.loads, filter(str.strip, handle))}


def main(argv: Sequence[str] | None = None) -> int:
    """Write the conversations of a BEIR folder as JSON lines and print how many of each shape."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m qa.evaluation.conversation_set DATA_FOLDER OUT.jsonl", file=sys.stderr)
        return 2
    conversations = build(Path(args[0]))
    Path(args[1]).write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations), encoding="utf-8")
    shapes = {s: sum(c["shape"] == s for c in conversations) for s in ("pair", "gap", "switch", "sequence")}
    print(f"{args[1]}: {len(conversations)} conversations {shapes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
