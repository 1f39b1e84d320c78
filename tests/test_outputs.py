"""Tests for graphguard.outputs: the one output-path check, the destination lock, and what the
atomic writers leave (nothing finished-looking, nothing lost, a killed writer's leftovers
cleaned by the next one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from graphguard.errors import OutputBusyError, OutputError, OutputExistsError
from graphguard.outputs import (
    atomic_directory,
    check_output,
    clean_leftovers,
    lock_path,
    output_guard,
    write_text_atomic,
)


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    for name in ("events.parquet", "labels.parquet"):
        (d / name).write_text(name)
    return d


# --- check_output ---------------------------------------------------------------------------


@pytest.mark.parametrize("out", ["data", "."])
def test_a_directory_holding_an_input_is_refused_even_with_overwrite(data, out, monkeypatch):
    monkeypatch.chdir(data.parent)
    with pytest.raises(OutputError, match="replacing it would delete the input|current dir"):
        check_output(out, kind="directory", inputs=[data / "events.parquet"], overwrite=True)


def test_an_ancestor_of_an_input_is_refused(data):
    with pytest.raises(OutputError, match="holds the input"):
        check_output(
            data.parent, kind="directory", inputs=[data / "events.parquet"], overwrite=True
        )


def test_an_input_directory_is_neither_replaced_nor_written_into(data):
    with pytest.raises(OutputError, match="is the input"):
        check_output(data, kind="directory", inputs=[data], overwrite=True)
    with pytest.raises(OutputError, match="inside the input directory"):
        check_output(data / "run", kind="directory", inputs=[data])


def test_a_glob_input_stands_for_its_directory(data):
    with pytest.raises(OutputError, match="replacing it would delete the input"):
        check_output(data, kind="directory", inputs=[f"{data}/*.parquet"], overwrite=True)
    with pytest.raises(OutputError, match="inside the input directory"):
        check_output(data / "run", kind="directory", inputs=[f"{data}/*.parquet"])


def test_a_file_output_may_not_be_an_input(data):
    with pytest.raises(OutputError, match="is the input"):
        check_output(
            data / "labels.parquet", kind="file", inputs=[data / "labels.parquet"], overwrite=True
        )


def test_a_link_to_an_input_is_replaced_not_followed_so_it_is_allowed(data, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(data, target_is_directory=True)
    assert (
        check_output(link, kind="directory", inputs=[data / "events.parquet"], overwrite=True)
        == link
    )


def test_the_current_directory_and_its_parents_are_refused(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for out in (".", "..", str(work)):
        with pytest.raises(OutputError, match="current directory"):
            check_output(out, kind="directory", overwrite=True)
    with pytest.raises(OutputError, match="filesystem root"):
        check_output("/", kind="directory", overwrite=True)


def test_kinds_and_what_is_there(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a directory"):
        check_output(tmp_path / "d", kind="file", overwrite=True)
    with pytest.raises(OutputError, match="is a file, not a directory"):
        check_output(tmp_path / "f", kind="folder")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        check_output(tmp_path / "f" / "sub" / "run", kind="directory")
    with pytest.raises(OutputExistsError):
        check_output(tmp_path / "f", kind="file")
    with pytest.raises(OutputExistsError):
        check_output(tmp_path / "f", kind="directory")
    assert check_output(tmp_path / "f", kind="directory", overwrite=True) == tmp_path / "f"
    assert check_output(tmp_path / "d", kind="folder") == tmp_path / "d"
    assert check_output(tmp_path / "new" / "deeper" / "m.pt", kind="file")
    assert _names(tmp_path) == ["d", "f"]  # checking creates nothing


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_a_place_no_file_can_be_created_is_refused_up_front():
    with pytest.raises(OutputError, match="cannot write in /proc"):
        check_output("/proc/x.pt", kind="file")


# --- replacing ------------------------------------------------------------------------------


def test_overwrite_replaces_a_file_with_a_directory_cleanly(tmp_path):
    target = tmp_path / "run"
    target.write_text("a file")
    with atomic_directory(target, overwrite=True) as work:
        (work / "a.txt").write_text("new")
    assert _names(target) == ["a.txt"]
    assert _names(tmp_path) == ["run"]


def test_overwrite_replaces_a_link_never_what_it_points_to(tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "precious.txt").write_text("keep me")
    link = tmp_path / "run"
    link.symlink_to(kept, target_is_directory=True)
    with atomic_directory(link, overwrite=True) as work:
        (work / "a.txt").write_text("new")
    assert not link.is_symlink() and _names(link) == ["a.txt"]
    assert (kept / "precious.txt").read_text() == "keep me"
    assert _names(tmp_path) == ["kept", "run"]


def test_a_file_writer_replaces_a_link_and_refuses_a_directory(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("keep me")
    link = tmp_path / "out.txt"
    link.symlink_to(target)
    write_text_atomic("new", link)
    assert not link.is_symlink() and link.read_text() == "new"
    assert target.read_text() == "keep me"
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        write_text_atomic("x", tmp_path / "dir.txt")
    assert _names(tmp_path) == ["dir.txt", "out.txt", "real.txt"]


# --- leftovers of killed writers ------------------------------------------------------------


def test_a_dead_runs_temporary_files_are_cleaned_a_live_ones_kept(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    (tmp_path / f".run.{dead}.abc123.partial").mkdir()
    (tmp_path / f".run.{dead}.abc123.partial" / "accounts.parquet").write_text("half")
    (tmp_path / f".run.{live}.xyz789.partial").mkdir()
    (tmp_path / f".other.{dead}.abc123.partial").mkdir()  # another destination's
    (tmp_path / ".run.tmp").write_text("checkpoint temp")
    removed = clean_leftovers(tmp_path / "run")
    assert sorted(p.name for p in removed) == sorted([".run.tmp", f".run.{dead}.abc123.partial"])
    assert _names(tmp_path) == [f".other.{dead}.abc123.partial", f".run.{live}.xyz789.partial"]


def test_restored_run_is_refused_without_overwrite(tmp_path):
    dead = _dead_pid()
    old = tmp_path / f".run.old-{dead}"
    old.mkdir()
    (old / "run.json").write_text("{}")
    with output_guard(tmp_path / "elsewhere"):
        pass
    assert old.exists()  # another destination's leftovers are not touched
    with pytest.raises(OutputExistsError), atomic_directory(tmp_path / "run"):
        pass
    # the guard restored it before the check inside the lock refused
    assert _names(tmp_path) == ["run"]
    assert (tmp_path / "run" / "run.json").read_text() == "{}"


def test_a_writer_killed_inside_the_block_leaves_only_a_hidden_partial_cleaned_next_time(tmp_path):
    target = tmp_path / "run"
    code = textwrap.dedent(
        f"""
        import os, signal
        from graphguard.outputs import atomic_directory
        with atomic_directory({str(target)!r}) as work:
            (work / "accounts.parquet").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -signal.SIGKILL
    left = _names(tmp_path)
    assert not target.exists() and all(name.startswith(".") for name in left), left
    with atomic_directory(target) as work:
        (work / "accounts.parquet").write_text("whole")
    assert _names(tmp_path) == ["run"]


# --- the lock -------------------------------------------------------------------------------


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path):
    target = tmp_path / "run"
    code = textwrap.dedent(
        f"""
        import sys, time
        from graphguard.outputs import atomic_directory
        with atomic_directory({str(target)!r}):
            print("ready", flush=True)
            sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(OutputBusyError, match=f"pid {holder.pid}"), atomic_directory(target):
            pass
        partials = [n for n in _names(tmp_path) if n.endswith(".partial")]
        assert len(partials) == 1 and f".{holder.pid}." in partials[0]  # the live one is kept
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    assert _names(tmp_path) == ["run"]


def test_a_dead_holders_lock_is_taken_over_and_removed_at_the_end(tmp_path):
    target = tmp_path / "run"
    lock_path(target).write_text(f"{_dead_pid()}\n")
    with atomic_directory(target) as work:
        assert lock_path(target).read_text().strip() == str(os.getpid())
        (work / "a.txt").write_text("x")
    assert _names(tmp_path) == ["run"]


def test_a_refused_or_failed_command_leaves_no_empty_parents(tmp_path):
    target = tmp_path / "a" / "b" / "run"
    with pytest.raises(RuntimeError), output_guard(target):
        raise RuntimeError("boom")
    assert _names(tmp_path) == []
