"""What people said about answers: thumbs up or down and a comment, kept in the index's SQLite, exported as an eval set.

Each record holds the question and the whole answer object (its citations included), so it still
says what was shown after the documents changed. `export_eval_set` writes a BEIR folder that
`qa eval --data` reads: every passage an answer cited is a corpus record; the cited passages of a
liked answer are marked right (qrels score 1), those of a disliked answer wrong (score 0).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .shards import index_folders
from .store import DB_NAME

MAX_COMMENT_CHARS = 2000
QUERY_PREFIX = "feedback-"


@dataclass(frozen=True)
class Feedback:
    """One judgement of one answer."""

    id: int
    created_at: float
    question: str
    answer: dict[str, Any]
    liked: bool
    comment: str
    user: str | None


SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    liked INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    user TEXT
)
"""


def database(index_dir: Path) -> Path:
    """The SQLite file that keeps the feedback: the index's own (the first shard's, for a sharded index)."""
    folders = index_folders(Path(index_dir))
    return (folders[0] if folders else Path(index_dir)) / DB_NAME


@contextmanager
def _connected(path: Path) -> Iterator[sqlite3.Connection]:
    # A short connection of its own per judgement: clicks are rare, and it keeps feedback out of the
    # index's write transactions (and works whatever thread or shard layout serves the chat).
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute(SCHEMA)
        yield db
    finally:
        db.close()


def record(path: Path, answer: dict[str, Any], liked: bool, comment: str = "", user: str | None = None) -> int:
    """Store a judgement of `answer` (an `Answer.to_dict()`) in the SQLite file `path`; returns its id."""
    with _connected(path) as db:
        cursor = db.execute(
            "INSERT INTO feedback(created_at, question, answer, liked, comment, user) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), str(answer.get("question", "")), json.dumps(answer, ensure_ascii=False), int(liked),
             comment[:MAX_COMMENT_CHARS], user),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def revise(path: Path, feedback_id: int, liked: bool | None = None, comment: str | None = None) -> None:
    """Change a judgement: the thumb turned over, or a comment added."""
    with _connected(path) as db:
        if liked is not None:
            db.execute("UPDATE feedback SET liked = ? WHERE id = ?", (int(liked), feedback_id))
        if comment is not None:
            db.execute("UPDATE feedback SET comment = ? WHERE id = ?", (comment[:MAX_COMMENT_CHARS], feedback_id))


def records(db: sqlite3.Connection) -> list[Feedback]:
    """Every judgement, oldest first."""
    rows = db.execute("SELECT id, created_at, question, answer, liked, comment, user FROM feedback ORDER BY id").fetchall()
    return [Feedback(row[0], row[1], row[2], json.loads(row[3]), bool(row[4]), row[5], row[6]) for row in rows]


def read_all(path: Path) -> list[Feedback]:
    """Every judgement kept in the SQLite file `path`, oldest first."""
    with _connected(path) as db:
        return records(db)


def passage_id(citation: dict[str, Any]) -> str:
    """A cited passage's id in the exported corpus: document id and character span."""
    return f"{citation['doc_id']}@{citation['start']}-{citation['end']}"


@dataclass(frozen=True)
class ExportSummary:
    """What `export_eval_set` wrote."""

    folder: Path
    questions: int
    liked: int
    disliked: int
    passages: int

    def summary(self) -> str:
        """One line for the CLI."""
        return (f"{self.questions} questions ({self.liked} liked, {self.disliked} disliked) and {self.passages} passages "
                f"written to {self.folder}: python -m qa eval --data {self.folder}")


def export_from_index(index_dir: Path, folder: Path) -> ExportSummary:
    """`export_eval_set` from an index's database opened read-only (no model needed)."""
    db_path = database(index_dir)
    if not db_path.exists():
        raise UsageError(f"no index at {db_path}: the feedback lives in the index the chat serves (--index-dir)")
    db = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        # The table appears with the first judgement.
        kept = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback'").fetchone()
        judgements = records(db) if kept else []
    except sqlite3.DatabaseError as error:
        raise UsageError(f"{db_path} cannot be read ({error})") from error
    finally:
        db.close()
    return export_eval_set(judgements, folder)


def export_eval_set(judgements: list[Feedback], folder: Path) -> ExportSummary:
    """Write judgements as a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) for `qa eval`."""
    judged = [f for f in judgements if any(c.get("highlights") for c in f.answer.get("citations", []))]
    if not judged:
        raise UsageError("no feedback on a cited answer yet: there is nothing to export")
    corpus: dict[str, dict[str, Any]] = {}
    queries, qrels = [], []
    for item in judged:
        cited = [c for c in item.answer["citations"] if c.get("highlights")]
        for citation in item.answer["citations"]:
            # Every passage the answer listed, cited or not, so the retriever has the same pool to rank.
            corpus.setdefault(passage_id(citation), {"_id": passage_id(citation), "title": citation["title"],
                                                     "text": citation["passage"], "metadata": {"source": citation["source"]}})
        quoted = [citation["passage"][s - citation["start"] : e - citation["start"]] for citation in cited
                  for s, e in citation["highlights"]]
        short = item.answer.get("short_answer")
        queries.append({
            "_id": f"{QUERY_PREFIX}{item.id}",
            "text": item.question,
            # For a liked answer its short answer and sentences are the gold answers; a disliked one has none.
            "metadata": {"answers": ([short] if short else []) + quoted if item.liked else [], "liked": item.liked,
                         "comment": item.comment, "answer": item.answer.get("answer", ""), "user": item.user,
                         "created_at": item.created_at},
        })
        qrels += [(f"{QUERY_PREFIX}{item.id}", passage_id(c), 1 if item.liked else 0) for c in cited]
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus.values()), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{p}\t{s}\n" for q, p, s in qrels), encoding="utf-8"
    )
    liked = sum(f.liked for f in judged)
    return ExportSummary(folder, len(judged), liked, len(judged) - liked, len(corpus))
