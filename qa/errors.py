"""Every error the package reports to a person, in one hierarchy: each message says what to do."""

from __future__ import annotations

REBUILD_HINT = "Rebuild it with `python -m qa index --rebuild PATH...`."


class QAError(Exception):
    """Base of every problem reported to the user with a way out (CLI exit code 2, HTTP 4xx)."""


class UsageError(QAError):
    """A problem the user can fix from the message alone: a flag, a path, a question."""


class SettingsError(UsageError):
    """A setting with a value outside what it allows; the message names the variable."""


class QuestionError(UsageError):
    """A question that cannot be asked (empty, or over the length limit)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        # "empty" or "too_long": the API maps them to its validation error types.
        self.kind = kind


class EvalDataError(UsageError):
    """The evaluation folder or file is missing something; the message says what."""


class IndexStoreError(QAError):
    """The index on disk cannot be used as it is."""


class CorruptIndexError(IndexStoreError):
    """The index files are damaged or inconsistent."""


class ModelMismatchError(IndexStoreError):
    """The index was built with a different embedding model or chunking."""


class EncoderError(QAError):
    """The embedding model cannot be loaded or run."""


class ModelNotFoundError(EncoderError):
    """The configured model folder is missing or is not a sentence-transformers model."""


class EncoderExportError(EncoderError):
    """The ONNX encoder could not be built or loaded; the torch encoder still works."""
