"""Feedback on answers: kept in the index's SQLite with the answer and its citations, exported as an eval set
that the evaluation reads (liked answers' passages right, disliked answers' passages wrong)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from qa import cli
from qa.evaluation import evaluate, load_eval_set
from qa.store import DB_NAME
from tests.conftest import SEEDS

ARRESTS = "How many people were arrested on Nov. 15?"
LEADER = "Who is the Supreme Leader of Iran?"


@pytest.fixture(scope="module")
def judged(encoder, tmp_path_factory):
    """A seeds index with one liked and one disliked (and commented) answer."""
    from qa.config import Settings
    from qa.engine import QA

    qa = QA(Settings.from_env({}, index_dir=tmp_path_factory.mktemp("feedback-index")), encoder=encoder)
    qa.index([SEEDS])
    liked, disliked = qa.ask(ARRESTS), qa.ask(LEADER)
    up = qa.record_feedback(liked.to_dict(), True, user="alice")
    down = qa.record_feedback(disliked.to_dict(), True)
    qa.revise_feedback(down, liked=False)
    qa.revise_feedback(down, comment="The sentence names him, but I wanted his title's source.")
    return qa, liked, disliked, up, down


def test_feedback_rows_hold_the_question_the_answer_and_its_citations(judged) -> None:
    qa, liked, disliked, up, down = judged
    records = {record.id: record for record in qa.feedback_records()}
    assert set(records) == {up, down}
    assert (records[up].question, records[up].liked, records[up].user, records[up].comment) == (ARRESTS, True, "alice", "")
    assert records[up].answer == liked.to_dict()
    assert records[up].answer["citations"][0]["highlights"]
    comment = "The sentence names him, but I wanted his title's source."
    assert (records[down].liked, records[down].comment, records[down].user) == (False, comment, None)
    # In the index's own database, beside the documents, untouched by index writes.
    with sqlite3.connect(qa.settings.index_dir / DB_NAME) as db:
        assert db.execute("SELECT count(*) FROM feedback").fetchone() == (2,)
    qa.index([SEEDS])
    assert len(qa.feedback_records()) == 2


def test_export_writes_an_eval_set_that_the_evaluation_reads(judged, make_qa, tmp_path, capsys) -> None:
    qa, liked, disliked, up, down = judged
    out = tmp_path / "feedback-eval"
    assert cli.main(["feedback", "export", "--out", str(out), "--index-dir", str(qa.settings.index_dir)]) == 0
    assert "2 questions (1 liked, 1 disliked)" in capsys.readouterr().out

    qrels = [line.split("\t") for line in (out / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    cited = {(c.doc_id, c.start, c.end) for c in liked.citations if c.highlights}
    assert {(q, p, s) for q, p, s in qrels if q == f"feedback-{up}"} == {(f"feedback-{up}", f"{d}@{s}-{e}", "1") for d, s, e in cited}
    assert {s for q, _, s in qrels if q == f"feedback-{down}"} == {"0"}  # the disliked answer's passages: wrong
    queries = {q["_id"]: q for q in map(json.loads, (out / "queries.jsonl").read_text().splitlines())}
    assert queries[f"feedback-{up}"]["metadata"]["answers"][0] == "more than 12,000"
    assert queries[f"feedback-{down}"]["metadata"]["comment"].startswith("The sentence names him")

    eval_set = load_eval_set(out)
    assert [q.text for q in eval_set.queries] == [ARRESTS] and [q.text for q in eval_set.disputed] == [LEADER]
    eval_qa = make_qa()
    eval_qa.index([eval_set.corpus])
    metrics = evaluate(eval_qa, eval_set).metrics
    # Over the passages the chat showed, the liked answer is found and cited again; the disputed
    # question still leads with the passage someone marked wrong (nothing has changed yet).
    assert metrics["hit@1"] == 1.0 and metrics["first_citation_gold"] == 1.0 and metrics["gold_in_answer"] == 1.0
    assert metrics["disputed_questions"] == 1 and metrics["disputed_cites_wrong"] == 1.0


def test_export_without_feedback_says_so(make_qa, tmp_path, capsys) -> None:
    qa = make_qa()
    assert cli.main(["feedback", "export", "--out", str(tmp_path / "x"), "--index-dir", str(qa.settings.index_dir)]) == 2
    assert "no feedback on a cited answer yet" in capsys.readouterr().err
    assert cli.main(["feedback", "export", "--out", str(tmp_path / "x"), "--index-dir", str(tmp_path / "none")]) == 2
    assert "no index" in capsys.readouterr().err


def test_a_sharded_index_keeps_the_feedback_in_its_first_shard(make_qa, tmp_path, capsys) -> None:
    qa = make_qa(shards=2)
    qa.index([SEEDS])
    kept = qa.record_feedback(qa.ask(ARRESTS).to_dict(), True)
    assert [record.id for record in qa.feedback_records()] == [kept]
    with sqlite3.connect(qa.settings.index_dir / "shard-000" / DB_NAME) as db:
        assert db.execute("SELECT question FROM feedback").fetchall() == [(ARRESTS,)]
    assert cli.main(["feedback", "export", "--out", str(tmp_path / "x"), "--index-dir", str(qa.settings.index_dir)]) == 0
    assert "1 questions (1 liked, 0 disliked)" in capsys.readouterr().out
