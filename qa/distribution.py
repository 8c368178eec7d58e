"""This package as a distribution: its name, its version, and the optional extras it can use."""

from __future__ import annotations

import importlib.util
import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "offline-doc-qa"
# Import names of each extra's packages (pyproject.toml [project.optional-dependencies]).
EXTRAS = {"onnx": ("onnx", "onnxruntime"), "eval": ("matplotlib", "sklearn"), "scale": ("ray",)}

_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def package_version() -> str:
    """The version of this copy of `qa`: the checkout's pyproject.toml, else the installed metadata."""
    # The checkout comes first: an older copy may also be installed, and its metadata would lie.
    if _PYPROJECT.is_file():
        project = tomllib.loads(_PYPROJECT.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == DISTRIBUTION:
            return str(project["version"])
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"  # a bare copy of the source: neither a checkout nor installed


def missing_extra(extra: str, feature: str) -> str | None:
    """None when the extra's packages are installed, else a message naming them and how to install them."""
    missing = [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]
    if not missing:
        return None
    return (
        f"{feature} needs {' and '.join(missing)}, from the optional extra `{extra}`: "
        f"pip install '{DISTRIBUTION}[{extra}]' (in a checkout: pip install -e '.[{extra}]')"
    )
