"""The package as a user gets it: `python -m build`, the wheel installed into a fresh venv, `qa` run elsewhere.

The venv is new and empty (no --system-site-packages): pip installs the wheel's own dependencies, so a
missing dependency, package-data file or entry point fails here. pip runs with this machine's
configuration, as a user's pip would with theirs: here it finds the CPU torch wheel in a local folder.
Selected alone with `-m install`, skipped with `-m "not install"`; CI runs it with everything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, SEEDS, free_port, wait_for_http

pytestmark = pytest.mark.install

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
QUESTION = "How many people were arrested on Nov. 15?"


def run(command: list[str | Path], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Run a command to completion; fail the test with its output if it exits non-zero."""
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def only(paths: Iterator[Path]) -> Path:
    found = list(paths)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel (built from that sdist) that `python -m build` makes of this checkout."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=600)
    return out


@pytest.fixture(scope="module")
def venv_bin(dist, tmp_path_factory) -> Iterator[Path]:
    """The bin/ folder of a fresh venv holding the wheel and nothing but its dependencies."""
    folder = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", folder], timeout=300)
    run([folder / "bin" / "python", "-m", "pip", "install", "--quiet", only(dist.glob("*.whl"))], timeout=1500)
    yield folder / "bin"
    shutil.rmtree(folder, ignore_errors=True)  # about 2 GB, mostly torch


def user_env(venv_bin: Path, **extra: str) -> dict[str, str]:
    """A shell with the venv on PATH and none of this session's QA_* settings or import paths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}", "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def qa(venv_bin: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The installed `qa` command, as a user types it."""
    command = [str(venv_bin / "qa"), *args]
    return subprocess.run(command, cwd=cwd, env=user_env(venv_bin, **env), capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def served(venv_bin: Path, cwd: Path) -> Iterator[tuple[str, list[str]]]:
    """`qa serve` with no flags in `cwd`; yields its URL and, once stopped, its output lines."""
    port = free_port()
    process = subprocess.Popen(
        [str(venv_bin / "qa"), "serve", "--port", str(port)],
        cwd=cwd, env=user_env(venv_bin), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process, timeout=180)
        yield f"http://127.0.0.1:{port}", output
    finally:
        process.terminate()
        try:
            out, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        output.extend(out.splitlines())


def test_wheel_and_sdist_hold_what_users_need(dist) -> None:
    wheel = zipfile.ZipFile(only(dist.glob("*.whl")))
    names = set(wheel.namelist())
    shipped = [p for folder in ("static", "widget") for p in (ROOT / "qa" / "web" / folder).iterdir()] + list((ROOT / "qa").rglob("*.json"))
    for path in [*shipped, *(ROOT / "qa").rglob("*.py")]:
        assert path.relative_to(ROOT).as_posix() in names, f"{path} is missing from the wheel"
    assert not [n for n in names if n.split("/")[0] in ("tests", "seeds", "index", "benchmarks", "docs")]
    info = f"offline_doc_qa-{VERSION}.dist-info"
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert "Requires-Python: >=3.11" in metadata and "License-Expression: Apache-2.0" in metadata
    assert f"{info}/licenses/LICENSE" in names
    assert "qa = qa.cli:main" in wheel.read(f"{info}/entry_points.txt").decode()

    with tarfile.open(only(dist.glob("*.tar.gz"))) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("pyproject.toml", "LICENSE", "README.md", "CHANGELOG.md", "app.py", "requirements.txt",
                   "tests/conftest.py", "seeds/000_5b672d860f205277.txt", "qa/web/widget/widget.js"):
        assert needed in members, f"{needed} is missing from the sdist"


@pytest.fixture(scope="module")
def project(venv_bin, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A working directory away from the checkout where `qa index ../my-docs` ran, and that run."""
    base = tmp_path_factory.mktemp("user")
    shutil.copytree(SEEDS, base / "my-docs")
    work = base / "project"
    work.mkdir()
    return work, qa(venv_bin, "index", "../my-docs", cwd=work)


def test_installed_copy_is_the_one_running_with_its_version(venv_bin, project) -> None:
    work, _ = project
    assert qa(venv_bin, "--version", cwd=work).stdout.strip() == f"qa (offline-doc-qa) {VERSION}"
    probe = (
        "import importlib.util as u, qa\n"
        "print(qa.__file__, qa.__version__, *(u.find_spec(m) for m in ('matplotlib', 'onnxruntime', 'ray')), sep='\\n')"
    )
    shown = run([venv_bin / "python", "-c", probe], timeout=60, cwd=work, env=user_env(venv_bin))
    where, version, matplotlib, onnxruntime, ray = shown.stdout.splitlines()
    assert "site-packages" in where and str(ROOT) not in where, "the test must run the installed copy, not the checkout"
    assert version == VERSION
    assert matplotlib == onnxruntime == ray == "None", "the plain install must not bring the optional extras"


def test_installed_qa_indexes_and_answers_from_another_directory(venv_bin, project) -> None:
    work, built = project
    assert built.returncode == 0, built.stderr
    assert "2 added" in built.stdout
    assert (work / "index" / "qa.sqlite").is_file(), "an installed qa keeps its index in ./index"
    assert not list(venv_bin.parent.rglob("qa.sqlite")), "nothing is written inside the venv"

    asked = qa(venv_bin, "ask", "--json", QUESTION, cwd=work)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "12,000" in answer["answer"] and answer["short_answer"] == "more than 12,000"
    assert answer["citations"][0]["doc_id"] == "000_5b672d860f205277.txt"


def test_installed_qa_names_the_extra_a_feature_needs(venv_bin, project) -> None:
    work, built = project
    assert built.returncode == 0, built.stderr

    onnx = qa(venv_bin, "ask", QUESTION, cwd=work, QA_ENCODER="onnx-int8")
    assert onnx.returncode == 2 and "Traceback" not in onnx.stderr
    assert "pip install 'offline-doc-qa[onnx]'" in onnx.stderr and onnx.stdout == ""

    cluster = qa(venv_bin, "index", "../my-docs", "--ray", "local", cwd=work)
    assert cluster.returncode == 2 and "Traceback" not in cluster.stderr
    assert "pip install 'offline-doc-qa[scale]'" in cluster.stderr

    report = qa(venv_bin, "eval", "--data", "../my-docs", "--report", "report.md", cwd=work)
    assert report.returncode == 2 and "Traceback" not in report.stderr
    assert "pip install 'offline-doc-qa[eval]'" in report.stderr
    assert not (work / "report.md").exists()


def test_installed_qa_serves_the_chat_and_indexes_docs_in_the_working_directory(venv_bin, tmp_path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SEEDS, site / "docs")
    with served(venv_bin, site) as (url, output):
        assert httpx.get(f"{url}/healthz").json() == {"status": "ready", "documents": 2, "chunks": 12}
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        widget = httpx.get(f"{url}/widget.js")
        assert widget.status_code == 200 and widget.text == (ROOT / "qa" / "web" / "widget" / "widget.js").read_text(encoding="utf-8")
        answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60).json()
        assert answer["short_answer"] == "more than 12,000"
    assert (site / "index" / "qa.sqlite").is_file()
    assert any(line.startswith("Indexing docs") for line in output), output


def test_installed_qa_serves_with_no_documents_and_says_how_to_add_them(venv_bin, tmp_path) -> None:
    with served(venv_bin, tmp_path) as (url, output):
        assert httpx.get(f"{url}/healthz").json()["documents"] == 0
        assert httpx.get(f"{url}/").status_code == 200
        answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60).json()
        assert answer["abstained"] is True
    hint = next((line for line in output if line.startswith("No documents in index yet")), "")
    assert "docs" in hint and "python -m qa index PATH" in hint, output
