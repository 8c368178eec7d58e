"""Follow-ups resolved against the whole conversation, through `QA.ask` history, the API shape and `qa ask`."""

from __future__ import annotations

import json

import pytest

from qa.conversation import answer_sentences, leans, names, resolve_follow_up

KOVACS = (
    "Marta Kovacs is a violinist from Szeged. Marta Kovacs, a mother of three, plays with the city orchestra.\n\n"
    "Her husband is the painter Ivo Ranic, whom she married in 2004.\n"
)
BRANDT = (
    "Lena Brandt is a cellist from Bremen. Lena Brandt has two children and teaches at the conservatory.\n\n"
    "Her husband is the architect Paul Weiss, whom she married in 2011.\n"
)


def history_of(*turns: tuple[str, str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for question, answer in turns:
        out += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return out


@pytest.mark.parametrize(
    ("question", "expected"),
    [("How many did it say were killed?", True), ("Why is that?", True), ("why?", True), ("Who was her husband?", True),
     ("Does this website collect my location?", False), ("What is the capital of France?", False)],
)
def test_a_question_leans_on_the_conversation_when_it_refers_back(question: str, expected: bool) -> None:
    assert leans(question) is expected


def test_a_subject_two_turns_back_is_recalled_and_a_new_question_starts_afresh() -> None:
    assert names("In what country is Normandy located?") == ["Normandy"]
    history = history_of(("In what country is Normandy located?", "France. [1]"), ("What was the treaty called?", "It was X. [2]"))
    follow_up = resolve_follow_up("When were the Normans in it?", history)
    assert follow_up.leans and "Normandy" in follow_up.query and "treaty" in follow_up.query
    assert follow_up.quoted == ("France.", "It was X.")
    fresh = resolve_follow_up("Who founded the University of Chicago?", history)
    assert fresh.query == "Who founded the University of Chicago?" and not fresh.leans
    assert answer_sentences("I couldn't find this in the documents.") == []


@pytest.fixture(scope="module")
def people(encoder, tmp_path_factory):
    """Two documents about two musicians with the same kinds of facts."""
    from qa.config import Settings
    from qa.engine import QA

    folder = tmp_path_factory.mktemp("people")
    (folder / "kovacs.txt").write_text(KOVACS, encoding="utf-8")
    (folder / "brandt.txt").write_text(BRANDT, encoding="utf-8")
    qa = QA(Settings.from_env({}, index_dir=tmp_path_factory.mktemp("people-index")), encoder=encoder)
    qa.index([folder])
    return qa


def ask_in_turn(qa, questions: list[str]):
    history: list[dict[str, str]] = []
    answers = []
    for question in questions:
        answer = qa.ask(question, history)
        answers.append(answer)
        history += history_of((question, answer.answer))
    return answers


def test_a_follow_up_keeps_the_person_of_earlier_turns_and_their_document(people) -> None:
    *_, kids = ask_in_turn(people, ["Where is Marta Kovacs from?", "What instrument does she play?", "And how many kids does she have?"])
    assert not kids.abstained and kids.citations[0].doc_id == "kovacs.txt"
    assert "mother of three" in kids.answer


def test_a_question_that_moves_on_is_not_pulled_back(people) -> None:
    *_, moved = ask_in_turn(people, ["Who is Marta Kovacs's husband?", "When did she marry him?", "Where is Lena Brandt from?"])
    assert moved.citations[0].doc_id == "brandt.txt" and "Bremen" in moved.segments[0].text


def test_one_document_indexed_alone_answers_a_follow_up_with_a_word_it_lacks(encoder, tmp_path) -> None:
    from qa.config import Settings
    from qa.engine import QA

    (tmp_path / "kovacs.txt").write_text(KOVACS, encoding="utf-8")
    qa = QA(Settings.from_env({}, index_dir=tmp_path / "index"), encoder=encoder)
    qa.index([tmp_path / "kovacs.txt"])
    _, kids = ask_in_turn(qa, ["Who is Marta Kovacs's husband?", "And how many kids does she have?"])
    assert not kids.abstained and "mother of three" in kids.answer


def test_qa_ask_file_keeps_conversations_apart_and_independent_asks_alone(seeds_qa, tmp_path, capsys) -> None:
    from qa.cli import main

    arrested, killed = "How many people were arrested on Nov. 15?", "How many did it say were killed?"
    lines = [{"question": arrested, "conversation": "a"}, {"question": killed}, {"question": killed, "conversation": "a"}]
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    index = str(seeds_qa.settings.index_dir)
    assert main(["ask", "--json", "--index-dir", index, "--file", str(tmp_path / "questions.jsonl")]) == 0
    first, alone, followed = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    history = history_of((arrested, first["answer"]))

    def same(answer: dict, expected) -> bool:
        answer.pop("timings_ms")
        return answer == {k: v for k, v in expected.to_dict().items() if k != "timings_ms"}

    assert same(alone, seeds_qa.ask(killed)) and same(followed, seeds_qa.ask(killed, history))
    assert followed["short_answer"] == "at least 1,500"
    assert main(["ask", "--json", "--index-dir", index, "--independent", arrested, killed]) == 0
    _, independent = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert same(independent, seeds_qa.ask(killed))


def test_qa_ask_file_errors_name_the_line(seeds_qa, tmp_path, capsys) -> None:
    from qa.cli import main

    (tmp_path / "bad.jsonl").write_text('{"question": "ok?"}\n{"q": 1}\n', encoding="utf-8")
    assert main(["ask", "--index-dir", str(seeds_qa.settings.index_dir), "--file", str(tmp_path / "bad.jsonl")]) == 2
    assert "line 2" in capsys.readouterr().err
