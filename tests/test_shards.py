"""A sharded index in one process (no Ray): the answers and dense top-k of one index, upserts and deletes on their shard."""

from __future__ import annotations

import json

import pytest

from qa.errors import UsageError
from qa.shards import MANIFEST, Manifest, remove_index

from .conftest import SEEDS

QUESTIONS = ["How many people were arrested on Nov. 15?", "Who reported the killings?", "What did the protesters in Iraq burn?"]
SEED_000 = "000_5b672d860f205277.txt"


def located(qa, ranked) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of ranked chunk ids: ids differ between one index and shards, spans do not."""
    passages = qa.store.passages(ranked)
    return [(passages[i].doc_id, passages[i].start, passages[i].end) for i, _ in ranked]


def cited(answer) -> list[tuple]:
    return [(c.doc_id, c.start, c.end, c.highlights) for c in answer.citations]


def same_retrieval_and_answers(sharded, single) -> None:
    """Dense top-k (spans and scores) and answers of `sharded` equal those of `single`."""
    for question in QUESTIONS:
        vector = single.encoder.encode([question])[0]
        ours, theirs = sharded.store.vector_snapshot().search(vector, 10), single.store.vector_snapshot().search(vector, 10)
        assert located(sharded, ours) == located(single, theirs)
        assert [round(s, 5) for _, s in ours] == [round(s, 5) for _, s in theirs]
        a, b = sharded.ask(question), single.ask(question)
        assert (a.answer, a.short_answer, a.confidence) == (b.answer, b.short_answer, b.confidence)
        assert cited(a) == cited(b)


@pytest.fixture(scope="module")
def sharded(encoder, tmp_path_factory):
    from qa.config import Settings
    from qa.engine import QA

    qa = QA(Settings.from_env({}, index_dir=tmp_path_factory.mktemp("sharded"), shards=2), encoder=encoder)
    qa.index([SEEDS])
    return qa


def test_two_shards_hold_one_seed_each_behind_a_manifest(sharded) -> None:
    manifest = json.loads((sharded.settings.index_dir / MANIFEST).read_text())
    assert manifest["shards"] == ["shard-000", "shard-001"] and manifest["signature"]["model"].startswith("all-MiniLM-L6-v2")
    stats = sharded.stats()
    assert [s["documents"] for s in stats["shards"]] == [1, 1]
    assert stats["documents"] == 2 and stats["chunks"] == sum(s["chunks"] for s in stats["shards"])
    assert [d.doc_id for d in sharded.documents()] == sorted(p.name for p in SEEDS.glob("*.txt"))


def test_shards_give_the_dense_top_k_and_answers_of_one_index(sharded, seeds_qa) -> None:
    same_retrieval_and_answers(sharded, seeds_qa)


def test_upserts_and_deletes_go_to_the_shard_holding_the_document(make_qa, seeds_copy) -> None:
    qa = make_qa(shards=2)
    qa.index([seeds_copy])
    def held(shard: int) -> list[str]:
        return [d.doc_id for d in qa.store.shards[shard].submit("documents").result()]

    home = [n for n in range(2) if SEED_000 in held(n)]
    (seeds_copy / SEED_000).write_text("The harbour master counted 41 ships on Tuesday.", encoding="utf-8")
    report = qa.index([seeds_copy])
    assert report.updated == [SEED_000] and len(report.unchanged) == 1
    assert held(home[0]) == [SEED_000]
    assert "41 ships" in qa.ask("How many ships did the harbour master count?").answer
    (seeds_copy / SEED_000).unlink()
    assert qa.index([seeds_copy]).removed == [SEED_000]
    assert qa.document(SEED_000) is None and qa.stats()["documents"] == 1


def test_a_shard_count_that_disagrees_with_the_index_is_refused(make_qa, sharded, tmp_path) -> None:
    with pytest.raises(UsageError, match="has 2 shards, not 3"):
        make_qa(index_dir=sharded.settings.index_dir, shards=3)
    plain = make_qa(index_dir=tmp_path / "plain")
    plain.index([SEEDS / SEED_000])
    with pytest.raises(UsageError, match="not sharded"):
        make_qa(index_dir=tmp_path / "plain", shards=2)


def test_rebuild_removes_the_shards_and_the_manifest(make_qa, tmp_path) -> None:
    folder = tmp_path / "index"
    make_qa(index_dir=folder, shards=2).index([SEEDS / SEED_000])
    manifest = Manifest.read(folder)
    assert manifest is not None and all((f / "qa.sqlite").exists() for f in manifest.folders(folder))
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    remove_index(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
