"""Calibrated confidence: the shipped parameters, and `qa calibrate` refitting them from eval outcomes."""

from __future__ import annotations

import json
import random

from qa.answering.confidence import CALIBRATION_FILE, Calibration
from qa.config import AnswerSettings
from qa.text import TermWeights


def test_the_shipped_calibration_was_fitted_and_sets_the_default_threshold() -> None:
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    assert not data["fitted"].get("provisional") and data["fitted"]["command"].startswith("qa calibrate")
    assert data["fitted"]["held_out_documents"] and data["fitted"]["held_out_figures"]["all"]["confidence_ece"] is not None
    calibration = Calibration.load()
    assert any(calibration.scope.coefficients) and any(calibration.correct.coefficients)
    assert AnswerSettings().abstain_threshold == calibration.abstain_threshold > 0


def test_probabilities_rise_with_a_better_draft() -> None:
    from qa.answering.confidence import features

    calibration = Calibration.load()
    weights = TermWeights({"port": 2.0, "demonstr": 1.0}, frozenset({"port", "demonstr"}), chunks=12)
    empty = features("Where did demonstrators close a port?", [], [], weights)
    for head in (calibration.scope, calibration.correct):
        assert 0.0 <= head.probability(empty) <= 1.0


def test_qa_calibrate_fits_both_heads_on_outcome_files(tmp_path, capsys) -> None:
    from qa.cli import main

    rng = random.Random(7)
    names = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))["heads"]["scope"]["features"]
    lines = []
    for number in range(300):
        kind = "answerable" if number % 2 else "out-of-corpus"
        good = kind == "answerable" and rng.random() < 0.7
        values = {name: rng.random() for name in names} | {"best": (0.7 if good else 0.3) + 0.2 * rng.random()}
        lines.append({"kind": kind, "right": good, "document": f"doc{number % 9}", "features": values})
    outcomes = tmp_path / "set-a.jsonl"
    outcomes.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "calibration.json"
    assert main(["calibrate", str(outcomes), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["held_out"]["all"]["scope_auroc"] > 0.5 and report["held_out"]["all"]["confidence_auroc"] > 0.8
    fitted = Calibration.load(out)
    assert fitted.abstain_threshold == report["abstain_threshold"]
    assert json.loads(out.read_text(encoding="utf-8"))["fitted"]["command"].startswith("qa calibrate ")
