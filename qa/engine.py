"""The public entry point: one object that indexes documents and answers questions about them."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .answering import Answerer, AnswerSettings
from .config import Settings
from .embedding import Embedder
from .indexing import ChunkingSettings, Indexer, IndexReport
from .models import Answer, Document
from .retrieval import FusionSettings, Retriever, content_terms
from .store import DB_NAME, MODEL_PROBE_TEXT, Store, check_integrity

# Words that make a short question lean on the previous turn ("How many did it say?").
_REFERRING = frozenset("it its they them their this that these those he she his her there such".split())


class QA:
    """Index, search and answer over one index folder; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings.from_env()
        integrity_checked = embedder is None
        if embedder is None:
            # The integrity checks read the whole database inside SQLite, which releases the GIL,
            # so on a large index they cost no start-up time when run beside the model load.
            with ThreadPoolExecutor(1) as pool:
                checked = pool.submit(check_integrity, Path(self.settings.index_dir))
                embedder = Embedder(self.settings.model, encoder=self.settings.encoder, cache_dir=self.settings.encoder_cache_dir)
                checked.result()
        self.embedder = embedder
        self.chunking = ChunkingSettings(self.settings.chunk_tokens, self.settings.chunk_overlap_sentences)
        signature = {"model": self.embedder.model_id, "chunking": self.chunking.signature}
        probe = self.embedder.encode([MODEL_PROBE_TEXT])[0]
        self.store = Store(self.settings.index_dir, self.embedder.dimension, signature, probe, self.settings.crash_at, integrity_checked)
        self.indexer = Indexer(self.store, self.embedder, self.chunking)
        self.retriever = Retriever(self.store, self.embedder, FusionSettings())
        self.answerer = Answerer(self.store, AnswerSettings(abstain_threshold=self.settings.abstain_threshold))

    @staticmethod
    def remove_index(index_dir: Path) -> None:
        """Delete the index files in `index_dir` (for --rebuild); other files there are left alone."""
        for path in [index_dir / DB_NAME, *index_dir.glob(DB_NAME + "-*"), *index_dir.glob("vectors-*.faiss*")]:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def index(self, paths: Iterable[str | Path], progress: bool = False) -> IndexReport:
        """Index files and folders incrementally."""
        return self.indexer.index_paths(paths, progress)

    def upsert(self, documents: list[Document]) -> IndexReport:
        """Add or replace documents."""
        return self.indexer.upsert(documents)

    def delete(self, doc_ids: list[str]) -> IndexReport:
        """Remove documents by id."""
        return self.indexer.delete(doc_ids)

    def ask(self, question: str, history: Sequence[Any] | None = None, top_k: int | None = None) -> Answer:
        """Answer `question` with cited sentences; `history` holds earlier turns for follow-ups."""
        timings: dict[str, float] = {}
        began = time.perf_counter()
        question = well_formed(question)
        query = well_formed(resolve_follow_up(question, history or []))
        query_vector = self.embedder.encode([query])[0]
        timings["embed"] = _ms(began)
        mark = time.perf_counter()
        passages = self.retriever.search(query, top_k or self.settings.top_k, query_vector)
        timings["retrieve"] = _ms(mark)
        mark = time.perf_counter()
        answer = self.answerer.answer(question, query, query_vector, passages)
        timings["answer"] = _ms(mark)
        timings["total"] = _ms(began)
        answer.timings_ms = timings
        return answer

    def stats(self) -> dict[str, Any]:
        """Document and chunk counts and index settings."""
        return self.store.stats()


def user_turns(history: Sequence[Any]) -> list[str]:
    """The user's earlier questions from a history of role/content dicts or (user, bot) pairs."""
    turns = []
    for item in history:
        if isinstance(item, dict):
            if item.get("role") == "user" and isinstance(item.get("content"), str):
                turns.append(item["content"])
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            turns.append(item[0])
    return turns


def resolve_follow_up(question: str, history: Sequence[Any]) -> str:
    """The text to retrieve with: the question, joined to the previous one when it leans on it."""
    previous = user_turns(history)
    if not previous:
        return question
    words = set(question.lower().replace("?", " ").split())
    if len(content_terms(question)) <= 1 or words & _REFERRING:
        return f"{previous[-1]} {question}"
    return question


def well_formed(text: str) -> str:
    """`text` with lone surrogates replaced by "?"."""
    # They arrive from JSON escapes ("\\ud800") and from command-line bytes that are not UTF-8,
    # and the tokenizer and any UTF-8 output refuse them.
    return text.encode("utf-8", "replace").decode("utf-8")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
