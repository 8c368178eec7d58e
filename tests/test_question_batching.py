"""A real server answering many questions at once: micro-batched encoding gives each caller its own answer."""

from __future__ import annotations

import asyncio
import random

import httpx

from .conftest import run_coroutine

QUESTIONS = [
    "How many people were arrested on Nov. 15?",
    "What did Amnesty International condemn?",
    "Who reported the arrests?",
    "How many protesters were killed by security forces?",
]


def test_concurrent_questions_each_get_the_answer_they_get_alone(start_app) -> None:
    # Enough answering threads that questions really share forward passes (batches up to 16).
    server = start_app(env={"QA_RATE_LIMIT_PER_MINUTE": "1000000", "QA_CONCURRENCY": "16", "QA_QUESTION_BATCH": "16"})
    alone = {}
    with httpx.Client(base_url=server.url, timeout=120) as http:
        for question in QUESTIONS:
            response = http.post("/api/ask", json={"question": question})
            assert response.status_code == 200, response.text
            alone[question] = response.json()
    asked = QUESTIONS * 8
    random.Random(12).shuffle(asked)

    async def ask_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            return await asyncio.gather(*(http.post("/api/ask", json={"question": q}) for q in asked))

    for question, response in zip(asked, run_coroutine(ask_all()), strict=True):
        assert response.status_code == 200, response.text
        answer, expected = response.json(), alone[question]
        assert answer["answer"] == expected["answer"], question
        assert [c["doc_id"] for c in answer["citations"]] == [c["doc_id"] for c in expected["citations"]]
