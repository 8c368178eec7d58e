"""Scores: SQuAD answer matching, and how well a confidence ranks and predicts outcomes."""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
# Bins of the reliability diagram and of the expected calibration error.
CALIBRATION_BINS = 10


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and articles, squeeze spaces (the SQuAD evaluation script's rule)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether a normalised gold answer stands in the normalised text as whole words."""
    haystack = f" {normalize_answer(text)} "
    return any(f" {needle} " in haystack for needle in map(normalize_answer, answers) if needle)


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD exact match against the best gold answer."""
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def f1_score(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD token F1 against the best gold answer."""
    best = 0.0
    predicted = normalize_answer(prediction).split()
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the chance a random positive scores above a random negative (ties count half)."""
    positives = sum(bool(label) for label in labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    values = np.asarray(scores, dtype=float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    # Average ranks over ties.
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    positive_ranks = ranks[np.asarray(labels, dtype=bool)].sum()
    return float((positive_ranks - positives * (positives + 1) / 2) / (positives * negatives))


def reliability(probabilities: Sequence[float], labels: Sequence[bool], bins: int = CALIBRATION_BINS) -> list[tuple[float, float, int]]:
    """(mean predicted probability, observed share of positives, count) per equal-width bin that holds any."""
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    y = np.asarray(labels, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    return [(float(p[index == b].mean()), float(y[index == b].mean()), int((index == b).sum())) for b in range(bins) if (index == b).any()]


def expected_calibration_error(probabilities: Sequence[float], labels: Sequence[bool], bins: int = CALIBRATION_BINS) -> float | None:
    """Mean |predicted - observed| over the reliability bins, weighted by their counts."""
    if not len(probabilities):
        return None
    rows = reliability(probabilities, labels, bins)
    return float(sum(count * abs(predicted - observed) for predicted, observed, count in rows) / len(probabilities))
