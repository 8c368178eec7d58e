"""Each replaceable part swapped for a second real implementation: the answers stay the same.

The lexical seam's second implementation (tantivy) is tested in tests/test_lexical.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from qa.config import EmbeddingSettings, VectorSettings
from qa.encoders import create_encoder
from qa.loaders import Extracted, register, registry, supported_suffixes

from .conftest import SEEDS

ARRESTS = "How many people were arrested on Nov. 15?"


def cited(answer) -> tuple[str, list[list[int]]]:
    return answer.citations[0].doc_id, answer.citations[0].highlights


@pytest.fixture(scope="module")
def torch_answers(seeds_qa):
    return seeds_qa.ask(ARRESTS)


def test_the_onnx_int8_encoder_gives_the_torch_answer(make_qa, torch_answers, tmp_path_factory) -> None:
    onnx = create_encoder(EmbeddingSettings(encoder="onnx-int8", cache_dir=tmp_path_factory.mktemp("onnx")))
    torch = create_encoder(EmbeddingSettings())
    texts = ["The lighthouse keeper counted gulls.", ARRESTS]
    # int8 weights bend each vector a little; the same model's geometry survives.
    assert (np.sum(onnx.encode(texts) * torch.encode(texts), axis=1) > 0.98).all()
    qa = make_qa(encoder=onnx)
    qa.index([SEEDS])
    answer = qa.ask(ARRESTS)
    assert cited(answer) == cited(torch_answers) and answer.short_answer == torch_answers.short_answer


def test_exact_and_ivf_vector_indexes_give_the_same_answer(make_qa, torch_answers) -> None:
    ivf = make_qa(vectors=VectorSettings(ivf_threshold=8, flat_threshold=4, min_nprobe=64))
    ivf.index([SEEDS])
    assert ivf.stats()["vector_index"]["kind"] == "ivf-fp16"
    forced_flat = make_qa(vectors=VectorSettings(kind="flat", ivf_threshold=8, flat_threshold=4))
    forced_flat.index([SEEDS])
    assert forced_flat.stats()["vector_index"]["kind"] == "flat"
    for qa in (ivf, forced_flat):
        assert cited(qa.ask(ARRESTS)) == cited(torch_answers)


def test_a_registered_loader_adds_a_file_format(make_qa, tmp_path, monkeypatch) -> None:
    # Registered for this test only.
    monkeypatch.setattr(registry, "_LOADERS", dict(registry._LOADERS))

    def load_csv(data: bytes, max_bytes: int):
        header, *rows = data.decode("utf-8").splitlines()
        names = header.split(",")
        yield Extracted("\n\n".join(". ".join(f"The {n} is {v}" for n, v in zip(names, row.split(","), strict=True)) + "."
                                    for row in rows), "Harbour log")

    register((".csv",), load_csv)
    assert ".csv" in supported_suffixes()
    (tmp_path / "log.csv").write_text("ship,cargo\nMarlin,4210 crates of tea\n", encoding="utf-8")
    qa = make_qa()
    report = qa.index([tmp_path / "log.csv"])
    assert report.added == ["log.csv"]
    answer = qa.ask("What is the cargo of the Marlin?")
    assert "4210 crates of tea" in answer.answer and answer.citations[0].title == "Harbour log"


def test_a_process_pool_prepares_the_same_chunks_and_vectors_as_this_process(make_qa, seeds_qa) -> None:
    pooled = make_qa(executor="processes", workers=2)
    try:
        report = pooled.index([SEEDS])
    finally:
        pooled.close()
    assert report.chunks == seeds_qa.stats()["chunks"]
    for doc_id in ("000_5b672d860f205277.txt", "002_a4b40d0ff9340f7b.txt"):
        rows = "SELECT start, end FROM chunks WHERE doc_id = ? ORDER BY ordinal"
        assert pooled.store.db.execute(rows, (doc_id,)).fetchall() == seeds_qa.store.db.execute(rows, (doc_id,)).fetchall()
    ours, theirs = (qa.store.vector_snapshot().contents() for qa in (pooled, seeds_qa))
    by_id = dict(zip(theirs[1].tolist(), theirs[0], strict=True))
    # Chunk ids follow insertion order in both indexes, so they pair up one to one.
    assert sorted(ours[1].tolist()) == sorted(by_id)
    assert min(float(v @ by_id[i]) for v, i in zip(ours[0], ours[1].tolist(), strict=True)) >= 0.9999
    assert cited(pooled.ask(ARRESTS)) == cited(seeds_qa.ask(ARRESTS))
