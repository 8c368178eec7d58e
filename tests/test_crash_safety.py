"""Crash safety: `python -m qa index` killed with SIGKILL mid-update leaves the index exactly as before or as after."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.config import CRASH_POINTS, Settings
from qa.engine import QA
from qa.lexical import tantivy_index
from qa.store import DB_NAME, committed_files

from .conftest import ROOT, SEEDS

SEED_QUESTION = "How many people were arrested on Nov. 15?"
NEW_DOC = "zz_lighthouse.txt"
NEW_QUESTION = "When was the Harrow Point lighthouse automated?"
NEW_TEXT = (
    "Harrow Point Lighthouse\n\n"
    "The Harrow Point lighthouse was automated in 1987, after 112 years of resident keepers. "
    "Its last keeper, Agnes Morrow, now runs a small museum in the old oil store."
)
OLD_DOC = "yy_ferry.txt"
OLD_TEXT = "Ferry Timetable\n\nThe winter ferry to Colm Island leaves at 7:40 every weekday morning."


def run_index(docs: Path, index_dir: Path, crash_at: str = "", merge: bool = False) -> subprocess.Popen:
    """Start the real CLI indexer on `docs` in its own process (`merge`: its commit merges the vector deltas into a new base)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_CRASH_AT": crash_at, "PYTHONPATH": str(ROOT)}
    if merge:
        env["QA_VECTOR_DELTA_MIN"] = "0"
    return subprocess.Popen(
        [sys.executable, "-m", "qa", "index", str(docs), "--index-dir", str(index_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def snapshot(qa: QA) -> dict:
    """Everything that must be all-before or all-after: documents with hashes and roots, and row counts."""
    stats = qa.stats()
    return {
        "documents": qa.store.content_hashes(),
        "counts": (stats["documents"], stats["chunks"], stats["sentences"]),
    }


@pytest.fixture(scope="module")
def states(encoder, tmp_path_factory) -> dict:
    """An index of the 'before' folder, the folder changed in place, and the reference 'after' snapshot."""
    base = tmp_path_factory.mktemp("crash")
    docs = base / "docs"
    shutil.copytree(SEEDS, docs)
    (docs / OLD_DOC).write_text(OLD_TEXT)
    before_dir = base / "before"
    before_qa = QA(Settings.from_env({}, index_dir=before_dir), encoder=encoder)
    before_qa.index([docs])
    before = snapshot(before_qa)
    before_qa.store.close()

    # One update that adds, changes and removes a document, so a mix of old and new is visible.
    (docs / OLD_DOC).unlink()
    (docs / NEW_DOC).write_text(NEW_TEXT)
    changed = docs / "002_a4b40d0ff9340f7b.txt"
    changed.write_text(changed.read_text() + "\n\nThe report was updated after publication.\n")

    after_dir = base / "after"
    shutil.copytree(before_dir, after_dir)
    after_qa = QA(Settings.from_env({}, index_dir=after_dir), encoder=encoder)
    report = after_qa.index([docs])
    assert report.added == [NEW_DOC] and report.removed == [OLD_DOC] and len(report.updated) == 1
    after = snapshot(after_qa)
    after_qa.store.close()
    assert before != after
    return {"docs": docs, "before_dir": before_dir, "before": before, "after": after}


def check_whole(index_dir: Path, states: dict, encoder, expected: set[str]) -> str:
    """Open the crashed index, assert it is exactly one of `expected` states and answers accordingly."""
    qa = QA(Settings.from_env({}, index_dir=index_dir), encoder=encoder)
    state = snapshot(qa)
    found = [name for name in ("before", "after") if state == states[name]]
    assert found and found[0] in expected, f"index is a mix of before and after: {state}"
    assert "12,000" in qa.ask(SEED_QUESTION).answer
    # The word index is in step too: it names only stored chunks, and the words of exactly one side.
    hits = [chunk_id for word in ("harrow", "lighthouse", "ferry", "colm") for chunk_id, _ in qa.store.lexical.search([word], 20)]
    rows = qa.store.chunk_rows(hits)
    assert set(rows) == set(hits)
    expected_docs = {NEW_DOC} if found[0] == "after" else {OLD_DOC}
    assert {row.doc_id for row in rows.values()} == expected_docs
    known = qa.store.document_frequencies(["harrow", "colm"])[0]
    assert set(known) == ({"harrow"} if found[0] == "after" else {"colm"})
    new_answer = qa.ask(NEW_QUESTION)
    cited = {citation.doc_id for citation in new_answer.citations}
    if found[0] == "after":
        assert "1987" in new_answer.answer and NEW_DOC in cited
    else:
        assert NEW_DOC not in cited and "1987" not in new_answer.answer
    # The next run completes the update and clears what the crash left behind.
    qa.index([states["docs"]])
    assert snapshot(qa) == states["after"]
    base, deltas = committed_files(qa.store._meta())
    assert sorted(p.name for p in index_dir.glob("vectors-*")) == sorted(f.name for f in [base, *deltas] if f is not None)
    qa.store.close()
    return found[0]


@pytest.mark.parametrize(
    "point, expected, merge",
    [("before-faiss-write", "before", False), ("after-faiss-rename", "before", False), ("before-lexical-commit", "before", False),
     ("after-lexical-commit", "before", False), ("after-commit", "after", False),
     ("after-faiss-rename", "before", True), ("after-commit", "after", True)],
)
def test_kill_at_a_named_point_leaves_before_or_after(point, expected, merge, states, encoder, tmp_path) -> None:
    assert point in CRASH_POINTS
    index_dir = tmp_path / "index"
    shutil.copytree(states["before_dir"], index_dir)
    files_before = len(list(index_dir.glob("vectors-*")))
    process = run_index(states["docs"], index_dir, crash_at=point, merge=merge)
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err
    if point == "after-faiss-rename":
        # The uncommitted generation's file (a delta, or a merged base) is really there, yet must be ignored.
        assert len(list(index_dir.glob("vectors-*"))) == files_before + 1
        assert len(list(index_dir.glob("vectors-*.faiss"))) == int(merge)
    if point in ("before-lexical-commit", "after-lexical-commit"):
        assert (index_dir / tantivy_index.JOURNAL_NAME).exists()
    if point == "after-lexical-commit":
        # tantivy really committed the new generation's words, yet SQLite did not: they must be undone.
        committed = json.loads((index_dir / tantivy_index.FOLDER_NAME / "meta.json").read_text())["opstamp"]
        with sqlite3.connect(index_dir / DB_NAME) as db:
            recorded = db.execute("SELECT value FROM meta WHERE key = ?", (tantivy_index.OPSTAMP_KEY,)).fetchone()[0]
        db.close()
        assert committed > int(recorded)
    assert check_whole(index_dir, states, encoder, {expected}) == expected


def test_kill_at_random_times_leaves_before_or_after(states, encoder, tmp_path) -> None:
    # A clean run first: it must reach 'after', and its length bounds the random kill times.
    clean = tmp_path / "clean"
    shutil.copytree(states["before_dir"], clean)
    began = time.monotonic()
    process = run_index(states["docs"], clean)
    out, err = process.communicate(timeout=300)
    duration = time.monotonic() - began
    assert process.returncode == 0, err
    assert "1 added, 1 updated, 1 removed" in out
    assert check_whole(clean, states, encoder, {"after"}) == "after"

    rng = random.Random()
    for trial in range(2):
        index_dir = tmp_path / f"random{trial}"
        shutil.copytree(states["before_dir"], index_dir)
        # Most of a run is start-up; the late part, where the write happens, is weighted in.
        delay = rng.uniform(0.5, 1.05) * duration
        process = run_index(states["docs"], index_dir)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        check_whole(index_dir, states, encoder, {"before", "after"})
