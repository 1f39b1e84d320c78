"""Writing results so that nothing half-written ever looks finished, and nothing is ever lost.

Every file graphguard writes (run directories, models, exports, reports, worlds) is written
under a temporary name beside its destination and renamed into place when complete, with the
mode a plain ``open``/``mkdir`` would give it. Temporary names carry the writer's PID
(``.NAME.<pid>.<random>.partial`` / ``.tmp``), so the next run into the same place removes what
a killed run left and never what a live one is writing.

`check_output` is the one place that decides whether a path may be written (the CLI calls it
before any work starts, the writers as a last guard); `output_guard` adds the lock that keeps
two runs out of one destination (``.NAME.lock`` beside it, an ``flock`` held for the whole run,
so a killed run's lock is taken over) and cleans a dead run's leftovers.
"""

from __future__ import annotations

import fcntl
import glob as globlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import polars as pl
from polars.io.plugins import register_io_source

from graphguard.errors import OutputBusyError, OutputError, OutputExistsError

#: "directory": replaced as a whole (a run directory); "file": one file (a model, a report);
#: "folder": a directory that files are written into and that is kept (exports, worlds).
OutputKind = Literal["directory", "file", "folder"]


def _umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(tmp: str | Path, *, directory: bool = False) -> None:
    """Give a temporary file or directory the mode a plain ``open``/``mkdir`` would have.

    `tempfile` creates them private (0600 / 0700); a finished result should be as readable
    as anything else the user writes.
    """
    os.chmod(tmp, (0o777 if directory else 0o666) & ~_umask())


def _write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Run ``write(tmp)`` on a temporary name beside ``path``, then rename it into place.

    Same directory, so the rename is atomic: readers see the old file or the whole new one. A
    link at ``path`` is replaced, never followed.
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise OutputError(path, "is a directory; a file goes here")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_parquet_atomic(frame: pl.DataFrame, path: str | Path, **options: Any) -> Path:
    """Write ``frame`` as Parquet to ``path`` atomically (``options``: `DataFrame.write_parquet`'s,
    such as compression and compression_level)."""
    return _write_atomic(path, lambda tmp: frame.write_parquet(tmp, **options))


def write_parquet_chunks_atomic(
    frames: Iterable[pl.DataFrame], path: str | Path, **options: Any
) -> Path:
    """Write consecutive ``frames`` (the same columns, at least one) as one Parquet file at
    ``path``, atomically, holding about one frame at a time: Polars' streaming sink reads them
    as an IO source, in order. An error raised while making a frame propagates as it is.
    ``options``: `LazyFrame.sink_parquet`'s (compression, compression_level, ...)."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{Path(path).name}: no chunks to write")
    schema = first.schema
    failure: list[BaseException] = []

    def source(*_: Any) -> Iterator[pl.DataFrame]:
        nonlocal first
        try:
            head, first = first, None  # the sink holds its own reference from here
            yield head  # type: ignore[misc]
            del head
            yield from frames
        except BaseException as error:  # kept, so the caller sees it, not the engine's wrapper
            failure.append(error)
            raise

    def write(tmp: str) -> None:
        lazy = register_io_source(source, schema=schema)
        try:
            lazy.sink_parquet(tmp, maintain_order=True, **options)
        except Exception:
            if failure:
                raise failure[0] from None
            raise

    return _write_atomic(path, write)


def sink_parquet_atomic(frame: pl.LazyFrame, path: str | Path) -> Path:
    """Stream a lazy frame into ``path`` (Polars' streaming engine, bounded memory), atomically."""
    return _write_atomic(path, lambda tmp: frame.sink_parquet(tmp))


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return _write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json_atomic(data: Any, path: str | Path) -> Path:
    return write_text_atomic(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", path)


@contextmanager
def atomic_directory(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` only if the block finishes.

    A run that fails half-way (or is killed) leaves nothing at ``path`` that could pass for a
    finished result; what a killed run left is removed by the next run into ``path``. With
    ``overwrite``, whatever is at ``path`` (a directory, a file, a link: the link itself, never
    what it points to) is replaced once the new directory is complete.

    Raises:
        OutputExistsError: ``path`` exists (and is not an empty directory) without ``overwrite``.
        OutputError, OutputBusyError: see `check_output` and `output_guard`.
    """
    with output_guard(path, kind="directory", overwrite=overwrite) as dest:
        tmp = Path(
            tempfile.mkdtemp(prefix=temp_prefix(dest.name), suffix=".partial", dir=dest.parent)
        )
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        publish_mode(tmp, directory=True)
        _replace(tmp, dest)


def _replace(new: Path, dest: Path) -> None:
    """Rename ``new`` to ``dest``, replacing what is there (a link itself, never its target).

    What is replaced is moved aside to ``.NAME.old-<pid>`` first and removed once ``new`` is in
    place; a run killed between the two renames leaves it there, and the next run into ``dest``
    puts it back (`clean_leftovers`), so an earlier result is never lost.
    """
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        os.replace(new, dest)
        return
    if stat.S_ISDIR(st.st_mode) and not any(dest.iterdir()):
        os.replace(new, dest)  # renaming over an empty directory is atomic
        return
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    _remove(old)
    os.replace(dest, old)
    try:
        os.replace(new, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    _remove(old)


def _remove(path: Path) -> None:
    """Remove a file, a link (not its target) or a directory tree; nothing if absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Checking an output path before any work starts


def destination(path: str | Path) -> Path:
    """``path`` made absolute, its parent's links resolved but not a link at its last component
    (a link there is what gets replaced, never followed)."""
    p = Path(path)
    if p.name in ("", ".", ".."):
        return p.resolve()
    return p.parent.resolve() / p.name


def _input_locations(item: str | Path) -> tuple[list[Path], bool]:
    """Where an input lives (as named and with links resolved) and whether it is a directory
    read whole. A glob stands for the directory before its first wildcard."""
    text = str(item)
    if globlib.has_magic(text):
        parts = Path(text).parts
        first = next(i for i, part in enumerate(parts) if globlib.has_magic(part))
        base = Path(*parts[:first]) if first else Path(".")
        return [base.resolve()], True
    p = Path(text)
    return list(dict.fromkeys([destination(p), p.resolve()])), p.is_dir()


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _probe(directory: Path, shown: object) -> None:
    """Make sure a file can be created in ``directory`` (access() says yes to root even where
    nothing can be created, e.g. /proc)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".graphguard-probe.", dir=directory)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(shown, f"cannot write in {directory} ({reason.lower()})") from None
    os.close(fd)
    os.unlink(probe)


def check_output(
    path: str | Path,
    *,
    kind: OutputKind = "directory",
    inputs: Iterable[str | Path | None] = (),
    overwrite: bool = False,
) -> Path:
    """Refuse an output path before any work is done; return it absolute (see `destination`).

    ``kind``: "directory" (replaced as a whole when complete), "file", or "folder" (files are
    written into it and it is kept). ``inputs``: the paths this run reads (None entries are
    skipped; a glob stands for its directory).

    Refused, with `OutputError` naming the path and the reason:

    * a "directory" that is, or holds, an input, or the current directory or one above it
      (replacing it would delete them); a "file" that is an input; a "folder" that is an input;
    * any output inside an input directory (directories are read whole, recursively, so the
      output would be read as input next time);
    * a "file" where a directory is, a "folder" where a file is, a path below a file;
    * a place where no file can be created (a missing or read-only parent, /proc).

    `OutputExistsError`: something exists at ``path`` and ``overwrite`` is False (an empty
    directory is fine for "directory"; a "folder" may exist, its files are checked by the
    writer).
    """
    shown = path
    dest = destination(path)
    if dest.parent == dest:
        raise OutputError(shown, "is the filesystem root")
    if kind == "directory":
        try:
            cwd = Path.cwd().resolve()
        except OSError:
            cwd = None
        if cwd is not None and _is_within(cwd, dest):
            raise OutputError(
                shown, "is the current directory or holds it; write the run to a new directory"
            )
    for item in inputs:
        if item is None:
            continue
        locations, read_whole = _input_locations(item)
        for location in locations:
            if kind == "directory" and _is_within(location, dest):
                what = "is" if location == dest else "holds"
                raise OutputError(
                    shown, f"{what} the input {item}; replacing it would delete the input"
                )
            if kind != "directory" and location == dest:
                raise OutputError(shown, f"is the input {item}; writing it would destroy it")
            if read_whole and dest != location and _is_within(dest, location):
                raise OutputError(
                    shown,
                    f"is inside the input directory {item}, which is read whole; "
                    "write the output elsewhere",
                )
    try:
        st = os.lstat(dest)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise OutputError(shown, f"cannot be written ({exc.strerror or exc})") from None
    if st is not None:
        is_dir = stat.S_ISDIR(st.st_mode)
        if kind == "file":
            if is_dir:
                raise OutputError(shown, "is a directory; a file goes here")
            if not overwrite:
                raise OutputExistsError(shown)
        elif kind == "directory":
            if not overwrite and (not is_dir or any(dest.iterdir())):
                raise OutputExistsError(shown)
        elif not dest.is_dir():
            raise OutputError(shown, "is a file, not a directory")
        _probe(dest if kind == "folder" else dest.parent, shown)
        return dest
    ancestor = dest.parent
    while not os.path.lexists(ancestor):
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(shown, f"{ancestor} is a file, not a directory")
    _probe(ancestor, shown)
    return dest


# --------------------------------------------------------------------------------------------
# One writer per destination, and what killed writers left


#: lock files this process holds: path -> [descriptor, depth] (a writer called inside a guarded
#: command takes the same lock again)
_HELD: dict[str, list[int]] = {}


def temp_prefix(name: str) -> str:
    """How a temporary name beside ``name`` starts: ``.NAME.<pid>.`` (see `clean_leftovers`)."""
    return f".{name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def lock_path(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.lock"


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _take_lock(lock: Path, shown: object) -> int:
    for _ in range(50):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            reason = (exc.strerror or type(exc).__name__).lower()
            raise OutputError(shown, f"cannot write in {lock.parent} ({reason})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise OutputBusyError(shown, pid) from None
        # The previous holder may have removed the file between our open and flock.
        try:
            current = os.stat(lock)
            mine = os.fstat(fd)
            same = (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev)
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)
    raise OutputBusyError(shown)


@contextmanager
def output_lock(dest: Path, shown: object = None) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``dest`` (an ``flock``, so a killed holder's lock is free
    again; the file names the holder's PID). Another live process holding it: `OutputBusyError`.
    Taken again by the same process, it is the same lock."""
    shown = dest if shown is None else shown
    lock = lock_path(dest)
    key = str(lock)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    created = [d for d in (lock.parent, *lock.parent.parents) if not os.path.lexists(d)]
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise OutputError(shown, f"cannot create {lock.parent} ({reason})") from None
    try:
        fd = _take_lock(lock, shown)
    except BaseException:
        _remove_empty(created)
        raise
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        lock.unlink(missing_ok=True)
        os.close(fd)
        _remove_empty(created)  # a command that failed leaves no empty parents behind


def _remove_empty(directories: list[Path]) -> None:
    for directory in directories:  # deepest first
        try:
            directory.rmdir()
        except OSError:
            return


_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.(?:partial|tmp)")
_OLD = re.compile(r"\.(?P<name>.+)\.old-(?P<pid>\d+)")


def clean_leftovers(dest: Path, *, kind: OutputKind = "directory") -> list[Path]:
    """Remove what killed writers of ``dest`` left; call it holding `output_lock`.

    Beside ``dest``: ``.NAME.<pid>.*.partial`` / ``.tmp`` of dead PIDs and ``.NAME.tmp`` (the
    fixed temporary name of the checkpoint writer: the lock says no live run writes it). A
    ``.NAME.old-<pid>`` of a dead PID is an earlier result moved aside by a run killed before it
    put the new one in place: it goes back to ``dest`` if nothing is there, else it goes. In a
    "folder": the dead PIDs' temporary files of any name. A live run's files are never touched.
    Returns what was removed.
    """
    removed: list[Path] = []
    places = [(dest.parent, dest.name)]
    if kind == "folder" and dest.is_dir():
        places.append((dest, None))
    for directory, name in places:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if name is not None and entry.name == f".{name}.tmp":
                _remove(path)
                removed.append(path)
                continue
            match = _TEMP.fullmatch(entry.name) or _OLD.fullmatch(entry.name)
            if match is None or (name is not None and match["name"] != name):
                continue
            if _alive(int(match["pid"])):
                continue
            if match.re is _OLD and not os.path.lexists(dest):
                os.replace(path, dest)
                continue
            _remove(path)
            removed.append(path)
    return removed


@contextmanager
def output_guard(
    path: str | Path,
    *,
    kind: OutputKind = "directory",
    inputs: Iterable[str | Path | None] = (),
    overwrite: bool = False,
) -> Iterator[Path]:
    """`check_output`, then hold the destination's lock and clean what killed runs left, for the
    whole block; yields the absolute destination. The CLI wraps each command in it, so output
    problems come out before any work, and a second run into the same place is refused."""
    inputs = list(inputs)
    dest = check_output(path, kind=kind, inputs=inputs, overwrite=overwrite)
    with output_lock(dest, path):
        clean_leftovers(dest, kind=kind)
        # checked again: another run may have published here between the check and the lock
        check_output(path, kind=kind, inputs=inputs, overwrite=overwrite)
        yield dest
