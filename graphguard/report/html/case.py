"""The case file: one cluster on one page, as an investigator needs it.

From top to bottom: the evidence in plain words with the cluster's scores, the graph of its
accounts and what they share, its activity over time, every member with its scores (a row opens
the member's explanation), and the parameters that produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphguard.report.explain import entity_counts, explain_members
from graphguard.report.html.charts import timeline_html
from graphguard.report.html.escape import esc, fixed, number, pct, when
from graphguard.report.html.graph import GraphView, graph_data, graph_legend, graph_view
from graphguard.report.html.page import badge, meter, page, parameters_html, risk_colour
from graphguard.rundir import EVIDENCE, EVIDENCE_FACTS, PREDICTED_LABEL, RISK, SIZE, SUSPICION
from graphguard.rundir.cases import Case
from graphguard.schema import ACCOUNT

#: Per-member shares of the members table, where the run has them.
_MEMBER_SHARES = ("p_sync", "p_shared_device", "p_shared_ip", "p_exclusive", "p_single_use_device")

#: Score meters of the evidence card: (name, cluster column, hint).
_METERS = (
    ("suspicion", SUSPICION, "how likely the cluster is a coordinated operation"),
    ("behaviour", "behaviour_score", "engagement in bursts on the same targets"),
    ("infrastructure", "infrastructure_score", "shared devices/IPs with other signals"),
    ("bot-likeness", "bot_likeness", "shared hardware or single-use fingerprints"),
    ("internal density", "internal_density", "share of member pairs that are tied"),
    ("mean member risk", "mean_risk", "average risk of the members"),
)


def _header(case: Case, report_href: str | None) -> str:
    cluster = case.cluster
    back = f'<a href="{esc(report_href)}">← run report</a> · ' if report_href else ""
    pseudo = (
        " · identifiers pseudonymised (" + esc(", ".join(case.pseudonyms["kinds"])) + ")"
        if case.pseudonyms
        else ""
    )
    size = cluster.get(SIZE) or 0
    return (
        '<header class="top">'
        f'<div class="crumbs">{back}graphguard case file{pseudo}</div>'
        f"<h1>Cluster {esc(case.cluster_id)} {badge(cluster.get(PREDICTED_LABEL))}</h1>"
        '<div class="facts">'
        f"<span>suspicion <b>{fixed(cluster.get(SUSPICION), 3)}</b></span>"
        f"<span>rank <b>{esc(cluster.get('rank'))}</b></span>"
        f"<span><b>{esc(size)}</b> accounts, <b>{esc(cluster.get('n_flagged'))}</b> flagged</span>"
        f"<span>first seen <b>{esc(when(cluster.get('first_seen')))}</b></span>"
        f"<span>last seen <b>{esc(when(cluster.get('last_seen')))}</b></span>"
        "</div></header>"
    )


def evidence_sentences(cluster: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The cluster's evidence sentences with their levels (strong, notable or plain), as
    detection worded them (clusters.parquet ``evidence_facts``, `graphguard.community.wording`)."""
    facts = cluster.get(EVIDENCE_FACTS)
    if not isinstance(facts, list):
        return []  # a run written before the evidence was stored in words
    return [(str(f.get("text")), str(f.get("level") or "")) for f in facts if isinstance(f, dict)]


def _evidence_section(case: Case) -> str:
    cluster = case.cluster
    sentences = "".join(
        f'<li class="{level}">{esc(text)}</li>' for text, level in evidence_sentences(cluster)
    )
    meters = "".join(
        meter(name, cluster.get(column), hint)
        for name, column, hint in _METERS
        if column in cluster
    )
    detector = (
        f'<p class="detector">Detector\'s summary: {esc(cluster.get(EVIDENCE))}</p>'
        if cluster.get(EVIDENCE)
        else ""
    )
    return (
        '<section class="card"><h2>Why this cluster is suspicious</h2>'
        f'<ul class="evidence">{sentences}</ul><div class="scores">{meters}</div>'
        f"{detector}</section>"
    )


def _graph_section(view: GraphView) -> str:
    return (
        '<section class="card"><h2>Graph <small>accounts coloured by risk, the devices, IPs '
        "and targets they share, ties between members by relation</small></h2>"
        '<div class="toolbar">'
        '<input id="gg-search" type="search" placeholder="find account, device, IP…">'
        '<span id="gg-hits" class="muted"></span>'
        '<button id="gg-zoom-in" type="button" title="zoom in">+</button>'
        '<button id="gg-zoom-out" type="button" title="zoom out">−</button>'
        '<button id="gg-reset" type="button">reset</button>'
        '<button id="gg-ties" type="button" aria-pressed="false" title="ties between members '
        '(shared device, IP, timing); hidden by default, what they share is drawn">ties</button>'
        f"{graph_legend()}</div>"
        '<div class="graphbox"><div id="gg-graph" class="graph" role="img" '
        'aria-label="cluster graph"></div><div class="tip"></div>'
        '<aside class="details" id="gg-details"></aside></div>'
        f'<p class="caption">{esc(view.caption)} Accounts sit on the outer ring, the devices, '
        "IPs and targets they share inside it: those most members share on the inner ring (one "
        "sector per kind), the others beside their accounts; ties between members show with "
        "the ties button. Click a node for details "
        "(an account: why it is here and what drove its risk); drag to pan, scroll to zoom."
        "</p></section>"
    )


def _members_table(case: Case, node_of_member: dict[int, int]) -> str:
    members = (
        case.members.with_row_index("_m")
        .join(entity_counts(case.entity_edges), on=ACCOUNT, how="left")
        .sort("_m")
    )
    known = "known_label" in members.columns
    shares = [c for c in _MEMBER_SHARES if c in members.columns]
    head = (
        '<th class="sortable num">#</th><th class="sortable">account</th>'
        '<th class="sortable num">risk</th><th class="sortable">predicted</th>'
        '<th class="sortable">flagged</th>'
        + ('<th class="sortable">known label</th>' if known else "")
        + "".join(f'<th class="sortable num">{esc(c)}</th>' for c in shares)
        + '<th class="sortable num">events</th><th class="sortable num">devices</th>'
        '<th class="sortable num">IPs</th><th class="sortable num">targets</th>'
    )
    rows = []
    for row in members.to_dicts():
        m = row["_m"]
        risk = number(row.get(RISK)) or 0.0
        cells = [
            f'<td class="num" data-v="{m + 1}">{m + 1}</td>',
            f'<td class="id" data-v="{esc(row[ACCOUNT])}">{esc(row[ACCOUNT])}</td>',
            f'<td class="num" data-v="{risk:.6f}">{risk:.2f}<span class="rbar"><i style="'
            f'width:{risk * 100:.0f}%;background:{risk_colour(risk)}"></i></span></td>',
            f'<td data-v="{esc(row.get(PREDICTED_LABEL))}">{badge(row.get(PREDICTED_LABEL))}</td>',
            f'<td data-v="{int(bool(row.get("flagged")))}">'
            + ('<span class="badge flag">flagged</span>' if row.get("flagged") else "")
            + "</td>",
        ]
        if known:
            label = row.get("known_label")
            cells.append(f'<td data-v="{esc(label)}">{"" if label is None else esc(label)}</td>')
        for column in shares:
            value = number(row.get(column))
            cells.append(f'<td class="num" data-v="{value or 0:.6f}">{pct(value)}</td>')
        for column in ("n_events", "n_device", "n_ip", "n_target"):
            value = row.get(column) or 0
            cells.append(f'<td class="num" data-v="{value}">{value:,}</td>')
        rows.append(
            f'<tr class="pick" data-m="{m}" data-i="{node_of_member.get(m, -1)}">'
            + "".join(cells)
            + "</tr>"
        )
    return (
        '<div class="tablewrap"><table class="sortable members"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def render_case_html(
    case: Case,
    *,
    report_href: str | None = None,
    layout: str = "kinds",
    panel: str = "",
    header: str | None = None,
    form_action: str = "'none'",
    referrer: str = "no-referrer",
) -> str:
    """The case file of one cluster as a self-contained HTML page.

    Args:
        case: the cluster's slice of the run (`graphguard.export.load_cases`).
        report_href: link back to the run report, if there is one.
        layout: the graph's layout (`graph_view`).
        panel: markup put above the evidence (the review console's decision forms; the caller
            escapes what it holds).
        header: markup replacing the page's header (the console's navigation and case facts).
        form_action, referrer: the page's form-action source and referrer policy (`page`).
    """
    cid = case.cluster_id
    view = graph_view(case, layout=layout)
    explanations = explain_members(case)
    member_ids = case.members.get_column(ACCOUNT).to_list()
    # Table rows select graph nodes by index; members not drawn get -1.
    node_of_member = {n["m"]: i for i, n in enumerate(view.nodes) if n["type"] == "account"}
    top_row = f'<div class="casegrid">{_evidence_section(case)}{_graph_section(view)}</div>'
    timeline = (
        '<section class="card"><h2>Activity over time <small>events by the members, UTC'
        f"</small></h2>{timeline_html(case.activity)}</section>"
    )
    members = (
        f'<section class="card"><h2>Members <small>{len(member_ids):,} accounts, riskiest '
        "first; click a row for its explanation, a header to sort</small></h2>"
        f"{_members_table(case, node_of_member)}</section>"
    )
    params = (
        '<section class="card"><h2>How this was produced <small>from run.json</small></h2>'
        f"{parameters_html(case.meta)}</section>"
    )
    data: dict[str, Any] = {
        "cluster_id": cid,
        **graph_data(view),
        "explain": [explanations[account] for account in member_ids],
    }
    body = "\n".join([panel, top_row, timeline, members, params])
    return page(
        f"graphguard · cluster {cid}",
        _header(case, report_href) if header is None else header,
        body,
        data,
        vendor=("cytoscape",),
        form_action=form_action,
        referrer=referrer,
    )
