"""Errors that carry what a person needs to fix their input.

The CLI turns `InputError` into one `Error: ...` line and exit code 1; library callers get the
structured fields.
"""

from __future__ import annotations

#: longest example shown in a message; a longer one is cut with an ellipsis
EXAMPLE_CHARS = 80


def inert(text: str) -> str:
    """``text`` with every non-printable character (control, bidi override, line break) escaped
    as Python does in a repr, so data put in a message can neither drive a terminal nor split the
    line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _example_text(value: object) -> str:
    text = inert(repr(value))
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


class GraphguardError(Exception):
    """Base class for errors graphguard raises on purpose."""


class InputError(GraphguardError):
    """Malformed input: names the file, the column and an example of the offending value."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        column: str | None = None,
        example: object = None,
    ) -> None:
        self.path = path
        self.column = column
        self.example = example
        parts = []
        if path is not None:
            parts.append(inert(str(path)))
        if column is not None:
            parts.append(f"column '{inert(str(column))}'")
        prefix = ": ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if example is not None:
            text += f" (example: {_example_text(example)})"
        super().__init__(text)


class OutputExistsError(GraphguardError):
    """The output exists and overwriting was not asked for (the CLI adds how to ask)."""

    def __init__(self, path: object) -> None:
        self.path = path
        super().__init__(f"{path}: already exists")


class OutOfMemoryError(GraphguardError, MemoryError):
    """A stage ran out of memory (`StageTimer.stage` names it): the input is too large for the
    memory this process may use. Still a `MemoryError` for callers that catch that."""

    def __init__(self, stage: str, peak_rss_mib: float | None = None) -> None:
        self.stage = stage
        self.peak_rss_mib = peak_rss_mib
        peak = "" if peak_rss_mib is None else f" (peak resident memory {peak_rss_mib:,.0f} MiB)"
        super().__init__(
            f"out of memory in stage '{stage}'{peak}: run on a machine with more memory, "
            "raise the memory limit, or use a smaller log"
        )


class OutputError(GraphguardError):
    """An output path graphguard refuses to write: names the path and why (checked before any
    work starts)."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class OutputBusyError(OutputError):
    """Another live graphguard process is writing the same output."""

    def __init__(self, path: object, pid: int | None = None) -> None:
        self.pid = pid
        who = "another graphguard process" + (f" (pid {pid})" if pid else "")
        super().__init__(path, f"{who} is writing it; wait for it to finish")
