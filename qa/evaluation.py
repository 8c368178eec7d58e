"""Answer and retrieval quality on a BEIR-layout data set, asked through the same path as the chat."""

from __future__ import annotations

import collections
import hashlib
import json
import math
import re
import string
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import EvalDataError
from .models import Answer

if TYPE_CHECKING:
    from .engine import QA

# Retrieval metrics look this deep; the answer itself uses the chat's own top_k.
RANK_DEPTH = 10
# Chunks fetched to fill RANK_DEPTH distinct passages (a passage may hold several chunks).
RANK_CHUNKS = 30
_CITATION_MARK = re.compile(r"\s*\[\d+\](?=\s|$)")


@dataclass(frozen=True)
class Query:
    """One evaluation question; `answers` is empty for unanswerable ones."""

    query_id: str
    text: str
    answers: tuple[str, ...] = ()
    gold: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EvalSet:
    """A BEIR folder: the corpus to index and the answerable questions with their gold passages."""

    corpus: Path
    queries: tuple[Query, ...]


@dataclass
class Outcome:
    """What happened to one question."""

    query_id: str
    question: str
    kind: str  # "answerable", "unanswerable" or "out-of-corpus"
    abstained: bool
    confidence: float
    seconds: float
    answer: str
    short_answer: str | None
    gold_answers: tuple[str, ...] = ()
    gold_rank: int | None = None
    first_cited: str | None = None
    gold_in_first_sentence: bool = False
    gold_in_answer: bool = False
    short_em: float = 0.0
    short_f1: float = 0.0


@dataclass
class EvalResult:
    """Every figure of one evaluation run plus the per-question outcomes behind them."""

    data: str
    questions: int
    metrics: dict[str, float | int | None]
    abstain_threshold: float
    index_seconds: float
    index_reused: bool
    outcomes: list[Outcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` object: metrics and run facts, without the per-question outcomes."""
        return {
            "data": self.data,
            "questions": self.questions,
            "abstain_threshold": self.abstain_threshold,
            "index_seconds": round(self.index_seconds, 2),
            "index_reused": self.index_reused,
            **self.metrics,
        }


# -- data ---------------------------------------------------------------------------------------


def default_eval_index(data: Path) -> Path:
    """A per-data-set index folder under the system temp dir, reused by later runs."""
    folder = Path(data).resolve()
    digest = hashlib.sha1(str(folder).encode("utf-8")).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / "qa-eval" / f"{folder.name}-{digest}"


def load_eval_set(folder: Path) -> EvalSet:
    """Read `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv` of a BEIR folder."""
    folder = Path(folder)
    corpus, queries_file, qrels_file = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "test.tsv"
    for path in (corpus, queries_file, qrels_file):
        if not path.is_file():
            raise EvalDataError(f"{path} is missing: --data must be a BEIR folder with corpus.jsonl, queries.jsonl and qrels/test.tsv")
    gold = read_qrels(qrels_file)
    queries = tuple(
        Query(q.query_id, q.text, q.answers, frozenset(gold.get(q.query_id, ())))
        for q in read_queries(queries_file)
        if q.query_id in gold
    )
    if not queries:
        raise EvalDataError(f"no query in {queries_file} has a gold passage in {qrels_file}")
    return EvalSet(corpus, queries)


def read_queries(path: Path) -> list[Query]:
    """Queries of a BEIR `queries.jsonl`; gold answers come from `metadata.answers` when present."""
    queries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                answers = tuple((record.get("metadata") or {}).get("answers") or ())
                queries.append(Query(str(record["_id"]), str(record["text"]), answers))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
                raise EvalDataError(f"{path} line {number}: not a query with '_id' and 'text' ({error})") from error
    return queries


def read_qrels(path: Path) -> dict[str, set[str]]:
    """query id -> relevant passage ids from a BEIR qrels TSV (header line first)."""
    gold: dict[str, set[str]] = collections.defaultdict(set)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and parts[0] == "query-id":
                continue
            if len(parts) < 2:
                if line.strip():
                    raise EvalDataError(f"{path} line {number}: expected query-id<TAB>corpus-id<TAB>score")
                continue
            if len(parts) < 3 or float(parts[2] or 0) > 0:
                gold[parts[0]].add(parts[1])
    return gold


# -- SQuAD normalisation and scores ---------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


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


def answer_sentences(answer_text: str) -> list[str]:
    """The sentences of an answer, without their `[n]` citation marks."""
    parts = _CITATION_MARK.split(answer_text)
    return [part.strip() for part in parts if part.strip()]


# -- running ------------------------------------------------------------------------------------


def passage_ranking(qa: QA, question: str) -> list[str]:
    """The first RANK_DEPTH distinct passages (documents) the chat's retriever returns for `question`."""
    ranked: list[str] = []
    for passage in qa.search(question, RANK_CHUNKS):
        if passage.doc_id not in ranked:
            ranked.append(passage.doc_id)
    return ranked[:RANK_DEPTH]


def ask_all(
    qa: QA,
    queries: Sequence[Query],
    kind: str,
    with_ranking: bool,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Ask each query once through `QA.ask` (the chat's path) and score what came back."""
    outcomes = []
    for number, query in enumerate(queries, 1):
        began = time.perf_counter()
        answer: Answer = qa.ask(query.text)
        seconds = time.perf_counter() - began
        outcome = Outcome(
            query.query_id, query.text, kind, answer.abstained, answer.confidence, seconds,
            answer.answer, answer.short_answer, query.answers,
        )
        if with_ranking and query.gold:
            ranking = passage_ranking(qa, query.text)
            outcome.gold_rank = next((i for i, doc in enumerate(ranking, 1) if doc in query.gold), None)
        if query.answers and not answer.abstained:
            sentences = answer_sentences(answer.answer)
            outcome.first_cited = answer.citations[0].doc_id if answer.citations else None
            outcome.gold_in_first_sentence = bool(sentences) and contains_answer(sentences[0], query.answers)
            outcome.gold_in_answer = contains_answer(" ".join(sentences), query.answers)
            if answer.short_answer:
                outcome.short_em = exact_match(answer.short_answer, query.answers)
                outcome.short_f1 = f1_score(answer.short_answer, query.answers)
        outcomes.append(outcome)
        if progress:
            progress(number, len(queries))
    return outcomes


def summarize(
    answerable: Sequence[Outcome], gold: dict[str, frozenset[str]], others: Mapping[str, Sequence[Outcome]]
) -> dict[str, float | int | None]:
    """Retrieval, answer, citation, abstention and latency figures (shares in 0..1)."""
    n = len(answerable)
    ranks = [o.gold_rank for o in answerable]

    def share(flags: Sequence[bool]) -> float | None:
        return round(sum(flags) / len(flags), 4) if flags else None

    metrics: dict[str, float | int | None] = {
        "hit@1": share([r is not None and r <= 1 for r in ranks]),
        "hit@5": share([r is not None and r <= 5 for r in ranks]),
        "hit@10": share([r is not None for r in ranks]),
        "mrr@10": round(sum(1 / r for r in ranks if r) / n, 4) if n else None,
        "ndcg@10": round(sum(_ndcg(o.gold_rank, len(gold[o.query_id])) for o in answerable) / n, 4) if n else None,
        "gold_in_first_sentence": share([o.gold_in_first_sentence for o in answerable]),
        "gold_in_answer": share([o.gold_in_answer for o in answerable]),
        "short_answer_given": share([bool(o.short_answer) and not o.abstained for o in answerable]),
        "short_answer_em": round(sum(o.short_em for o in answerable) / n, 4) if n else None,
        "short_answer_f1": round(sum(o.short_f1 for o in answerable) / n, 4) if n else None,
        "first_citation_gold": share([o.first_cited in gold[o.query_id] for o in answerable]),
        "answerable_declined": share([o.abstained for o in answerable]),
    }
    for kind, outcomes in others.items():
        metrics[f"{kind.replace('-', '_')}_questions"] = len(outcomes)
        metrics[f"{kind.replace('-', '_')}_declined"] = share([o.abstained for o in outcomes])
    latencies = np.array([o.seconds for o in answerable] or [0.0]) * 1000
    metrics["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 1)
    metrics["latency_ms_p95"] = round(float(np.percentile(latencies, 95)), 1)
    return metrics


def _ndcg(rank: int | None, relevant: int) -> float:
    if rank is None:
        return 0.0
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(relevant, RANK_DEPTH) + 1))
    return (1 / math.log2(rank + 1)) / ideal


def evaluate(
    qa: QA,
    eval_set: EvalSet,
    limit: int | None = None,
    unanswerable: Sequence[Query] = (),
    out_of_corpus_qa: QA | None = None,
    index_seconds: float = 0.0,
    index_reused: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvalResult:
    """Ask the answerable questions (and the optional unanswerable and out-of-corpus sets) and score them."""
    queries = eval_set.queries[:limit] if limit else eval_set.queries
    unanswerable = unanswerable[:limit] if limit else unanswerable

    def step(kind: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(kind, done, total)) if progress else None

    answerable = ask_all(qa, queries, "answerable", True, step("answerable"))
    others: dict[str, list[Outcome]] = {}
    if unanswerable:
        others["unanswerable"] = ask_all(qa, unanswerable, "unanswerable", False, step("unanswerable"))
    if out_of_corpus_qa is not None:
        others["out-of-corpus"] = ask_all(out_of_corpus_qa, queries, "out-of-corpus", False, step("out-of-corpus"))
    gold = {q.query_id: q.gold for q in queries}
    return EvalResult(
        data=str(eval_set.corpus.parent),
        questions=len(queries),
        metrics=summarize(answerable, gold, others),
        abstain_threshold=qa.settings.answer.abstain_threshold,
        index_seconds=index_seconds,
        index_reused=index_reused,
        outcomes=answerable + [o for group in others.values() for o in group],
    )


# -- report ---------------------------------------------------------------------------------------

_LABELS = {
    "hit@1": "hit@1", "hit@5": "hit@5", "hit@10": "hit@10", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10",
    "gold_in_first_sentence": "gold answer in first sentence", "gold_in_answer": "gold answer in whole answer",
    "short_answer_given": "short answer given", "short_answer_em": "short answer exact match",
    "short_answer_f1": "short answer F1", "first_citation_gold": "first citation is the gold passage",
    "answerable_declined": "answerable questions declined (wrongly)",
    "unanswerable_declined": "SQuAD unanswerable questions declined",
    "out_of_corpus_declined": "out-of-corpus questions declined",
    "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
}


def confidence_groups(outcomes: Sequence[Outcome]) -> dict[str, list[float]]:
    """Confidences split by what the answer turned out to be, for the threshold plot."""
    groups: dict[str, list[float]] = collections.defaultdict(list)
    for o in outcomes:
        if o.kind != "answerable":
            groups[o.kind].append(o.confidence)
        elif o.abstained:
            groups["answerable, declined"].append(o.confidence)
        else:
            groups["answered right" if o.gold_in_answer else "answered wrong"].append(o.confidence)
    return dict(groups)


def write_report(result: EvalResult, path: Path) -> Path:
    """Write a Markdown report and, beside it, a confidence PNG and per-question JSONL; returns the PNG path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot = path.with_suffix(".png")
    path.with_suffix(".jsonl").write_text(outcomes_jsonl(result.outcomes), encoding="utf-8")
    plot_confidence(confidence_groups(result.outcomes), result.abstain_threshold, plot)
    lines = [
        "# Evaluation report",
        "",
        f"Data: `{result.data}`, {result.questions} answerable questions; abstain threshold "
        f"{result.abstain_threshold}; index {'reused' if result.index_reused else 'built'} in {result.index_seconds:.1f} s.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, value in result.metrics.items():
        lines.append(f"| {_LABELS.get(key, key)} | {value} |")
    lines += ["", f"![answer confidence by outcome]({plot.name})", "", "## Answered wrong (first 15)", ""]
    wrong = [o for o in result.outcomes if o.kind == "answerable" and not o.abstained and not o.gold_in_answer]
    for o in wrong[:15]:
        lines.append(f"- **{o.question}** gold: {' | '.join(o.gold_answers[:3])}; passage rank {o.gold_rank}; "
                     f"confidence {o.confidence:.3f}\n  answer: {o.answer[:300]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return plot


def plot_confidence(groups: dict[str, list[float]], threshold: float, path: Path) -> None:
    """Overlaid confidence histograms with the abstention threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
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
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def outcomes_jsonl(outcomes: Sequence[Outcome]) -> str:
    """Per-question outcomes as JSON lines (for digging into failures)."""
    return "".join(json.dumps(asdict(o), ensure_ascii=False) + "\n" for o in outcomes)
