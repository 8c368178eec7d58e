"""Streaming indexing: `python -m qa index` committing every few chunks, stopped by SIGKILL or Ctrl-C (SIGINT) at named
points and at random times, keeps every committed batch, never holds half a document, and a re-run prepares only the
rest and ends with the index (and answers) of one uninterrupted run.

The corpus is the seeds cut into 13 small documents; QA_COMMIT_CHUNKS=3 makes a run of about 6 batches. The index
starts with one document whose file is gone: deletes wait for the end of a run, so it must survive every stopped run.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.config import Settings
from qa.engine import QA
from qa.indexing import UNFINISHED
from qa.store import committed_files

from .conftest import ROOT, seed_parts

GONE = "000-gone.txt"
QUESTIONS = ["How many people were arrested on Nov. 15?", "Who reported the killings?", "What did the report say about the police?"]
COMMIT_CHUNKS = "3"


def run_index(docs: Path, index_dir: Path, **env: str) -> subprocess.Popen:
    """The real CLI indexer on `docs`, committing every COMMIT_CHUNKS chunks, with extra QA_* variables."""
    variables = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "QA_COMMIT_CHUNKS": COMMIT_CHUNKS,
                 **{f"QA_{key.upper()}": value for key, value in env.items()}}
    # Ctrl-C as at a terminal: a test run started in the background (`.ci/run &`) ignores SIGINT, and a
    # child inherits that, so Python would never turn the signal into KeyboardInterrupt.
    return subprocess.Popen([sys.executable, "-m", "qa", "index", str(docs), "--index-dir", str(index_dir)],
                            cwd=ROOT, env=variables, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def open_qa(index_dir: Path, encoder) -> QA:
    return QA(Settings.from_env({}, index_dir=index_dir), encoder=encoder)


def documents(qa: QA) -> dict[str, tuple[str, int, int]]:
    """doc_id -> (content hash, chunks, sentences): a document is whole when all three match an uninterrupted run."""
    rows = qa.store.db.execute(
        "SELECT d.doc_id, d.content_hash, (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id), "
        "(SELECT count(*) FROM sentences s WHERE s.doc_id = d.doc_id) FROM documents d").fetchall()
    return {doc_id: (digest, chunks, sentences) for doc_id, digest, chunks, sentences in rows}


def chunk_ids(qa: QA) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for doc_id, chunk_id in qa.store.db.execute("SELECT doc_id, id FROM chunks ORDER BY id"):
        ids.setdefault(doc_id, []).append(chunk_id)
    return ids


def answers(qa: QA) -> list[tuple]:
    return [(a.answer, a.short_answer, [(c.doc_id, c.start, c.end, c.highlights) for c in a.citations])
            for a in map(qa.ask, QUESTIONS)]


@pytest.fixture(scope="module")
def states(encoder, tmp_path_factory) -> dict:
    """The starting index (only GONE, in the corpus folder) and the CLI's uninterrupted run from it (default batch size)."""
    base = tmp_path_factory.mktemp("resume")
    docs = base / "docs"
    docs.mkdir()
    (docs / GONE).write_text("Harbour Notice\n\nThe old harbour office closed in 1961 and never reopened.", encoding="utf-8")
    start = base / "start"
    qa = open_qa(start, encoder)
    qa.index([docs])
    qa.close()
    (docs / GONE).unlink()
    seed_parts(docs)

    whole = base / "whole"
    shutil.copytree(start, whole)
    began = time.monotonic()
    process = run_index(docs, whole, commit_chunks="100000")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    qa = open_qa(whole, encoder)
    reference = {"docs": docs, "start": start, "seconds": time.monotonic() - began, "documents": documents(qa),
                 "answers": answers(qa)}
    qa.close()
    assert sorted(reference["documents"]) == sorted(path.name for path in docs.iterdir())
    assert sum(chunks for _, chunks, _ in reference["documents"].values()) >= 12
    return reference


def stopped_then_resumed(index_dir: Path, states: dict, encoder) -> set[str]:
    """Check a stopped run's index and re-run it in this process; the documents the stopped run had committed."""
    qa = open_qa(index_dir, encoder)
    held = documents(qa)
    committed = set(held) - {GONE}
    for doc_id in committed:
        assert held[doc_id] == states["documents"][doc_id], f"{doc_id} is half in: {held[doc_id]}"
    finished = committed == set(states["documents"]) and GONE not in held
    if not finished:
        assert GONE in held, "a stopped run deleted before its plan was carried out"
    kept_ids = chunk_ids(qa)
    report = qa.index([states["docs"]])
    # Only what was not committed is prepared again; committed documents keep their very rows.
    assert sorted(report.added) == sorted(set(states["documents"]) - committed)
    assert sorted(report.unchanged) == sorted(committed) and not report.updated
    assert report.removed == ([] if finished else [GONE])
    now_ids = chunk_ids(qa)
    assert {doc_id: now_ids.get(doc_id) for doc_id in committed} == {doc_id: kept_ids.get(doc_id) for doc_id in committed}
    assert documents(qa) == states["documents"]
    assert answers(qa) == states["answers"]
    base, deltas = committed_files(qa.store._meta())
    assert sorted(p.name for p in index_dir.glob("vectors-*")) == sorted(f.name for f in [base, *deltas] if f is not None)
    qa.close()
    return committed


@pytest.mark.parametrize("point, how", [
    ("mid-prepare", "kill"),
    ("between-batches", "interrupt"),
    ("before-faiss-write", "kill"),  # inside the second commit: the first is kept, the second was never there
    ("after-faiss-rename", "interrupt"),  # Ctrl-C inside a commit lets it finish, then stops
])
def test_a_run_stopped_at_a_named_point_resumes(point, how, states, encoder, tmp_path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(states["start"], index_dir)
    process = run_index(states["docs"], index_dir, crash_at=point, crash_after="1", crash_signal=how)
    _, err = process.communicate(timeout=600)
    if how == "kill":
        assert process.returncode == -signal.SIGKILL, err
    else:
        assert process.returncode == 130, err
        total = len(states["documents"])
        kept = re.search(rf"interrupted: (\d+) of {total} documents \(\d+ chunks, \d+ batches\) are committed and kept", err)
        assert kept, err
    assert (index_dir / UNFINISHED).exists(), "a stopped run must leave its mark, so `qa serve` re-indexes"
    committed = stopped_then_resumed(index_dir, states, encoder)
    assert not (index_dir / UNFINISHED).exists()
    assert 0 < len(committed) < len(states["documents"]), f"stopped at {point} with {len(committed)} documents committed"
    if how == "interrupt":
        assert kept and int(kept.group(1)) == len(committed)


def test_a_run_stopped_at_random_times_resumes(states, encoder, tmp_path) -> None:
    rng = random.Random()
    for trial, how in enumerate((signal.SIGKILL, signal.SIGINT)):
        index_dir = tmp_path / f"random{trial}"
        shutil.copytree(states["start"], index_dir)
        # Start-up (the model load) is most of a run; the late part, where batches commit, is weighted in.
        delay = rng.uniform(0.5, 1.1) * states["seconds"]
        process = run_index(states["docs"], index_dir)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(how)
        _, err = process.communicate(timeout=600)
        assert process.returncode in (0, 130, -signal.SIGKILL, -signal.SIGINT), err
        print(f"{how.name} after {delay:.1f}s: {len(stopped_then_resumed(index_dir, states, encoder))} documents had been committed")
