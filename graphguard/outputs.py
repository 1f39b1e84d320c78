"""Writing results so that nothing half-written ever looks finished.

Every file graphguard writes (run directories, models, exports, reports, worlds) is written
under a temporary name beside its destination and renamed into place when complete, with the
mode a plain ``open``/``mkdir`` would give it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from graphguard.errors import OutputExistsError


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

    Same directory, so the rename is atomic: readers see the old file or the whole new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_parquet_atomic(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as Parquet to ``path`` atomically."""
    return _write_atomic(path, frame.write_parquet)


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return _write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json_atomic(data: Any, path: str | Path) -> Path:
    return write_text_atomic(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", path)


@contextmanager
def atomic_directory(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` only if the block finishes.

    A run that fails half-way leaves nothing at ``path`` that could pass for a finished result.
    """
    path = Path(path)
    if path.exists() and not overwrite and (not path.is_dir() or any(path.iterdir())):
        raise OutputExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_mode(tmp, directory=True)
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
