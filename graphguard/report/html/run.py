"""The run report, and `write_html_report`, which writes it with the top clusters' case files.

The report shows the run's headline counts, the distributions of cluster size and suspicion,
precision-recall curves when labels are at hand, the clusters ranked by suspicion (linked to
their case files) and the parameters and ingest counts of run.json.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from graphguard.outputs import write_text_atomic
from graphguard.report.html.case import render_case_html
from graphguard.report.html.charts import SERIES_COLOURS, bar_chart, line_chart, series_legend
from graphguard.report.html.escape import esc, number
from graphguard.report.html.page import (
    badge,
    kv_table,
    meta_section,
    page,
    parameters_html,
    risk_colour,
)
from graphguard.report.summary import (
    campaign_words,
    operating_point_words,
    run_summary,
    shown_ids,
    since_previous,
)
from graphguard.rundir import (
    CAMPAIGN_ID,
    CLUSTER_ID,
    DOMINANT_RELATION,
    EVIDENCE,
    PREDICTED_LABEL,
    SIZE,
    SUSPICION,
    Run,
    load_run,
)
from graphguard.rundir.cases import load_cases, top_cluster_ids

# --------------------------------------------------------------------------------------------
# Headline counts


def _tile_counts(run: Run, summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The headline tiles, (label, value), as the run recorded them."""
    return [
        ("events used", meta_section(run.meta, "ingest").get("rows_used")),
        ("accounts", summary["accounts"]),
        ("clusters reported", summary["clusters_reported"]),
        ("clusters flagged", meta_section(run.meta, "summary").get("clusters_flagged")),
        ("accounts flagged", summary["accounts_flagged"]),
        ("flag threshold (risk)", summary["risk_threshold"]),
    ]


def _operating_section(run: Run) -> str:
    """How the flag threshold was chosen (run.json operating_point); empty without one."""
    words = operating_point_words(run)
    if not words:
        return ""
    return f'<section class="card"><h2>Operating point</h2><p>{esc(words)}</p></section>'


def _tiles_section(tiles: Sequence[tuple[str, Any]]) -> str:
    return (
        '<section class="card"><div class="tiles">'
        + "".join(f'<div class="tile"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in tiles)
        + "</div></section>"
    )


# --------------------------------------------------------------------------------------------
# Distributions of size and suspicion


def _size_bins(sizes: Sequence[int]) -> tuple[list[str], list[float]]:
    edges = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000]
    top = max(sizes, default=1)
    edges = [e for e in edges if e <= top] + [next((e for e in edges if e > top), top + 1)]
    low = min(sizes, default=1)
    while len(edges) > 2 and edges[1] <= low:
        edges = edges[1:]
    labels, counts = [], []
    for a, b in zip(edges, edges[1:], strict=False):
        labels.append(str(a) if b - a == 1 else f"{a}–{b - 1}")
        counts.append(float(sum(a <= s < b for s in sizes)))
    return labels, counts


def _size_chart(ranked: pl.DataFrame) -> str:
    sizes = [int(s) for s in ranked[SIZE].drop_nulls().to_list()]
    size_labels, size_counts = _size_bins(sizes)
    return bar_chart(
        size_labels,
        [("clusters", size_counts, "#2563eb")],
        titles=[
            f"{int(c)} clusters of size {lab}"
            for lab, c in zip(size_labels, size_counts, strict=True)
        ],
        x_label="accounts per cluster",
        y_label="clusters",
    )


def _suspicion_chart(ranked: pl.DataFrame, threshold: float | None) -> str:
    suspicion = [float(s) for s in ranked[SUSPICION].drop_nulls().to_list()]
    bins = 20
    counts = [0.0] * bins
    for value in suspicion:
        counts[min(bins - 1, max(0, int(value * bins)))] += 1
    cut = bins if threshold is None else int(math.floor(threshold * bins))
    low = [c if i < cut else 0.0 for i, c in enumerate(counts)]
    high = [c if i >= cut else 0.0 for i, c in enumerate(counts)]
    return bar_chart(
        [f"{i / bins:.1f}" for i in range(bins + 1)],
        [("below threshold", low, "#94a3b8"), ("at or above", high, "#c62828")],
        titles=[
            f"suspicion {i / bins:.2f}–{(i + 1) / bins:.2f}: {int(c)} clusters"
            for i, c in enumerate(counts)
        ],
        x_label="cluster suspicion",
        y_label="clusters",
        tick_every=4,
        marker=None if threshold is None else (threshold * bins, f"threshold {threshold:g}"),
    )


# --------------------------------------------------------------------------------------------
# Precision and recall


#: the label source whose curve is optimistic when a model learnt from it
_DETECT_LABELS = "labels given to detect"


def _pr_section(curves: Sequence[Mapping[str, Any]]) -> str:
    """The precision-recall card: one curve per label source (`metrics.flag_curve` documents,
    stored in run.json or computed by the caller against a truth file), the flagged accounts
    as points."""
    if not curves:
        return (
            '<section class="card"><h2>Precision and recall</h2><p class="muted">No labels: '
            "give detection a labels file, or the report a truth file, to see "
            "precision-recall curves.</p></section>"
        )
    lines, points, notes = [], [], []
    for i, curve in enumerate(curves):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        name, ap = str(curve["source"]), float(curve["average_precision"])
        lines.append((f"{name}: AP {ap:.3f}", curve["recall"], curve["precision"], colour))
        p, r = float(curve["precision_at_flag"]), float(curve["recall_at_flag"])
        points.append(
            (f"{name}: flagged accounts (precision {p:.2f}, recall {r:.2f})", r, p, colour)
        )
        notes.append(
            f"{name}: {curve['n_accounts']:,} accounts, {curve['n_abusive']:,} abusive; "
            f"average precision {ap:.3f}; at the flag threshold precision {p:.2f}, "
            f"recall {r:.2f}"
        )
    chart = line_chart(lines, points, baseline=float(curves[0]["base_rate"]))
    legend = series_legend([(c[0], None, c[3]) for c in lines])
    caveat = (
        " Labels given to detect are not held out: if a model learnt from them, their curve is "
        "optimistic."
        if any(c["source"] == _DETECT_LABELS for c in curves)
        else ""
    )
    return (
        '<section class="card"><h2>Precision and recall <small>account risk against labels; '
        f"circles: the flagged accounts</small></h2>{legend}{chart}"
        f'<p class="caption">{esc("; ".join(notes) + "." + caveat)}</p></section>'
    )


# --------------------------------------------------------------------------------------------
# Ranked clusters, parameters


def _since_section(run: Run) -> str:
    """What changed since the previous run (`since_previous`); empty without one."""
    changes = since_previous(run)
    if changes is None:
        return ""
    previous = changes["previous"]
    items = []
    for status, ids in [*changes["statuses"], ("ended", changes["ended"])]:
        shown, more = shown_ids(ids)
        names = ", ".join(f"<code>{esc(i)}</code>" for i in shown)
        tail = f" and {more:,} more" if more else ""
        items.append(
            f"<li><b>{esc(status)}</b> {len(ids):,}"
            + (f": {names}{tail}" if shown else "")
            + "</li>"
        )
    for survivor, absorbed in changes["merged_from"].items():
        items.append(
            f"<li><code>{esc(survivor)}</code> absorbed "
            + ", ".join(f"<code>{esc(a)}</code>" for a in absorbed)
            + "</li>"
        )
    return (
        '<section class="card"><h2>Since the previous run <small>run '
        f"{esc(previous.get('path'))}, created {esc(previous.get('created_at'))}</small></h2>"
        f"<ul>{''.join(items)}</ul></section>"
    )


def _clusters_section(ranked: pl.DataFrame, case_files: Mapping[int, str], top: int) -> str:
    rows = []
    flagged_col = "n_flagged" in ranked.columns
    campaign_col = CAMPAIGN_ID in ranked.columns
    for rank, row in enumerate(ranked.head(top).to_dicts(), start=1):
        cid = row[CLUSTER_ID]
        link = case_files.get(cid)
        name = f'<a href="{esc(link)}">cluster {esc(cid)}</a>' if link else f"cluster {esc(cid)}"
        value = number(row.get(SUSPICION)) or 0.0
        rows.append(
            "<tr>"
            f'<td class="num" data-v="{rank}">{rank}</td>'
            f'<td class="nowrap" data-v="{cid}">{name}</td>'
            + (
                f'<td class="nowrap" data-v="{esc(row.get(CAMPAIGN_ID))}">'
                f"{esc(campaign_words(row))}</td>"
                if campaign_col
                else ""
            )
            + f'<td class="num" data-v="{row.get(SIZE) or 0}">{esc(row.get(SIZE))}</td>'
            f'<td class="num" data-v="{value:.6f}">{value:.3f}<span class="rbar"><i style="width:'
            f'{value * 100:.0f}%;background:{risk_colour(value)}"></i></span></td>'
            f'<td data-v="{esc(row.get(PREDICTED_LABEL))}">{badge(row.get(PREDICTED_LABEL))}</td>'
            + (
                f'<td class="num" data-v="{row.get("n_flagged") or 0}">'
                f"{esc(row.get('n_flagged'))}</td>"
                if flagged_col
                else ""
            )
            + f'<td data-v="{esc(row.get(DOMINANT_RELATION))}">'
            f"{esc(row.get(DOMINANT_RELATION))}</td>"
            f"<td>{esc(row.get(EVIDENCE))}</td></tr>"
        )
    head = (
        '<th class="sortable num">#</th><th class="sortable">cluster</th>'
        + ('<th class="sortable">campaign</th>' if campaign_col else "")
        + '<th class="sortable num">size</th><th class="sortable num">suspicion</th>'
        '<th class="sortable">label</th>'
        + ('<th class="sortable num">flagged</th>' if flagged_col else "")
        + '<th class="sortable">relation</th><th>evidence</th>'
    )
    shown = min(top, ranked.height)
    cases_note = f"; case files for the top {len(case_files)}" if case_files else ""
    return (
        f'<section class="card"><h2>Clusters <small>top {shown:,} of {ranked.height:,} by '
        f"suspicion{cases_note}</small></h2>"
        + (
            '<div class="tablewrap"><table class="sortable"><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            if rows
            else '<p class="muted">No clusters reported.</p>'
        )
        + "</section>"
    )


def _parameters_section(meta: Mapping[str, Any]) -> str:
    ingest = meta_section(meta, "ingest")
    rejected = ingest.get("rows_rejected")
    ingest_rows = [
        ("rows read", ingest.get("rows_read")),
        ("duplicates dropped", ingest.get("duplicates_dropped")),
        ("rows rejected", sum(rejected.values()) if isinstance(rejected, dict) else None),
        ("rows used", ingest.get("rows_used")),
        *[(f"rejected: {k}", v) for k, v in (rejected or {}).items()],
        *[(f"stage seconds: {k}", v) for k, v in meta_section(meta, "timings_s").items()],
    ]
    return (
        '<section class="card"><h2>How this was produced <small>from run.json</small></h2>'
        f"{parameters_html(meta)}<h3>Ingest and timings</h3>{kv_table(ingest_rows)}</section>"
    )


# --------------------------------------------------------------------------------------------
# The page and the files


def _curves(run: Run, extra: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The run's own curve (run.json ``label_curve``), then the caller's; drawable ones only."""
    own = run.meta.get("label_curve")
    curves = [own] if isinstance(own, Mapping) else []
    return [c for c in [*curves, *extra] if c]


def render_run_html(
    run: Run,
    *,
    case_files: Mapping[int, str] | None = None,
    curves: Sequence[Mapping[str, Any]] = (),
    top: int = 50,
) -> str:
    """The run report: headline counts, distributions, PR curves, ranked clusters, parameters.

    Args:
        run: the loaded run.
        case_files: cluster id -> relative link of its case file.
        curves: precision-recall curves against other labels (a truth file's, from
            `graphguard.evaluation.evaluate.truth_curve`), drawn after the run's own curve
            against the labels given to detect.
        top: clusters listed in the ranked table.
    """
    case_files = case_files or {}
    summary = run_summary(run)
    meta = run.meta
    ranked = run.clusters.sort(SUSPICION, descending=True, nulls_last=True, maintain_order=True)
    header = (
        '<header class="top"><div class="crumbs">graphguard run report</div>'
        f'<h1>Run {esc(run.path.name or str(run.path))}</h1><div class="facts">'
        f"<span>run directory <b>{esc(str(run.path))}</b></span>"
        f"<span>created <b>{esc(meta.get('created_at'))}</b></span>"
        f"<span>graphguard <b>{esc(meta.get('graphguard_version'))}</b></span></div></header>"
    )
    threshold = number(summary.get("risk_threshold"))
    charts = (
        '<div class="row3">'
        f'<section class="card"><h2>Cluster sizes</h2>{_size_chart(ranked)}</section>'
        '<section class="card"><h2>Cluster suspicion</h2>'
        f"{_suspicion_chart(ranked, threshold)}</section>"
        f"{_pr_section(_curves(run, curves))}</div>"
    )
    body = "\n".join(
        [
            _tiles_section(_tile_counts(run, summary)),
            _operating_section(run),
            charts,
            _since_section(run),
            _clusters_section(ranked, case_files, top),
            _parameters_section(meta),
        ]
    )
    return page(f"graphguard report · {run.path.name}", header, body, {"report": True})


def write_html_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    cases: int = 10,
    top: int = 50,
    curves: Sequence[Mapping[str, Any]] = (),
) -> list[Path]:
    """Write the run report (default ``<run_dir>/report.html``) and, next to it, the case files
    ``cluster-<id>.html`` of the ``cases`` most suspicious clusters. Returns the paths, report
    first. ``curves``: as `render_run_html` takes them."""
    run = load_run(run_dir)
    report_path = Path(out) if out is not None else run.path / "report.html"
    written: list[Path] = []
    case_files: dict[int, str] = {}
    if cases > 0 and run.clusters.height:
        for case in load_cases(run, top_cluster_ids(run, cases)):
            name = f"cluster-{case.cluster_id}.html"
            path = report_path.parent / name
            written.append(
                write_text_atomic(render_case_html(case, report_href=report_path.name), path)
            )
            case_files[case.cluster_id] = name
    page_html = render_run_html(run, case_files=case_files, curves=curves, top=top)
    return [write_text_atomic(page_html, report_path), *written]
