"""The `--report` files: a Markdown summary, a plot (confidence by outcome, reliability diagram), per-question JSON lines."""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .runs import OUT_OF_SCOPE, EvalResult, Outcome
from .scoring import reliability

_LABELS = {
    "hit@1": "hit@1", "hit@5": "hit@5", "hit@10": "hit@10", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10",
    "gold_in_first_sentence": "gold answer in first sentence", "gold_in_answer": "gold answer in whole answer",
    "short_answer_given": "short answer given", "short_answer_em": "short answer exact match",
    "short_answer_f1": "short answer F1", "short_answer_contained": "short answer inside a gold answer, when given",
    "short_answer_given_typed": "short answer given, number/date/person/place questions",
    "first_citation_gold": "first citation is the gold passage",
    "answerable_declined": "answerable questions declined (wrongly)",
    "unanswerable_declined": "SQuAD unanswerable questions declined",
    "out_of_corpus_declined": "out-of-corpus questions declined",
    "cross_document_declined": "questions asked of another document alone, declined",
    "disputed_declined": "questions with an answer marked wrong, declined now",
    "disputed_cites_wrong": "questions with an answer marked wrong, still citing a wrong passage first",
    "confidence_auroc": "confidence AUROC, right vs wrong drafts (answerable)",
    "confidence_ece": "confidence ECE (answerable and out-of-scope, 10 bins)",
    "scope_auroc": "in-scope probability AUROC, answerable vs out-of-scope",
    "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
}


def confidence_groups(outcomes: Sequence[Outcome]) -> dict[str, list[float]]:
    """Confidences split by what the answer turned out to be, for the threshold plot."""
    groups: dict[str, list[float]] = collections.defaultdict(list)
    for o in outcomes:
        if o.kind not in ("answerable", "conversation"):
            groups[o.kind].append(o.confidence)
        elif o.abstained:
            groups["answerable, declined"].append(o.confidence)
        else:
            groups["answered right" if o.gold_in_answer else "answered wrong"].append(o.confidence)
    return dict(groups)


def calibration_rows(outcomes: Sequence[Outcome]) -> list[tuple[float, float, int]]:
    """The reliability diagram's bins over answerable and out-of-scope questions: confidence vs right drafts."""
    scored = [o for o in outcomes if o.kind == "answerable" or o.kind in OUT_OF_SCOPE]
    return reliability([o.confidence for o in scored], [o.right for o in scored])


def write_report(result: EvalResult, path: Path) -> Path:
    """Write a Markdown report and, beside it, a PNG (confidence by outcome and reliability) and per-question JSONL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot = path.with_suffix(".png")
    path.with_suffix(".jsonl").write_text(outcomes_jsonl(result.outcomes), encoding="utf-8")
    rows = calibration_rows(result.outcomes)
    plot_confidence(confidence_groups(result.outcomes), rows, result.abstain_threshold, plot)
    lines = [
        "# Evaluation report",
        "",
        f"Data: `{result.data}` ({result.mode}), {result.questions} answerable questions; abstain threshold "
        f"{result.abstain_threshold}; index {'reused' if result.index_reused else 'built'} in {result.index_seconds:.1f} s.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, value in result.metrics.items():
        lines.append(f"| {_LABELS.get(key, key)} | {value} |")
    lines += ["", f"![answer confidence by outcome, and reliability]({plot.name})", "",
              "## Reliability (confidence vs share of right drafts)", "",
              "| mean confidence | share right | questions |", "|---|---|---|"]
    lines += [f"| {predicted:.3f} | {observed:.3f} | {count} |" for predicted, observed, count in rows]
    lines += ["", "## Answered wrong (first 15)", ""]
    wrong = [o for o in result.outcomes if o.kind == "answerable" and not o.abstained and not o.gold_in_answer]
    for o in wrong[:15]:
        lines.append(f"- **{o.question}** gold: {' | '.join(o.gold_answers[:3])}; passage rank {o.gold_rank}; "
                     f"confidence {o.confidence:.3f}\n  answer: {o.answer[:300]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return plot


def plot_confidence(groups: dict[str, list[float]], rows: list[tuple[float, float, int]], threshold: float, path: Path) -> None:
    """Overlaid confidence histograms with the abstention threshold, beside the reliability diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (axes, diagram) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    values = [v for group in groups.values() for v in group] or [0.0, 1.0]
    bins = np.linspace(min(values + [threshold]) - 0.01, max(values + [threshold]) + 0.01, 50)
    for label, confidences in sorted(groups.items()):
        if confidences:
            axes.hist(confidences, bins=bins.tolist(), alpha=0.5, density=True, label=f"{label} ({len(confidences)})")
    axes.axvline(threshold, color="black", linestyle="--", label=f"abstain threshold {threshold}")
    axes.set_xlabel("answer confidence")
    axes.set_ylabel("density")
    axes.set_title("Answer confidence by outcome")
    axes.legend()
    diagram.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    if rows:
        predicted, observed, counts = zip(*rows, strict=True)
        diagram.plot(predicted, observed, marker="o", label="observed")
        for x, y, count in rows:
            diagram.annotate(str(count), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    diagram.set_xlim(0, 1)
    diagram.set_ylim(0, 1)
    diagram.set_xlabel("confidence (bin mean)")
    diagram.set_ylabel("share of drafts holding a gold answer")
    diagram.set_title("Reliability")
    diagram.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def outcomes_jsonl(outcomes: Sequence[Outcome]) -> str:
    """Per-question outcomes as JSON lines (for digging into failures, and for `qa calibrate`)."""
    return "".join(json.dumps(asdict(o), ensure_ascii=False) + "\n" for o in outcomes)
