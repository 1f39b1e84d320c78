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
#: under an address-space limit (``ulimit -v``, ``prlimit --as``) a worker whose process tree
#: uses no CPU for this many seconds, with every thread asleep, is stalled and is killed
#: (override: ``GRAPHGUARD_STALL_SECONDS``). Polars' streaming engine can wait forever on a
#: thread the limit did not let it start (seen with Polars 2.1: the query's task is never
#: run, every thread parks, nothing is printed); without such a limit a failed allocation
#: aborts instead, and the watch is off.
STALL_SECONDS = 30.0
STALL_ENV = "GRAPHGUARD_STALL_SECONDS"


def supervised(args: list[str]) -> bool:
    """Whether this command line runs in a watched worker (not already in one, not --help)."""
    command = next((a for a in args if not a.startswith("-")), None)
    return (
        command in SUPERVISED
        and STAGE_FILE_ENV not in os.environ
        and not any(a in ("--help", "-h") for a in args)
    )


def address_space_limit() -> int | None:
    """This process's soft address-space limit in bytes, or None when there is none."""
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _tree_activity(root: int) -> tuple[int, bool] | None:
    """(CPU ticks used so far by ``root`` and its descendants, whether any of their threads
    is other than asleep: running, in an uninterruptible wait such as disk I/O, or stopped by
    its user), from /proc; None where /proc cannot say."""
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    stats: dict[int, list[str]] = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                # the command name (field 2) may hold spaces and parentheses: split after it
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        parents.setdefault(int(fields[1]), []).append(int(entry))
    if root not in stats:
        return None
    ticks, busy, todo = 0, False, [root]
    while todo:
        pid = todo.pop()
        fields = stats.get(pid)
        if fields is None:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/stat", encoding="ascii", errors="replace") as h:
                    busy = busy or h.read().rpartition(")")[2].split()[0] not in ("S", "Z")
        except OSError:
            busy = True  # a thread came or went: something is happening
        todo.extend(parents.get(pid, ()))
    return ticks, busy


def _stall_seconds() -> float:
    try:
        return float(os.environ.get(STALL_ENV, STALL_SECONDS))
    except ValueError:
        return STALL_SECONDS


def _wait(child, stall_after: float | None) -> int | None:
    """Wait for ``child``; with ``stall_after`` seconds, kill it and return None once its
    process tree has used no CPU, every thread asleep, for that long."""
    import subprocess
    import time

    if stall_after is None:
        return child.wait()
    last: tuple[int, bool] | None = None
    quiet_since = time.monotonic()
    while True:
        try:
            return child.wait(timeout=min(1.0, stall_after / 4))
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        activity = _tree_activity(child.pid)
        if activity is None or activity[1] or last is None or activity[0] != last[0]:
            quiet_since = now
        last = activity
        if now - quiet_since >= stall_after:
            child.kill()
            child.wait()
            return None


def supervise(worker: list[str], command: str) -> int:
    """Run ``worker`` (a graphguard command line) as a child with the same streams and return
    its exit code; if a signal kills it, or under an address-space limit it stalls (see
    `STALL_SECONDS`), print one `Error:` line naming the stage it was in."""
    import signal
    import subprocess
    import tempfile
    from pathlib import Path

    fd, stage_file = tempfile.mkstemp(prefix="graphguard-stage-", suffix=".txt")
    os.close(fd)
    # RUST_BACKTRACE=0: an aborting Polars prints its one line, not a backtrace
    env = {**os.environ, STAGE_FILE_ENV: stage_file, "RUST_BACKTRACE": "0"}
    limit = address_space_limit()
    stall_after = _stall_seconds() if limit is not None and os.path.isdir("/proc") else None
    try:
        child = subprocess.Popen(worker, env=env)
        while True:
            try:
                code = _wait(child, stall_after)
                break
            except KeyboardInterrupt:  # the child got the same SIGINT; wait for it to stop
                continue
        stage = Path(stage_file).read_text(encoding="utf-8").strip() or "start-up"
    finally:
        Path(stage_file).unlink(missing_ok=True)
    if code is None:
        print(
            f"Error: graphguard {command} stalled in stage '{stage}' under an address-space "
            f"limit of {limit // 2**20} MiB (no CPU used for {stall_after:g} s) - most likely "
            "out of memory: a worker thread could not start; it was stopped. Raise the limit "
            "(ulimit -v), or cap memory with a cgroup (a container's memory limit), where "
            "running out ends the run at once",
            file=sys.stderr,
            flush=True,
        )
        return 1
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
