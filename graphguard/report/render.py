"""Render a detection run for people (terminal, Markdown) and for machines (JSON).

Renderers only present what the run already holds; they never compute detection results. Every
string that came from the data (account ids, evidence text, even paths and config values in
run.json) is treated as attacker-controlled: it is shown as plain text on the terminal, never parsed
as rich markup, and escaped in Markdown so a hostile id cannot break a table or inject HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl
import polars.selectors as cs
from rich.console import Console
from rich.table import Table
from rich.text import Text

from graphguard.rundir import (
    CLUSTER_ID,
    DOMINANT_RELATION,
    EVIDENCE,
    FLAGGED,
    PREDICTED_LABEL,
    RISK,
    SIZE,
    SUSPICION,
    Run,
)
from graphguard.schema import ACCOUNT

#: Clusters that get their own section (with top members) in the Markdown report.
DETAIL_CLUSTERS = 10
#: Highest-risk members listed per detailed cluster.
MEMBERS_PER_CLUSTER = 10

# Columns the cluster table shows in fixed places; every other column is generic evidence.
_CLUSTER_CORE_COLUMNS = (CLUSTER_ID, SIZE, SUSPICION, PREDICTED_LABEL, DOMINANT_RELATION, EVIDENCE)
_MISSING = "-"

# Control characters could move the cursor or recolour a terminal (ESC sequences survive
# rich.Text), and bidi overrides can make one id display as another, so both become U+FFFD.
# Line breaks and tabs become spaces: a newline would split a table row.
_UNSAFE_CODEPOINTS = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_PLAIN_TEXT_TABLE: dict[int, str] = {
    **dict.fromkeys(_UNSAFE_CODEPOINTS, "\ufffd"),
    **dict.fromkeys(map(ord, "\t\n\r"), " "),
}
# Markdown: backslash-escape inline syntax (emphasis, code, links, tables, strikethrough, math) and
# turn the HTML-special characters into entities, which every renderer shows literally.
_MARKDOWN_TABLE: dict[int, str] = {
    **_PLAIN_TEXT_TABLE,
    **{ord(char): "\\" + char for char in "\\`*_[]|~$"},
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
}


def _plain(value: Any) -> str:
    """A data value as one line of inert text (no control or bidi characters)."""
    return _MISSING if value is None else _format_value(value).translate(_PLAIN_TEXT_TABLE)


def _text(value: Any, style: str = "") -> Text:
    """A data value as a rich Text, which rich never parses for markup."""
    return Text(_plain(value), style=style)


def md_escape(value: Any) -> str:
    """A data value as Markdown that renders literally, safe inside a table cell."""
    return _MISSING if value is None else _format_value(value).translate(_MARKDOWN_TABLE)


def _format_value(value: Any) -> str:
    """Numbers in a compact human form; everything else as str()."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return _MISSING
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        # Four significant digits keep small measures (a CPM resolution of 1e-4) visible.
        return f"{value:.4g}"
    return str(value)


def _exact(value: Any) -> str | None:
    """A run parameter as recorded, so the report can be used to repeat the run."""
    return None if value is None else str(value)


def _fixed(value: Any, digits: int = 3) -> str:
    """A score with a fixed number of decimals, so columns line up."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.{digits}f}"
    return _MISSING


def _section(meta: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One object-valued section of run.json, or {} when it is absent or not an object."""
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def run_summary(run: Run) -> dict[str, Any]:
    """Headline counts of a run.

    Counts come from the data files, which are what the report shows; the risk threshold comes
    from run.json, since only the detector knows it.
    """
    threshold = _section(run.meta, "summary").get("risk_threshold")
    if FLAGGED in run.accounts.columns:
        flagged: int | None = int(run.accounts[FLAGGED].sum())
    elif isinstance(threshold, (int, float)):
        flagged = int((run.accounts[RISK] >= threshold).sum())
    else:
        flagged = None
    return {
        "accounts": run.accounts.height,
        "clusters_reported": run.clusters.height,
        "accounts_flagged": flagged,
        "risk_threshold": threshold,
    }


def _ranked_clusters(run: Run) -> pl.DataFrame:
    # The contract says clusters arrive most suspicious first; a stable sort enforces it without
    # undoing whatever tie-break the detector used.
    return run.clusters.sort(SUSPICION, descending=True, nulls_last=True, maintain_order=True)


def _top_members(run: Run, cluster_ids: list[int], n: int) -> dict[int, pl.DataFrame]:
    """The `n` highest-risk members of each cluster in `cluster_ids`, keyed by cluster id."""
    wanted = pl.Series(cluster_ids, dtype=run.accounts.schema[CLUSTER_ID])
    members = (
        run.accounts.filter(pl.col(CLUSTER_ID).is_in(wanted.implode()))
        .sort([RISK, ACCOUNT], descending=[True, False], nulls_last=True)
        .group_by(CLUSTER_ID, maintain_order=True)
        .head(n)
    )
    return {key[0]: frame for key, frame in members.partition_by(CLUSTER_ID, as_dict=True).items()}


# --------------------------------------------------------------------------------------------
# Terminal


def scoring_source(run: Run) -> str:
    """One line: what produced the account scores (the evidence alone, or a model and how)."""
    model = run.meta.get("model")
    if not isinstance(model, dict):
        return "account scores: cluster evidence only (no model)"
    config = run.meta.get("config")
    scoring = config.get("scoring") if isinstance(config, dict) else None
    fusion = scoring.get("fusion", "noisy_or") if isinstance(scoring, dict) else "noisy_or"
    how = (
        "combined with the cluster evidence (noisy-OR)"
        if fusion == "noisy_or"
        else "alone (scoring.fusion=model)"
    )
    return f"account scores: GraphSAGE model {model.get('path') or '(unnamed)'} {how}"


def _header(run: Run) -> Text:
    ingest = _section(run.meta, "ingest")
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
    clusters = _ranked_clusters(run)
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
            Text(_fixed(row[SUSPICION])),
            _text(row[PREDICTED_LABEL]),
            _text(row.get(DOMINANT_RELATION)),
            _text(row.get(EVIDENCE)),
        )
    console.print(table)


# --------------------------------------------------------------------------------------------
# Markdown


def _md_table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table; cells must already be escaped."""
    rule = align if align is not None else "|" + "---|" * len(header)
    return [
        "| " + " | ".join(header) + " |",
        rule,
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _md_parameters(run: Run) -> list[str]:
    input_paths = _section(run.meta, "input")
    community = _section(run.meta, "community")
    summary = _section(run.meta, "summary")
    rows = [
        ["events", md_escape(input_paths.get("events"))],
        ["labels", md_escape(input_paths.get("labels"))],
    ]
    # method, objective, resolution and seed first (every report must say how clusters were
    # made), then whatever else the community stage recorded.
    ordered = ["method", "objective", "resolution", "seed"]
    ordered += [key for key in community if key not in ordered]
    rows += [
        [f"community {md_escape(key)}", md_escape(_exact(community.get(key)))] for key in ordered
    ]
    rows.append(["risk threshold", md_escape(_exact(summary.get("risk_threshold")))])
    return ["## Run parameters", "", *_md_table(["parameter", "value"], rows)]


def _md_ingest(run: Run) -> list[str]:
    ingest = _section(run.meta, "ingest")
    rejected = ingest.get("rows_rejected")
    rejected = rejected if isinstance(rejected, dict) else {}
    counts = [
        ["rows read", md_escape(ingest.get("rows_read"))],
        ["duplicates dropped", md_escape(ingest.get("duplicates_dropped"))],
        ["rows rejected", md_escape(sum(v for v in rejected.values() if isinstance(v, int)))],
        ["rows used", md_escape(ingest.get("rows_used"))],
        ["accounts", md_escape(ingest.get("accounts"))],
    ]
    lines = ["## Ingest", "", *_md_table(["count", "value"], counts, "|---|---:|")]
    if rejected:
        reasons = [[md_escape(reason), md_escape(count)] for reason, count in rejected.items()]
        lines += ["", "Rejected rows by reason:", ""]
        lines += _md_table(["reason", "rows"], reasons, "|---|---:|")
    timings = _section(run.meta, "timings_s")
    if timings:
        spent = " · ".join(f"{md_escape(stage)} {md_escape(s)}" for stage, s in timings.items())
        lines += ["", f"Timings (s): {spent}"]
    return lines


def _md_summary(run: Run) -> list[str]:
    summary = run_summary(run)
    flagged = md_escape(summary["accounts_flagged"])
    if summary["accounts_flagged"] is not None and summary["accounts"]:
        flagged += f" ({summary['accounts_flagged'] / summary['accounts']:.1%})"
    return [
        "## Summary",
        "",
        f"- accounts: {md_escape(summary['accounts'])}",
        f"- clusters reported: {md_escape(summary['clusters_reported'])}",
        f"- accounts flagged: {flagged} at risk ≥ {md_escape(summary['risk_threshold'])}",
    ]


def _md_cluster_table(clusters: pl.DataFrame, top: int) -> list[str]:
    shown = clusters.head(top)
    rows = [
        [
            str(rank),
            md_escape(str(row[CLUSTER_ID])),
            md_escape(row[SIZE]),
            _fixed(row[SUSPICION]),
            md_escape(row[PREDICTED_LABEL]),
            md_escape(row.get(DOMINANT_RELATION)),
            md_escape(row.get(EVIDENCE)),
        ]
        for rank, row in enumerate(shown.to_dicts(), start=1)
    ]
    header = ["#", "cluster", "size", "suspicion", "label", "relation", "evidence"]
    return [
        "## Clusters",
        "",
        f"Top {shown.height} of {clusters.height} clusters by suspicion.",
        "",
        *_md_table(header, rows, "|---:|---:|---:|---:|---|---|---|"),
    ]


def _md_cluster_details(run: Run, clusters: pl.DataFrame, n_clusters: int) -> list[str]:
    detailed = clusters.head(n_clusters)
    members = _top_members(run, detailed[CLUSTER_ID].drop_nulls().to_list(), MEMBERS_PER_CLUSTER)
    measure_columns = [c for c in detailed.columns if c not in _CLUSTER_CORE_COLUMNS]
    member_columns = [c for c in (PREDICTED_LABEL, FLAGGED) if c in run.accounts.columns]
    lines = ["## Cluster details"]
    for rank, row in enumerate(detailed.to_dicts(), start=1):
        lines += [
            "",
            f"### {rank}. Cluster {md_escape(str(row[CLUSTER_ID]))}"
            f" · {md_escape(row[PREDICTED_LABEL])} · {md_escape(row[SIZE])} accounts"
            f" · suspicion {_fixed(row[SUSPICION])}",
            "",
        ]
        # A list, not bare lines: consecutive lines would merge into one Markdown paragraph.
        if row.get(EVIDENCE) is not None:
            lines.append(f"- Evidence: {md_escape(row[EVIDENCE])}")
        if row.get(DOMINANT_RELATION) is not None:
            lines.append(f"- Dominant relation: {md_escape(row[DOMINANT_RELATION])}")
        measures = [
            f"{md_escape(name)} {md_escape(row[name])}"
            for name in measure_columns
            if row[name] is not None
        ]
        if measures:
            lines.append("- Measures: " + " · ".join(measures))
        cluster_members = members.get(row[CLUSTER_ID])
        if cluster_members is None or cluster_members.is_empty():
            lines += ["", "No member accounts found in accounts.parquet."]
            continue
        header = ["account", "risk", *(c.replace("_", " ") for c in member_columns)]
        member_rows = [
            [md_escape(member[ACCOUNT]), _fixed(member[RISK])]
            + [md_escape(member[c]) for c in member_columns]
            for member in cluster_members.to_dicts()
        ]
        lines += [
            "",
            f"Highest-risk members ({cluster_members.height} of {md_escape(row[SIZE])}):",
            "",
            *_md_table(header, member_rows),
        ]
    return lines


def render_markdown(run: Run, *, top: int = 50, detail: int = DETAIL_CLUSTERS) -> str:
    """A Markdown report of a run.

    Args:
        run: the loaded run.
        top: clusters in the overview table, most suspicious first.
        detail: clusters (of those `top`) that also get a section listing their highest-risk
            members.

    Returns:
        The report text, ending in a newline. Data strings are escaped so they render literally.
    """
    created = run.meta.get("created_at")
    version = run.meta.get("graphguard_version")
    lines = [
        "# graphguard report",
        "",
        f"Run directory: {md_escape(str(run.path))} · graphguard {md_escape(version)}"
        f" · created {md_escape(created)}",
        "",
        md_escape(scoring_source(run)[:1].upper() + scoring_source(run)[1:]) + ".",
        "",
        *_md_parameters(run),
        "",
        *_md_ingest(run),
        "",
        *_md_summary(run),
        "",
    ]
    clusters = _ranked_clusters(run)
    if clusters.is_empty():
        lines += ["## Clusters", "", "No clusters reported."]
    else:
        lines += _md_cluster_table(clusters, top)
        if detail > 0:
            lines += ["", *_md_cluster_details(run, clusters, min(detail, top))]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# JSON


def _json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns turned into types `json.dumps(..., allow_nan=False)` accepts."""
    return frame.with_columns(
        cs.float().fill_nan(None),
        cs.temporal().cast(pl.String),
        cs.decimal().cast(pl.Float64),
    )


def render_json(run: Run, *, top: int | None = None) -> dict[str, Any]:
    """A JSON-serialisable view of a run: summary, run.json as is, and cluster rows.

    Args:
        run: the loaded run.
        top: how many clusters to include, most suspicious first; None for all.

    Returns:
        {"run_dir", "summary", "meta", "n_clusters", "clusters": [row, ...]}, where each cluster
        row holds every column of clusters.parquet (NaN as null, times as ISO strings).
    """
    clusters = _ranked_clusters(run)
    shown = clusters if top is None else clusters.head(top)
    return {
        "run_dir": str(run.path),
        "summary": run_summary(run),
        "meta": run.meta,
        "n_clusters": clusters.height,
        "clusters": _json_ready(shown).to_dicts(),
    }
