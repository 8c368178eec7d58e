"""The public entry point: one object that indexes documents and answers questions about them.

`QA` is the only door the CLI, the REST API, the chat and the evaluation use.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from . import feedback
from .answering import Answerer, Draft
from .config import Settings
from .conversation import resolve_follow_up
from .encoders import Encoder, create_encoder
from .encoders.batching import MicroBatcher
from .errors import REBUILD_HINT, CorruptIndexError
from .faults import Crash
from .indexing import UNFINISHED, CommitPolicy, Indexer
from .indexing.executors import create_executor
from .models import Answer, Document, DocumentSummary, IndexReport, Passage, StoredDocument
from .questions import validate_question, well_formed
from .retrieval import Retriever
from .shards import ShardedStore, index_folders, open_index, remove_index
from .store import MODEL_PROBE_TEXT, check_integrity
from .text import ENGLISH, content_terms, term_weights


class QA:
    """Index, search and answer over one index folder; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None, store: ShardedStore | None = None) -> None:
        """`store`: shards opened elsewhere (on a Ray cluster) instead of the index in `settings.index_dir`."""
        self.settings = settings or Settings.from_env()
        integrity_checked = encoder is None
        # Off the first question's path: the English word table loads while the model does.
        threading.Thread(target=ENGLISH.load, name="english-words", daemon=True).start()
        if encoder is None:
            # The start-up checks hash the vector files (hashlib releases the GIL),
            # so on a large index they cost no start-up time when run beside the model load.
            with ThreadPoolExecutor(1) as pool:
                folders = [] if store else index_folders(Path(self.settings.index_dir), self.settings.cluster.shards)
                checked = pool.submit(_check_all, folders, self.settings)
                encoder = create_encoder(self.settings.embedding)
                checked.result()
        self.encoder = encoder
        signature = {"model": encoder.model_id, "chunking": self.settings.chunking.signature}
        probe = encoder.encode([MODEL_PROBE_TEXT])[0]
        self.store = store or open_index(self.settings, encoder.dimension, signature, probe, integrity_checked)
        self.executor = create_executor(self.settings, encoder)
        indexing = self.settings.indexing
        crash = Crash(self.settings.crash_at, self.settings.crash_after, self.settings.crash_signal)
        self.indexer = Indexer(self.store, self.executor, CommitPolicy(indexing.commit_chunks, indexing.commit_seconds), crash)
        self.retriever = Retriever(self.store, self.settings)
        self.answerer = Answerer(self.settings.answer)
        self._question_batcher: MicroBatcher | None = None

    remove_index = staticmethod(remove_index)

    def batch_questions(self, max_batch: int, max_wait_ms: float = 0.0) -> None:
        """Encode questions that threads ask at the same time in one forward pass (the server's answering threads)."""
        if self._question_batcher is None and max_batch > 1:
            encoder = self.encoder
            self._question_batcher = MicroBatcher(lambda texts: encoder.encode(texts, batch_size=max_batch), max_batch, max_wait_ms)

    def _encode_question(self, text: str) -> np.ndarray:
        batcher = self._question_batcher
        return batcher(text) if batcher is not None else self.encoder.encode([text])[0]

    def index(self, paths: Iterable[str | Path], progress: bool = False) -> IndexReport:
        """Index files and folders incrementally, committing in batches; `progress` shows bars on a terminal, else lines."""
        marker = Path(self.settings.index_dir) / UNFINISHED
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        report = self.indexer.index_paths(paths, progress)
        marker.unlink(missing_ok=True)
        return report

    def upsert(self, documents: list[Document]) -> IndexReport:
        """Add or replace documents."""
        return self.indexer.upsert(documents)

    def delete(self, doc_ids: list[str]) -> IndexReport:
        """Remove documents by id."""
        return self.indexer.delete(doc_ids)

    def validate_question(self, question: Any) -> str:
        """`question` if it can be asked; else a QuestionError saying why."""
        return validate_question(question, self.settings.max_question_chars)

    def ask(self, question: str, history: Sequence[Any] | None = None, top_k: int | None = None) -> Answer:
        """Answer `question` with cited sentences; `history` holds earlier turns for follow-ups."""
        return self.ask_with_draft(question, history, top_k)[0]

    def ask_with_draft(self, question: str, history: Sequence[Any] | None = None, top_k: int | None = None) -> tuple[Answer, Draft]:
        """`ask`, with the draft the answer was decided from (evaluation scores drafts, declined ones too)."""
        try:
            return self._ask(question, history, top_k)
        except sqlite3.DatabaseError as error:
            # Start-up checks are O(1); damage deeper in the database shows when SQLite reads it.
            raise CorruptIndexError(f"The index in {self.settings.index_dir} is damaged ({error}). {REBUILD_HINT}") from error

    def _ask(self, question: str, history: Sequence[Any] | None, top_k: int | None) -> tuple[Answer, Draft]:
        timings: dict[str, float] = {}
        began = time.perf_counter()
        question = well_formed(question)
        follow_up = resolve_follow_up(question, history or [])
        query = well_formed(follow_up.query)
        query_vector = self._encode_question(query)
        timings["embed"] = _ms(began)
        mark = time.perf_counter()
        # Word overlap follows the question's own words when it has some; each text is weighed once.
        words_from = question if content_terms(question) else query
        query_weights = term_weights(self.store, query, self.settings.words)
        answer_weights = query_weights if words_from == query else term_weights(self.store, words_from, self.settings.words)
        focus = self.retriever.documents_quoting([well_formed(q) for q in follow_up.quoted]) if follow_up.leans else frozenset()
        passages = self.retriever.search(query, top_k or self.settings.top_k, query_vector, query_weights, focus)
        timings["retrieve"] = _ms(mark)
        mark = time.perf_counter()
        draft = self.answerer.draft(query_vector, passages, words_from, answer_weights)
        answer = self.answerer.decide(question, query, passages, draft)
        timings["answer"] = _ms(mark)
        timings["total"] = _ms(began)
        answer.timings_ms = timings
        return answer, draft

    def search(self, query: str, top_k: int) -> list[Passage]:
        """The top_k passages for `query`, as `ask` retrieves them (without answering)."""
        return self.retriever.search(query, top_k, self._encode_question(well_formed(query)))

    def documents(self, limit: int | None = None) -> list[DocumentSummary]:
        """The indexed documents by id (the first `limit` of them): id, title, source, chunk count and index time."""
        return self.store.documents(limit)

    def generation(self) -> int:
        """A number that changes with every commit to the index."""
        return self.store.generation()

    def document(self, doc_id: str) -> StoredDocument | None:
        """One document's text and metadata, or None."""
        return self.store.document(doc_id)

    def record_feedback(self, answer: dict[str, Any], liked: bool, comment: str = "", user: str | None = None) -> int:
        """Keep a thumbs up or down (and a comment) on an answer (`Answer.to_dict()`); returns its id."""
        return feedback.record(feedback.database(self.settings.index_dir), answer, liked, comment, user)

    def revise_feedback(self, feedback_id: int, liked: bool | None = None, comment: str | None = None) -> None:
        """Turn a thumb over or add a comment to feedback already kept."""
        feedback.revise(feedback.database(self.settings.index_dir), feedback_id, liked, comment)

    def feedback_records(self) -> list[feedback.Feedback]:
        """Every feedback record, oldest first."""
        return feedback.read_all(feedback.database(self.settings.index_dir))

    def stats(self) -> dict[str, Any]:
        """Document and chunk counts and index settings."""
        return self.store.stats()

    def close(self) -> None:
        """Stop the question encoder and indexing workers, and close this thread's database connection."""
        if self._question_batcher is not None:
            self._question_batcher.close()
        self.store.close()
        self.executor.close()


def _check_all(folders: list[Path], settings: Settings) -> None:
    for folder in folders:
        check_integrity(folder, settings.lexical)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
