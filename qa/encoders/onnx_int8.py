"""The optional int8 encoder: the bundled model exported to ONNX once, quantized, run by onnxruntime.

The export happens offline at first use (torch.onnx from the local weights, then dynamic int8
quantization of the linear layers) into a cache folder keyed by the model's weights, so later
starts only load a 23 MB file. Pooling and normalization mirror the model's own modules (mean
over real tokens, then L2), so vectors stay comparable with the torch encoder's.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..distribution import missing_extra
from ..errors import EncoderExportError
from .sentence_transformer import SentenceTransformerEncoder

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Part of the cache key: a change in how the export is made must not reuse an older file.
EXPORT_VERSION = "int8-pc-matmul-1"


class OnnxInt8Encoder:
    """Mean-pooled, normalized sentence vectors from an int8 ONNX export of a sentence-transformers model.

    Tokenizing, token counts and the model identity come from the torch encoder it was exported from,
    so indexes built by either encoder open with the other (their vectors agree to ~0.994 cosine)."""

    def __init__(self, base: SentenceTransformerEncoder, cache_dir: Path) -> None:
        missing = missing_extra("onnx", "encoder 'onnx-int8' (QA_ENCODER)")
        if missing:
            raise EncoderExportError(f"{missing}; or use QA_ENCODER=torch")
        import onnxruntime

        self.base = base
        self.dimension = base.dimension
        self.max_tokens = base.max_tokens
        target = Path(cache_dir) / f"{base.path.name}-{_weights_digest(base.path)}-{EXPORT_VERSION}" / "model-int8.onnx"
        if not target.exists():
            export_int8(base.model, target)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        self.path = target

    @property
    def model_id(self) -> str:
        """The exported model's identity: the same as the torch encoder's."""
        return self.base.model_id

    @property
    def chunk_budget(self) -> int:
        """Tokens a chunk may use: the model limit less [CLS] and [SEP]."""
        return self.base.chunk_budget

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text, without the [CLS]/[SEP] the model adds."""
        return self.base.count_tokens(texts)

    def encode(self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Normalized float32 vectors of `texts`, batched by length so padding stays small."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batch_size = batch_size or self.base.batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts: list[np.ndarray] = []
        for first in range(0, len(order), batch_size):
            batch = [texts[i] for i in order[first : first + batch_size]]
            with self.base.tokenizer_lock:
                encoded = self.base.model.tokenizer(batch, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np")
            feed = {name: encoded[name].astype(np.int64) for name in INPUTS}
            hidden = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            parts.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return out


def export_int8(model, target: Path) -> None:
    """Export the model's transformer to ONNX and quantize its weights to int8 (atomic: tmp then rename)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    transformer = model[0].auto_model

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = target.with_name(f"model-fp32.{os.getpid()}.onnx")
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    sample = model.tokenizer(["an example sentence", "another one"], padding=True, return_tensors="pt")
    attention = getattr(transformer.config, "_attn_implementation", None)
    try:
        # The eager attention traces to plain ops that the exporter and quantizer both handle.
        transformer.config._attn_implementation = "eager"
        with torch.no_grad():
            torch.onnx.export(
                LastHiddenState().eval(),
                tuple(sample[name] for name in INPUTS),
                str(fp32),
                input_names=list(INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")},
                opset_version=17,
                dynamo=False,
            )
        # Per-channel scales on the matrix products only: per-tensor scales, or quantizing the
        # embedding lookup too, bend vectors to ~0.95 cosine of the torch ones; this keeps ~0.994.
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
        os.replace(tmp, target)
    except Exception as error:
        raise EncoderExportError(f"could not export the int8 encoder to {target}: {error}") from error
    finally:
        transformer.config._attn_implementation = attention
        fp32.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _weights_digest(model_path: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(model_path.glob("*.safetensors")) or sorted(model_path.glob("*.bin")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
