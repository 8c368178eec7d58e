"""Questions keep being answered, without errors, while the same engine's index is updated from another thread."""

from __future__ import annotations

import threading

from qa.models import Document

SEED_QUESTION = "How many people were arrested on Nov. 15?"


def lighthouse(number: int) -> Document:
    text = (f"Lighthouse {number}\n\nThe lighthouse on Skerry {number} was automated in {1900 + number}. "
            f"Its keeper number {number} kept a log of every passing ship.")
    return Document(f"lighthouse-{number}.txt", f"lighthouse-{number}.txt", f"Lighthouse {number}", text, f"hash-{number}")


def test_queries_answer_throughout_updates_and_new_documents_appear_on_commit(make_qa, seeds_copy) -> None:
    qa = make_qa()
    qa.index([seeds_copy])
    stop = threading.Event()
    errors: list[BaseException] = []
    wrong: list[str] = []
    answered = [0]

    def ask_forever() -> None:
        while not stop.is_set():
            try:
                answer = qa.ask(SEED_QUESTION)
                if "12,000" not in answer.answer:
                    wrong.append(answer.answer)
                answered[0] += 1
            except BaseException as error:  # noqa: BLE001 - any failure of a reader is the finding
                errors.append(error)

    readers = [threading.Thread(target=ask_forever) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for number in range(1, 7):
            # Adds, replaces and deletes, each its own generation, while the readers run.
            qa.upsert([lighthouse(number)])
            qa.upsert([lighthouse(number - 1)] if number > 1 else [])
            if number % 3 == 0:
                qa.delete([f"lighthouse-{number - 2}.txt"])
            answer = qa.ask(f"When was the lighthouse on Skerry {number} automated?")
            assert str(1900 + number) in answer.answer, "a committed document must be answerable at once"
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=120)
    assert not errors, errors[:3]
    assert not wrong, wrong[:3]
    assert answered[0] >= 3
    assert qa.document("lighthouse-4.txt") is None and qa.document("lighthouse-6.txt") is not None
