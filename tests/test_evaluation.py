"""`qa eval`: SQuAD scoring rules, the CLI contract, and a quality regression floor on a fixed sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.evaluation import (
    auroc,
    contains_answer,
    evaluate,
    exact_match,
    expected_calibration_error,
    f1_score,
    load_eval_set,
    normalize_answer,
    read_conversations,
    safe_name,
)

from .conftest import EVAL_DIR, SEEDS

SQUAD = EVAL_DIR / "squad2-dev"
SAMPLE_QUESTIONS = 200
DISTRACTORS = 60

# Figures the sample reached when the floors were set (docs/evaluation.md); the floors sit a
# little under them so noise passes and a real drop fails.
FLOORS = {
    "hit@5": 0.98,  # reached 0.995
    "mrr@10": 0.94,  # 0.960
    "gold_in_first_sentence": 0.76,  # 0.78
    "gold_in_answer": 0.87,  # 0.895
    "first_citation_gold": 0.91,  # 0.93
    "short_answer_f1": 0.14,  # 0.156
}
CEILINGS = {"answerable_declined": 0.03}  # 0.015
# Conversations `qa.evaluation.conversation_set` builds from the sample (pair 23, gap 4, switch 6,
# sequence 7), and their floors (reached when set: gold in answer 0.90, first citation from the
# conversation's document 1.0, declined 0).
CONVERSATIONS = 40
CONVERSATION_FLOORS = {"conversation_gold_in_answer": 0.85, "conversation_first_citation_document": 0.95}
CEILINGS |= {"conversation_declined": 0.05}
# The in-scope probability of a seeds/ question about a word seeds/ never uses sits under this share of
# the abstain threshold, and a covered question's above this multiple (capped at 1). Measured with the
# shipped calibration: 0.006 and 0.9998 against a threshold of 0.177.
SCOPE_MARGIN_BELOW = 0.2
SCOPE_MARGIN_ABOVE = 3.0


def test_squad_normalisation_and_scores():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert contains_answer("It opened in 1889 [1]", ["1889"])
    assert not contains_answer("It opened in 18890.", ["1889"])  # whole words only
    assert exact_match("the Normans", ["Normans"]) == 1.0
    assert f1_score("10th century", ["10th and 11th centuries"]) == pytest.approx(2 * (1 / 2) * (1 / 4) / (1 / 2 + 1 / 4))
    assert f1_score("", ["x"]) == 0.0


def test_auroc_and_calibration_error():
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert auroc([0.5, 0.5], [True, False]) == 0.5  # a tie counts half
    assert auroc([0.2, 0.3], [True, True]) is None  # no negatives: undefined
    # Two bins: 0.15 predicted vs 0 observed (2 questions), 0.85 vs 1 observed (2 questions).
    assert expected_calibration_error([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == pytest.approx(0.15)
    assert expected_calibration_error([], []) is None


def test_eval_rejects_a_folder_without_beir_files(tmp_path, capsys):
    code = main(["eval", "--data", str(tmp_path), "--index-dir", str(tmp_path / "index")])
    assert code == 2
    assert "corpus.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


@pytest.fixture(scope="session")
def squad_sample(tmp_path_factory) -> Path:
    """A BEIR folder: the gold passages of a fixed question sample plus fixed distractors."""
    if not (SQUAD / "corpus.jsonl").is_file():
        pytest.fail(f"evaluation data missing at {SQUAD} (set QA_EVAL_DIR)")
    full = load_eval_set(SQUAD)
    passages = [json.loads(line) for line in (SQUAD / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    # Every 7th gold passage with all its questions, so few passages carry many questions (cheap to embed).
    gold_ids = sorted({doc for q in full.queries for doc in q.gold})[::7]
    questions = [q for q in full.queries if q.gold & set(gold_ids)][:SAMPLE_QUESTIONS]
    wanted = {doc for q in questions for doc in q.gold}
    distractors = sorted(p["_id"] for p in passages if p["metadata"]["split"] == "distractor")[:DISTRACTORS]
    folder = tmp_path_factory.mktemp("squad-sample")
    (folder / "qrels").mkdir()
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as corpus:
        for p in passages:
            if p["_id"] in wanted or p["_id"] in distractors:
                corpus.write(json.dumps(p) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as queries:
        for q in questions:
            queries.write(json.dumps({"_id": q.query_id, "text": q.text, "metadata": {"answers": list(q.answers)}}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q.query_id}\t{doc}\t1" for q in questions for doc in sorted(q.gold)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def sample_index(squad_sample, encoder, tmp_path_factory) -> Path:
    """The sample corpus indexed once per session with the default settings."""
    from qa.config import Settings
    from qa.engine import QA

    index_dir = tmp_path_factory.mktemp("squad-index")
    QA(Settings.from_env({}, index_dir=index_dir), encoder=encoder).index([squad_sample / "corpus.jsonl"])
    return index_dir


def out_of_bounds(metrics: dict, floors: dict[str, float], ceilings: dict[str, float]) -> dict[str, tuple[float, float]]:
    """The figures under their floor or over their ceiling, with the bound."""
    low = {k: (metrics[k], floor) for k, floor in floors.items() if metrics[k] is None or metrics[k] < floor}
    high = {k: (metrics[k], ceiling) for k, ceiling in ceilings.items() if metrics[k] is None or metrics[k] > ceiling}
    return low | high


def test_quality_on_fixed_squad_sample_stays_above_floors(squad_sample, sample_index, encoder, tmp_path):
    from qa.config import Settings
    from qa.engine import QA
    from qa.evaluation.conversation_set import main as build_conversations

    # Follow-ups made from the sample's own questions (a pronoun for the subject, one or two turns back).
    assert build_conversations([str(squad_sample), str(tmp_path / "conversations.jsonl")]) == 0
    eval_set = load_eval_set(squad_sample)
    conversations = read_conversations(tmp_path / "conversations.jsonl", eval_set)
    qa = QA(Settings.from_env({}, index_dir=sample_index), encoder=encoder)
    result = evaluate(qa, eval_set, conversations=conversations)
    metrics = result.metrics
    assert result.questions == SAMPLE_QUESTIONS and metrics["conversation_questions"] == CONVERSATIONS
    bad = out_of_bounds(metrics, FLOORS | CONVERSATION_FLOORS, CEILINGS)
    assert not bad, f"quality dropped: {bad}; all figures: {metrics}"


def test_eval_cli_json_report_and_out_of_corpus(squad_sample, sample_index, tmp_path, capsys):
    report = tmp_path / "report" / "eval.md"
    code = main([
        "eval", "--data", str(squad_sample), "--index-dir", str(sample_index), "--limit", "20", "--json",
        "--report", str(report), "--out-of-corpus", str(SEEDS),
    ])
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["questions"] == 20
    assert figures["index_reused"] is True
    for key in ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "gold_in_first_sentence", "gold_in_answer",
                "short_answer_em", "short_answer_f1", "first_citation_gold", "answerable_declined",
                "latency_ms_p50", "latency_ms_p95", "index_seconds"):
        assert key in figures
    assert figures["out_of_corpus_questions"] == 20
    assert figures["out_of_corpus_declined"] >= 0.9
    assert "| MRR@10 |" in report.read_text(encoding="utf-8")
    assert report.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    outcomes = [json.loads(line) for line in report.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines()]
    assert {o["kind"] for o in outcomes} == {"answerable", "out-of-corpus"}


def test_abstention_has_margin_on_both_sides_of_the_threshold(seeds_qa):
    # The abstain decision reads the calibrated in-scope probability: "Australia" never occurs in
    # seeds/, so that question falls well under the threshold; a covered question stays well over it,
    # and its confidence (the probability that the answer holds the answer) is a probability.
    threshold = seeds_qa.settings.answer.abstain_threshold
    outside, outside_draft = seeds_qa.ask_with_draft("What is the capital of Australia?")
    covered, covered_draft = seeds_qa.ask_with_draft("Where did demonstrators close down a port?")
    assert outside.abstained and outside_draft.scope < SCOPE_MARGIN_BELOW * threshold, outside_draft.scope
    assert not covered.abstained and covered_draft.scope > min(1.0, SCOPE_MARGIN_ABOVE * threshold), covered_draft.scope
    assert 0.0 <= outside.confidence < covered.confidence <= 1.0


POLICY = EVAL_DIR / "policyqa-dev"
# The three smallest policies (8 paragraphs, 60 questions): single-document mode from their own files.
SMALL_POLICIES = ("dogbreedinfo.com", "eatchicken.com", "naturalnews.com")
# Single-document floors on those three (reached when set: gold in answer 0.65, out-of-corpus declined
# 0.983, answerable declined 0.167: these tiny policies, 8 paragraphs each, are harder to call in scope
# than the full set's, where 1.4 % are declined).
SINGLE_DOCUMENT_FLOORS = {"gold_in_answer": 0.62, "out_of_corpus_declined": 0.95}
SINGLE_DOCUMENT_CEILINGS = {"answerable_declined": 0.2}


@pytest.fixture(scope="session")
def policy_sample(tmp_path_factory) -> Path:
    """A BEIR folder holding only the small policies' paragraphs and questions (metadata.document, offsets kept)."""
    if not (POLICY / "corpus.jsonl").is_file():
        pytest.fail(f"evaluation data missing at {POLICY} (set QA_EVAL_DIR)")
    folder = tmp_path_factory.mktemp("policy-sample")
    (folder / "qrels").mkdir()
    passages = [json.loads(line) for line in (POLICY / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    kept = {p["_id"] for p in passages if p["metadata"]["document"] in SMALL_POLICIES}
    (folder / "corpus.jsonl").write_text("".join(json.dumps(p) + "\n" for p in passages if p["_id"] in kept), encoding="utf-8")
    queries = [json.loads(line) for line in (POLICY / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [q for q in queries if q["metadata"]["document"] in SMALL_POLICIES]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    wanted = {q["_id"] for q in queries}
    qrels = [line for line in (POLICY / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
             if line.split("\t")[0] in wanted]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n", encoding="utf-8")
    return folder


def test_eval_cli_single_document_mode_indexes_each_file_alone(policy_sample, tmp_path, capsys):
    report = tmp_path / "single.md"
    code = main([
        "eval", "--data", str(policy_sample), "--single-document", str(POLICY / "documents"), "--cross-document",
        "--out-of-corpus", str(SEEDS), "--index-dir", str(tmp_path / "index"), "--json", "--report", str(report),
    ])
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["mode"] == "single-document" and figures["documents"] == len(SMALL_POLICIES)
    assert figures["questions"] == 60 and figures["cross_document_questions"] == 60
    assert sorted(p.name for p in (tmp_path / "index" / "single").iterdir()) == sorted(map(safe_name, SMALL_POLICIES))
    for key in ("hit@5", "gold_in_answer", "first_citation_gold", "answerable_declined", "cross_document_declined",
                "confidence_auroc", "confidence_ece"):
        assert key in figures
    assert "## Reliability" in report.read_text(encoding="utf-8")
    outcomes = [json.loads(line) for line in report.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines()]
    assert {o["document"] for o in outcomes} == set(SMALL_POLICIES)
    assert {o["kind"] for o in outcomes} == {"answerable", "cross-document", "out-of-corpus"}
    bad = out_of_bounds(figures, SINGLE_DOCUMENT_FLOORS, SINGLE_DOCUMENT_CEILINGS)
    assert not bad, f"single-document quality dropped: {bad}; all figures: {figures}"
