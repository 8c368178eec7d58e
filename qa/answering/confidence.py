"""Calibrated confidence: two small logistic models over figures the answerer already has.

`scope` is the probability that the question is answerable from these documents at all (the abstain
decision); `correct` is the probability that the drafted answer holds the answer (the `confidence`
field). Both were fitted by `qa calibrate` on labelled outcomes of both evaluation data sets, pooled
and single-document (docs/evaluation.md); the fitted parameters ship as `calibration.json` beside this
module and are applied here with numpy alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..models import Passage
from ..text import TermWeights
from .question_types import PATTERNS, question_type
from .sentences import ScoredSentence

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
QUESTION_KINDS = ("date", "number", "person", "place")


def features(question: str, scored: list[ScoredSentence], passages: list[Passage], weights: TermWeights) -> dict[str, float]:
    """What the answerer knows about a draft, as named numbers (the calibration's inputs)."""
    best = scored[0] if scored else None
    second = scored[1].score if len(scored) > 1 else 0.0
    top = passages[0] if passages else None
    kind = question_type(question)
    wanted = PATTERNS[kind] if kind in ("date", "number") else None
    best_document = passages[best.passage_index].doc_id if best else None
    head = passages[:3]
    return {
        "best": best.score if best else 0.0,
        "second": second,
        "margin": (best.score - second) if best else 0.0,
        "best_cosine": best.cosine if best else 0.0,
        "best_overlap": best.overlap if best else 0.0,
        "coverage": weights.coverage,
        "unfamiliar": weights.unfamiliar_share,
        "best_x_coverage": (best.score if best else 0.0) * weights.coverage,
        "log_terms": math.log1p(len(weights.idf)),
        "log_chunks": math.log1p(weights.chunks),
        "top_dense_rank": 1 / top.dense_rank if top and top.dense_rank else 0.0,
        "top_chunk_cosine": float(top.dense_score or 0.0) if top else 0.0,
        "best_passage": float(best.passage_index) if best else 5.0,
        "type_match": float(bool(best and wanted and wanted.search(best.text))),
        "log_words": math.log1p(len(best.text.split())) if best else 0.0,
        "mean_cosine_top3": float(np.mean([s.cosine for s in scored[:3]])) if scored else 0.0,
        "same_document_top3": sum(p.doc_id == best_document for p in head) / len(head) if head else 0.0,
        **{f"kind_{k}": float(kind == k) for k in QUESTION_KINDS},
    }


@dataclass(frozen=True)
class Head:
    """One logistic model: standardised features, coefficients, intercept."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: float

    def probability(self, values: dict[str, float]) -> float:
        """The model's probability for these feature values."""
        x = (np.array([values[name] for name in self.names]) - self.mean) / self.scale
        return float(1 / (1 + math.exp(-float(np.clip(x @ self.coefficients + self.intercept, -30, 30)))))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Head:
        """A head as `qa calibrate` wrote it."""
        return cls(tuple(data["features"]), np.array(data["mean"], dtype=float), np.array(data["scale"], dtype=float),
                   np.array(data["coefficients"], dtype=float), float(data["intercept"]))


@dataclass(frozen=True)
class Calibration:
    """The two heads and the abstain threshold chosen on `scope`."""

    scope: Head
    correct: Head
    abstain_threshold: float

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        """The calibration in `path` (default: the one shipped in the package)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(Head.from_dict(data["heads"]["scope"]), Head.from_dict(data["heads"]["correct"]), float(data["abstain_threshold"]))
