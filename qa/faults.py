"""Fault injection for the crash-safety tests: stop this process at a named point of an indexing run."""

from __future__ import annotations

import os
import signal

# Where `QA_CRASH_AT` stops a run: inside a store commit (the first five), or in the indexing loop
# (`mid-prepare`: a batch partly prepared after at least one commit; `between-batches`: just after a commit).
CRASH_POINTS = ("before-faiss-write", "after-faiss-rename", "before-lexical-commit", "after-lexical-commit", "after-commit",
                "mid-prepare", "between-batches")
CRASH_SIGNALS = {"kill": signal.SIGKILL, "interrupt": signal.SIGINT}


class Crash:
    """Sends `signal_name` to this process the (`after` + 1)-th time `point` is reached; off when `point` is empty."""

    def __init__(self, point: str = "", after: int = 0, signal_name: str = "kill") -> None:
        self.point = point
        self.after = after
        self.signal = CRASH_SIGNALS[signal_name]
        self._passed = 0

    def reached(self, point: str) -> None:
        """Called at each named point; does nothing unless it is the planned one."""
        if point != self.point:
            return
        self._passed += 1
        if self._passed == self.after + 1:
            os.kill(os.getpid(), self.signal)
