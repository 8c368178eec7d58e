"""Shared fixtures: the real model loaded once per session, seed indexes, and real app servers."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVAL_DIR = Path(os.environ.get("QA_EVAL_DIR", ROOT.parent / "shared" / "eval"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def seed_parts(folder: Path) -> Path:
    """The seeds cut into runs of three paragraphs, a document each, in `folder`: many small documents, no near-copies."""
    for seed in sorted(SEEDS.glob("*.txt")):
        paragraphs = [p for p in seed.read_text(encoding="utf-8").split("\n") if p.strip()]
        for n in range(0, len(paragraphs), 3):
            (folder / f"{seed.stem}-part{n:02d}.txt").write_text("\n".join(paragraphs[n : n + 3]), encoding="utf-8")
    return folder


T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: the session's Playwright (sync API) keeps an event loop
    running in the main thread once a browser test has started, and asyncio.run refuses to nest."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def encoder():
    """The real bundled model, loaded once for the whole test session."""
    from qa.config import EmbeddingSettings
    from qa.encoders import create_encoder

    return create_encoder(EmbeddingSettings())


@pytest.fixture
def make_qa(encoder, tmp_path_factory) -> Callable[..., object]:
    """Factory: a QA engine on a fresh index folder, sharing the session's model."""
    from qa.config import Settings
    from qa.engine import QA

    def factory(index_dir: Path | None = None, encoder=encoder, **settings) -> QA:
        folder = index_dir or tmp_path_factory.mktemp("index")
        return QA(Settings.from_env({}, index_dir=folder, **settings), encoder=encoder)

    return factory


@pytest.fixture(scope="session")
def seeds_qa(encoder, tmp_path_factory):
    """A QA engine with `seeds/` indexed, shared read-only by the tests that only ask."""
    from qa.config import Settings
    from qa.engine import QA

    qa = QA(Settings.from_env({}, index_dir=tmp_path_factory.mktemp("seeds-index")), encoder=encoder)
    qa.index([SEEDS])
    return qa


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float | None = None) -> None:
    """Block until `url` answers (any status), or fail with the server's output.

    120 s by default (a start takes ~15 s on a quiet 2-core machine); QA_TEST_START_SECONDS waits longer
    on a machine shared with other heavy work."""
    timeout = timeout or float(os.environ.get("QA_TEST_START_SECONDS", "120"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{_output(process)}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server did not answer {url} within {timeout}s:\n{_output(process)}")


def _output(process: subprocess.Popen) -> str:
    try:
        out, _ = process.communicate(timeout=5)
        return out or ""
    except subprocess.TimeoutExpired:
        return "(no output)"


class AppServer:
    """A real `python app.py` process on a free loopback port."""

    def __init__(self, base_dir: Path, env: dict[str, str] | None = None, docs_dir: Path = SEEDS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.index_dir = base_dir / "index"
        environment = {
            **os.environ,
            "QA_INDEX_DIR": str(self.index_dir),
            "QA_DOCS_DIR": str(docs_dir),
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(self.port)],
            cwd=base_dir,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for_http(self.url + "/", self.process)

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[AppServer]:
    """One real app on `seeds/` shared by the tests that only read from it."""
    base = tmp_path_factory.mktemp("app")
    server = AppServer(base)
    yield server
    server.stop()


@pytest.fixture
def start_app(tmp_path) -> Iterator[Callable[..., AppServer]]:
    """Factory for a private app (custom env or docs); stopped after the test."""
    servers: list[AppServer] = []

    def factory(env: dict[str, str] | None = None, docs_dir: Path = SEEDS) -> AppServer:
        base = tmp_path / f"app{len(servers)}"
        base.mkdir()
        server = AppServer(base, env, docs_dir)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    """A writable copy of `seeds/`."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (.ci/run does this)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


OWNER_TOKEN = "owner-admin-token-5150"


class OwnerSite:
    """An app with the admin token, and a static page on a second, allowed origin holding the widget snippet."""

    def __init__(self, app: AppServer, host: str) -> None:
        self.app = app
        self.url = app.url
        self.host = host
        self.token = OWNER_TOKEN


@pytest.fixture(scope="session")
def owner_site(tmp_path_factory) -> Iterator[OwnerSite]:
    """One app shared by the owner-flow and accessibility browser tests (they upload, delete and judge, never rely
    on each other's changes)."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    folder = tmp_path_factory.mktemp("owner-host")
    static = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(Quiet, directory=str(folder)))
    threading.Thread(target=static.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{static.server_address[1]}"
    app = AppServer(tmp_path_factory.mktemp("owner-app"), {"QA_ADMIN_TOKEN": OWNER_TOKEN, "QA_ALLOWED_ORIGINS": host})
    (folder / "index.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Our site</title></head>"
        f"<body><main><h1>Our site</h1><p>Questions? Ask our documents.</p></main>"
        f'<script src="{app.url}/widget.js" data-title="Ask our documents" defer></script></body></html>',
        encoding="utf-8",
    )
    yield OwnerSite(app, host)
    app.stop()
    static.shutdown()


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where a browser test saves a screenshot: QA_SCREENSHOTS (`docs/` refreshes the README's) or tmp_path."""
    return Path(os.environ.get("QA_SCREENSHOTS") or tmp_path) / name


def serious_violations(target) -> list[str]:
    """The critical and serious axe-core violations on a page or frame, as 'rule: selector' strings."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
               "resultTypes": ["violations"]}
    results = Axe().run(target, options=options).response
    return [f"{v['id']}: {node['target']}" for v in results["violations"] if v["impact"] in ("critical", "serious")
            for node in v["nodes"]]
