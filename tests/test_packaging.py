"""Packaging promises that need no install: one source of pins, one version, checkout defaults, named extras."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def pins(requirements: list[str]) -> dict[str, str]:
    """Canonical name -> specifier of requirement strings, each one an exact `==` pin."""
    pinned = {}
    for line in requirements:
        requirement = Requirement(line)
        assert str(requirement.specifier).startswith("==") and len(requirement.specifier) == 1, f"{line} is not pinned with =="
        pinned[canonicalize_name(requirement.name)] = str(requirement.specifier)
    return pinned


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements file (no comments, no blank lines)."""
    lines = [line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def test_requirements_txt_repeats_the_pyproject_dependencies_exactly() -> None:
    assert pins(requirement_lines(ROOT / "requirements.txt")) == pins(PROJECT["dependencies"])


def test_requirements_dev_is_the_runtime_plus_every_extra() -> None:
    lines = requirement_lines(ROOT / "requirements-dev.txt")
    assert lines[0] == "-r requirements.txt"
    extras = PROJECT["optional-dependencies"]
    own = canonicalize_name(PROJECT["name"])
    # `dev` names the project itself with every other extra, so `pip install .[dev]` runs all the tests.
    self_references = [Requirement(r) for r in extras["dev"] if canonicalize_name(Requirement(r).name) == own]
    assert [set(r.extras) for r in self_references] == [set(extras) - {"dev"}]
    expected = [r for group in extras.values() for r in group if canonicalize_name(Requirement(r).name) != own]
    assert pins(lines[1:]) == pins(expected)
    assert not set(pins(lines[1:])) & set(pins(PROJECT["dependencies"])), "an extra repeats a runtime dependency"


def test_requirements_scale_is_the_runtime_plus_the_scale_extra() -> None:
    lines = requirement_lines(ROOT / "requirements-scale.txt")
    assert lines[0] == "-r requirements.txt"
    assert pins(lines[1:]) == pins(PROJECT["optional-dependencies"]["scale"]) == {"ray": "==2.60.0"}
    assert {str(e) for r in lines[1:] for e in Requirement(r).extras} == {"data", "serve"}


def test_optional_packages_are_extras_not_runtime_dependencies() -> None:
    runtime = pins(PROJECT["dependencies"])
    assert {"onnx", "onnxruntime", "matplotlib", "scikit-learn", "ray"}.isdisjoint(runtime)
    assert set(pins(PROJECT["optional-dependencies"]["onnx"])) == {"onnx", "onnxruntime"}
    assert set(pins(PROJECT["optional-dependencies"]["eval"])) == {"matplotlib", "scikit-learn"}


def test_no_package_index_in_what_ci_installs_from() -> None:
    # This machine reaches only PyPI: an index URL here would break CI (the README gives PyTorch's CPU index by hand).
    for name in ("requirements.txt", "requirements-dev.txt", ".ci/run", "pyproject.toml"):
        text = (ROOT / name).read_text(encoding="utf-8")
        for option in ("--index-url", "--extra-index-url", "--find-links", "download.pytorch.org"):
            assert option not in text, f"{name} names {option}"
        assert not any(line.strip().startswith("-i ") for line in text.splitlines()), name


def test_one_version_for_the_package_the_cli_and_the_pyproject() -> None:
    import qa

    assert qa.__version__ == PROJECT["version"]
    shown = subprocess.run([sys.executable, "-m", "qa", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"qa (offline-doc-qa) {PROJECT['version']}"


def test_the_changelog_has_an_entry_for_the_current_version_line() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    released = PROJECT["version"].split(".dev")[0]
    assert released in changelog, f"CHANGELOG.md does not mention {released}"


def test_checkout_keeps_the_index_and_seeds_beside_the_source() -> None:
    from qa.config import Settings

    settings = Settings.from_env({})
    assert settings.index_dir == ROOT / "index"
    assert settings.docs_dir == ROOT / "seeds"


def test_an_installed_copy_uses_the_working_directory(monkeypatch, tmp_path) -> None:
    from qa import config

    # An installed `qa` lives in site-packages: no pyproject.toml or app.py beside it.
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path)
    assert not config.in_checkout()
    assert config.default_index_dir() == Path("index") and not config.default_index_dir().is_absolute()
    assert config.default_docs_dir() == Path("docs")


def test_missing_onnx_extra_names_the_extra(monkeypatch, encoder, tmp_path) -> None:
    from qa.encoders.onnx_int8 import OnnxInt8Encoder
    from qa.errors import EncoderExportError

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(EncoderExportError, match=r"pip install 'offline-doc-qa\[onnx\]'"):
        OnnxInt8Encoder(encoder, tmp_path)
    assert not list(tmp_path.iterdir()), "nothing is exported when the extra is missing"


def test_eval_report_without_the_eval_extra_stops_before_the_run(monkeypatch, tmp_path, capsys) -> None:
    from qa.cli import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = main(["eval", "--data", str(tmp_path / "beir"), "--report", str(tmp_path / "report.md")])
    error = capsys.readouterr().err
    assert code == 2
    assert "--report" in error and "matplotlib" in error and "pip install 'offline-doc-qa[eval]'" in error
    assert not (tmp_path / "report.md").exists()


def test_calibrate_without_the_eval_extra_stops_before_reading(monkeypatch, tmp_path, capsys) -> None:
    from qa.cli import main

    monkeypatch.setitem(sys.modules, "sklearn", None)
    code = main(["calibrate", str(tmp_path / "outcomes.jsonl"), "--out", str(tmp_path / "calibration.json")])
    error = capsys.readouterr().err
    assert code == 2 and "sklearn" in error
    assert "pip install 'offline-doc-qa[eval]'" in error and not (tmp_path / "calibration.json").exists()


def test_ray_without_the_scale_extra_stops_before_the_model_loads(monkeypatch, tmp_path, capsys) -> None:
    from qa.cli import main

    from .conftest import SEEDS

    monkeypatch.setitem(sys.modules, "ray", None)
    code = main(["index", str(SEEDS), "--ray", "local", "--index-dir", str(tmp_path / "index")])
    error = capsys.readouterr().err
    assert code == 2 and "--ray" in error and "pip install 'offline-doc-qa[scale]'" in error
    assert not (tmp_path / "index").exists()
