"""Evaluation data: BEIR folders, their documents (for single-document mode) and conversation files."""

from __future__ import annotations

import collections
import hashlib
import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EvalDataError


@dataclass(frozen=True)
class Query:
    """One evaluation question; `answers` is empty for unanswerable ones; `document` names its document;
    `wrong`: passages judged not to answer it (qrels score 0)."""

    query_id: str
    text: str
    answers: tuple[str, ...] = ()
    gold: frozenset[str] = frozenset()
    document: str | None = None
    wrong: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Paragraph:
    """A corpus passage located by character offsets inside a document file."""

    passage_id: str
    start: int
    end: int


@dataclass(frozen=True)
class EvalSet:
    """A BEIR folder: the corpus to index, the answerable questions with their gold passages, and
    the document each passage belongs to (`metadata.document`, else its title).

    `disputed` are questions whose qrels mark passages wrong (score 0) and none right, as
    `qa feedback export` writes for a disliked answer."""

    corpus: Path
    queries: tuple[Query, ...]
    document_of: dict[str, str] = field(default_factory=dict)
    # Passages with `metadata.offset`: where each lies in its document's own file, by document.
    paragraphs: dict[str, tuple[Paragraph, ...]] = field(default_factory=dict)
    disputed: tuple[Query, ...] = ()


@dataclass(frozen=True)
class DocumentSet:
    """One document of single-document mode: what to index alone and the questions asked of it."""

    name: str
    path: Path
    queries: tuple[Query, ...]
    unanswerable: tuple[Query, ...] = ()
    # Set when `path` is the document's own file: passages are found in it by offset.
    paragraphs: tuple[Paragraph, ...] | None = None


@dataclass(frozen=True)
class Conversation:
    """Earlier user turns, then a question with its gold answers and gold passages."""

    conversation_id: str
    shape: str
    history: tuple[str, ...]
    query: Query


def default_eval_index(data: Path) -> Path:
    """A per-data-set index folder under the system temp dir, reused by later runs."""
    folder = Path(data).resolve()
    digest = hashlib.sha1(str(folder).encode("utf-8")).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / "qa-eval" / f"{folder.name}-{digest}"


def load_eval_set(folder: Path) -> EvalSet:
    """Read `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv` of a BEIR folder."""
    folder = Path(folder)
    corpus, queries_file, qrels_file = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "test.tsv"
    for path in (corpus, queries_file, qrels_file):
        if not path.is_file():
            raise EvalDataError(f"{path} is missing: --data must be a BEIR folder with corpus.jsonl, queries.jsonl and qrels/test.tsv")
    judged = read_judgements(qrels_file)
    document_of, paragraphs = _corpus_documents(corpus)
    everything = [_with_gold(q, judged[q.query_id], document_of) for q in read_queries(queries_file) if q.query_id in judged]
    queries = tuple(q for q in everything if q.gold)
    disputed = tuple(q for q in everything if q.wrong and not q.gold)
    if not queries and not disputed:
        raise EvalDataError(f"no query in {queries_file} has a gold passage in {qrels_file}")
    return EvalSet(corpus, queries, document_of, paragraphs, disputed)


def _with_gold(query: Query, scores: dict[str, float], document_of: dict[str, str]) -> Query:
    gold = frozenset(p for p, score in scores.items() if score > 0)
    documents = sorted({document_of[g] for g in gold if g in document_of})
    return Query(query.query_id, query.text, query.answers, gold, documents[0] if documents else None,
                 frozenset(p for p, score in scores.items() if score == 0))


def _corpus_documents(corpus: Path) -> tuple[dict[str, str], dict[str, tuple[Paragraph, ...]]]:
    """passage id -> document name, and the passages that carry an offset into their document's file."""
    document_of: dict[str, str] = {}
    located: dict[str, list[Paragraph]] = collections.defaultdict(list)
    for number, record in enumerate(_jsonl(corpus), 1):
        try:
            metadata = record.get("metadata") or {}
            passage_id = str(record["_id"])
            document = metadata.get("document") or record.get("title") or passage_id
            document_of[passage_id] = str(document)
            if isinstance(metadata.get("offset"), int):
                start = metadata["offset"]
                located[str(document)].append(Paragraph(passage_id, start, start + len(record["text"])))
        except (KeyError, TypeError, AttributeError) as error:
            raise EvalDataError(f"{corpus} line {number}: not a passage with '_id' and 'text' ({error})") from error
    return document_of, {name: tuple(sorted(spans, key=lambda p: p.start)) for name, spans in located.items()}


def read_queries(path: Path, document_of: dict[str, str] | None = None) -> list[Query]:
    """Queries of a BEIR `queries.jsonl`; gold answers come from `metadata.answers` when present.

    With `document_of` (passage id -> document), a query's document is `metadata.document`, or the
    document of `metadata.gold_paragraph` (the passage an unanswerable SQuAD question was written against)."""
    queries = []
    for number, record in enumerate(_jsonl(path), 1):
        try:
            metadata = record.get("metadata") or {}
            answers = tuple(metadata.get("answers") or ())
            document = None
            if document_of is not None:
                document = metadata.get("document") or document_of.get(str(metadata.get("gold_paragraph")))
            queries.append(Query(str(record["_id"]), str(record["text"]), answers, document=document))
        except (KeyError, TypeError, AttributeError) as error:
            raise EvalDataError(f"{path} line {number}: not a query with '_id' and 'text' ({error})") from error
    return queries


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise EvalDataError(f"{path} line {number}: invalid JSON ({error.msg})") from error
                if not isinstance(record, dict):
                    raise EvalDataError(f"{path} line {number}: expected a JSON object")
                yield record


def read_qrels(path: Path) -> dict[str, set[str]]:
    """query id -> relevant passage ids from a BEIR qrels TSV (header line first)."""
    return {query: {p for p, score in passages.items() if score > 0} for query, passages in read_judgements(path).items()
            if any(score > 0 for score in passages.values())}


def read_judgements(path: Path) -> dict[str, dict[str, float]]:
    """query id -> {passage id: score} from a BEIR qrels TSV; a line without a score counts as relevant (1)."""
    judged: dict[str, dict[str, float]] = collections.defaultdict(dict)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and parts[0] == "query-id":
                continue
            if len(parts) < 2:
                if line.strip():
                    raise EvalDataError(f"{path} line {number}: expected query-id<TAB>corpus-id<TAB>score")
                continue
            try:
                judged[parts[0]][parts[1]] = float(parts[2] or 0) if len(parts) >= 3 else 1.0
            except ValueError:
                raise EvalDataError(f"{path} line {number}: the score {parts[2]!r} is not a number") from None
    return judged


def document_sets(eval_set: EvalSet, unanswerable: Sequence[Query], files: Path | None, workdir: Path) -> list[DocumentSet]:
    """Each document of the data set with its own questions, sorted by name.

    With `files`, a document is its own file there (`<name>.<ext>`, as a user would upload it);
    otherwise its corpus passages are written to `workdir/<name>.jsonl` and indexed together."""
    by_document: dict[str, list[Query]] = collections.defaultdict(list)
    for query in eval_set.queries:
        if query.document is not None:
            by_document[query.document].append(query)
    others: dict[str, list[Query]] = collections.defaultdict(list)
    for query in unanswerable:
        if query.document in by_document:
            others[query.document].append(query)
    if files is None:
        paths = _write_document_corpora(eval_set, set(by_document), workdir)
    else:
        paths = {name: _document_file(files, name) for name in by_document}
    return [
        DocumentSet(name, paths[name], tuple(by_document[name]), tuple(others[name]),
                    None if files is None else eval_set.paragraphs.get(name, ()))
        for name in sorted(by_document)
    ]


def _document_file(folder: Path, name: str) -> Path:
    found = sorted(p for p in Path(folder).glob(f"{glob_escape(name)}.*") if p.is_file())
    if not found:
        raise EvalDataError(f"no file for document {name!r} in {folder} (expected {name}.<ext>)")
    return found[0]


def glob_escape(name: str) -> str:
    """`name` with glob wildcards made literal."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _write_document_corpora(eval_set: EvalSet, names: set[str], workdir: Path) -> dict[str, Path]:
    """One BEIR jsonl per document, rewritten only when its content changed (so indexes are reused)."""
    lines: dict[str, list[str]] = collections.defaultdict(list)
    with open(eval_set.corpus, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                passage_id = str(json.loads(line)["_id"])
                if eval_set.document_of.get(passage_id) in names:
                    lines[eval_set.document_of[passage_id]].append(line if line.endswith("\n") else line + "\n")
    workdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        path = workdir / f"{safe_name(name)}.jsonl"
        text = "".join(lines[name])
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def safe_name(name: str) -> str:
    """A file and folder name for a document name (readable, and distinct for distinct names)."""
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("._")[:60] or "document"
    return f"{readable}-{hashlib.sha1(name.encode('utf-8')).hexdigest()[:6]}"


def read_conversations(path: Path, eval_set: EvalSet) -> list[Conversation]:
    """Conversations of a JSON-lines file: `{"id", "shape", "history": [...], "question", "answers", "gold": [...]}`."""
    conversations = []
    for number, record in enumerate(_jsonl(path), 1):
        try:
            gold = {str(g): 1.0 for g in record["gold"]}
            history = tuple(str(turn) for turn in record["history"])
            query = _with_gold(Query(str(record["id"]), str(record["question"]), tuple(record["answers"])), gold, eval_set.document_of)
            conversations.append(Conversation(query.query_id, str(record.get("shape", "")), history, query))
        except (KeyError, TypeError) as error:
            raise EvalDataError(f"{path} line {number}: not a conversation with id, history, question, answers, gold ({error})") from error
    if not conversations:
        raise EvalDataError(f"{path} holds no conversation")
    return conversations
