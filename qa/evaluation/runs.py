"""Asking an evaluation's questions through the chat's own path and scoring what comes back."""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..answering.confidence import QUESTION_KINDS
from ..answering.question_types import question_type
from .data import Conversation, DocumentSet, EvalSet, Paragraph, Query
from .scoring import auroc, contains_answer, exact_match, expected_calibration_error, f1_score, normalize_answer

if TYPE_CHECKING:
    from ..engine import QA

# Retrieval metrics look this deep; the answer itself uses the chat's own top_k.
RANK_DEPTH = 10
# Chunks fetched to fill RANK_DEPTH distinct passages (a passage may hold several chunks).
RANK_CHUNKS = 30
# Kinds of question that should be declined: asked of documents that do not hold their answer.
OUT_OF_SCOPE = ("out-of-corpus", "cross-document")

Progress = Callable[[str, int, int], None]


@dataclass
class Outcome:
    """What happened to one question."""

    query_id: str
    question: str
    kind: str  # "answerable", "unanswerable", "out-of-corpus", "cross-document" or "conversation"
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
    # The document the question is about, and whether the drafted answer (given or declined) holds a gold answer.
    document: str | None = None
    right: bool = False
    first_cited_document: str | None = None
    shape: str | None = None
    # The draft's probability that the question is answerable here (the abstain decision), and its features.
    scope: float = 0.0
    features: dict[str, float] = field(default_factory=dict)


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
    mode: str = "pooled"

    def to_dict(self) -> dict[str, Any]:
        """The `--json` object: metrics and run facts, without the per-question outcomes."""
        return {
            "data": self.data,
            "mode": self.mode,
            "questions": self.questions,
            "abstain_threshold": self.abstain_threshold,
            "index_seconds": round(self.index_seconds, 2),
            "index_reused": self.index_reused,
            **self.metrics,
        }


@dataclass(frozen=True)
class Locator:
    """Maps a cited span to the data set's passage ids: the doc id itself, or (one-file indexes) the
    corpus paragraphs it overlaps, by offset."""

    paragraphs: tuple[Paragraph, ...] | None = None
    document_of: Mapping[str, str] = field(default_factory=dict)
    document: str | None = None

    def passages(self, doc_id: str, start: int, end: int) -> list[str]:
        """Passage ids of the span [start, end) of `doc_id`, in document order."""
        if self.paragraphs is None:
            return [doc_id]
        return [p.passage_id for p in self.paragraphs if p.start < end and start < p.end]

    def passage_at(self, doc_id: str, offset: int) -> str | None:
        """The passage holding the character at `offset` of `doc_id`."""
        found = self.passages(doc_id, offset, offset + 1)
        return found[0] if found else None

    def document_name(self, doc_id: str) -> str | None:
        """The data set's document a cited doc id belongs to."""
        return self.document if self.paragraphs is not None else self.document_of.get(doc_id)


def passage_ranking(qa: QA, question: str, locator: Locator | None = None) -> list[str]:
    """The first RANK_DEPTH distinct passages the chat's retriever returns for `question`."""
    locator = locator or Locator()
    ranked: list[str] = []
    for passage in qa.search(question, RANK_CHUNKS):
        for passage_id in locator.passages(passage.doc_id, passage.start, passage.end):
            if passage_id not in ranked:
                ranked.append(passage_id)
    return ranked[:RANK_DEPTH]


def ask_one(qa: QA, query: Query, kind: str, with_ranking: bool, locator: Locator | None = None,
            history: Sequence[dict[str, str]] = ()) -> Outcome:
    """Ask one query through `QA.ask` (the chat's path, `history` as earlier turns) and score what came back."""
    locator = locator or Locator()
    began = time.perf_counter()
    answer, draft = qa.ask_with_draft(query.text, list(history))
    seconds = time.perf_counter() - began
    outcome = Outcome(
        query.query_id, query.text, kind, answer.abstained, answer.confidence, seconds,
        answer.answer, answer.short_answer, query.answers, document=query.document, scope=draft.scope, features=draft.features,
    )
    if with_ranking and query.gold:
        ranking = passage_ranking(qa, query.text, locator)
        outcome.gold_rank = next((i for i, doc in enumerate(ranking, 1) if doc in query.gold), None)
    if query.answers:
        outcome.right = bool(draft.chosen) and contains_answer(draft.text, query.answers)
    if not answer.abstained and answer.segments:
        first = answer.segments[0]
        outcome.first_cited = locator.passage_at(first.doc_id, first.start)
        outcome.first_cited_document = locator.document_name(first.doc_id)
    if query.answers and not answer.abstained:
        sentences = [s.text for s in answer.segments]
        outcome.gold_in_first_sentence = contains_answer(sentences[0], query.answers)
        outcome.gold_in_answer = contains_answer(" ".join(sentences), query.answers)
        if answer.short_answer:
            outcome.short_em = exact_match(answer.short_answer, query.answers)
            outcome.short_f1 = f1_score(answer.short_answer, query.answers)
    return outcome


def ask_all(qa: QA, queries: Sequence[Query], kind: str, with_ranking: bool,
            progress: Callable[[int, int], None] | None = None, locator: Locator | None = None) -> list[Outcome]:
    """Ask each query once, on its own (no history), and score what came back."""
    outcomes = []
    for number, query in enumerate(queries, 1):
        outcomes.append(ask_one(qa, query, kind, with_ranking, locator))
        if progress:
            progress(number, len(queries))
    return outcomes


def ask_conversation(qa: QA, conversation: Conversation, locator: Locator | None = None) -> Outcome:
    """Ask the earlier turns in order (each answered, as in the chat), then the scored question with that history."""
    history: list[dict[str, str]] = []
    for turn in conversation.history:
        answer = qa.ask(turn, history)
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": answer.answer}]
    outcome = ask_one(qa, conversation.query, "conversation", False, locator, history)
    outcome.shape = conversation.shape
    return outcome


def summarize(
    answerable: Sequence[Outcome], gold: dict[str, frozenset[str]], others: Mapping[str, Sequence[Outcome]],
    conversations: Sequence[Outcome] = (),
) -> dict[str, float | int | None]:
    """Retrieval, answer, citation, abstention, confidence and latency figures (shares in 0..1)."""
    n = len(answerable)
    ranks = [o.gold_rank for o in answerable]
    metrics: dict[str, float | int | None] = {
        "hit@1": _share([r is not None and r <= 1 for r in ranks]),
        "hit@5": _share([r is not None and r <= 5 for r in ranks]),
        "hit@10": _share([r is not None for r in ranks]),
        "mrr@10": round(sum(1 / r for r in ranks if r) / n, 4) if n else None,
        "ndcg@10": round(sum(_ndcg(o.gold_rank, len(gold[o.query_id])) for o in answerable) / n, 4) if n else None,
        "gold_in_first_sentence": _share([o.gold_in_first_sentence for o in answerable]),
        "gold_in_answer": _share([o.gold_in_answer for o in answerable]),
        "short_answer_given": _share([bool(o.short_answer) and not o.abstained for o in answerable]),
        "short_answer_em": round(sum(o.short_em for o in answerable) / n, 4) if n else None,
        "short_answer_f1": round(sum(o.short_f1 for o in answerable) / n, 4) if n else None,
        # Precision first: how often a given short answer stands inside a gold answer, and how often
        # one is given where the question asks for a number, date, person or place.
        "short_answer_contained": _share([contains_short(o) for o in answerable if o.short_answer and not o.abstained]),
        "short_answer_given_typed": _share([bool(o.short_answer) and not o.abstained for o in answerable
                                            if question_type(o.question) in QUESTION_KINDS]),
        "first_citation_gold": _share([o.first_cited in gold[o.query_id] for o in answerable]),
        "answerable_declined": _share([o.abstained for o in answerable]),
    }
    for kind, outcomes in others.items():
        metrics[f"{kind.replace('-', '_')}_questions"] = len(outcomes)
        metrics[f"{kind.replace('-', '_')}_declined"] = _share([o.abstained for o in outcomes])
    metrics.update(confidence_figures(answerable, [o for kind in OUT_OF_SCOPE for o in others.get(kind, ())]))
    if conversations:
        metrics.update(conversation_figures(conversations))
    latencies = np.array([o.seconds for o in answerable] or [0.0]) * 1000
    metrics["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 1)
    metrics["latency_ms_p95"] = round(float(np.percentile(latencies, 95)), 1)
    return metrics


def confidence_figures(answerable: Sequence[Outcome], out_of_scope: Sequence[Outcome]) -> dict[str, float | None]:
    """How well `confidence` tells a right draft from a wrong one (AUROC, answerable questions), how
    close it is to the observed share of right drafts (ECE, answerable and out-of-scope questions), and
    how well `scope` tells answerable questions from out-of-scope ones (AUROC)."""
    scored = [*answerable, *out_of_scope]
    figures = {
        "confidence_auroc": auroc([o.confidence for o in answerable], [o.right for o in answerable]),
        "confidence_ece": expected_calibration_error([o.confidence for o in scored], [o.right for o in scored]),
        # How well the abstain decision's probability tells answerable questions from out-of-scope ones.
        "scope_auroc": auroc([o.scope for o in scored], [o.kind == "answerable" for o in scored]),
    }
    return {key: None if value is None else round(value, 4) for key, value in figures.items()}


def conversation_figures(outcomes: Sequence[Outcome]) -> dict[str, float | int | None]:
    """Follow-up figures, overall and by conversation shape."""
    figures: dict[str, float | int | None] = {}
    groups: dict[str, list[Outcome]] = {"": list(outcomes)}
    for outcome in outcomes:
        groups.setdefault(f"{outcome.shape}_", []).append(outcome)
    for prefix, group in groups.items():
        key = f"conversation_{prefix}"
        figures[f"{key}questions"] = len(group)
        figures[f"{key}gold_in_answer"] = _share([o.gold_in_answer for o in group])
        figures[f"{key}first_citation_document"] = _share([o.first_cited_document == o.document for o in group])
        figures[f"{key}declined"] = _share([o.abstained for o in group])
    return figures


def contains_short(outcome: Outcome) -> bool:
    """The short answer stands, as whole words, inside one of the gold answers."""
    needle = normalize_answer(outcome.short_answer or "")
    return bool(needle) and any(f" {needle} " in f" {normalize_answer(a)} " for a in outcome.gold_answers)


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


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
    progress: Progress | None = None,
    conversations: Sequence[Conversation] = (),
) -> EvalResult:
    """Pooled mode: ask the answerable questions (and the optional unanswerable, out-of-corpus and
    conversation sets) of the one index holding the whole corpus, and score them."""
    queries = eval_set.queries[:limit] if limit else eval_set.queries
    unanswerable = unanswerable[:limit] if limit else unanswerable
    conversations = conversations[:limit] if limit else conversations
    locator = Locator(document_of=eval_set.document_of)
    answerable = ask_all(qa, queries, "answerable", True, _step(progress, "answerable"), locator)
    others: dict[str, list[Outcome]] = {}
    if unanswerable:
        others["unanswerable"] = ask_all(qa, unanswerable, "unanswerable", False, _step(progress, "unanswerable"))
    if out_of_corpus_qa is not None:
        others["out-of-corpus"] = ask_all(out_of_corpus_qa, queries, "out-of-corpus", False, _step(progress, "out-of-corpus"))
    disputed = eval_set.disputed[:limit] if limit else eval_set.disputed
    if disputed:
        others["disputed"] = ask_all(qa, disputed, "disputed", False, _step(progress, "disputed"), locator)
    followed = []
    for number, conversation in enumerate(conversations, 1):
        followed.append(ask_conversation(qa, conversation, locator))
        _tick(progress, "conversations", number, len(conversations))
    gold = {q.query_id: q.gold for q in queries}
    metrics = summarize(answerable, gold, others, followed)
    if disputed:
        wrong = {q.query_id: q.wrong for q in disputed}
        # Of the questions whose answer someone marked wrong: the share still leading with a passage marked wrong.
        metrics["disputed_cites_wrong"] = _share([o.first_cited in wrong[o.query_id] for o in others["disputed"]])
    return EvalResult(
        data=str(eval_set.corpus.parent),
        questions=len(queries),
        metrics=metrics,
        abstain_threshold=qa.settings.answer.abstain_threshold,
        index_seconds=index_seconds,
        index_reused=index_reused,
        outcomes=answerable + [o for group in others.values() for o in group] + followed,
    )


def evaluate_documents(
    eval_set: EvalSet,
    documents: Sequence[DocumentSet],
    indexes: Mapping[str, QA],
    limit: int | None = None,
    out_of_corpus_qa: QA | None = None,
    cross_document: bool = False,
    index_seconds: float = 0.0,
    index_reused: bool = False,
    progress: Progress | None = None,
    conversations: Sequence[Conversation] = (),
) -> EvalResult:
    """Single-document mode: each document indexed alone (`indexes`, by document name) and asked only its own questions.

    `cross_document` also asks each document's questions of the next document alone (sorted order,
    cyclic), as out-of-scope questions: only meaningful where documents do not answer each other's."""
    kept = {q.query_id for q in (eval_set.queries[:limit] if limit else eval_set.queries)}
    outcomes: dict[str, list[Outcome]] = collections.defaultdict(list)
    for number, document in enumerate(documents):
        qa = indexes[document.name]
        locator = Locator(document.paragraphs, eval_set.document_of, document.name)
        queries = [q for q in document.queries if q.query_id in kept]
        outcomes["answerable"] += ask_all(qa, queries, "answerable", True, None, locator)
        outcomes["unanswerable"] += ask_all(qa, document.unanswerable[:limit] if limit else document.unanswerable, "unanswerable", False)
        if out_of_corpus_qa is not None:
            outcomes["out-of-corpus"] += ask_all(out_of_corpus_qa, queries, "out-of-corpus", False)
        if cross_document and len(documents) > 1:
            other = indexes[documents[(number + 1) % len(documents)].name]
            outcomes["cross-document"] += ask_all(other, queries, "cross-document", False)
        _tick(progress, "documents", number + 1, len(documents))
    by_name = {d.name: d for d in documents}
    followed = []
    asked = [c for c in (conversations[:limit] if limit else conversations) if c.query.document in by_name]
    for number, conversation in enumerate(asked, 1):
        document = by_name[str(conversation.query.document)]
        locator = Locator(document.paragraphs, eval_set.document_of, document.name)
        followed.append(ask_conversation(indexes[document.name], conversation, locator))
        _tick(progress, "conversations", number, len(asked))
    answerable = outcomes.pop("answerable", [])
    others = {kind: group for kind, group in outcomes.items() if group}
    gold = {q.query_id: q.gold for q in answerable_queries(documents)}
    any_index = next(iter(indexes.values()))
    return EvalResult(
        data=str(eval_set.corpus.parent),
        questions=len(answerable),
        metrics={"documents": len(documents), **summarize(answerable, gold, others, followed)},
        abstain_threshold=any_index.settings.answer.abstain_threshold,
        index_seconds=index_seconds,
        index_reused=index_reused,
        outcomes=answerable + [o for group in others.values() for o in group] + followed,
        mode="single-document",
    )


def answerable_queries(documents: Sequence[DocumentSet]) -> list[Query]:
    """Every answerable query of the documents, in document order."""
    return [q for d in documents for q in d.queries]


def _step(progress: Progress | None, kind: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(kind, done, total)) if progress else None


def _tick(progress: Progress | None, kind: str, done: int, total: int) -> None:
    if progress:
        progress(kind, done, total)
