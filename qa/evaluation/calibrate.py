"""`qa calibrate`: fit the confidence and in-scope models on `qa eval` outcomes, report them on held-out documents.

Each outcomes file (the `.jsonl` that `qa eval --report` writes) is one setting: a data set asked
pooled or single-document. Rows: answerable questions (in scope; right when the drafted answer holds
a gold answer) and out-of-scope ones (`--out-of-corpus`, `--cross-document`: never right). SQuAD's
unanswerable questions are left out: written to look answerable from their passage, they would teach
the models to decline answerable questions. Documents are split, not questions: sorted by name, every
third document is held out of the fit, with all its questions in every setting, and every figure is
reported on those held-out documents only. The shipped model is the one fitted on the other two thirds.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EvalDataError
from .runs import OUT_OF_SCOPE
from .scoring import auroc, expected_calibration_error

IN_SCOPE = ("answerable", "conversation")
HELD_OUT_EVERY = 3


@dataclass
class Rows:
    """The labelled outcomes of every setting, as arrays."""

    features: np.ndarray
    names: list[str]
    in_scope: np.ndarray
    right: np.ndarray
    setting: np.ndarray
    document: np.ndarray


def read_rows(files: Sequence[Path]) -> Rows:
    """Answerable and out-of-scope outcomes with their features; the setting is the file's name."""
    values, in_scope, right, setting, document = [], [], [], [], []
    names: list[str] | None = None
    for path in files:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                row = json.loads(line)
                if row["kind"] not in IN_SCOPE + OUT_OF_SCOPE:
                    continue
                if not row.get("features"):
                    raise EvalDataError(f"{path} line {number}: no features (outcomes of an older `qa eval`?)")
                names = names or list(row["features"])
                values.append([row["features"][n] for n in names])
                in_scope.append(row["kind"] in IN_SCOPE)
                right.append(bool(row["right"]) and row["kind"] in IN_SCOPE)
                setting.append(Path(path).stem)
                document.append(str(row["document"]))
    if names is None:
        raise EvalDataError("no answerable or out-of-scope outcome in the files given")
    return Rows(np.array(values, dtype=float), names, np.array(in_scope), np.array(right), np.array(setting), np.array(document))


def fit(files: Sequence[Path], out_of_scope_declined: float = 0.95, regularisation: float = 1.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the calibration file's content, the held-out report): both heads, fitted on two thirds of the documents."""
    from sklearn.linear_model import LogisticRegression

    rows = read_rows(files)
    documents = sorted(set(rows.document))
    held_out = {d for i, d in enumerate(documents) if i % HELD_OUT_EVERY == 1}
    test = np.isin(rows.document, sorted(held_out))
    train = ~test
    mean = rows.features[train].mean(axis=0)
    scale = rows.features[train].std(axis=0)
    scale[scale == 0] = 1.0
    standard = (rows.features - mean) / scale
    heads, probabilities = {}, {}
    for head, labels in (("scope", rows.in_scope), ("correct", rows.right)):
        model = LogisticRegression(C=regularisation, max_iter=5000).fit(standard[train], labels[train])
        probabilities[head] = model.predict_proba(standard)[:, 1]
        heads[head] = {"features": rows.names, "mean": _rounded(mean), "scale": _rounded(scale),
                       "coefficients": _rounded(model.coef_[0]), "intercept": round(float(model.intercept_[0]), 6)}
    threshold = _threshold(probabilities["scope"], rows, train, out_of_scope_declined)
    report = {setting: _figures(rows, probabilities, threshold, test & (rows.setting == setting)) for setting in sorted(set(rows.setting))}
    report["all"] = _figures(rows, probabilities, threshold, test)
    fitted = {
        "fitted_on": [str(Path(f).name) for f in files],
        "commit": _commit(),
        "rows": {"train": int(train.sum()), "held_out": int(test.sum())},
        "held_out_documents": sorted(held_out),
        "out_of_scope_declined_on_training_documents": out_of_scope_declined,
        "held_out_figures": report,
    }
    return {"fitted": fitted, "abstain_threshold": threshold, "heads": heads}, report


def _threshold(scope: np.ndarray, rows: Rows, train: np.ndarray, target: float) -> float:
    """The smallest in-scope threshold that declines `target` of the training documents' out-of-scope
    questions in every setting that has some."""
    for threshold in np.round(np.arange(0, 1.0005, 0.001), 3):
        if all(
            (scope[mask] < threshold).mean() >= target
            for setting in set(rows.setting)
            if (mask := train & (rows.setting == setting) & ~rows.in_scope).any()
        ):
            return float(threshold)
    return 1.0


def _figures(rows: Rows, probabilities: dict[str, np.ndarray], threshold: float, mask: np.ndarray) -> dict[str, Any]:
    answerable = mask & rows.in_scope
    outside = mask & ~rows.in_scope
    correct, scope = probabilities["correct"], probabilities["scope"]

    def share(flags: np.ndarray) -> float | None:
        return round(float(flags.mean()), 4) if len(flags) else None

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "answerable": int(answerable.sum()),
        "out_of_scope": int(outside.sum()),
        "confidence_auroc": rounded(auroc(correct[answerable], rows.right[answerable])),
        "confidence_auroc_with_out_of_scope": rounded(auroc(correct[mask], rows.right[mask])),
        "confidence_ece": rounded(expected_calibration_error(correct[mask], rows.right[mask])),
        "scope_auroc": rounded(auroc(scope[mask], rows.in_scope[mask])),
        "answerable_declined": share(scope[answerable] < threshold),
        "out_of_scope_declined": share(scope[outside] < threshold),
        "gold_in_answer": share((scope[answerable] >= threshold) & rows.right[answerable]),
    }


def _rounded(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in values]


def _commit() -> str:
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                               cwd=Path(__file__).resolve().parent)
        return found.stdout.strip() or "unknown"
    except OSError:
        return "unknown"
