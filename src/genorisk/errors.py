"""Errors that tell the user which file, which record and what is wrong."""

from __future__ import annotations

from os import PathLike
from typing import Any


class InputError(Exception):
    """Bad input: names the file, the record (line, position or row) and the problem.

    ``str(err)`` reads ``path: line 12 (chr21:5030001): GT allele index 3 > 1 ALT``.
    Raise it for anything a user must fix in their data or config; the workflow
    adapters print it on one line and exit non-zero, leaving no output behind.
    """

    # Set only by :func:`genorisk.scores.compute_scores` on a failed match rate: its ScoreResult (the audit).
    result: Any

    def __init__(self, path: str | PathLike | None, problem: str, *, record: str | None = None):
        self.path = None if path is None else str(path)
        self.record = record
        self.problem = problem
        where = ": ".join(p for p in (self.path, self.record) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class ConfigError(InputError):
    """A config or sample-sheet problem; ``record`` names the key or row."""
