"""The run report on a terminal (Rich): part of the face, like the CLI that draws it.

Every data string becomes a rich `Text`, which rich never parses for markup, after
`graphguard.report.text.plain` has made control and bidi characters inert.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from graphguard.report.summary import (
    campaign_words,
    operating_point_words,
    ranked_clusters,
    run_summary,
    scoring_source,
    section,
    shown_ids,
    since_previous,
)
from graphguard.report.text import fixed, plain
from graphguard.rundir import (
    CAMPAIGN_ID,
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
    point = operating_point_words(run)
    if point:
        header.append_text(Text.assemble("\n", _text(f"operating point: {point}", "dim")))
    return header


def _since_previous(run: Run) -> Text | None:
    """What changed since the previous run, a line per status; None without one."""
    changes = since_previous(run)
    if changes is None:
        return None
    text = Text.assemble(
        ("since the previous run ", "bold"), _text(changes["previous"].get("path")), "\n"
    )
    rows = [*changes["statuses"], ("ended", changes["ended"])]
    for status, ids in rows:
        shown, more = shown_ids(ids, 5)
        text.append_text(Text.assemble(f"  {status} ", (str(len(ids)), "bold")))
        if shown:
            text.append_text(_text(" " + ", ".join(shown) + (f", +{more} more" if more else "")))
        text.append("\n")
    for survivor, absorbed in changes["merged_from"].items():
        text.append_text(_text(f"  {survivor} absorbed {', '.join(absorbed)}"))
        text.append("\n")
    text.rstrip()
    return text


def render_terminal(run: Run, console: Console, *, top: int = 20) -> None:
    """Draw a run's headline counts and its most suspicious clusters onto `console`.

    Args:
        run: the loaded run.
        console: where to draw; the caller decides the stream (stdout, stderr, a recording).
        top: how many clusters the table shows, most suspicious first.
    """
    console.print(_header(run))
    since = _since_previous(run)
    if since is not None:
        console.print(since)
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
    with_campaigns = CAMPAIGN_ID in clusters.columns
    if with_campaigns:
        table.add_column("campaign", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("suspicion", justify="right")
    table.add_column("label")
    table.add_column("relation")
    table.add_column("evidence", overflow="fold")
    for rank, row in enumerate(shown.to_dicts(), start=1):
        table.add_row(
            Text(str(rank)),
            _text(str(row[CLUSTER_ID])),
            *([_text(campaign_words(row))] if with_campaigns else []),
            _text(row[SIZE]),
            Text(fixed(row[SUSPICION])),
            _text(row[PREDICTED_LABEL]),
            _text(row.get(DOMINANT_RELATION)),
            _text(row.get(EVIDENCE)),
        )
    console.print(table)
