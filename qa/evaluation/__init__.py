"""Answer and retrieval quality on BEIR-layout data, asked through the same path as the chat.

`data` reads the data sets, `runs` asks and scores (pooled, single-document, conversations),
`scoring` holds the answer-matching and confidence scores, `report` writes the `--report` files."""

from .data import (
    Conversation,
    DocumentSet,
    EvalSet,
    Query,
    default_eval_index,
    document_sets,
    load_eval_set,
    read_conversations,
    read_qrels,
    read_queries,
    safe_name,
)
from .report import write_report
from .runs import RANK_CHUNKS, RANK_DEPTH, EvalResult, Outcome, ask_all, evaluate, evaluate_documents, passage_ranking, summarize
from .scoring import auroc, contains_answer, exact_match, expected_calibration_error, f1_score, normalize_answer

__all__ = [
    "RANK_CHUNKS", "RANK_DEPTH", "Conversation", "DocumentSet", "EvalResult", "EvalSet", "Outcome", "Query", "ask_all",
    "auroc", "contains_answer", "default_eval_index", "document_sets", "evaluate", "evaluate_documents",
    "exact_match", "expected_calibration_error", "f1_score", "load_eval_set", "normalize_answer", "passage_ranking",
    "read_conversations", "read_qrels", "read_queries", "safe_name", "summarize", "write_report",
]
