"""All settings in one place: defaults, overridden by `QA_*` environment variables, then by flags.

Every tunable is a field of `Settings` or of one of its groups, declared once with its variable
name, what it allows and a line of help. A value outside what a field allows stops the program
with a message naming the variable, the value and the allowed range (`SettingsError`).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import SettingsError
from .faults import CRASH_POINTS, CRASH_SIGNALS

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


def calibrated_threshold() -> float:
    """The abstain threshold recorded in the shipped calibration file."""
    path = Path(__file__).resolve().parent / "answering" / "calibration.json"
    return float(json.loads(path.read_text(encoding="utf-8"))["abstain_threshold"])


class FusionMode(enum.StrEnum):
    """How the dense and lexical rankings become one."""

    RRF = "rrf"  # reciprocal-rank fusion of both
    DENSE = "dense"  # meaning only (FAISS)
    LEXICAL = "lexical"  # words only (BM25)


@dataclass(frozen=True)
class Spec:
    """How one field is set and checked: its variable, its allowed values, one line of help."""

    env: str
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    # Shown as set/unset, never as its value.
    secret: bool = False

    @property
    def key(self) -> str:
        """The keyword that sets it in `Settings.from_env(...)` and `with_(...)`: the variable without QA_."""
        return self.env.removeprefix("QA_").lower()

    def allowed(self, default: Any = None) -> str:
        """What the field accepts, in words (`default` tells its type)."""
        if isinstance(default, bool):
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.low is not None and self.high is not None:
            return f"from {_number(self.low)} to {_number(self.high)}"
        if self.low is not None:
            return f"at least {_number(self.low)}"
        if isinstance(default, Path):
            return "a folder"
        if isinstance(default, tuple):
            return "a comma-separated list"
        return "any text"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def setting(default: Any, env: str, help: str, *, low: float | None = None, high: float | None = None,
            choices: tuple[str, ...] | None = None, secret: bool = False) -> Any:
    """A dataclass field carrying its `Spec`."""
    return field(default=default, metadata={"spec": Spec(env, help, low, high, choices, secret)})


class _Checked:
    """Checks every field against its `Spec` when the dataclass is made."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            spec = f.metadata.get("spec")
            if spec is not None:
                _check(spec, getattr(self, f.name))


def _check(spec: Spec, value: Any) -> None:
    def refuse() -> SettingsError:
        return SettingsError(f"{spec.env}={_shown(value)} is not allowed: it must be {spec.allowed()}")

    if spec.choices is not None and str(getattr(value, "value", value)) not in spec.choices:
        raise refuse()
    if spec.low is not None or spec.high is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN
            raise refuse()
        if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
            raise refuse()


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return repr(value.value)
    return repr(value)


@dataclass(frozen=True)
class EmbeddingSettings(_Checked):
    """The encoder that turns text into vectors."""

    model: str = setting("", "QA_MODEL", "local sentence-transformers folder; empty: the bundled all-MiniLM-L6-v2")
    encoder: str = setting("torch", "QA_ENCODER", "torch, or onnx-int8: the same model int8-quantized (docs/performance.md)",
                           choices=("torch", "onnx-int8"))
    cache_dir: Path = setting(Path.home() / ".cache" / "qa-encoders", "QA_ENCODER_CACHE_DIR", "where the onnx-int8 export is kept")
    batch_size: int = setting(64, "QA_ENCODER_BATCH_SIZE", "texts encoded per forward pass while indexing", low=1, high=4096)


@dataclass(frozen=True)
class ChunkingSettings(_Checked):
    """How documents become chunks; recorded in the index so a change forces a rebuild."""

    max_tokens: int = setting(200, "QA_CHUNK_TOKENS", "chunk size in model tokens (the model reads at most 256)", low=16, high=510)
    overlap_sentences: int = setting(1, "QA_CHUNK_OVERLAP_SENTENCES", "sentences shared by neighbouring chunks", low=0, high=20)
    title_in_chunk: bool = setting(True, "QA_CHUNK_TITLE", "embed the document title with each chunk")

    @property
    def signature(self) -> str:
        """Stable text form stored in the index metadata."""
        return f"tokens={self.max_tokens};overlap={self.overlap_sentences};title={int(self.title_in_chunk)};v1"


@dataclass(frozen=True)
class VectorSettings(_Checked):
    """The vector index: exact while small, IVF (float16) once large (thresholds measured in docs/performance.md)."""

    kind: str = setting("auto", "QA_VECTOR_INDEX", "auto: exact below the IVF threshold, IVF above; flat: always exact",
                        choices=("auto", "flat"))
    # Below this many vectors exact search costs under ~1 ms a query here; above, IVF pays off.
    ivf_threshold: int = setting(20_000, "QA_VECTOR_IVF_THRESHOLD", "vectors from which the index is IVF", low=8)
    # Back to exact below this (hysteresis, so a delete at the border does not rebuild twice).
    flat_threshold: int = setting(10_000, "QA_VECTOR_FLAT_THRESHOLD", "vectors below which an IVF index returns to exact", low=1)
    # Rebuild the IVF lists when the corpus outgrew the size their count suits by this factor.
    retrain_growth: float = setting(8.0, "QA_VECTOR_RETRAIN_GROWTH", "growth factor that retrains the IVF lists", low=1.5)
    # nprobe is tuned at build time: the fewest lists whose recall@10 against exact search reaches
    # this on probe queries drawn from the corpus (a stored vector blended with half of another).
    target_recall: float = setting(0.99, "QA_VECTOR_TARGET_RECALL", "recall@10 against exact search that nprobe is tuned to",
                                   low=0.5, high=1.0)
    tuning_queries: int = setting(200, "QA_VECTOR_TUNING_QUERIES", "probe queries for tuning nprobe", low=10, high=100_000)
    min_nprobe: int = setting(8, "QA_VECTOR_MIN_NPROBE", "fewest IVF lists probed", low=1)
    # Training on more than this many points per list buys nothing but time.
    train_points_per_list: int = setting(64, "QA_VECTOR_TRAIN_POINTS_PER_LIST", "training sample per IVF list", low=39)
    # A commit appends a delta file (O(batch)); the deltas are merged into a new base file once
    # they exceed this many vectors and this share of the base. Unmerged vectors are searched
    # exactly: 20k of them cost ~3 ms a query here (36 ms for 50k under load), the merge at a
    # million chunks ~10 s, so it runs about once per 20k chunks indexed.
    delta_min: int = setting(10_000, "QA_VECTOR_DELTA_MIN", "unmerged vectors (added or removed) always allowed before a merge",
                             low=0)
    delta_share: float = setting(0.02, "QA_VECTOR_DELTA_SHARE", "unmerged vectors allowed as a share of the base before a merge",
                                 low=0.0, high=1.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.flat_threshold >= self.ivf_threshold:
            raise SettingsError(
                f"QA_VECTOR_FLAT_THRESHOLD={self.flat_threshold} must be below QA_VECTOR_IVF_THRESHOLD={self.ivf_threshold}"
            )


@dataclass(frozen=True)
class LexicalSettings(_Checked):
    """The word index (BM25)."""

    # tantivy: at 1M chunks BM25 p50 6.4 ms against FTS5's 567 ms, 235 MB against 1.64 GB, equal
    # quality on both eval sets (docs/performance.md, "Lexical engine").
    backend: str = setting("tantivy", "QA_LEXICAL_BACKEND",
                           "lexical engine: tantivy (a folder beside the database) or fts5 (SQLite, inside the database); "
                           "a change rebuilds the words from the database at the next open", choices=("tantivy", "fts5"))
    title_weight: float = setting(0.5, "QA_LEXICAL_TITLE_WEIGHT", "BM25 weight of the title column", low=0.0, high=10.0)
    body_weight: float = setting(1.0, "QA_LEXICAL_BODY_WEIGHT", "BM25 weight of the chunk text", low=0.0, high=10.0)
    # FTS5 scores every row any term matches, so a term in a third of the chunks costs a third of the
    # corpus per query while barely moving a ranking led by rarer terms (docs/performance.md).
    common_term_share: float = setting(0.1, "QA_LEXICAL_COMMON_TERM_SHARE",
                                       "query terms in more than this share of chunks are dropped while rarer ones remain",
                                       low=0.0, high=1.0)


@dataclass(frozen=True)
class FusionSettings(_Checked):
    """How dense and lexical candidates are combined."""

    mode: FusionMode = setting(FusionMode.RRF, "QA_FUSION_MODE", "rrf (both), dense or lexical", choices=tuple(m.value for m in FusionMode))
    rrf_k: int = setting(10, "QA_FUSION_RRF_K", "reciprocal-rank constant", low=0, high=1000)
    dense_weight: float = setting(1.0, "QA_FUSION_DENSE_WEIGHT", "weight of the dense ranking", low=0.0, high=100.0)
    lexical_weight: float = setting(1.0, "QA_FUSION_LEXICAL_WEIGHT", "weight of the BM25 ranking", low=0.0, high=100.0)
    candidates: int = setting(50, "QA_FUSION_CANDIDATES", "candidates taken from each ranking", low=1, high=10_000)
    # A follow-up prefers the documents the conversation's answers quoted: this many first-place votes.
    focus_weight: float = setting(1.0, "QA_FUSION_FOCUS_WEIGHT",
                                  "extra vote, in first-place votes, for a follow-up's passages from the conversation's documents",
                                  low=0.0, high=100.0)


@dataclass(frozen=True)
class RerankSettings(_Checked):
    """A third ranking: the fused head re-ranked by each chunk's best-matching sentence."""

    weight: float = setting(3.0, "QA_RERANK_WEIGHT", "weight of the sentence vote (0 turns re-ranking off)", low=0.0, high=100.0)
    depth: int = setting(30, "QA_RERANK_DEPTH", "head of the fused ranking that is re-ranked", low=1, high=1000)
    dense_share: float = setting(0.5, "QA_RERANK_DENSE_SHARE", "share of meaning (vs word overlap) in a sentence's score",
                                 low=0.0, high=1.0)


@dataclass(frozen=True)
class WordSettings(_Checked):
    """Word statistics (IDF) for retrieval, sentence scoring and confidence: the corpus blended with English."""

    # docs/evaluation.md: 100 to 10,000 measured alike; 0 is the corpus alone (a one-document index
    # then weighs a word it lacks above every word it holds).
    background_chunks: int = setting(1000, "QA_BACKGROUND_CHUNKS", "chunks of ordinary English pooled with the corpus for IDF",
                                     low=0, high=10_000_000)
    words_per_chunk: float = setting(100.0, "QA_BACKGROUND_WORDS_PER_CHUNK", "words in one background chunk", low=1.0, high=100_000.0)


@dataclass(frozen=True)
class AnswerSettings(_Checked):
    """Sentence selection and abstention."""

    # Default: the threshold `qa calibrate` chose with the shipped calibration (qa/answering/calibration.json).
    abstain_threshold: float = setting(calibrated_threshold(), "QA_ABSTAIN_THRESHOLD",
                                       "below this probability that the documents can answer the question, the bot declines",
                                       low=0.0, high=1.0)
    max_sentences: int = setting(3, "QA_ANSWER_MAX_SENTENCES", "most sentences in an answer", low=1, high=20)
    passages_considered: int = setting(3, "QA_ANSWER_PASSAGES", "top passages whose sentences may answer", low=1, high=50)
    # An extra sentence joins the answer only if it scores this close to the best one.
    extra_sentence_ratio: float = setting(0.5, "QA_ANSWER_EXTRA_SENTENCE_RATIO",
                                          "an extra sentence must score at least this share of the best", low=0.0, high=1.0)
    dense_weight: float = setting(0.5, "QA_ANSWER_DENSE_WEIGHT", "share of meaning (vs word overlap) in a sentence's score",
                                  low=0.0, high=1.0)
    # Added when a sentence holds the kind of thing the question asks for (a date for "when"...).
    answer_type_bonus: float = setting(0.05, "QA_ANSWER_TYPE_BONUS", "bonus for a sentence holding the asked date or number",
                                       low=0.0, high=1.0)
    # Added to an extra sentence from a passage the answer already cites: the gold passage is
    # usually the first one, so its other sentences beat similar-scoring ones from elsewhere.
    same_passage_bonus: float = setting(0.1, "QA_ANSWER_SAME_PASSAGE_BONUS", "bonus for an extra sentence from a cited passage",
                                        low=0.0, high=1.0)
    # Precision first (docs/evaluation.md, "Round 3"): at 0.6 a given short answer is inside a gold
    # answer 0.65 of the time on SQuAD (0.61-0.63 ungated) with EM and F1 still above the ungated
    # ones before round 3; higher gates buy precision with F1 (0.85: 0.70, F1 -0.03 to -0.04).
    short_answer_confidence: float = setting(0.6, "QA_SHORT_ANSWER_MIN_CONFIDENCE",
                                             "a short answer is given only when the answer's confidence is at least this",
                                             low=0.0, high=1.0)


@dataclass(frozen=True)
class IndexingSettings(_Checked):
    """Where the pure prepare step (chunk and embed) runs, and how often `qa index` commits."""

    executor: str = setting("local", "QA_EXECUTOR", "local (this process) or processes (a pool, one encoder each)",
                            choices=("local", "processes"))
    workers: int = setting(2, "QA_WORKERS", "workers of the processes or Ray executor (each loads its own encoder)", low=1, high=256)
    # An interrupted run keeps every committed batch; a batch commit costs COMMIT_COST_PLACEHOLDER.
    commit_chunks: int = setting(2000, "QA_COMMIT_CHUNKS", "`qa index` commits once this many chunks are prepared",
                                 low=1, high=10_000_000)
    commit_seconds: float = setting(60.0, "QA_COMMIT_SECONDS", "`qa index` commits what is prepared at least this often",
                                    low=0.1, high=86_400)


@dataclass(frozen=True)
class ClusterSettings(_Checked):
    """Past one machine: a Ray cluster that prepares (chunks and embeds) documents, and sharded indexes."""

    ray_address: str = setting("", "QA_RAY_ADDRESS",
                               "Ray cluster for `qa index` and `qa serve`: local (start one here), auto (the one `ray start` "
                               "runs here) or HOST:PORT; empty: no Ray (docs/scaling.md)")
    # Torch's own threads beside Ray's workers only contend: one each, and as many workers as cores.
    worker_threads: int = setting(1, "QA_WORKER_THREADS", "torch threads of each Ray worker", low=1, high=256)
    batch_documents: int = setting(8, "QA_RAY_BATCH_DOCUMENTS", "documents a Ray worker prepares per task (the unit of retry)",
                                   low=1, high=100_000)
    shards: int = setting(1, "QA_SHARDS", "shards of a new index, each a normal index folder (1: no shards; docs/scaling.md)",
                          low=1, high=256)
    replicas: int = setting(1, "QA_SERVE_REPLICAS", "Ray Serve replicas of the app (`qa serve --ray`)", low=1, high=256)


@dataclass(frozen=True)
class ServerSettings(_Checked):
    """The web server, its API limits and who may use it."""

    host: str = setting("127.0.0.1", "QA_HOST", "address the server listens on")
    port: int = setting(7860, "QA_PORT", "port the server listens on", low=1, high=65535)
    admin_token: str = setting("", "QA_ADMIN_TOKEN", "bearer token for uploads and deletions (unset: off)", secret=True)
    allowed_origins: tuple[str, ...] = setting((), "QA_ALLOWED_ORIGINS",
                                               "comma-separated origins that may embed the widget and call /api/*")
    rate_limit_per_minute: int = setting(60, "QA_RATE_LIMIT_PER_MINUTE", "questions per client per minute on /api/ask (0: off)",
                                         low=0, high=1_000_000)
    max_request_bytes: int = setting(10 * 1024 * 1024, "QA_MAX_REQUEST_BYTES", "request body and upload limit", low=1024)
    # 16: the micro-batcher then finds several questions to encode together (load.py, 50 clients:
    # 106 answers/s, p99 835 ms, against 67/s, p99 1,319 ms at 4; 32 gave no more and a worse p99).
    concurrency: int = setting(16, "QA_CONCURRENCY", "questions answered at once", low=1, high=256)
    question_batch: int = setting(32, "QA_QUESTION_BATCH", "questions the server encodes in one forward pass at most (1: each alone)",
                                  low=1, high=1024)
    question_batch_wait_ms: float = setting(0.0, "QA_QUESTION_BATCH_WAIT_MS", "how long a question may wait for others to share its pass",
                                            low=0.0, high=100.0)
    chat_users: tuple[str, ...] = setting((), "QA_CHAT_USERS",
                                          "comma-separated name:password-hash entries (`qa users add`); any turns sign-in on",
                                          secret=True)
    chat_users_file: str = setting("", "QA_CHAT_USERS_FILE", "file of name:password-hash lines (`qa users add --file`); turns sign-in on")
    session_hours: float = setting(12.0, "QA_SESSION_HOURS", "how long a browser stays signed in, admin actions unlocked",
                                   low=0.05, high=24 * 90)
    widget_public: bool = setting(False, "QA_WIDGET_PUBLIC", "with sign-in on, leave the widget's compact chat (/embed/) open to all")


@dataclass(frozen=True)
class Settings(_Checked):
    """Every tunable of the pipeline, the server and the widget."""

    index_dir: Path = setting(default_index_dir(), "QA_INDEX_DIR", "where the index lives")
    docs_dir: Path = setting(default_docs_dir(), "QA_DOCS_DIR", "what `python app.py` indexes when the index is missing or older")
    top_k: int = setting(5, "QA_TOP_K", "passages retrieved and listed as sources", low=1, high=50)
    max_question_chars: int = setting(2000, "QA_MAX_QUESTION_CHARS", "longest question accepted", low=1, high=1_000_000)
    # Fault injection for the crash-safety tests (qa/faults.py).
    crash_at: str = setting("", "QA_CRASH_AT", "test only: stop the process at this point of an indexing run",
                            choices=("", *CRASH_POINTS))
    crash_after: int = setting(0, "QA_CRASH_AFTER", "test only: pass the crash point this many times first", low=0)
    crash_signal: str = setting("kill", "QA_CRASH_SIGNAL", "test only: how the process is stopped (kill: SIGKILL, interrupt: SIGINT)",
                                choices=tuple(CRASH_SIGNALS))
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    vectors: VectorSettings = field(default_factory=VectorSettings)
    lexical: LexicalSettings = field(default_factory=LexicalSettings)
    fusion: FusionSettings = field(default_factory=FusionSettings)
    rerank: RerankSettings = field(default_factory=RerankSettings)
    words: WordSettings = field(default_factory=WordSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    indexing: IndexingSettings = field(default_factory=IndexingSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    server: ServerSettings = field(default_factory=ServerSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `QA_<NAME>` variables, then non-None keyword overrides (flags).

        A keyword is a variable's name without `QA_`, lower-cased (`top_k`, `chunk_tokens`), or a
        whole group (`vectors=VectorSettings(...)`)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for _, f, spec in _specs():
            raw = environ.get(spec.env)
            if raw is not None and raw != "":
                values[spec.key] = _coerce(spec, f, raw)
        return _build({**values, **{k: v for k, v in overrides.items() if v is not None}})

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (same keywords as `from_env`)."""
        return _build({**self.values(), **changes})

    def values(self) -> dict[str, Any]:
        """Every setting by keyword (`top_k`, `chunk_tokens`, ...)."""
        out: dict[str, Any] = {}
        for group, f, spec in _specs():
            holder = getattr(self, group) if group else self
            out[spec.key] = getattr(holder, f.name)
        return out

    def table(self) -> list[tuple[str, str, str, str]]:
        """(variable, current value, allowed, help) of every setting, for `qa settings`."""
        current = self.values()
        return [
            (spec.env, ("(set)" if current[spec.key] else "(unset)") if spec.secret else _text(current[spec.key]),
             spec.allowed(f.default), spec.help)
            for _, f, spec in _specs()
        ]


_GROUPS: dict[str, type] = {
    f.name: f.default_factory for f in fields(Settings) if f.default_factory is not MISSING  # type: ignore[misc]
}


def _specs() -> Iterator[tuple[str, Field[Any], Spec]]:
    """(group name or "", field, spec) of every setting, top-level ones first."""
    for f in fields(Settings):
        if "spec" in f.metadata:
            yield "", f, f.metadata["spec"]
    for name, group in _GROUPS.items():
        for f in fields(group):
            yield name, f, f.metadata["spec"]


def _build(values: dict[str, Any]) -> Settings:
    """Settings from keyword values; whole groups given by name replace that group's keywords."""
    known = {spec.key for _, _, spec in _specs()}
    unknown = set(values) - known - set(_GROUPS)
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    top: dict[str, Any] = {}
    grouped: dict[str, dict[str, Any]] = {name: {} for name in _GROUPS}
    for group, f, spec in _specs():
        if spec.key in values and not (group and group in values):
            value = values[spec.key]
            if isinstance(value, str) and f.type not in ("str", str):
                value = _coerce(spec, f, value)
            elif f.type in ("Path", Path) and value is not None:
                value = Path(value)
            (grouped[group] if group else top)[f.name] = value
    for name, group_type in _GROUPS.items():
        given = values.get(name)
        top[name] = given if given is not None else group_type(**grouped[name])
    return Settings(**top)


def _coerce(spec: Spec, f: Field[Any], raw: str) -> Any:
    default = f.default
    try:
        if isinstance(default, bool):
            lowered = raw.strip().lower()
            if lowered not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        if isinstance(default, enum.Enum):
            return type(default)(raw.strip().lower())
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if isinstance(default, Path):
            return Path(raw).expanduser()
    except ValueError:
        allowed = spec.allowed(default)
        kind = {int: "a whole number ", float: "a number "}.get(type(default), "")
        raise SettingsError(f"{spec.env}={raw!r} is not allowed: it must be {kind}{allowed}") from None
    return raw


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


# A keyword names either one setting or one group, never both.
assert not {spec.key for _, _, spec in _specs()} & set(_GROUPS), "a setting's keyword equals a group name"
