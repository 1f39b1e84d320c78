"""The console script's first step: detect, train and export run in a worker process that this
one watches, so that a run killed for memory still ends with a line naming its stage (nothing
it wrote is left looking finished: its writes are atomic).

Kept apart from `graphguard.cli` and light (the standard library only): the watching process
never needs Typer, Rich or the pipeline, and importing them would only delay the worker's
start, which is part of every run's ``start-up`` stage.
"""

from __future__ import annotations

import os
import sys

#: commands whose work runs in a worker process watched by the command itself
SUPERVISED = frozenset({"detect", "train", "export"})
#: set in a worker: the file where it records the stage it is in
STAGE_FILE_ENV = "GRAPHGUARD_STAGE_FILE"
#: killed by these, a run most likely ran out of memory: a failed allocation in Polars aborts
#: the process (SIGABRT), the kernel's out-of-memory killer sends SIGKILL
OUT_OF_MEMORY_SIGNALS = ("SIGABRT", "SIGKILL")


def supervised(args: list[str]) -> bool:
    """Whether this command line runs in a watched worker (not already in one, not --help)."""
    command = next((a for a in args if not a.startswith("-")), None)
    return (
        command in SUPERVISED
        and STAGE_FILE_ENV not in os.environ
        and not any(a in ("--help", "-h") for a in args)
    )


def supervise(worker: list[str], command: str) -> int:
    """Run ``worker`` (a graphguard command line) as a child with the same streams and return
    its exit code; if a signal kills it, print one `Error:` line naming the stage it was in."""
    import signal
    import subprocess
    import tempfile
    from pathlib import Path

    fd, stage_file = tempfile.mkstemp(prefix="graphguard-stage-", suffix=".txt")
    os.close(fd)
    # RUST_BACKTRACE=0: an aborting Polars prints its one line, not a backtrace
    env = {**os.environ, STAGE_FILE_ENV: stage_file, "RUST_BACKTRACE": "0"}
    try:
        child = subprocess.Popen(worker, env=env)
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:  # the child got the same SIGINT; wait for it to stop
                continue
        stage = Path(stage_file).read_text(encoding="utf-8").strip() or "start-up"
    finally:
        Path(stage_file).unlink(missing_ok=True)
    if code >= 0:
        return code
    name = signal.Signals(-code).name
    if name == "SIGINT":
        return 130
    cause = (
        " - most likely out of memory: run on a machine with more memory, raise the memory "
        "limit, or use a smaller log"
        if name in OUT_OF_MEMORY_SIGNALS
        else ""
    )
    print(
        f"Error: graphguard {command} was killed by {name} in stage '{stage}'{cause}",
        file=sys.stderr,
        flush=True,
    )
    return 1


def main() -> None:
    """The console script: a supervised command is run again as a watched worker; any other
    runs here (`graphguard.cli.app`)."""
    args = sys.argv[1:]
    if supervised(args):
        command = next(a for a in args if not a.startswith("-"))
        sys.exit(supervise([sys.executable, "-m", "graphguard", *args], command))
    from graphguard.cli import app

    app()
