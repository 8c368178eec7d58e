"""The indexing plan: a pure diff of loaded documents against stored content hashes."""

from __future__ import annotations

from qa.indexing.plan import gather, plan
from qa.models import Document, Skipped


def doc(doc_id: str, content: str = "h", root: str = "/docs") -> Document:
    return Document(doc_id, f"{root}/{doc_id}", doc_id, "text", content, root=root)


def test_new_changed_unchanged_and_removed() -> None:
    known = {"a.txt": ("h", "/docs"), "b.txt": ("old", "/docs"), "gone.txt": ("h", "/docs"), "other.txt": ("h", "/else")}
    work = plan([doc("a.txt"), doc("b.txt"), doc("c.txt")], known, {"/docs"})
    assert work.report.added == ["c.txt"] and work.report.updated == ["b.txt"] and work.report.unchanged == ["a.txt"]
    # Only documents of a folder that was scanned can be gone from it.
    assert work.removed == work.report.removed == ["gone.txt"]
    assert [d.doc_id for d in work.changed] == ["b.txt", "c.txt"]


def test_an_unchanged_document_found_under_another_folder_moves_without_re_embedding() -> None:
    work = plan([doc("a.txt", root="/new")], {"a.txt": ("h", "/old")})
    assert work.changed == [] and work.moved_roots == {"a.txt": "/new"} and not work.is_empty


def test_nothing_to_do_is_an_empty_plan() -> None:
    assert plan([doc("a.txt")], {"a.txt": ("h", "/docs")}, {"/docs"}).is_empty


def test_the_same_path_under_two_folders_keeps_both() -> None:
    documents, skipped, roots = gather([doc("a.txt", root="/one/x"), Skipped("bad.bin", "binary"), doc("a.txt", root="/two/y")])
    assert [d.doc_id for d in documents] == ["a.txt", "y/a.txt"]
    assert skipped == [Skipped("bad.bin", "binary")] and roots == {"/one/x", "/two/y"}
