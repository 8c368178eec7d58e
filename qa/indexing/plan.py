"""What an indexing run must do, decided from content hashes alone: a pure diff, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..models import Document, IndexReport, Skipped


@dataclass
class IndexPlan:
    """The documents to prepare and commit, the ones to remove, and the report of it all."""

    changed: list[Document] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # Unchanged documents now found under another indexed folder: doc_id -> that folder.
    moved_roots: dict[str, str] = field(default_factory=dict)
    report: IndexReport = field(default_factory=IndexReport)

    @property
    def is_empty(self) -> bool:
        """Nothing to write."""
        return not (self.changed or self.removed or self.moved_roots)


def gather(found: Iterable[Document | Skipped]) -> tuple[list[Document], list[Skipped], set[str]]:
    """Loaded documents by unique id, the skipped files, and the folders they were found under."""
    documents: dict[str, Document] = {}
    skipped: list[Skipped] = []
    roots: set[str] = set()
    for item in found:
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        roots.add(item.root)
        if item.doc_id in documents and documents[item.doc_id].root != item.root:
            # Two indexed folders hold the same relative path: keep both, told apart by folder.
            item = replace(item, doc_id=f"{Path(item.root).name}/{item.doc_id}")
        documents[item.doc_id] = item
    return list(documents.values()), skipped, roots


def plan(documents: Iterable[Document], known: Mapping[str, tuple[str, str]], scanned_roots: Set[str] = frozenset()) -> IndexPlan:
    """Compare `documents` with the stored `known` (doc_id -> (content hash, root)).

    Stored documents of a folder in `scanned_roots` that were not found any more are removed."""
    result = IndexPlan()
    seen: set[str] = set()
    for doc in documents:
        seen.add(doc.doc_id)
        previous = known.get(doc.doc_id)
        if previous is None:
            result.report.added.append(doc.doc_id)
            result.changed.append(doc)
        elif previous[0] != doc.content_hash:
            result.report.updated.append(doc.doc_id)
            result.changed.append(doc)
        else:
            result.report.unchanged.append(doc.doc_id)
            if previous[1] != doc.root:
                result.moved_roots[doc.doc_id] = doc.root
    result.removed = [doc_id for doc_id, (_, root) in known.items() if root in scanned_roots and doc_id not in seen]
    result.report.removed = list(result.removed)
    return result
