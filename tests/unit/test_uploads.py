"""The upload id grammar and safe file names."""

from __future__ import annotations

from qa.uploads import UploadId, safe_upload_name, screen


def test_upload_ids_parse_and_print_back() -> None:
    assert UploadId.parse("uploads/notes.txt") == UploadId("notes.txt")
    assert UploadId.parse("uploads/corpus.jsonl#p12") == UploadId("corpus.jsonl", "p12")
    assert str(UploadId("corpus.jsonl", "p12")) == "uploads/corpus.jsonl#p12"
    assert UploadId.parse("seeds/notes.txt") is None


def test_names_lose_folders_dots_and_odd_characters() -> None:
    assert safe_upload_name("../../etc/passwd") == "passwd"
    assert safe_upload_name("C:\\Users\\me\\report final.pdf") == "report final.pdf"
    assert safe_upload_name(".hidden") == "hidden"
    assert safe_upload_name("a<b>|c.txt") == "a_b__c.txt"
    long = safe_upload_name("x" * 300 + ".docx")
    assert len(long) == 120 and long.endswith(".docx")


def test_screen_keeps_usable_files_and_says_why_others_are_skipped() -> None:
    named, skipped = screen([("a.txt", b"1"), ("a.txt", b"2"), ("run.exe", b"3"), ("", b"4")])
    assert named == [("a.txt", b"1")]
    assert [s.reason.split(";")[0] for s in skipped] == [
        "the same file name appears twice in this upload", "unsupported file type", "the file has no usable name",
    ]
