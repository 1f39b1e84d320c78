"""The layers of ARCHITECTURE.md, checked: import-linter's contracts in pyproject.toml.

The contracts are kept by the package as it is, and they do catch a break: a copy of the
package in which a renderer imports the pipeline fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# lint-imports as the console script runs it, in a fresh interpreter that finds the package
# under ``cwd`` first; no cache, so a copy is never judged by the original's graph.
_LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [sys.executable, "-c", _LINT],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def importlinter() -> None:
    pytest.importorskip("importlinter")


def test_the_package_keeps_its_import_contracts(importlinter) -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_renderer_importing_the_pipeline_breaks_them(importlinter, tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "graphguard", tmp_path / "graphguard", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    markdown = tmp_path / "graphguard" / "report" / "markdown.py"
    markdown.write_text(markdown.read_text() + "\nfrom graphguard.pipeline import detect  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "graphguard.report is not allowed to import graphguard.pipeline" in result.stdout
