"""`qa index --ray local --workers 2` on a real local Ray cluster: the plain path's index and answers, a killed worker retried.

One CLI run serves every test here (Ray start-up and two model loads are most of its cost): it is
killed a worker mid-run and must still build exactly what the one-process path builds.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from qa.vectors.codes import sentence_vector

from .conftest import ROOT, seed_parts

QUESTIONS = ["How many people were arrested on Nov. 15?", "Who reported the killings?"]
# Every test that starts Ray has a deadline: a deadlock in a cluster never raises.
RUN_SECONDS = 600


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The seeds cut into runs of paragraphs, a document each: enough batches to kill a worker between, no near-copies."""
    return seed_parts(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def ray_run(corpus, tmp_path_factory) -> dict:
    """The CLI on a local cluster, one Ray batch per document, a commit every few chunks; one of its two workers is
    killed after the first batch."""
    index_dir = tmp_path_factory.mktemp("ray-index")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_RAY_BATCH_DOCUMENTS": "1", "QA_COMMIT_CHUNKS": "4"}
    command = [sys.executable, "-m", "qa", "index", str(corpus), "--ray", "local", "--workers", "2", "--index-dir", str(index_dir)]
    began = time.monotonic()
    # Its own session, so the deadline can stop the driver and the local cluster it started at once.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = threading.Timer(RUN_SECONDS, stop_session, (process,))
    deadline.start()
    killed: list[int] = []
    lines: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if line.startswith("indexing: ") and not killed:
                killed = kill_a_worker(process.pid)
        stdout, _ = process.communicate()
    finally:
        deadline.cancel()
        stop_session(process)
    assert time.monotonic() - began < RUN_SECONDS, f"the Ray run did not finish in {RUN_SECONDS} s: {''.join(lines)[-3000:]}"
    return {"code": process.returncode, "stdout": stdout, "stderr": "".join(lines), "killed": killed, "index_dir": index_dir,
            "seconds": time.monotonic() - began}


def stop_session(process: subprocess.Popen) -> None:
    """SIGKILL everything in the process's session (the driver, its Ray workers and cluster), if it still runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def kill_a_worker(driver_pid: int) -> list[int]:
    """SIGKILL one Ray Data prepare actor among the driver's descendants; its pid, if one was found."""
    for child in psutil.Process(driver_pid).children(recursive=True):
        try:
            if "PrepareWorker" in " ".join(child.cmdline()):
                child.kill()
                return [child.pid]
        except psutil.NoSuchProcess:
            continue
    return []


@pytest.fixture(scope="module")
def plain(encoder, corpus, tmp_path_factory):
    """The same corpus indexed in this process, the one-machine path."""
    from qa.config import Settings
    from qa.engine import QA

    qa = QA(Settings.from_env({}, index_dir=tmp_path_factory.mktemp("plain-index")), encoder=encoder)
    qa.index([corpus])
    return qa


@pytest.fixture(scope="module")
def from_ray(encoder, ray_run):
    """The Ray-built index opened in this process, without Ray."""
    from qa.config import Settings
    from qa.engine import QA

    return QA(Settings.from_env({}, index_dir=ray_run["index_dir"]), encoder=encoder)


def rows(qa, sql: str) -> list[tuple]:
    return qa.store.db.execute(sql).fetchall()


def test_a_killed_worker_is_retried_and_every_document_is_indexed(ray_run, corpus) -> None:
    assert ray_run["code"] == 0, ray_run["stderr"][-3000:]
    assert ray_run["killed"], "no Ray worker process was found to kill"
    documents = len(list(corpus.glob("*.txt")))
    assert f"{documents} added, 0 updated" in ray_run["stdout"]
    assert f"{documents}/{documents} documents" in ray_run["stderr"]
    # Committed in batches as the documents came back, not once at the end.
    assert int(re.findall(r"committed \d+ chunks in (\d+) batches", ray_run["stderr"])[-1]) > 1
    print(f"ray local run: {ray_run['seconds']:.1f}s")


def test_ray_builds_the_documents_chunks_and_sentences_of_the_plain_path(ray_run, plain, from_ray) -> None:
    assert ray_run["code"] == 0
    for sql in ("SELECT doc_id, content_hash, title, text FROM documents ORDER BY doc_id",
                "SELECT doc_id, ordinal, start, end FROM chunks ORDER BY doc_id, ordinal",
                "SELECT doc_id, start, end FROM sentences ORDER BY doc_id, start"):
        assert rows(from_ray, sql) == rows(plain, sql)


def test_ray_vectors_match_the_plain_path(ray_run, plain, from_ray) -> None:
    assert ray_run["code"] == 0

    def by_chunk(qa) -> dict[tuple[str, int], np.ndarray]:
        vectors, ids = qa.store.vector_snapshot().contents()
        keys = dict((i, (d, o)) for i, d, o in rows(qa, "SELECT id, doc_id, ordinal FROM chunks"))
        return {keys[int(i)]: v for v, i in zip(vectors, ids, strict=True)}

    ours, theirs = by_chunk(from_ray), by_chunk(plain)
    assert sorted(ours) == sorted(theirs)
    assert min(float(ours[key] @ theirs[key]) for key in ours) >= 0.9999

    def sentence_vectors(qa) -> np.ndarray:
        blobs = rows(qa, "SELECT vector FROM sentences ORDER BY doc_id, start")
        return np.stack([sentence_vector(b, qa.store.dimension) for (b,) in blobs])

    assert float(np.min(np.sum(sentence_vectors(from_ray) * sentence_vectors(plain), axis=1))) >= 0.9999


def test_ray_built_index_gives_the_plain_answers(ray_run, plain, from_ray) -> None:
    assert ray_run["code"] == 0
    for question in QUESTIONS:
        ours, theirs = from_ray.ask(question), plain.ask(question)
        assert ours.answer == theirs.answer and ours.short_answer == theirs.short_answer
        assert [(c.doc_id, c.start, c.end, c.highlights) for c in ours.citations] == \
               [(c.doc_id, c.start, c.end, c.highlights) for c in theirs.citations]
