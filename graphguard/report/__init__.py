"""Reports on a finished detection run: load the run directory, render it for people or machines.

Renderers return values (a Markdown string, a JSON-ready dict) or draw onto a rich Console the
caller passes in; they never print on their own and never recompute detection results.
"""

from graphguard.report.render import (
    md_escape,
    render_json,
    render_markdown,
    render_terminal,
    run_summary,
)
from graphguard.rundir import Run, load_run

__all__ = [
    "Run",
    "load_run",
    "md_escape",
    "render_json",
    "render_markdown",
    "render_terminal",
    "run_summary",
]
