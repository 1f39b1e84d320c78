"""The console script watches detect, train and export from a parent process, so a run that is
killed (a failed allocation in Polars aborts; the kernel's out-of-memory killer sends SIGKILL)
still ends with one `Error:` line naming its stage, and nothing that looks finished."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from graphguard.launch import supervise, supervised

REPO = Path(__file__).resolve().parents[1]


def _worker(body: str) -> list[str]:
    """A stand-in worker: records a stage the way the CLI's progress does, then ``body``."""
    return [
        sys.executable,
        "-c",
        "import os, pathlib, signal, sys; "
        "pathlib.Path(os.environ['GRAPHGUARD_STAGE_FILE']).write_text('communities'); " + body,
    ]


def test_a_killed_worker_is_named_with_its_stage(capfd) -> None:
    assert supervise(_worker("os.abort()"), "detect") == 1
    err = capfd.readouterr().err.strip().splitlines()
    assert err[-1].startswith("Error: graphguard detect was killed by SIGABRT in stage ")
    assert "'communities'" in err[-1] and "out of memory" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_other_signals_are_named_without_guessing_memory(capfd) -> None:
    assert supervise(_worker("os.kill(os.getpid(), signal.SIGTERM)"), "train") == 1
    line = capfd.readouterr().err.strip().splitlines()[-1]
    assert line == "Error: graphguard train was killed by SIGTERM in stage 'communities'"


def test_a_worker_that_exits_passes_its_code_through(capfd) -> None:
    assert supervise(_worker("sys.exit(2)"), "export") == 2
    assert capfd.readouterr().err == ""
    assert supervise([sys.executable, "-c", "pass"], "detect") == 0


def test_only_the_long_commands_aresupervised(monkeypatch) -> None:
    monkeypatch.delenv("GRAPHGUARD_STAGE_FILE", raising=False)
    assert supervised(["detect", "events.parquet", "--out", "run"])
    assert supervised(["train", "e.parquet", "--labels", "l.parquet", "--out", "m.pt"])
    assert supervised(["export", "run", "--top", "3"])
    assert not supervised(["report", "run"])
    assert not supervised(["detect", "--help"])
    monkeypatch.setenv("GRAPHGUARD_STAGE_FILE", "/tmp/x")  # already a worker
    assert not supervised(["detect", "events.parquet"])


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")
def test_detect_under_a_memory_cap_names_its_stage(ring_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("GRAPHGUARD_STAGE_FILE", None)
    for cap_mib in (1500, 1000, 700, 500):
        result = subprocess.run(
            ["prlimit", f"--as={cap_mib * 2**20}", sys.executable, "-m", "graphguard"]
            + ["detect", str(ring_log), "--out", str(out), "-q"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if result.returncode != 0:
            break
        shutil.rmtree(out)
    else:
        pytest.skip("no cap down to 500 MiB stopped this small run on this machine")
    # Where the cap bites varies with the machine: a failed allocation in Polars aborts the
    # worker (the parent then names the stage), a thread Polars cannot start surfaces as a
    # read error, OpenBLAS may give up while numpy is imported. What holds everywhere: the run
    # fails, with no traceback and no run directory, and a killed worker is named with its stage.
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    # a worker Polars left waiting on a thread the cap kept from starting is stopped by the
    # watcher's stall check (`launch.STALL_SECONDS`) and named the same way
    killed = [
        line
        for line in result.stderr.splitlines()
        if "was killed by" in line or "stalled in stage" in line
    ]
    for line in killed:
        assert line.startswith("Error: ") and "in stage '" in line and "out of memory" in line


def _supervise_under_a_cap(body: str, stall_seconds: float, tmp_path: Path):
    """`supervise` of a stand-in worker, run in a process with an address-space limit of
    16 GiB (far above what it uses: only the stall watch differs from an unlimited run)."""
    script = tmp_path / "watch.py"
    script.write_text(
        "import sys\n"
        "from graphguard.launch import supervise\n"
        f"sys.exit(supervise({_worker(body)!r}, 'detect'))\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRAPHGUARD_STALL_SECONDS": str(stall_seconds)}
    env.pop("GRAPHGUARD_STAGE_FILE", None)
    return subprocess.run(
        ["prlimit", f"--as={16 * 2**30}", sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.skipif(
    shutil.which("prlimit") is None or not Path("/proc").is_dir(), reason="needs prlimit and /proc"
)
def test_a_worker_stalled_under_an_address_space_limit_is_stopped_and_named(
    tmp_path: Path,
) -> None:
    """Polars' streaming engine can park forever when the limit kept it from starting a thread
    (every thread asleep, no CPU used, nothing printed): the watcher stops such a worker and
    names its stage, where the run would otherwise hang."""
    result = _supervise_under_a_cap("import time; time.sleep(600)", 1.5, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: graphguard detect stalled in stage 'communities'")
    assert "address-space limit of 16384 MiB" in lines[0] and "out of memory" in lines[0]


@pytest.mark.skipif(
    shutil.which("prlimit") is None or not Path("/proc").is_dir(), reason="needs prlimit and /proc"
)
def test_a_busy_worker_under_an_address_space_limit_is_left_to_finish(tmp_path: Path) -> None:
    """Using CPU is progress: a worker computing for longer than the stall time finishes, and
    so does one that sleeps without a limit (the watch is off)."""
    busy = "import time; end = time.monotonic() + 4\nwhile time.monotonic() < end: pass"
    result = _supervise_under_a_cap(busy, 1.0, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_without_an_address_space_limit_a_sleeping_worker_is_not_watched(capfd, monkeypatch):
    monkeypatch.setenv("GRAPHGUARD_STALL_SECONDS", "0.5")
    monkeypatch.setattr("graphguard.launch.address_space_limit", lambda: None)
    assert supervise(_worker("import time; time.sleep(2.5)"), "detect") == 0
    assert capfd.readouterr().err == ""


def test_a_panic_inside_polars_is_one_error_line(capfd, monkeypatch) -> None:
    """pyo3's PanicException (what a Rust panic in Polars raises, e.g. a thread it could not
    start under a memory limit) is a BaseException, not an Exception: the CLI still ends it
    with one line and exit 1, while KeyboardInterrupt goes through."""
    import typer

    from graphguard.cli import _errors

    monkeypatch.delenv("GRAPHGUARD_DEBUG", raising=False)
    panic = type("PanicException", (BaseException,), {})
    with pytest.raises(typer.Exit) as exit_info, _errors():
        raise panic("called `Result::unwrap()` on an `Err` value: Os { code: 11 }")
    assert exit_info.value.exit_code == 1
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: called `Result::unwrap()`")
    assert "out of memory" in err[0]
    with pytest.raises(KeyboardInterrupt), _errors():
        raise KeyboardInterrupt


def test_the_watching_process_imports_neither_typer_rich_nor_the_pipeline() -> None:
    """The supervisor only starts and watches the worker: what it imports delays every run."""
    code = (
        "import sys, graphguard.launch; "
        "print(sorted({'typer', 'rich', 'polars', 'numpy', 'graphguard.cli'} & set(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"
