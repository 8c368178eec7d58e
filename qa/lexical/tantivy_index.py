"""BM25 with tantivy (a Rust search engine) in a folder beside the database, tied to the SQLite generations.

Measured at 1M chunks (docs/performance.md, "Lexical engine"): search p50 6.4 ms against FTS5's
567 ms, a document-frequency lookup 0.37 ms against 115 ms, 235 MB on disk against 1.64 GB.

Tantivy commits on its own, so a write is tied to the SQLite generation in three steps: a journal
of the write's chunk ids (added, removed) and the opstamp it starts from is written and synced;
tantivy commits; the SQLite transaction records the new opstamp (`meta.tantivy_opstamp`) and
commits. At open, tantivy's committed opstamp is compared with the recorded one: equal means in
step; ahead with a journal from the recorded opstamp means the writer died between the two commits,
and the journal's chunks are put back as SQLite (the truth) has them; anything else (a missing or
foreign folder, an index built by an older version) rebuilds the words from the database's rows.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import tantivy

from ..config import LexicalSettings
from ..errors import REBUILD_HINT, CorruptIndexError
from . import LexicalEntry, Rows

FOLDER_NAME = "lexical-tantivy"
JOURNAL_NAME = "lexical-tantivy.journal"
OPSTAMP_KEY = "tantivy_opstamp"
_TOKENIZER = "qa_words"
# One indexing thread: the other core is encoding. 128 MB before tantivy flushes a segment.
_WRITER_HEAP = 128_000_000
_BATCH = 10_000
_PROGRESS_SECONDS = 10.0


def _analyzer() -> tantivy.TextAnalyzer:
    """Runs of letters and digits (as `text.terms` and FTS5's unicode61), lower-cased, diacritics folded."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"[^\W_]+"))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("chunk_id", stored=False, indexed=True, fast=True)
    builder.add_text_field("title", tokenizer_name=_TOKENIZER, index_option="freq")
    builder.add_text_field("body", tokenizer_name=_TOKENIZER, index_option="freq")
    # Title and body words together, postings only: the per-chunk document frequencies answering
    # needs (as FTS5's fts5vocab 'row'), which the two scored fields cannot give when unioned.
    builder.add_text_field("any", tokenizer_name=_TOKENIZER, index_option="basic")
    return builder.build()


class TantivyIndex:
    """Chunks in a tantivy index in `index_dir/lexical-tantivy`, one tantivy commit per SQLite generation."""

    def __init__(self, settings: LexicalSettings, index_dir: Path, connect: Callable[[], sqlite3.Connection],
                 crash_point: Callable[[str], None]) -> None:
        self.settings = settings
        self.path = Path(index_dir) / FOLDER_NAME
        self.journal = Path(index_dir) / JOURNAL_NAME
        # The store's connection of the calling thread, so the opstamp joins its open transaction.
        self._db = connect
        self._crash_point = crash_point
        self._analyzer = _analyzer()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._added: list[int] = []
        self._removed: list[int] = []
        self._tantivy_committed = False
        self._has_deletes = False

    # -- opening -----------------------------------------------------------------------------------

    def create(self) -> None:
        """Open the tantivy folder, or make an empty one (`recover` fills it from the database)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if (self.path / "meta.json").exists():
            try:
                self._index = self._open(self.path)
                self._index.searcher()  # opens every segment: a missing or cut file shows here, not mid-query
            except (ValueError, OSError, RuntimeError) as error:
                raise self._damaged(str(error)) from error
        else:
            self._index = tantivy.Index(_schema(), str(self.path), reuse=False)
            self._index.register_tokenizer(_TOKENIZER, self._analyzer)
        self._index.config_reader("Manual", 0)

    def _open(self, path: Path) -> tantivy.Index:
        index = tantivy.Index.open(str(path))
        index.register_tokenizer(_TOKENIZER, self._analyzer)
        return index

    @property
    def index(self) -> tantivy.Index:
        assert self._index is not None, "create() opens the index"
        return self._index

    def recover(self, rows: Rows, total: Callable[[], int], rebuild: bool) -> None:
        """Bring tantivy to the committed SQLite generation (at open, under the store's write lock)."""
        recorded = self._recorded_opstamp()
        committed = self._committed_opstamp()
        journal = self._read_journal()
        if not rebuild and recorded is not None and recorded == committed:
            self.journal.unlink(missing_ok=True)  # a writer died after both commits, before removing it
        elif not rebuild and recorded is not None and journal is not None and journal["from"] == recorded:
            # Died between the tantivy and the SQLite commit: the journal's chunks go back to what SQLite holds.
            writer = self._new_writer()
            self._delete(writer, [*journal["added"], *journal["removed"]])
            for entry in rows(journal["removed"]):
                writer.add_document(self._document(entry))
            self._record(self._commit(writer))
        else:
            self._rebuild(rows, total)
        self.journal.unlink(missing_ok=True)
        self.refresh()

    def _rebuild(self, rows: Rows, count: Callable[[], int]) -> None:
        began = last = time.monotonic()
        total = count()
        if total:
            print(f"Building the word index (tantivy) from the {total:,} chunks in {self.path.parent} ...", file=sys.stderr, flush=True)
        writer = self._new_writer()
        writer.delete_all_documents()
        done = 0
        for done, entry in enumerate(rows(None), 1):
            writer.add_document(self._document(entry))
            if time.monotonic() - last > _PROGRESS_SECONDS:
                last = time.monotonic()
                print(f"  word index: {done:,}/{total:,} chunks ({done / total:.0%}, {last - began:.0f} s)", file=sys.stderr, flush=True)
        self._record(self._commit(writer))
        if total:
            print(f"  word index: {done:,} chunks in {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)

    # -- writing (inside the store's open write) ---------------------------------------------------

    def add(self, entries: Sequence[LexicalEntry]) -> None:
        """Index these chunks (seen once `commit` and the SQLite commit have both run)."""
        writer = self._writer_of_this_write()
        for entry in entries:
            writer.add_document(self._document(entry))
        self._added.extend(e.chunk_id for e in entries)

    def remove(self, chunk_ids: Sequence[int]) -> None:
        """Forget these chunks."""
        self._delete(self._writer_of_this_write(), chunk_ids)
        self._removed.extend(chunk_ids)

    def commit(self) -> None:
        """Journal this write, commit it to tantivy and record the opstamp in the open SQLite transaction."""
        if self._writer is None:
            return
        self._write_journal({"from": self._recorded_opstamp(), "added": self._added, "removed": self._removed})
        self._crash_point("before-lexical-commit")
        opstamp = self._commit(self._writer)
        self._writer, self._tantivy_committed = None, True
        self._crash_point("after-lexical-commit")
        self._record(opstamp)

    def committed(self) -> None:
        """The SQLite transaction committed: drop the journal and search the new generation."""
        self._forget_write()
        self.journal.unlink(missing_ok=True)
        self.refresh()

    def abort(self, rows: Rows, total: Callable[[], int]) -> None:
        """The SQLite transaction rolled back: drop this write, undoing its tantivy commit if it made one."""
        if self._writer is not None:
            self._writer.rollback()
        tantivy_committed = self._tantivy_committed
        self._forget_write()
        if tantivy_committed:
            self.recover(rows, total, rebuild=False)

    def _forget_write(self) -> None:
        self._writer, self._added, self._removed, self._tantivy_committed = None, [], [], False

    def _writer_of_this_write(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._new_writer()
        return self._writer

    def _new_writer(self) -> tantivy.IndexWriter:
        # One writer per write, dropped after it: another process (a server beside `qa index`) takes
        # its turn under SQLite's write lock and must find tantivy's writer lock free.
        return self.index.writer(_WRITER_HEAP, 1)

    def _commit(self, writer: tantivy.IndexWriter) -> int:
        opstamp = int(writer.commit())
        # Finish merges now, so the writer lock is free when SQLite's write lock is released.
        writer.wait_merging_threads()
        return opstamp

    def _record(self, opstamp: int) -> None:
        self._db().execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (OPSTAMP_KEY, str(opstamp)))

    def _delete(self, writer: tantivy.IndexWriter, chunk_ids: Iterable[int]) -> None:
        ids = list(chunk_ids)
        for at in range(0, len(ids), _BATCH):
            writer.delete_documents_by_query(tantivy.Query.term_set_query(self.index.schema, "chunk_id", ids[at : at + _BATCH]))

    def _document(self, entry: LexicalEntry) -> tantivy.Document:
        document = tantivy.Document()
        document.add_unsigned("chunk_id", entry.chunk_id)
        document.add_text("title", entry.title)
        document.add_text("body", entry.text)
        document.add_text("any", f"{entry.title}\n{entry.text}")
        return document

    def _write_journal(self, journal: dict) -> None:
        tmp = self.journal.with_name(self.journal.name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(journal, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.journal)
        fd = os.open(self.journal.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read_journal(self) -> dict | None:
        try:
            journal = json.loads(self.journal.read_text())
        except (OSError, ValueError):
            return None  # none, or torn before its rename: tantivy had not committed yet
        return journal if isinstance(journal, dict) and {"from", "added", "removed"} <= journal.keys() else None

    def _recorded_opstamp(self) -> int | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (OPSTAMP_KEY,)).fetchone()
        return int(row[0]) if row else None

    def _committed_opstamp(self) -> int | None:
        try:
            return int(json.loads((self.path / "meta.json").read_text())["opstamp"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # -- reading -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Search tantivy's latest commit (called when the store moves to a new generation)."""
        self.index.reload()
        try:
            segments = json.loads((self.path / "meta.json").read_text())["segments"]
        except (OSError, ValueError, KeyError):
            segments = [{"deletes": True}]
        self._has_deletes = any(segment.get("deletes") for segment in segments)

    def _tokens(self, words: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(token for word in words for token in self._analyzer.analyze(word)))

    def search(self, words: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the k best chunks holding any of `words`."""
        tokens = self._tokens(words)
        if not tokens:
            return []
        searcher = self.index.searcher()
        if len(tokens) > 1:
            # As with FTS5 (config.py): words in over `common_term_share` of chunks barely move a
            # ranking led by rarer ones; kept the same here so both engines rank alike.
            limit = self.settings.common_term_share * searcher.num_docs
            tokens = [t for t in tokens if searcher.doc_freq("any", t) <= limit] or tokens
        schema = self.index.schema
        clauses = []
        for token in tokens:
            for field, weight in (("body", self.settings.body_weight), ("title", self.settings.title_weight)):
                if weight > 0:
                    term = tantivy.Query.term_query(schema, field, token, index_option="freq")
                    clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(term, weight)))
        if not clauses:
            return []
        hits = searcher.search(tantivy.Query.boolean_query(clauses), k, count=False).hits
        if not hits:
            return []
        ids = searcher.fast_field_values("chunk_id", [address for _, address in hits])
        return [(int(chunk_id), float(score)) for (score, _), chunk_id in zip(hits, ids, strict=True) if chunk_id is not None]

    def document_frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each word."""
        searcher = self.index.searcher()
        frequencies = {}
        for word in words:
            count = min((self._frequency(searcher, t) for t in self._analyzer.analyze(word)), default=0)
            if count:
                frequencies[word] = count
        return frequencies

    def _frequency(self, searcher: tantivy.Searcher, token: str) -> int:
        count = int(searcher.doc_freq("any", token))
        if count and self._has_deletes:
            # tantivy's statistics count removed chunks until a merge drops them; answering's
            # "does the corpus know this word" must not, so the live postings are counted instead.
            query = tantivy.Query.term_query(self.index.schema, "any", token, index_option="basic")
            found = searcher.search(query, 1, count=True)
            count = int(found.count or 0)  # type: ignore[attr-defined]  # tantivy 0.27's stubs lack it
        return count

    def check(self) -> None:
        """Refuse a tantivy folder that does not open, or holds another number of chunks than its generation."""
        if not (self.path / "meta.json").exists():
            return  # none yet (a new index or one from an older version): `recover` builds it
        try:
            index = self._open(self.path)
            held = index.searcher().num_docs
        except (ValueError, OSError, RuntimeError) as error:
            raise self._damaged(str(error)) from error
        recorded = self._recorded_opstamp()
        if recorded is not None and recorded == self._committed_opstamp():
            chunks = self._db().execute("SELECT count(*) FROM chunks").fetchone()[0]
            if held != chunks:
                raise self._damaged(f"it holds {held} chunks, the database {chunks}")

    def _damaged(self, reason: str) -> CorruptIndexError:
        return CorruptIndexError(
            f"The word index {self.path} is damaged ({reason}). Delete that folder to have it rebuilt from the "
            f"database at the next start, or {REBUILD_HINT[0].lower()}{REBUILD_HINT[1:]}"
        )


def drop(index_dir: Path, db: sqlite3.Connection) -> None:
    """Remove a tantivy word index that another engine now replaces."""
    if not (Path(index_dir) / FOLDER_NAME).exists():
        return
    shutil.rmtree(Path(index_dir) / FOLDER_NAME, ignore_errors=True)
    (Path(index_dir) / JOURNAL_NAME).unlink(missing_ok=True)
    db.execute("DELETE FROM meta WHERE key = ?", (OPSTAMP_KEY,))
