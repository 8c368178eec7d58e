"""Real material for the benchmarks: SQuAD2-dev passages, their sentences and questions, embedded once and cached."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.chunking import split_sentences

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SQUAD = ROOT.parent / "shared" / "eval" / "squad2-dev"


@dataclass
class Pool:
    """Real sentences and questions of SQuAD2-dev with their embeddings (float32, normalized)."""

    sentences: list[str]
    sentence_vectors: np.ndarray
    questions: list[str]
    question_vectors: np.ndarray


def squad_passages(squad: Path = SQUAD) -> list[dict]:
    """The SQuAD2-dev corpus records."""
    with open(squad / "corpus.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def squad_questions(squad: Path = SQUAD) -> list[dict]:
    """The answerable SQuAD2-dev questions."""
    with open(squad / "queries.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_pool(encoder, squad: Path = SQUAD, cache: Path = RESULTS / "pool.npz") -> Pool:
    """Every sentence of the corpus and every question, embedded with the real model (cached on disk)."""
    sentences = [
        record["text"][s.start : s.end]
        for record in squad_passages(squad)
        for s in split_sentences(record["text"])
        if s.end - s.start >= 20
    ]
    questions = [q["text"] for q in squad_questions(squad)]
    if cache.exists():
        stored = np.load(cache)
        if len(stored["sentences"]) == len(sentences) and len(stored["questions"]) == len(questions):
            return Pool(sentences, stored["sentences"], questions, stored["questions"])
    cache.parent.mkdir(parents=True, exist_ok=True)
    pool = Pool(sentences, encoder.encode(sentences), questions, encoder.encode(questions))
    np.savez(cache, sentences=pool.sentence_vectors, questions=pool.question_vectors)
    return pool


if __name__ == "__main__":
    import time

    from qa.config import EmbeddingSettings
    from qa.encoders import create_encoder

    began = time.perf_counter()
    pool = load_pool(create_encoder(EmbeddingSettings()))
    print(f"{len(pool.sentences)} sentences, {len(pool.questions)} questions in {time.perf_counter() - began:.1f}s")
