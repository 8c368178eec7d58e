"""Short load run against a real server: 5 concurrent clients for 5 s, every answer a 200 (no speed asserted)."""

from __future__ import annotations

import importlib.util
import sys

from .conftest import ROOT, run_coroutine

spec = importlib.util.spec_from_file_location("load_runner", ROOT / "benchmarks" / "load.py")
load_runner = importlib.util.module_from_spec(spec)
# Registered first: the runner's dataclasses look their module up while being defined.
sys.modules["load_runner"] = load_runner
spec.loader.exec_module(load_runner)


def test_five_clients_for_five_seconds_get_no_errors(start_app) -> None:
    # All clients share 127.0.0.1, so the per-client question limit is lifted for this run.
    server = start_app(env={"QA_RATE_LIMIT_PER_MINUTE": "1000000"})
    result = run_coroutine(load_runner.run_load(server.url, clients=5, seconds=5))
    assert result.errors == 0, result.error_samples
    assert result.requests >= 5 and result.p50_ms > 0
