"""Load run: N concurrent clients ask questions via POST /api/ask for T seconds; prints throughput and latency.

    python benchmarks/load.py --clients 50 --seconds 60            # starts its own server on seeds/
    python benchmarks/load.py --url http://127.0.0.1:7860 ...      # or loads a running one

Beside the load it measures, in the same run, the floor it is judged against: the model's bare
throughput encoding the same questions 32 at a time (`floor_qps`, in this process, while the server
is idle) and `ratio` = throughput / floor; and one client alone asking in a loop (`single_p50_ms`).
Every non-200 answer and every transport failure counts as an error. Figures are printed as one JSON
line and as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How many people were arrested on Nov. 15?",
    "How many protesters were killed by security forces?",
    "What did Amnesty International condemn?",
    "Who reported the arrests?",
    "What happened during the protests in November?",
]


@dataclass
class LoadResult:
    """Figures of one load run."""

    clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    throughput_rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    floor_qps: float = 0.0
    ratio: float = 0.0
    single_p50_ms: float = 0.0
    load_average: str = ""
    error_samples: list[str] = field(default_factory=list)


async def _client(http: httpx.AsyncClient, url: str, number: int, deadline: float, latencies: list[float], errors: list[str]) -> None:
    turn = number
    while time.perf_counter() < deadline:
        question = QUESTIONS[turn % len(QUESTIONS)]
        turn += 1
        began = time.perf_counter()
        try:
            response = await http.post(url + "/api/ask", json={"question": question})
            if response.status_code != 200 or "answer" not in response.json():
                errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                continue
        except (httpx.HTTPError, ValueError) as error:
            errors.append(f"{type(error).__name__}: {error}")
            continue
        latencies.append((time.perf_counter() - began) * 1000)


async def run_load(url: str, clients: int, seconds: float) -> LoadResult:
    """Run `clients` concurrent askers against `url` for `seconds`."""
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        began = time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(*(_client(http, url.rstrip("/"), n, deadline, latencies, errors) for n in range(clients)))
        elapsed = time.perf_counter() - began
    result = LoadResult(clients, round(elapsed, 2), len(latencies) + len(errors), len(errors), error_samples=errors[:5])
    if latencies:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [latencies[0]] * 99
        result.throughput_rps = round(len(latencies) / elapsed, 2)
        result.p50_ms, result.p95_ms, result.p99_ms = (round(cuts[i], 1) for i in (49, 94, 98))
        result.max_ms = round(max(latencies), 1)
    return result


def encode_floor(seconds: float, batch: int = 32) -> float:
    """Questions per second the bare model encodes, `batch` at a time, in this process (the load's floor)."""
    sys.path.insert(0, str(ROOT))
    from qa.config import EmbeddingSettings
    from qa.encoders import create_encoder

    encoder = create_encoder(EmbeddingSettings())
    questions = (QUESTIONS * batch)[:batch]
    encoder.encode(questions, batch_size=batch)  # warm-up
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        encoder.encode(questions, batch_size=batch)
        done += batch
    return done / (time.perf_counter() - began)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workdir: Path, question_batch: int | None = None) -> tuple[subprocess.Popen, str]:
    """A real `python app.py` on seeds/, with the per-client rate limit lifted (all clients share 127.0.0.1)."""
    port = _free_port()
    batching = {} if question_batch is None else {"QA_QUESTION_BATCH": str(question_batch)}
    env = {**os.environ, **batching, "QA_INDEX_DIR": str(workdir / "index"), "QA_DOCS_DIR": str(ROOT / "seeds"),
           "QA_RATE_LIMIT_PER_MINUTE": "1000000", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=workdir, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("server did not start")


def table(result: LoadResult) -> str:
    """The figures as a two-column text table."""
    rows = [(key, value) for key, value in asdict(result).items() if key != "error_samples"]
    return "\n".join(f"{key:>16}  {value}" for key, value in rows)


def main() -> int:
    """Parse flags, run the load (starting a server if no --url), print JSON and a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="load a running server instead of starting one")
    parser.add_argument("--floor-seconds", type=float, default=10, help="how long the bare batched encode is timed (0: skip)")
    parser.add_argument("--single-seconds", type=float, default=10, help="how long one client alone asks (0: skip)")
    parser.add_argument("--question-batch", type=int, help="QA_QUESTION_BATCH of the started server (1: no micro-batching)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, url = (None, args.url) if args.url else start_server(Path(tmp), args.question_batch)
        try:
            floor = encode_floor(args.floor_seconds) if args.floor_seconds > 0 else 0.0
            single = asyncio.run(run_load(url, 1, args.single_seconds)) if args.single_seconds > 0 else None
            result = asyncio.run(run_load(url, args.clients, args.seconds))
            result.load_average = " ".join(f"{value:.2f}" for value in os.getloadavg())
            result.single_p50_ms = single.p50_ms if single else 0.0
            result.floor_qps = round(floor, 1)
            result.ratio = round(result.throughput_rps / floor, 3) if floor else 0.0
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    print(json.dumps(asdict(result)))
    print(table(result))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
