"""Shared fixtures: the real model loaded once per session, seed indexes, and real app servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVAL_DIR = Path(os.environ.get("QA_EVAL_DIR", ROOT.parent / "shared" / "eval"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Block until `url` answers (any status), or fail with the server's output."""
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
