"""The Gradio `/ask` endpoint, called with gradio_client against the running app, answers like `qa ask --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

ROOT = Path(__file__).resolve().parent.parent
ARRESTS = "How many people were arrested on Nov. 15?"


@pytest.fixture(scope="module")
def client(app_server) -> Client:
    return Client(app_server.url, verbose=False)


def test_ask_returns_the_cli_json_object(client, app_server):
    over_api = client.predict(ARRESTS, api_name="/ask")
    cli = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--json", ARRESTS],
        cwd=ROOT,
        env={**os.environ, "QA_INDEX_DIR": str(app_server.index_dir), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    from_cli = json.loads(cli.stdout)
    assert list(over_api) == list(from_cli)
    assert set(over_api.pop("timings_ms")) == set(from_cli.pop("timings_ms"))
    assert over_api == from_cli
    assert over_api["short_answer"] == "more than 12,000" and over_api["citations"][0]["highlights"]


def test_ask_follows_up_with_history(client):
    history = [{"role": "user", "content": ARRESTS}, {"role": "assistant", "content": "more than 12,000 [1]"}]
    answer = client.predict("How many were killed?", history, api_name="/ask")
    assert answer["short_answer"] == "at least 1,500" and not answer["abstained"]


def test_ask_rejects_an_empty_question_with_a_clear_message(client):
    with pytest.raises(AppError, match="Type a question first"):
        client.predict("   ", api_name="/ask")
