"""Past one machine, measured: Ray workers' chunks/s, the commit rate, per-shard build times, shard fan-out latency.

    python benchmarks/scale.py                                  # 200 SQuAD2-dev paragraphs, local Ray cluster
    python benchmarks/scale.py --documents 600 --ray auto       # on the cluster `ray start` runs here
    python benchmarks/scale.py --data /work/shared/eval/policyqa-dev/corpus.jsonl

Every rate beside its floor measured in the same run: the pure prepare step (chunk + embed, chunks and
sentences) in this process with one torch thread. Then the Ray executor with 1 and 2 workers of one
torch thread each (wall time with actor start-up and model loads, and the steady rate between the
first and the last result), the commit of everything into one index (`Store.apply`, the driver's
work when S=1), the same documents as 2 shards (each shard's commit timed), disk per chunk, and the
search latency of one index, 2 shards in this process and 2 shards on Ray actors (the fan-out cost).
Prints a table; JSON goes to benchmarks/results/scale.json. docs/scaling.md projects from these.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.pool import RESULTS, SQUAD  # noqa: E402
from qa.config import ClusterSettings, Settings  # noqa: E402
from qa.encoders import create_encoder  # noqa: E402
from qa.indexing.prepare import prepare  # noqa: E402
from qa.loaders import load_paths  # noqa: E402
from qa.models import Changes, Document, PreparedDocument  # noqa: E402
from qa.shards import LocalShard, Manifest, ShardedStore, store_opener  # noqa: E402
from qa.store import MODEL_PROBE_TEXT, Store  # noqa: E402
from qa.text import content_terms  # noqa: E402


def load_documents(path: Path, count: int) -> list[Document]:
    """The first `count` documents of a BEIR corpus.jsonl."""
    documents = [d for d in load_paths([path]) if isinstance(d, Document)]
    return documents[:count]


def sentences_of(prepared: list[PreparedDocument]) -> int:
    return sum(len(p.sentence_spans) for p in prepared)


class WorkerCpu(threading.Thread):
    """Samples the CPU seconds the local cluster's prepare workers have used, twice a second.

    On a shared machine wall rates follow the load; chunks per worker CPU-second barely do."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        used: dict[int, float] = {}
        while not self.stopped.wait(0.5):
            for child in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "PrepareWorker" in " ".join(child.cmdline()):
                        times = child.cpu_times()
                        used[child.pid] = times.user + times.system
            self.samples.append((time.perf_counter(), sum(used.values())))

    def between(self, start: float, end: float) -> tuple[float, float, float]:
        """(worker CPU seconds, from, to): from the first sample at or after `start` to the last at or before `end`."""
        inside = [(when, cpu) for when, cpu in self.samples if start <= when <= end]
        if len(inside) < 2:
            return 0.0, start, end
        return inside[-1][1] - inside[0][1], inside[0][0], inside[-1][0]


def ray_rate(documents: list[Document], settings: Settings, workers: int) -> dict[str, float]:
    """The Ray executor with `workers` one-thread workers: wall seconds, the steady rate between first and last result,
    and chunks per worker CPU-second over that steady stretch."""
    from qa.cluster.executor import RayExecutor

    executor = RayExecutor(settings.embedding, settings.chunking, workers, settings.cluster)
    load = os.getloadavg()[0]
    seen: list[tuple[float, int]] = []
    sampler = WorkerCpu()
    sampler.start()
    began = time.perf_counter()
    for _, prepared in executor.stream(documents):
        seen.append((time.perf_counter(), len(prepared.chunks)))
    wall = time.perf_counter() - began
    sampler.stopped.set()
    sampler.join()
    chunks = sum(c for _, c in seen)
    steady = sum(c for _, c in seen[1:]) / max(seen[-1][0] - seen[0][0], 1e-9) if len(seen) > 1 else 0.0
    cpu, start, end = sampler.between(seen[0][0], seen[-1][0])
    after_first = sum(c for when, c in seen if start < when <= end)
    return {"workers": workers, "wall_s": round(wall, 2), "chunks": chunks, "chunks_per_s_wall": round(chunks / wall, 2),
            "chunks_per_s_steady": round(steady, 2), "first_result_s": round(seen[0][0] - began, 2) if seen else 0.0,
            "steady_worker_cpu_s": round(cpu, 2), "chunks_per_worker_cpu_s": round(after_first / cpu, 2) if cpu else None,
            "load_1min_before_after": [round(load, 2), round(os.getloadavg()[0], 2)]}


def search_latency(store, encoder, questions: list[str], k: int = 50) -> dict[str, float]:
    """p50 / p95 ms of dense + BM25 search (what `Retriever` asks of an index) over `questions`."""
    times = []
    for question in questions:
        vector = encoder.encode([question])[0]
        began = time.perf_counter()
        store.vector_snapshot().search(vector, k)
        store.lexical.search(content_terms(question), k)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SQUAD / "corpus.jsonl", help="a BEIR corpus.jsonl")
    parser.add_argument("--documents", type=int, default=200, help="documents to prepare (default 200)")
    parser.add_argument("--ray", default="local", help="local, auto or HOST:PORT (default local)")
    parser.add_argument("--queries", type=Path, default=SQUAD / "queries.jsonl", help="questions for the latency figures")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    load = os.getloadavg()
    documents = load_documents(args.data, args.documents)
    settings = Settings.from_env({}, cluster=ClusterSettings(ray_address=args.ray, batch_documents=4))
    encoder = create_encoder(settings.embedding)
    encoder.encode(["warm up"])

    load_before = os.getloadavg()[0]
    began, cpu_began = time.perf_counter(), time.process_time()
    prepared = prepare(documents, encoder, settings.chunking)
    floor_s, floor_cpu_s = time.perf_counter() - began, time.process_time() - cpu_began
    chunks, sentences = sum(len(p.chunks) for p in prepared), sentences_of(prepared)
    result: dict = {"load_average_at_start": [round(x, 2) for x in load], "documents": len(documents), "chunks": chunks,
                    "sentences": sentences,
                    "floor": {"what": "prepare in this process, 1 torch thread", "seconds": round(floor_s, 2),
                              "chunks_per_s": round(chunks / floor_s, 2),
                              # CPU seconds barely move with the machine's load: the per-core rate projections use.
                              "cpu_seconds": round(floor_cpu_s, 2), "chunks_per_cpu_s": round(chunks / floor_cpu_s, 2),
                              "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]}}

    from qa.cluster import connect, cpus_needed, disconnect

    # One cluster sized for the larger pool: a pool that fills the cluster waits forever (ray#44687),
    # and a 1-worker run must not size the cluster the 2-worker run then joins.
    connect(settings.cluster, cpus_needed(2, settings.cluster.worker_threads))
    result["ray"] = [ray_rate(documents, settings, workers) for workers in (1, 2)]

    signature = {"model": encoder.model_id, "chunking": settings.chunking.signature}
    probe = encoder.encode([MODEL_PROBE_TEXT])[0]
    with tempfile.TemporaryDirectory() as scratch:
        single = Store(Path(scratch) / "single", encoder.dimension, signature, probe)
        began = time.perf_counter()
        single.apply(Changes(prepared))
        commit_s = time.perf_counter() - began
        disk = sum(p.stat().st_size for p in (Path(scratch) / "single").iterdir())
        result["commit"] = {"seconds": round(commit_s, 3), "chunks_per_s": round(chunks / commit_s, 1),
                            "disk_bytes_per_chunk": round(disk / chunks), "disk_bytes": disk}

        manifest = Manifest.new(2, signature)
        manifest.write(Path(scratch) / "sharded")
        opener = store_opener(settings, encoder.dimension, signature, probe)
        local = [LocalShard(opener(folder)) for folder in manifest.folders(Path(scratch) / "sharded")]
        sharded = ShardedStore(Path(scratch) / "sharded", manifest, local)
        timings: list[dict] = []
        for shard in local:
            searcher = shard.searcher
            apply = searcher.apply

            def timed_apply(changes: Changes, apply=apply, searcher=searcher) -> int:
                began = time.perf_counter()
                count = apply(changes)
                timings.append({"shard": str(searcher.store.dir.name), "chunks": count, "seconds": round(time.perf_counter() - began, 3)})
                return count

            searcher.apply = timed_apply  # type: ignore[method-assign]
        sharded.apply(Changes(prepared))
        result["shards"] = timings

        questions = [json.loads(line)["text"] for line in args.queries.open(encoding="utf-8")][:100]
        result["search"] = {"one_index": search_latency(single, encoder, questions),
                            "two_shards_in_process": search_latency(sharded, encoder, questions)}
        from qa.cluster.shards import open_shard_actors

        actors = open_shard_actors(settings, manifest.folders(Path(scratch) / "sharded"), opener)
        on_ray = ShardedStore(Path(scratch) / "sharded", manifest, actors)
        result["search"]["two_shards_on_ray_actors"] = search_latency(on_ray, encoder, questions)
        on_ray.close()
        disconnect()
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    floor = result["floor"]["chunks_per_s"]
    print(f"\n| figure | measured | ÷ floor ({floor} chunks/s, 1 thread, in process; "
          f"{result['floor']['chunks_per_cpu_s']} chunks per CPU-second) |\n|---|---|---|")
    for run in result["ray"]:
        print(f"| Ray, {run['workers']} worker(s) x 1 thread, steady (load {run['load_1min_before_after']}) | "
              f"{run['chunks_per_s_steady']} chunks/s | "
              f"{run['chunks_per_s_steady'] / floor:.2f}x |")
        print(f"| Ray, {run['workers']} worker(s), wall incl. start ({run['wall_s']} s) | {run['chunks_per_s_wall']} chunks/s | "
              f"{run['chunks_per_s_wall'] / floor:.2f}x |")
        if run["chunks_per_worker_cpu_s"]:
            print(f"| Ray, {run['workers']} worker(s), per worker CPU-second, steady | {run['chunks_per_worker_cpu_s']} chunks | "
                  f"{run['chunks_per_worker_cpu_s'] / result['floor']['chunks_per_cpu_s']:.2f}x (per CPU-second) |")
    print(f"| driver commit (`Store.apply`, {chunks} chunks) | {result['commit']['chunks_per_s']} chunks/s | "
          f"{result['commit']['chunks_per_s'] / floor:.0f}x |")
    for shard in result["shards"]:
        print(f"| shard {shard['shard']} commit | {shard['chunks']} chunks in {shard['seconds']} s | |")
    for name, figures in result["search"].items():
        print(f"| search {name} | p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms | |")


if __name__ == "__main__":
    main()
