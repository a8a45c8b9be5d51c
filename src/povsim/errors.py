"""Exceptions raised by povsim.

Every error a user can provoke with bad input is a :class:`PovsimError`. Scenario problems are
:class:`ScenarioError` and carry the file, the key path, what was expected and what was found, so
the command line can print one clear line instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class PovsimError(Exception):
    """Base class of every error povsim raises on purpose."""


class ScenarioError(PovsimError):
    """A scenario file (or a dictionary given in its place) is invalid.

    Parameters
    ----------
    message
        What is wrong, in words a user understands.
    file
        Path of the offending file, if the scenario came from a file.
    key
        Dotted key path of the offending value (``"budget.sources.credit.amount.2016"``), or
        ``None`` when the problem is the document as a whole.
    expected
        What is accepted at that key.
    found
        What was found there (a short ``repr``).
    line
        1-based line number in ``file`` where the key stands, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.expected = expected
        self.found = found
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        """One readable line: ``file:line: key: message (expected ..., found ...)``."""
        where = ""
        if self.file:
            where = str(self.file)
            if self.line:
                where += f":{self.line}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        detail = []
        if self.expected is not None:
            detail.append(f"expected {self.expected}")
        if self.found is not None:
            detail.append(f"found {self.found}")
        tail = f" ({'; '.join(detail)})" if detail else ""
        return f"{where}{key}{self.message}{tail}"


class ScenarioErrors(ScenarioError):
    """Several problems found in one scenario file; ``errors`` lists them all."""

    def __init__(self, errors: Sequence[ScenarioError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(
            first.message,
            file=first.file,
            key=first.key,
            expected=first.expected,
            found=first.found,
            line=first.line,
        )

    def format(self) -> str:
        errors = getattr(self, "errors", None)
        if not errors:
            return super().format()
        if len(errors) == 1:
            return errors[0].format()
        lines = [f"{len(errors)} problems in the scenario:"]
        lines += [f"  - {e.format()}" for e in errors]
        return "\n".join(lines)


class ModelBuildError(PovsimError):
    """The components of a model do not fit together (two owners of one variable, a missing input)."""


class DataError(PovsimError):
    """A calibration data file is missing, malformed or lacks a required row."""


class BudgetError(PovsimError):
    """The money ledger was asked to spend more than is available (a bug, never user input)."""
