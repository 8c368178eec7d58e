"""The lexical seam: tantivy and FTS5 rank alike, follow every write, and stay in step with SQLite through crashes."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tantivy

from qa.config import LexicalSettings
from qa.errors import CorruptIndexError
from qa.lexical import tantivy_index
from qa.models import Changes, Chunk, Document, PreparedDocument
from qa.store import DB_NAME, Store, full_check
from qa.text import content_terms

from .conftest import ROOT, SEEDS

DIMENSION = 8
ENGINES = ("tantivy", "fts5")
QUESTIONS = (
    "How many people were arrested on Nov. 15?",
    "Who reported the number of protesters killed?",
    "What did security forces do during the protests?",
    "Which organisation counted the deaths?",
    "What has Tahrir Square in Baghdad become?",
    "Who fired tear gas into crowds of demonstrators?",
    "Who is the Quds Force chief?",
    "What did Heshmat Alavi post?",
    "When was the Harrow Point lighthouse automated?",
    "What time does the winter ferry to Colm Island leave?",
)
EXTRA = {
    "lighthouse.txt": ("Harrow Point Lighthouse", "The Harrow Point lighthouse was automated in 1987, after 112 years of keepers."),
    "ferry.txt": ("Ferry Timetable", "The winter ferry to Colm Island leaves at 7:40 every weekday morning."),
    "cafe.txt": ("Café Müller", "The café on Rue Pâris serves crêpes to the island's ferry passengers."),
}


def documents() -> list[Document]:
    """Each paragraph of the seed articles as a document of one chunk, and a few more."""
    found = []
    for path in sorted(SEEDS.glob("*.txt")):
        paragraphs = [p.strip() for p in path.read_text().split("\n\n") if len(p.strip()) > 40]
        title = paragraphs[0].splitlines()[0][:80]
        found += [Document(f"{path.stem}-{n}", path.name, title, text, f"h{n}") for n, text in enumerate(paragraphs)]
    found += [Document(doc_id, doc_id, title, text, doc_id) for doc_id, (title, text) in EXTRA.items()]
    return found


def prepared(document: Document) -> PreparedDocument:
    """One chunk over the whole text; the vectors are random (this tests words, not vectors)."""
    vector = np.random.default_rng(len(document.text)).standard_normal((1, DIMENSION)).astype(np.float32)
    chunk = Chunk(document.doc_id, 0, 0, len(document.text), document.text, ())
    return PreparedDocument(document, [chunk], vector / np.linalg.norm(vector), [], np.zeros((0, DIMENSION), np.float32))


def open_store(folder: Path, engine: str = "tantivy", crash_at: str = "") -> Store:
    return Store(folder, DIMENSION, {"model": "test"}, lexical_settings=LexicalSettings(backend=engine), crash_at=crash_at)


def top(store: Store, question: str, k: int = 3) -> list[str]:
    """doc_ids of the k best chunks by BM25 alone."""
    hits = store.lexical.search(content_terms(question), k)
    rows = store.chunk_rows([chunk_id for chunk_id, _ in hits])
    assert set(rows) == {chunk_id for chunk_id, _ in hits}, "the word index names a chunk the database does not hold"
    return [rows[chunk_id].doc_id for chunk_id, _ in hits]


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Store]:
    """The same corpus in a store of each engine."""
    built = {}
    for engine in ENGINES:
        store = open_store(tmp_path_factory.mktemp(engine), engine)
        store.apply(Changes(upserts=[prepared(d) for d in documents()]))
        built[engine] = store
    return built


def test_both_engines_rank_the_same_top_chunks(stores) -> None:
    assert len(documents()) > 20
    for question in QUESTIONS:
        tantivy_top, fts5_top = top(stores["tantivy"], question), top(stores["fts5"], question)
        assert tantivy_top and tantivy_top[0] == fts5_top[0], question
        # Their BM25 differ in the IDF formula (tantivy's never goes below zero), so ranks 2-3 may swap in.
        assert len(set(tantivy_top) & set(fts5_top)) >= min(2, len(fts5_top)), question
    assert top(stores["tantivy"], QUESTIONS[-2])[0] == "lighthouse.txt"


def test_both_engines_count_the_same_document_frequencies(stores) -> None:
    words = ["people", "arrested", "protesters", "island", "ferry", "cafe", "café", "paris", "crepes", "unheardof"]
    tantivy_counts, total = stores["tantivy"].document_frequencies(words)
    fts5_counts = stores["fts5"].document_frequencies(words)[0]
    assert total == len(documents())
    # Diacritics fold as FTS5's remove_diacritics does for the text; FTS5's vocabulary table does
    # not fold the word looked up, so only tantivy knows "café" (answering asks for words as written).
    assert tantivy_counts["cafe"] == tantivy_counts["café"] == 1 and "café" not in fts5_counts
    assert {w: n for w, n in tantivy_counts.items() if w != "café"} == fts5_counts
    assert "unheardof" not in tantivy_counts
    assert tantivy_counts["island"] == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_upsert_and_delete_reach_the_words(engine, tmp_path) -> None:
    store = open_store(tmp_path, engine)
    store.apply(Changes(upserts=[prepared(d) for d in documents()]))
    changed = Document("ferry.txt", "ferry.txt", "Ferry Timetable", "The summer hydrofoil to Colm Island leaves at 9:15.", "v2")
    store.apply(Changes(upserts=[prepared(changed)], deletes=["lighthouse.txt"]))
    assert top(store, "hydrofoil Colm", 5) == ["ferry.txt"]
    assert top(store, "winter weekday", 5) == []
    assert top(store, "Harrow lighthouse automated", 5) == []
    counts, total = store.document_frequencies(["winter", "hydrofoil", "harrow", "colm"])
    assert counts == {"hydrofoil": 1, "colm": 1} and total == len(documents()) - 1
    store.close()
    # Reopened (a new process would do the same), the words are those of the last generation.
    reopened = open_store(tmp_path, engine)
    assert top(reopened, "hydrofoil Colm", 5) == ["ferry.txt"] and top(reopened, "Harrow lighthouse", 5) == []
    reopened.close()


def test_a_change_of_engine_rebuilds_the_words_from_the_database(tmp_path, capfd) -> None:
    store = open_store(tmp_path, "fts5")
    store.apply(Changes(upserts=[prepared(d) for d in documents()]))
    expected = top(store, QUESTIONS[0])
    store.close()
    # Opened by this version's default engine: an index from before tantivy (FTS5 only) keeps working.
    store = open_store(tmp_path, "tantivy")
    assert "Building the word index (tantivy)" in capfd.readouterr().err
    assert top(store, QUESTIONS[0]) == expected
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchone() is None
    db.close()
    store.close()
    store = open_store(tmp_path, "fts5")
    assert top(store, QUESTIONS[0]) == expected
    assert not (tmp_path / tantivy_index.FOLDER_NAME).exists()
    store.close()


def test_damaged_words_are_refused_with_the_way_out(tmp_path) -> None:
    store = open_store(tmp_path)
    store.apply(Changes(upserts=[prepared(d) for d in documents()]))
    store.close()
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path, damaged, ignore=shutil.ignore_patterns("damaged"))
    biggest = max((damaged / tantivy_index.FOLDER_NAME).glob("*.*"), key=lambda path: path.stat().st_size)
    os.truncate(biggest, biggest.stat().st_size // 2)
    with pytest.raises(CorruptIndexError, match="rebuild") as refused:
        open_store(damaged)
    assert str(damaged / tantivy_index.FOLDER_NAME) in str(refused.value)
    # A chunk written behind SQLite's back (as a foreign tool or a restored backup would): the counts disagree.
    words = tantivy.Index.open(str(tmp_path / tantivy_index.FOLDER_NAME))
    words.register_tokenizer("qa_words", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    writer = words.writer(15_000_000, 1)
    stray = tantivy.Document()
    stray.add_unsigned("chunk_id", 999)
    writer.add_document(stray)
    opstamp = writer.commit()
    writer.wait_merging_threads()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (str(opstamp), tantivy_index.OPSTAMP_KEY))
    db.close()
    chunks = len(documents())
    with pytest.raises(CorruptIndexError, match=f"holds {chunks + 1} chunks, the database {chunks}"):
        full_check(tmp_path)  # `qa index --check`
    # The way out the message names: without the folder, the words are rebuilt from the database.
    shutil.rmtree(tmp_path / tantivy_index.FOLDER_NAME)
    assert top(open_store(tmp_path), "winter ferry Colm", 5) == ["ferry.txt", "cafe.txt"]


WRITE = """
import sys
from pathlib import Path
from tests.test_lexical import open_store, prepared, Changes, Document
store = open_store(Path(sys.argv[1]), crash_at=sys.argv[2])
changed = Document("ferry.txt", "ferry.txt", "Ferry Timetable", "The summer hydrofoil to Colm Island leaves at 9:15.", "v2")
store.apply(Changes(upserts=[prepared(changed)], deletes=["lighthouse.txt"]))
"""


def state(store: Store) -> str:
    """'before' or 'after' the write in WRITE, judged by the words alone; anything else fails."""
    words = (top(store, "winter weekday", 5), top(store, "hydrofoil", 5), top(store, "Harrow lighthouse", 5))
    counts = store.document_frequencies(["winter", "hydrofoil", "harrow"])[0]
    if words == (["ferry.txt"], [], ["lighthouse.txt"]) and counts == {"winter": 1, "harrow": 1}:
        return "before"
    assert words == ([], ["ferry.txt"], []) and counts == {"hydrofoil": 1}, f"half a write: {words} {counts}"
    return "after"


@pytest.fixture(scope="module")
def before(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("before")
    store = open_store(folder)
    store.apply(Changes(upserts=[prepared(d) for d in documents()]))
    store.close()
    return folder


@pytest.mark.parametrize("point, expected", [
    ("before-faiss-write", "before"), ("before-lexical-commit", "before"), ("after-lexical-commit", "before"),
    ("after-commit", "after"),
])
def test_a_kill_at_each_point_leaves_the_words_of_one_generation(point, expected, before, tmp_path) -> None:
    folder = tmp_path / "index"
    shutil.copytree(before, folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", WRITE, str(folder), point], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    store = open_store(folder)
    assert state(store) == expected
    assert not (folder / tantivy_index.JOURNAL_NAME).exists()
    # The next write lands on top of the recovered generation.
    store.apply(Changes(deletes=["cafe.txt"]))
    assert top(store, "crepes", 5) == [] and top(store, "winter weekday hydrofoil", 5) == ["ferry.txt"]
    store.close()


def test_a_failed_write_after_the_tantivy_commit_is_undone_in_process(before, tmp_path) -> None:
    folder = tmp_path / "index"
    shutil.copytree(before, folder)
    store = open_store(folder)

    def fail(point: str) -> None:
        if point == "after-lexical-commit":
            raise OSError("disk full")

    store.lexical._crash_point = fail  # type: ignore[attr-defined]
    changed = Document("ferry.txt", "ferry.txt", "Ferry Timetable", "The summer hydrofoil to Colm Island leaves at 9:15.", "v2")
    with pytest.raises(OSError, match="disk full"):
        store.apply(Changes(upserts=[prepared(changed)], deletes=["lighthouse.txt"]))
    assert state(store) == "before"
    store.close()
    assert state(open_store(folder)) == "before"
