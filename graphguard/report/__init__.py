"""Reports on a finished detection run, read from its run directory (`graphguard.rundir`).

Renderers return values (a Markdown string, a JSON-ready dict, an HTML page); they never print
and never compute detection results. The terminal view is part of the face
(`graphguard.terminal`), since only the face knows Rich.
"""

from graphguard.report.markdown import render_markdown
from graphguard.report.summary import render_json, run_summary
from graphguard.report.text import md_escape
from graphguard.rundir import Run, load_run

__all__ = ["Run", "load_run", "md_escape", "render_json", "render_markdown", "run_summary"]
