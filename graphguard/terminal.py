"""The run report on a terminal (Rich): part of the face, like the CLI that draws it.

Every data string becomes a rich `Text`, which rich never parses for markup, after
`graphguard.report.text.plain` has made control and bidi characters inert.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from graphguard.report.summary import ranked_clusters, run_summary, scoring_source, section
from graphguard.report.text import fixed, plain
from graphguard.rundir import (
    CLUSTER_ID,
    DOMINANT_RELATION,
    EVIDENCE,
    PREDICTED_LABEL,
    SIZE,
    SUSPICION,
    Run,
)


def _text(value: object, style: str = "") -> Text:
    """A data value as a rich Text, which rich never parses for markup."""
    return Text(plain(value), style=style)


def _header(run: Run) -> Text:
    ingest = section(run.meta, "ingest")
    summary = run_summary(run)
    threshold = summary["risk_threshold"]
    header = Text.assemble(
        ("graphguard run ", "bold"),
        _text(str(run.path)),
        "\n",
        "events ",
        _text(ingest.get("rows_read"), "bold"),
        " read, ",
        _text(ingest.get("rows_used"), "bold"),
        " used · accounts ",
        _text(summary["accounts"], "bold"),
        " · clusters ",
        _text(summary["clusters_reported"], "bold"),
        " · flagged ",
        _text(summary["accounts_flagged"], "bold red"),
        " (risk ≥ ",
        _text(threshold),
        ")",
        "\n",
        _text(scoring_source(run), "dim"),
    )
    return header


def render_terminal(run: Run, console: Console, *, top: int = 20) -> None:
    """Draw a run's headline counts and its most suspicious clusters onto `console`.

    Args:
        run: the loaded run.
        console: where to draw; the caller decides the stream (stdout, stderr, a recording).
        top: how many clusters the table shows, most suspicious first.
    """
    console.print(_header(run))
    clusters = ranked_clusters(run)
    if clusters.is_empty():
        console.print(Text("No clusters reported."))
        return
    shown = clusters.head(top)
    table = Table(
        show_header=True,
        header_style="bold",
        caption=f"top {shown.height} of {clusters.height} clusters by suspicion",
    )
    table.add_column("#", justify="right")
    table.add_column("cluster", justify="right")
    table.add_column("size", justify="right")
    table.add_column("suspicion", justify="right")
    table.add_column("label")
    table.add_column("relation")
    table.add_column("evidence", overflow="fold")
    for rank, row in enumerate(shown.to_dicts(), start=1):
        table.add_row(
            Text(str(rank)),
            _text(str(row[CLUSTER_ID])),
            _text(row[SIZE]),
            Text(fixed(row[SUSPICION])),
            _text(row[PREDICTED_LABEL]),
            _text(row.get(DOMINANT_RELATION)),
            _text(row.get(EVIDENCE)),
        )
    console.print(table)
