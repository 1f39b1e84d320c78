"""Driving the CLI in-process and checking how it fails: exit code, one `Error:` line, no
traceback, and nothing left behind that could pass for a finished result. Shared by the CLI
tests and the bad-input corpus (tests/corpus/)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from graphguard.cli import app

# GRAPHGUARD_DEBUG would turn every clean error into a traceback.
runner = CliRunner(env={"GRAPHGUARD_DEBUG": None, "GRAPHGUARD_PSEUDONYM_KEY": None})


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_error(result, *fragments: str, code: int = 1) -> str:
    """Exit ``code``, one `Error: ...` line on stderr holding every fragment, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: "), lines
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def assert_no_run_left(out_dir: Path) -> None:
    """Nothing at ``out_dir``, and no temporary run beside it."""
    assert not out_dir.exists()
    if out_dir.parent.exists():
        assert not [p.name for p in out_dir.parent.iterdir() if "partial" in p.name]
