"""Offline question answering over your own documents, with every answer sentence cited.

    from qa import QA, Settings
    qa = QA(Settings.from_env(index_dir="my-index"))
    qa.index(["docs/"])
    print(qa.ask("What happened on Nov. 15?").answer)
"""

from typing import Any

__all__ = ["QA", "Settings", "Answer", "Citation", "Document", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m qa --help` and light submodules don't pay for importing torch.
    if name == "QA":
        from .engine import QA

        return QA
    if name == "Settings":
        from .config import Settings

        return Settings
    if name == "__version__":
        from .distribution import package_version

        return package_version()
    if name in ("Answer", "Citation", "Document"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
