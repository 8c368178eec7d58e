"""The command line as users and other tools call it: real processes, real index, JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, SEEDS


def run_qa(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_index_then_ask_json(tmp_path) -> None:
    index_dir = tmp_path / "index"
    built = run_qa("index", str(SEEDS), "--index-dir", str(index_dir))
    assert built.returncode == 0, built.stderr
    assert "2 added" in built.stdout and "000_5b672d860f205277.txt" in built.stdout

    asked = run_qa(
        "ask", "--json", "--index-dir", str(index_dir), "--top-k", "3",
        "How many people were arrested on Nov. 15?", "What is the capital of Australia?",
    )
    assert asked.returncode == 0, asked.stderr
    lines = [json.loads(line) for line in asked.stdout.splitlines()]
    assert len(lines) == 2
    arrested, offtopic = lines
    assert "12,000" in arrested["answer"] and arrested["short_answer"] == "more than 12,000"
    assert arrested["citations"][0]["doc_id"] == "000_5b672d860f205277.txt"
    assert len(arrested["citations"]) == 3
    assert offtopic["abstained"] is True

    stats = run_qa("index", "--stats", "--index-dir", str(index_dir))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["documents"] == 2


def test_errors_are_one_clear_line_and_a_non_zero_exit(tmp_path) -> None:
    missing_index = run_qa("ask", "--index-dir", str(tmp_path / "nothing"), "Anything?")
    assert missing_index.returncode == 2
    assert "no index" in missing_index.stderr and "python -m qa index" in missing_index.stderr
    assert "Traceback" not in missing_index.stderr

    missing_path = run_qa("index", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "i"))
    assert missing_path.returncode == 2
    assert "no such file or folder" in missing_path.stderr
    assert "Traceback" not in missing_path.stderr


def test_plain_output_shows_control_characters_from_documents_as_escapes() -> None:
    from qa.cli import format_answer
    from qa.models import Answer, Citation

    citation = Citation(1, "evil.txt", "docs/evil.txt", "Title\x1b[2J", "p", 0, 1, [[0, 1]], None, 0.5)
    text = format_answer(Answer("Q?", "Red \x1b[31malert\x07 [1]", None, False, 0.9, [citation]))
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31malert\\x07 [1]" in text and "Title\\x1b[2J" in text
