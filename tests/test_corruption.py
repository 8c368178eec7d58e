"""Damaged index files and a different model are refused at open with a way out, never a traceback."""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.engine import QA
from qa.errors import CorruptIndexError, ModelMismatchError
from qa.lexical import tantivy_index
from qa.models import Document
from qa.store import DB_NAME

from .conftest import ROOT, SEEDS

REBUILD = "python -m qa index --rebuild"
SEED_QUESTION = "How many people were arrested on Nov. 15?"


@pytest.fixture(scope="module")
def built(encoder, tmp_path_factory) -> Path:
    """A closed, healthy index of seeds/ to copy and damage: a base vector file and one delta file."""
    folder = tmp_path_factory.mktemp("healthy")
    merging = Settings.from_env({"QA_VECTOR_DELTA_MIN": "0"}, index_dir=folder)
    qa = QA(merging, encoder=encoder)
    qa.index([SEEDS])  # merged at once into a base file
    qa.store.close()
    qa = QA(Settings.from_env({}, index_dir=folder), encoder=encoder)
    extra = Document("extra.txt", "extra.txt", "Extra", "The ferry leaves at noon.", "h1")
    qa.upsert([extra])  # appended as a delta file
    qa.store.close()  # the last connection checkpoints the WAL into qa.sqlite
    assert not (folder / (DB_NAME + "-wal")).exists()
    assert len(list(folder.glob("vectors-*.faiss"))) == 1 and len(list(folder.glob("vectors-*.delta"))) == 1
    return folder


def vector_file(folder: Path) -> Path:
    [path] = folder.glob("vectors-*.faiss")
    return path


def delta_file(folder: Path) -> Path:
    [path] = folder.glob("vectors-*.delta")
    return path


def truncate(fraction: float, pick: Callable[[Path], Path]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = pick(folder)
        os.truncate(path, int(path.stat().st_size * fraction))
    return damage


def overwrite_table_root(table: str) -> Callable[[Path], None]:
    """Garbage over the root page of one table, as a torn write or bad sector would leave it."""
    def damage(folder: Path) -> None:
        with sqlite3.connect(folder / DB_NAME) as db:
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        db.close()
        with open(folder / DB_NAME, "r+b") as handle:
            handle.seek((root - 1) * page_size)
            handle.write(np.random.default_rng(7).integers(0, 256, page_size, dtype=np.uint8).tobytes())
    return damage


def overwrite_bytes(offset_fraction: float, pick: Callable[[Path], Path]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = pick(folder)
        data = bytearray(path.read_bytes())
        at = int(len(data) * offset_fraction)
        data[at : at + 16] = bytes(b ^ 0xFF for b in data[at : at + 16])
        path.write_bytes(bytes(data))
    return damage


DB = lambda folder: folder / DB_NAME  # noqa: E731

DAMAGE = {
    "sqlite emptied": truncate(0.0, DB),
    "sqlite truncated to half": truncate(0.5, DB),
    "sqlite truncated by a page": lambda folder: os.truncate(DB(folder), DB(folder).stat().st_size - 4096),
    "sqlite header overwritten": overwrite_bytes(0.0, DB),
    "sqlite documents page garbage": overwrite_table_root("documents"),
    "sqlite deleted": lambda folder: DB(folder).unlink(),
    "faiss emptied": truncate(0.0, vector_file),
    "faiss truncated to half": truncate(0.5, vector_file),
    "faiss bytes flipped mid-file": overwrite_bytes(0.6, vector_file),
    "faiss deleted": lambda folder: vector_file(folder).unlink(),
    "delta emptied": truncate(0.0, delta_file),
    "delta truncated to half": truncate(0.5, delta_file),
    "delta bytes flipped mid-file": overwrite_bytes(0.6, delta_file),
    "delta deleted": lambda folder: delta_file(folder).unlink(),
    "tantivy segment truncated": truncate(0.5, lambda folder: largest_word_file(folder)),
    "tantivy segment deleted": lambda folder: largest_word_file(folder).unlink(),
    "tantivy meta emptied": truncate(0.0, lambda folder: folder / tantivy_index.FOLDER_NAME / "meta.json"),
}


def largest_word_file(folder: Path) -> Path:
    return max((folder / tantivy_index.FOLDER_NAME).glob("*.*"), key=lambda path: path.stat().st_size)


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_index_is_refused_with_the_rebuild_command(damage, built, encoder, tmp_path) -> None:
    folder = tmp_path / "index"
    shutil.copytree(built, folder)
    DAMAGE[damage](folder)
    with pytest.raises(CorruptIndexError) as refused:
        QA(Settings.from_env({}, index_dir=folder), encoder=encoder)
    message = str(refused.value)
    assert REBUILD in message and str(folder) in message


def test_damaged_fts5_words_are_refused_with_the_rebuild_command(encoder, tmp_path) -> None:
    folder = tmp_path / "index"
    settings = Settings.from_env({"QA_LEXICAL_BACKEND": "fts5"}, index_dir=folder)
    qa = QA(settings, encoder=encoder)
    qa.index([SEEDS])
    qa.store.close()
    overwrite_table_root("chunks_fts_data")(folder)
    with pytest.raises(CorruptIndexError) as refused:
        QA(settings, encoder=encoder)
    assert REBUILD in str(refused.value) and str(folder) in str(refused.value)


def test_an_index_of_another_model_with_the_same_name_is_refused(built, encoder, tmp_path) -> None:
    folder = tmp_path / "index"
    shutil.copytree(built, folder)
    # Same name, dimension and length as ours, different weights: only its vectors tell it apart.
    other_vector = encoder.encode(["A probe sentence as another model would have embedded it."])[0]
    with sqlite3.connect(folder / DB_NAME) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'model_probe'",
                   (base64.b64encode(other_vector.astype(np.float16).tobytes()).decode(),))
    db.close()
    with pytest.raises(ModelMismatchError, match="different embedding model") as refused:
        QA(Settings.from_env({}, index_dir=folder), encoder=encoder)
    assert REBUILD in str(refused.value)


def test_the_same_model_reopens_its_index(built, encoder, tmp_path) -> None:
    folder = tmp_path / "index"
    shutil.copytree(built, folder)
    qa = QA(Settings.from_env({}, index_dir=folder), encoder=encoder)
    assert "12,000" in qa.ask(SEED_QUESTION).answer


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cli_names_the_way_out_and_rebuild_takes_it(built, encoder, tmp_path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(built, damaged)
    truncate(0.5, vector_file)(damaged)
    mismatched = tmp_path / "mismatched"
    shutil.copytree(built, mismatched)
    with sqlite3.connect(mismatched / DB_NAME) as db:
        db.execute("UPDATE meta SET value = 'other-model:384:256' WHERE key = 'model'")
    db.close()

    for folder, words in ((damaged, "damaged"), (mismatched, "other-model")):
        result = cli("ask", SEED_QUESTION, "--index-dir", str(folder))
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and words in result.stderr and REBUILD in result.stderr
        assert result.stdout == ""

    rebuilt = cli("index", "--rebuild", str(SEEDS), "--index-dir", str(damaged))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "2 added" in rebuilt.stdout
    qa = QA(Settings.from_env({}, index_dir=damaged), encoder=encoder)
    assert "12,000" in qa.ask(SEED_QUESTION).answer
