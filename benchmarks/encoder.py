"""Torch vs ONNX int8 encoder: throughput, single-query latency and dense MRR@10 on SQuAD2-dev.

    python benchmarks/encoder.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.pool import RESULTS, SQUAD, squad_passages, squad_questions  # noqa: E402
from qa.config import EmbeddingSettings  # noqa: E402
from qa.encoders import create_encoder  # noqa: E402


def mrr_at_10(passage_vectors: np.ndarray, passage_ids: list[str], question_vectors: np.ndarray, gold: list[str]) -> float:
    """Mean reciprocal rank of the gold passage in the exact top 10."""
    top = np.argsort(-(question_vectors @ passage_vectors.T), axis=1)[:, :10]
    total = 0.0
    for row, wanted in zip(top, gold, strict=True):
        ranked = [passage_ids[i] for i in row]
        total += 1 / (ranked.index(wanted) + 1) if wanted in ranked else 0.0
    return total / len(gold)


def measure(encoder: str, passages: list[dict], questions: list[dict], gold: list[str], singles: int) -> dict:
    """One encoder's figures."""
    model = create_encoder(EmbeddingSettings(encoder=encoder))
    texts = [f"{p['title']}. {p['text']}" for p in passages]
    model.encode(texts[:64])
    began = time.perf_counter()
    passage_vectors = model.encode(texts)
    throughput = len(texts) / (time.perf_counter() - began)
    question_vectors = model.encode([q["text"] for q in questions])
    for q in questions[:5]:
        model.encode([q["text"]])
    single = []
    for q in questions[:singles]:
        began = time.perf_counter()
        model.encode([q["text"]])
        single.append((time.perf_counter() - began) * 1000)
    return {
        "passages_per_s": round(throughput, 2),
        "query_encode_p50_ms": round(float(np.percentile(single, 50)), 2),
        "dense_mrr_at_10": round(mrr_at_10(passage_vectors, [p["_id"] for p in passages], question_vectors, gold), 4),
    }


def main() -> None:
    """Measure both encoders and print JSON."""
    passages = squad_passages()
    questions = squad_questions()
    qrels = dict(line.split("\t")[:2] for line in (SQUAD / "qrels" / "test.tsv").read_text().splitlines()[1:])
    gold = [qrels[q["_id"]] for q in questions]
    results = {name: measure(name, passages, questions, gold, 200) for name in ("torch", "onnx-int8")}
    torch, onnx = results["torch"], results["onnx-int8"]
    results["onnx_vs_torch"] = {
        "throughput_ratio": round(onnx["passages_per_s"] / torch["passages_per_s"], 3),
        "query_encode_speedup": round(torch["query_encode_p50_ms"] / onnx["query_encode_p50_ms"], 3),
        "mrr_loss": round(torch["dense_mrr_at_10"] - onnx["dense_mrr_at_10"], 4),
        "keep_if": "throughput_ratio >= 2 and query_encode_speedup >= 2 and mrr_loss <= 0.01",
    }
    (RESULTS / "encoder.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
