"""BEIR corpus files (`corpus.jsonl`): one document per line with `_id`, `text` and an optional `title`."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .registry import Extracted, RecordProblem, Unusable
from .text import decode, normalise


def load_jsonl(data: bytes, max_bytes: int) -> Iterator[Extracted | RecordProblem]:
    """Every line as a document under its own `_id`; a bad line is skipped with its line number."""
    results: list[Extracted | RecordProblem] = []
    seen: set[str] = set()
    # split("\n"), not splitlines(): JSON strings may hold raw U+2028 and friends.
    for number, line in enumerate(normalise(decode(data)).split("\n"), start=1):
        if line.strip():
            results.append(_record(line, number, seen))
    if not any(isinstance(result, Extracted) for result in results):
        raise Unusable("not a BEIR corpus: no line has '_id' and 'text'")
    yield from results


def _record(line: str, number: int, seen: set[str]) -> Extracted | RecordProblem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return RecordProblem(f"line {number}: invalid JSON ({exc.msg})")
    if not (isinstance(record, dict) and isinstance(record.get("_id"), (str, int)) and isinstance(record.get("text"), str)):
        return RecordProblem(f"line {number}: needs an '_id' and a string 'text'")
    doc_id = str(record["_id"])
    text = normalise(record["text"])
    if doc_id in seen:
        return RecordProblem(f"line {number}: duplicate _id '{doc_id}'")
    if not text.strip():
        return RecordProblem(f"line {number}: empty text", doc_id)
    title = record.get("title")
    title = title.strip() if isinstance(title, str) else ""
    try:
        (doc_id + title + text).encode("utf-8")
    except UnicodeEncodeError:
        return RecordProblem(f"line {number}: text holds invalid Unicode (lone surrogate)")
    seen.add(doc_id)
    return Extracted(text, title or None, record_id=doc_id)
