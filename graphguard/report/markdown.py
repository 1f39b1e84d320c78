"""The Markdown report of a run (report.md): parameters, ingest, summary, clusters, members.

Every data string goes through `md_escape`, so a hostile id renders literally and cannot break a
table or inject HTML.
"""

from __future__ import annotations

import polars as pl

from graphguard.report.summary import (
    campaign_words,
    operating_point_words,
    ranked_clusters,
    run_summary,
    scoring_source,
    section,
    shown_ids,
    since_previous,
    top_members,
)
from graphguard.report.text import exact, fixed, md_escape
from graphguard.rundir import (
    CAMPAIGN_ID,
    CAMPAIGN_MATCH,
    CAMPAIGN_STATUS,
    CLUSTER_ID,
    DOMINANT_RELATION,
    EVIDENCE,
    EVIDENCE_FACTS,
    FLAGGED,
    PREDICTED_LABEL,
    PREVIOUS_CAMPAIGNS,
    PREVIOUS_SIZE,
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

# Columns the cluster sections show in fixed places; every other column is a generic measure.
_CLUSTER_CORE_COLUMNS = (
    CLUSTER_ID,
    SIZE,
    SUSPICION,
    PREDICTED_LABEL,
    DOMINANT_RELATION,
    EVIDENCE,
    EVIDENCE_FACTS,
    CAMPAIGN_ID,
    CAMPAIGN_STATUS,
    PREVIOUS_CAMPAIGNS,
    CAMPAIGN_MATCH,
    PREVIOUS_SIZE,
)


def _md_table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table; cells must already be escaped."""
    rule = align if align is not None else "|" + "---|" * len(header)
    return [
        "| " + " | ".join(header) + " |",
        rule,
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _md_parameters(run: Run) -> list[str]:
    input_paths = section(run.meta, "input")
    community = section(run.meta, "community")
    summary = section(run.meta, "summary")
    rows = [
        ["events", md_escape(input_paths.get("events"))],
        ["labels", md_escape(input_paths.get("labels"))],
    ]
    # method, objective, resolution and seed first (every report must say how clusters were
    # made), then whatever else the community stage recorded.
    ordered = ["method", "objective", "resolution", "seed"]
    ordered += [key for key in community if key not in ordered]
    rows += [
        [f"community {md_escape(key)}", md_escape(exact(community.get(key)))] for key in ordered
    ]
    rows.append(["risk threshold", md_escape(exact(summary.get("risk_threshold")))])
    point = operating_point_words(run)
    if point:
        rows.append(["operating point", md_escape(point)])
    return ["## Run parameters", "", *_md_table(["parameter", "value"], rows)]


def _md_ingest(run: Run) -> list[str]:
    ingest = section(run.meta, "ingest")
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
    timings = section(run.meta, "timings_s")
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


def _md_since_previous(run: Run) -> list[str]:
    """What changed since the previous run (`since_previous`); nothing without one."""
    changes = since_previous(run)
    if changes is None:
        return []
    previous = changes["previous"]
    lines = [
        "## Since the previous run",
        "",
        f"Previous run: {md_escape(previous.get('path'))} · created "
        f"{md_escape(previous.get('created_at'))} · fingerprint "
        f"{md_escape(previous.get('fingerprint'))}",
        "",
    ]
    for status, ids in changes["statuses"]:
        lines.append(f"- {status}: {len(ids)}{_md_ids(ids)}")
    lines.append(
        f"- ended (not seen in this run): {len(changes['ended'])}{_md_ids(changes['ended'])}"
    )
    for survivor, absorbed in changes["merged_from"].items():
        lines.append(
            f"- {md_escape(survivor)} absorbed {', '.join(md_escape(a) for a in absorbed)}"
        )
    return lines


def _md_ids(ids: list[str]) -> str:
    shown, more = shown_ids(ids)
    if not shown:
        return ""
    return (
        " (" + ", ".join(md_escape(i) for i in shown) + (f", and {more} more" if more else "") + ")"
    )


def _md_cluster_table(clusters: pl.DataFrame, top: int) -> list[str]:
    shown = clusters.head(top)
    with_campaigns = CAMPAIGN_ID in clusters.columns
    rows = [
        [
            str(rank),
            md_escape(str(row[CLUSTER_ID])),
            *([md_escape(campaign_words(row))] if with_campaigns else []),
            md_escape(row[SIZE]),
            fixed(row[SUSPICION]),
            md_escape(row[PREDICTED_LABEL]),
            md_escape(row.get(DOMINANT_RELATION)),
            md_escape(row.get(EVIDENCE)),
        ]
        for rank, row in enumerate(shown.to_dicts(), start=1)
    ]
    header = [
        "#",
        "cluster",
        *(["campaign"] if with_campaigns else []),
        "size",
        "suspicion",
        "label",
        "relation",
        "evidence",
    ]
    align = "|---:|---:|" + ("---|" if with_campaigns else "") + "---:|---:|---|---|---|"
    return [
        "## Clusters",
        "",
        f"Top {shown.height} of {clusters.height} clusters by suspicion.",
        "",
        *_md_table(header, rows, align),
    ]


def _md_cluster_details(run: Run, clusters: pl.DataFrame, n_clusters: int) -> list[str]:
    detailed = clusters.head(n_clusters)
    members = top_members(run, detailed[CLUSTER_ID].drop_nulls().to_list(), MEMBERS_PER_CLUSTER)
    measure_columns = [c for c in detailed.columns if c not in _CLUSTER_CORE_COLUMNS]
    member_columns = [c for c in (PREDICTED_LABEL, FLAGGED) if c in run.accounts.columns]
    lines = ["## Cluster details"]
    for rank, row in enumerate(detailed.to_dicts(), start=1):
        lines += [
            "",
            f"### {rank}. Cluster {md_escape(str(row[CLUSTER_ID]))}"
            f" · {md_escape(row[PREDICTED_LABEL])} · {md_escape(row[SIZE])} accounts"
            f" · suspicion {fixed(row[SUSPICION])}",
            "",
        ]
        # A list, not bare lines: consecutive lines would merge into one Markdown paragraph.
        if row.get(CAMPAIGN_ID) is not None:
            lines.append(f"- Campaign: {md_escape(campaign_words(row))}{_md_lineage(row)}")
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
            [md_escape(member[ACCOUNT]), fixed(member[RISK])]
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


def _md_lineage(row: dict) -> str:
    """Where a campaign came from, in words: matched how, which previous campaigns."""
    parts = []
    if row.get(CAMPAIGN_MATCH) == "entities":
        parts.append("matched through shared devices, IPs and targets (members rotated)")
    elif row.get(CAMPAIGN_MATCH) == "pieces":
        parts.append("matched as a piece of the same accounts, cut differently this run")
    earlier = [p for p in (row.get(PREVIOUS_CAMPAIGNS) or []) if p != row.get(CAMPAIGN_ID)]
    if earlier:
        parts.append("also from " + ", ".join(md_escape(p) for p in earlier))
    return "".join(f" · {part}" for part in parts)


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
    since = _md_since_previous(run)
    if since:
        lines += [*since, ""]
    clusters = ranked_clusters(run)
    if clusters.is_empty():
        lines += ["## Clusters", "", "No clusters reported."]
    else:
        lines += _md_cluster_table(clusters, top)
        if detail > 0:
            lines += ["", *_md_cluster_details(run, clusters, min(detail, top))]
    return "\n".join(lines) + "\n"
