"""A sharded index: S normal index folders behind a manifest, searched and written as one.

Each shard is a complete index (`Store`: SQLite, FAISS, BM25), so everything a single index does
(generations, crash safety, integrity checks) holds per shard. The manifest (`shards.json`) names
the shards and the model signature. The document -> shard catalogue is the shards' own `documents`
tables, read at open and after every write: a catalogue kept apart could disagree with the shards
after a crash between two shard commits; theirs cannot. A document stays on its shard for every
later upsert or delete; a new one goes to the shard holding the fewest chunks.

Search fans out to every shard: dense hits merged by score (each shard's exact or IVF search is
over its own vectors, so the merged top k of exact shards is the top k of one index); BM25 hits
merged by score with each shard's own statistics, as Elasticsearch does by default; document
frequencies summed, so the word weights of answering are those of one index. Chunk ids are made
global as `local id * S + shard`.

A shard is reached through `Shard.submit(method, *args)`: in this process (`LocalShard`), or on a
Ray actor or a Ray Serve deployment (qa/cluster/), where every shard works at once.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .config import Settings
from .errors import REBUILD_HINT, CorruptIndexError, ModelMismatchError, UsageError
from .faults import Crash
from .models import Changes, DocumentSummary, Passage, PreparedDocument, StoredDocument
from .store import DB_NAME, Store
from .store import remove_index as remove_plain_index

MANIFEST = "shards.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """The shards of an index (folders inside it) and the model signature they were built with."""

    shards: tuple[str, ...]
    signature: dict[str, str]

    @classmethod
    def new(cls, count: int, signature: dict[str, str]) -> Manifest:
        """`count` shard folders named shard-000, shard-001, ..."""
        return cls(tuple(f"shard-{n:03d}" for n in range(count)), dict(signature))

    @classmethod
    def read(cls, index_dir: Path) -> Manifest | None:
        """The manifest in `index_dir`, or None for an unsharded (or new) index."""
        path = index_dir / MANIFEST
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != MANIFEST_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            return cls(tuple(str(name) for name in data["shards"]), {str(k): str(v) for k, v in data["signature"].items()})
        except (ValueError, KeyError, TypeError) as error:
            raise CorruptIndexError(f"The shard manifest {path} is damaged ({error}). {REBUILD_HINT}") from error

    def write(self, index_dir: Path) -> None:
        """Write durably (temporary file, fsync, rename) before any shard is written."""
        index_dir.mkdir(parents=True, exist_ok=True)
        tmp = index_dir / (MANIFEST + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"version": MANIFEST_VERSION, "shards": list(self.shards), "signature": self.signature}, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, index_dir / MANIFEST)

    def folders(self, index_dir: Path) -> list[Path]:
        """The shards' index folders."""
        return [index_dir / name for name in self.shards]


def plan_shards(index_dir: Path, wanted: int, signature: dict[str, str]) -> Manifest | None:
    """The manifest the index in `index_dir` has or gets: None when it is (or will be) one plain folder.

    `wanted` (QA_SHARDS) shapes a new index; 1 opens whatever is there."""
    manifest = Manifest.read(index_dir)
    if manifest is not None:
        if wanted > 1 and wanted != len(manifest.shards):
            raise UsageError(f"the index in {index_dir} has {len(manifest.shards)} shards, not {wanted}: "
                             "drop --shards (QA_SHARDS), or rebuild with `python -m qa index --rebuild --shards N PATH...`")
        if manifest.signature != signature:
            raise ModelMismatchError(f"The sharded index in {index_dir} was built with {manifest.signature}, but this run uses "
                                     f"{signature}. Use the same settings, or rebuild with `python -m qa index --rebuild PATH...`.")
        return manifest
    if wanted == 1:
        return None
    if (index_dir / DB_NAME).exists():
        raise UsageError(f"the index in {index_dir} is not sharded: rebuild it with "
                         f"`python -m qa index --rebuild --shards {wanted} PATH...`")
    manifest = Manifest.new(wanted, signature)
    manifest.write(index_dir)
    return manifest


def index_folders(index_dir: Path, wanted: int = 1) -> list[Path]:
    """Every folder holding (or about to hold) an index database: the shards, else `index_dir` itself.

    A new index of `wanted` > 1 shards has none yet (its manifest is written when it opens)."""
    manifest = Manifest.read(index_dir)
    if manifest is not None:
        return manifest.folders(index_dir)
    return [index_dir] if wanted == 1 or (index_dir / DB_NAME).exists() else []


def index_exists(index_dir: Path) -> bool:
    """True when `index_dir` holds an index, plain or sharded."""
    return (index_dir / DB_NAME).exists() or (index_dir / MANIFEST).exists()


def remove_index(index_dir: Path) -> None:
    """Delete the index in `index_dir`, plain or sharded (for --rebuild); other files there are left alone."""
    manifest = Manifest.read(index_dir) if (index_dir / MANIFEST).exists() else None
    for folder in manifest.folders(index_dir) if manifest else []:
        remove_plain_index(folder)
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder)
    (index_dir / MANIFEST).unlink(missing_ok=True)
    remove_plain_index(index_dir)


class ShardSearcher:
    """One shard's `Store` as a shard serves it: search, read and write by method name, plain data in and out."""

    METHODS = frozenset({"dense", "lexical", "frequencies", "passages", "content_hashes", "chunk_count",
                         "apply", "documents", "document", "generation", "stats"})

    def __init__(self, store: Store) -> None:
        self.store = store

    def call(self, method: str, *args: Any) -> Any:
        """Run one of `METHODS`."""
        if method not in self.METHODS:
            raise ValueError(f"a shard has no method {method!r}")
        return getattr(self, method)(*args)

    def dense(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.store.vector_snapshot().search(query_vector, k)

    def lexical(self, words: Sequence[str], k: int) -> list[tuple[int, float]]:
        return self.store.lexical.search(words, k)

    def frequencies(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        return self.store.document_frequencies(words)

    def passages(self, ranked: Sequence[tuple[int, float]]) -> dict[int, Passage]:
        return self.store.passages(ranked)

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        return self.store.content_hashes()

    def chunk_count(self) -> int:
        return self.store.chunk_count()

    def apply(self, changes: Changes) -> int:
        """Commit `changes` as this shard's next generation; returns its chunk count after."""
        self.store.apply(changes)
        return self.store.chunk_count()

    def documents(self, limit: int | None = None) -> list[DocumentSummary]:
        return self.store.documents(limit)

    def generation(self) -> int:
        return self.store.generation()

    def document(self, doc_id: str) -> StoredDocument | None:
        return self.store.document(doc_id)

    def stats(self) -> dict[str, Any]:
        return self.store.stats()


class Pending(Protocol):
    """A shard call under way."""

    def result(self) -> Any:
        """Wait for it and return its value (or raise its error)."""
        ...


class Shard(Protocol):
    """A shard wherever it runs."""

    def submit(self, method: str, *args: Any) -> Pending:
        """Start `ShardSearcher.call(method, *args)`."""
        ...

    def close(self) -> None:
        """Release it."""
        ...


@dataclass(frozen=True)
class _Done:
    value: Any

    def result(self) -> Any:
        return self.value


class LocalShard:
    """A shard in this process: calls run one after the other as they are submitted."""

    def __init__(self, store: Store) -> None:
        self.searcher = ShardSearcher(store)

    def submit(self, method: str, *args: Any) -> Pending:
        return _Done(self.searcher.call(method, *args))

    def close(self) -> None:
        self.searcher.store.close()


class ShardedStore:
    """S shards searched and written as one index (the read and write surface of `Store`)."""

    def __init__(self, index_dir: Path, manifest: Manifest, shards: Sequence[Shard]) -> None:
        self.dir = index_dir
        self.manifest = manifest
        self.shards = list(shards)
        self.count = len(self.shards)
        self.lexical = _MergedWords(self)
        self._catalogue: dict[str, int] = {}

    # -- fan-out ----------------------------------------------------------------------------

    def _all(self, method: str, *args: Any) -> list[Any]:
        """`method` on every shard at once; results in shard order."""
        pending = [shard.submit(method, *args) for shard in self.shards]
        return [call.result() for call in pending]

    def _global(self, shard: int, ranked: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
        return [(local * self.count + shard, score) for local, score in ranked]

    def _merged(self, method: str, *args: Any, k: int) -> list[tuple[int, float]]:
        hits = [hit for shard, ranked in enumerate(self._all(method, *args, k)) for hit in self._global(shard, ranked)]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))[:k]

    # -- reading ----------------------------------------------------------------------------

    def vector_snapshot(self) -> _MergedVectors:
        """Dense search over every shard, merged by score."""
        return _MergedVectors(self)

    def passages(self, ranked: Sequence[tuple[int, float]]) -> dict[int, Passage]:
        """The ranked chunks as passages, each read from its shard (one call per shard, all at once)."""
        by_shard: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for chunk_id, score in ranked:
            by_shard[chunk_id % self.count].append((chunk_id // self.count, score))
        pending = {shard: self.shards[shard].submit("passages", local) for shard, local in by_shard.items()}
        found: dict[int, Passage] = {}
        for shard, call in pending.items():
            for local, passage in call.result().items():
                chunk_id = local * self.count + shard
                found[chunk_id] = replace(passage, chunk_id=chunk_id)
        return {chunk_id: found[chunk_id] for chunk_id, _ in ranked if chunk_id in found}

    def document_frequencies(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """Chunks holding each word and chunks in all, summed over the shards: one index's statistics."""
        summed: dict[str, int] = defaultdict(int)
        total = 0
        for frequencies, chunks in self._all("frequencies", list(words)):
            total += chunks
            for word, n in frequencies.items():
                summed[word] += n
        return dict(summed), total

    def chunk_count(self) -> int:
        """Chunks in all shards."""
        return sum(self._all("chunk_count"))

    def documents(self, limit: int | None = None) -> list[DocumentSummary]:
        """Each document of every shard, by id (the first `limit` of them)."""
        listed = sorted((doc for listed in self._all("documents", limit) for doc in listed), key=lambda doc: doc.doc_id)
        return listed if limit is None else listed[:limit]

    def generation(self) -> int:
        """The sum of the shards' generations: it changes whenever one of them commits."""
        return sum(self._all("generation"))

    def document(self, doc_id: str) -> StoredDocument | None:
        """One document, from the shard holding it."""
        shard = self._catalogue.get(doc_id)
        if shard is None:
            self.content_hashes()
            shard = self._catalogue.get(doc_id)
        return None if shard is None else self.shards[shard].submit("document", doc_id).result()

    def stats(self) -> dict[str, Any]:
        """The counts summed, and each shard's own stats under `shards`."""
        each = self._all("stats")
        summed = {key: sum(int(s[key]) for s in each) for key in ("documents", "chunks", "sentences", "generation")}
        kinds = sorted({str(s["vector_index"]["kind"]) for s in each})
        vectors = {**each[0]["vector_index"], "kind": "+".join(kinds), "vectors": summed["chunks"]}
        return {**summed, "faiss_index": each[0]["faiss_index"], "vector_index": vectors, **self.manifest.signature, "shards": each}

    # -- writing ----------------------------------------------------------------------------

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (content hash, root) of every document; refreshes the catalogue."""
        hashes: dict[str, tuple[str, str]] = {}
        catalogue: dict[str, int] = {}
        for shard, held in enumerate(self._all("content_hashes")):
            hashes.update(held)
            catalogue.update(dict.fromkeys(held, shard))
        self._catalogue = catalogue
        return hashes

    def apply(self, changes: Changes) -> None:
        """Route upserts, deletes and moved roots to their shards and commit each shard's share (all at once)."""
        self.content_hashes()
        load = self._all("chunk_count")
        upserts: dict[int, list[PreparedDocument]] = defaultdict(list)
        deletes: dict[int, list[str]] = defaultdict(list)
        roots: dict[int, dict[str, str]] = defaultdict(dict)
        # Largest first onto the lightest shard keeps the shards' chunk counts close.
        for prepared in sorted(changes.upserts, key=lambda p: -len(p.chunks)):
            shard = self._catalogue.get(prepared.document.doc_id)
            if shard is None:
                shard = min(range(self.count), key=lambda n: (load[n], n))
            load[shard] += len(prepared.chunks)
            upserts[shard].append(prepared)
        for doc_id in changes.deletes:
            if doc_id in self._catalogue:
                deletes[self._catalogue[doc_id]].append(doc_id)
        for doc_id, root in changes.roots.items():
            if doc_id in self._catalogue:
                roots[self._catalogue[doc_id]][doc_id] = root
        order = {id(p): n for n, p in enumerate(changes.upserts)}
        pending = [
            self.shards[shard].submit("apply", Changes(sorted(upserts[shard], key=lambda p: order[id(p)]), deletes[shard], roots[shard]))
            for shard in range(self.count) if upserts[shard] or deletes[shard] or roots[shard]
        ]
        for call in pending:
            call.result()
        self.content_hashes()

    def close(self) -> None:
        """Release every shard."""
        for shard in self.shards:
            shard.close()


class _MergedVectors:
    """Dense search over the shards (what `Retriever` reads of a vector index)."""

    def __init__(self, store: ShardedStore) -> None:
        self.store = store

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.store._merged("dense", query, k=k)

    def __len__(self) -> int:
        return self.store.chunk_count()


class _MergedWords:
    """BM25 over the shards, each scoring with its own statistics, merged by score."""

    def __init__(self, store: ShardedStore) -> None:
        self.store = store

    def search(self, words: Sequence[str], k: int) -> list[tuple[int, float]]:
        return self.store._merged("lexical", list(words), k=k)

    def document_frequencies(self, words: Sequence[str]) -> dict[str, int]:
        return self.store.document_frequencies(words)[0]


def store_opener(settings: Settings, dimension: int, signature: dict[str, str], probe: np.ndarray | None,
                 integrity_checked: bool = False) -> Callable[[Path], Store]:
    """Opens one index folder with these settings, model signature and probe (wherever it is called)."""

    def open_store(folder: Path) -> Store:
        return Store(folder, dimension, signature, probe, vector_settings=settings.vectors, lexical_settings=settings.lexical,
                     crash=Crash(settings.crash_at, settings.crash_after, settings.crash_signal), integrity_checked=integrity_checked)

    return open_store


def open_index(settings: Settings, dimension: int, signature: dict[str, str], probe: np.ndarray | None,
               integrity_checked: bool) -> Store | ShardedStore:
    """The index `settings` names: one folder, or its shards (in this process, or on Ray actors with QA_RAY_ADDRESS)."""
    open_store = store_opener(settings, dimension, signature, probe, integrity_checked)
    manifest = plan_shards(settings.index_dir, settings.cluster.shards, signature)
    if manifest is None:
        return open_store(settings.index_dir)
    shards: list[Shard]
    if settings.cluster.ray_address:
        from .cluster.shards import open_shard_actors

        shards = open_shard_actors(settings, manifest.folders(settings.index_dir), open_store)
    else:
        shards = [LocalShard(open_store(folder)) for folder in manifest.folders(settings.index_dir)]
    return ShardedStore(settings.index_dir, manifest, shards)
