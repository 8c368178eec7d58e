"""Incremental indexing, persistence and atomic saves on the real model, FAISS and SQLite."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from qa.config import Settings
from qa.engine import QA
from qa.errors import ModelMismatchError
from qa.store import DB_NAME, Store

SEED_000 = "000_5b672d860f205277.txt"
SEED_002 = "002_a4b40d0ff9340f7b.txt"


class EncodeCounter:
    """Counts texts sent to the real encoder, to prove unchanged documents cost nothing."""

    def __init__(self, encoder) -> None:
        self.texts = 0
        self._encode = encoder.encode

    def __call__(self, texts, *args, **kwargs):
        self.texts += len(texts)
        return self._encode(texts, *args, **kwargs)


def chunk_ids(qa: QA, doc_id: str) -> list[int]:
    return [row[0] for row in qa.store.db.execute("SELECT id FROM chunks WHERE doc_id = ? ORDER BY id", (doc_id,))]


def test_first_index_adds_every_document(make_qa, seeds_copy) -> None:
    qa = make_qa()
    report = qa.index([seeds_copy])
    assert sorted(report.added) == [SEED_000, SEED_002]
    assert report.chunks > 0 and not report.skipped
    stats = qa.stats()
    assert stats["documents"] == 2 and stats["chunks"] == report.chunks
    assert len(qa.store.vectors) == report.chunks


def test_unchanged_documents_are_not_embedded_again(make_qa, seeds_copy, monkeypatch) -> None:
    qa = make_qa()
    qa.index([seeds_copy])
    generation = qa.stats()["generation"]
    counter = EncodeCounter(qa.encoder)
    monkeypatch.setattr(qa.encoder, "encode", counter)
    report = qa.index([seeds_copy])
    assert sorted(report.unchanged) == [SEED_000, SEED_002]
    assert counter.texts == 0
    assert qa.stats()["generation"] == generation


def test_a_changed_document_alone_is_re_embedded(make_qa, seeds_copy, monkeypatch) -> None:
    qa = make_qa()
    qa.index([seeds_copy])
    kept_ids = chunk_ids(qa, SEED_002)
    path = seeds_copy / SEED_000
    path.write_text(path.read_text(encoding="utf-8") + "\n\nThe zebra parade drew 77 llamas to Basra.\n", encoding="utf-8")
    counter = EncodeCounter(qa.encoder)
    monkeypatch.setattr(qa.encoder, "encode", counter)
    report = qa.index([seeds_copy])
    assert report.updated == [SEED_000] and report.unchanged == [SEED_002]
    assert 0 < counter.texts < 100
    assert chunk_ids(qa, SEED_002) == kept_ids, "ids of untouched chunks survive the update"
    answer = qa.ask("How many llamas did the zebra parade draw?")
    assert "77 llamas" in answer.answer and answer.citations[0].doc_id == SEED_000


def test_a_deleted_file_is_removed_from_the_index(make_qa, seeds_copy) -> None:
    qa = make_qa()
    qa.index([seeds_copy])
    (seeds_copy / SEED_000).unlink()
    report = qa.index([seeds_copy])
    assert report.removed == [SEED_000]
    assert qa.document(SEED_000) is None
    assert len(qa.store.vectors) == qa.stats()["chunks"]
    answer = qa.ask("How many people were arrested on Nov. 15?")
    assert all(c.doc_id != SEED_000 for c in answer.citations)


def test_indexing_one_file_leaves_its_folder_siblings_alone(make_qa, seeds_copy) -> None:
    qa = make_qa()
    qa.index([seeds_copy])
    report = qa.index([seeds_copy / SEED_000])
    assert report.unchanged == [SEED_000] and report.removed == []
    assert qa.stats()["documents"] == 2


def test_the_index_persists_and_reopens(make_qa, seeds_copy, encoder, tmp_path) -> None:
    folder = tmp_path / "persist"
    make_qa(index_dir=folder).index([seeds_copy])
    reopened = QA(Settings.from_env({}, index_dir=folder), encoder=encoder)
    assert reopened.stats()["documents"] == 2
    assert "12,000" in reopened.ask("How many people were arrested on Nov. 15?").answer


def test_a_failed_save_leaves_the_previous_index_whole(make_qa, seeds_copy, monkeypatch, tmp_path) -> None:
    folder = tmp_path / "atomic"
    qa = make_qa(index_dir=folder)
    qa.index([seeds_copy / SEED_002])
    before = qa.stats()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    # The crash comes after rows were written in the open transaction and before the commit.
    monkeypatch.setattr(Store, "_write_meta", crash)
    with pytest.raises(OSError):
        qa.index([seeds_copy])
    monkeypatch.undo()

    reopened = make_qa(index_dir=folder)
    assert reopened.stats()["documents"] == before["documents"] == 1
    assert reopened.stats()["chunks"] == before["chunks"]
    # Only the committed generation's file (a delta of the first batch) is left.
    assert sorted(p.name for p in folder.glob("vectors-*")) == [f"vectors-{before['generation']}.delta"]
    assert not reopened.ask("What did Amnesty International condemn?").abstained
    assert reopened.index([seeds_copy]).added == [SEED_000]


def test_opening_with_another_model_is_refused(make_qa, tmp_path) -> None:
    folder = tmp_path / "mismatch"
    make_qa(index_dir=folder)
    with sqlite3.connect(folder / DB_NAME) as db:
        db.execute("UPDATE meta SET value = 'other-model:768:512' WHERE key = 'model'")
    with pytest.raises(ModelMismatchError, match="other-model"):
        make_qa(index_dir=folder)


def test_an_index_with_float16_sentence_vectors_opens_and_answers_the_same(make_qa, seeds_copy, tmp_path) -> None:
    folder = tmp_path / "float16"
    qa = make_qa(index_dir=folder)
    qa.index([seeds_copy / SEED_000])
    question = "How many people were arrested on Nov. 15?"
    before = qa.ask(question)
    # Rewrite the rows as versions before int8 and 4-bit codes stored them.
    rows = qa.store.db.execute("SELECT id, start, end, doc_id FROM sentences").fetchall()
    stored = {sid: qa.store.sentences_in(doc_id, start, end)[0].vector for sid, start, end, doc_id in rows}
    with sqlite3.connect(folder / DB_NAME) as db:
        db.executemany("UPDATE sentences SET vector = ? WHERE id = ?", [(v.astype(np.float16).tobytes(), sid) for sid, v in stored.items()])
    reopened = make_qa(index_dir=folder)
    assert {len(blob) for (blob,) in reopened.store.db.execute("SELECT vector FROM sentences")} == {768}
    after = reopened.ask(question)
    assert after.answer == before.answer and after.citations[0].highlights == before.citations[0].highlights
    reopened.index([seeds_copy])  # new rows are 4-bit codes beside the old float16 ones
    assert {len(blob) for (blob,) in reopened.store.db.execute("SELECT vector FROM sentences")} == {768, 196}
    assert not reopened.ask("What did Amnesty International condemn?").abstained
