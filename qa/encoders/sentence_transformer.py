"""The torch encoder: a sentence-transformers model loaded offline from a local folder."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from ..errors import ModelNotFoundError
from . import offline, resolve_model_path


class SentenceTransformerEncoder:
    """Encodes texts into L2-normalized float32 vectors; thread-safe for concurrent queries."""

    def __init__(self, model: str = "", device: str = "cpu", batch_size: int = 64) -> None:
        offline()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A weight-loading progress bar on every start is noise in a server's log.
        transformers_logging.disable_progress_bar()
        self.path = resolve_model_path(model)
        self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        dimension, max_tokens = self.model.get_embedding_dimension(), self.model.max_seq_length
        if dimension is None or max_tokens is None:
            raise ModelNotFoundError(f"The model at {self.path} does not say its vector size and token limit.")
        self.dimension, self.max_tokens = int(dimension), int(max_tokens)
        self.name = self.path.name if model else "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        # Fast tokenizers are not safe to call from several threads at once.
        self.tokenizer_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """What the index records to refuse being opened with a different model."""
        return f"{self.name}:{self.dimension}:{self.max_tokens}"

    def encode(self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Normalized embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        with self.tokenizer_lock:
            encoded = self.model.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    @property
    def chunk_budget(self) -> int:
        """Tokens a chunk may use: the model limit less [CLS] and [SEP]."""
        return self.max_tokens - 2
