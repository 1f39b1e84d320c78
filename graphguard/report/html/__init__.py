"""Self-contained HTML: a case file per cluster and a report per run.

A case file shows one cluster as an investigator needs it: the evidence in plain words, the graph
of its accounts and the devices, IPs and targets they share (an SVG laid out here, in Python, with
a fixed seed, so the same run gives the same picture), its activity over time, every member with
its scores and an explanation, and the parameters that produced it. The run report ranks the
clusters, draws the distributions of their sizes and suspicion and, when labels are known,
precision-recall curves, and links to the case files of the top clusters.

Pages work offline and alone: the CSS and the small script in ``static/`` are inlined, charts are
inline SVG, nothing is fetched. Every string from the logs is attacker-controlled:

* text and attribute values go through `esc` (``html.escape`` with quotes), after control and
  bidirectional-override characters are made inert;
* data for the script is JSON inside ``<script type="application/json">`` with ``<``, ``>``,
  ``&``, U+2028 and U+2029 written as ``\\uXXXX``, so no string can close the element;
* the script builds the DOM with ``textContent`` only;
* a Content-Security-Policy admits only the page's own script (by its hash), inline styles and
  ``data:`` images, and no network at all: even markup that slipped through could neither run
  nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from graphguard.report.explain import RELATION_WORDS, entity_counts, explain_members
from graphguard.export.case import Case, entity_nodes, load_cases, top_cluster_ids
from graphguard.io import write_text_atomic
from graphguard.report.render import _PLAIN_TEXT_TABLE, _format_value, run_summary
from graphguard.rundir import (
    CLUSTER_ID,
    DOMINANT_RELATION,
    EVIDENCE,
    PREDICTED_LABEL,
    RISK,
    SIZE,
    SUSPICION,
    Run,
    load_run,
)
from graphguard.schema import ACCOUNT, BENIGN

#: Most accounts and entities a case graph draws (the riskiest accounts, the most shared
#: entities); the exports always hold everything.
MAX_DRAWN_ACCOUNTS = 400
MAX_DRAWN_ENTITIES = 300
#: Most account-entity and account-account edges drawn.
MAX_DRAWN_USES = 4000
MAX_DRAWN_TIES = 1500
#: Entities named on the graph.
LABELLED_ENTITIES = 8
LAYOUT_SEED = 7
#: Pull towards the centre, relative to the ideal edge length.
GRAVITY = 1.5

_W, _H, _PAD = 1000.0, 620.0, 24.0
_RELATION_COLOURS = {"device": "#1565c0", "ip": "#7b1fa2", "sync": "#ef6c00", "dense": "#6d4c41"}
_SERIES_COLOURS = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#0891b2", "#e11d48", "#94a3b8")
_MISSING = "-"


# --------------------------------------------------------------------------------------------
# Escaping


def inert(value: str) -> str:
    """A data string with control and bidi-override characters replaced (they could hide or
    reorder what an investigator reads), line breaks as spaces."""
    return value.translate(_PLAIN_TEXT_TABLE)


def _text(value: Any) -> str:
    if value is None:
        return _MISSING
    if isinstance(value, bool | int | float):
        return _format_value(value)
    if isinstance(value, datetime):
        return _when(value)
    return inert(str(value))


def esc(value: Any) -> str:
    """Any value as HTML text or attribute content that renders literally."""
    return html.escape(_text(value), quote=True)


def _inert_data(value: Any) -> Any:
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, Mapping):
        return {inert(str(k)): _inert_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_inert_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return _when(value)
    return value


_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(data: Any) -> str:
    """JSON that can sit inside a <script> element: no string in it can end the element."""
    text = json.dumps(_inert_data(data), ensure_ascii=False, allow_nan=False, default=str)
    return text.translate(_SCRIPT_SAFE)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return _MISSING if value is None else str(value)


def _count(n: Any, noun: str) -> str:
    return f"{_text(n)} {noun}" + ("" if n == 1 else "s")


def _pct(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) and math.isfinite(value) else _MISSING


def _fixed(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _MISSING
    return f"{value:.{digits}f}"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# --------------------------------------------------------------------------------------------
# Page frame


@cache
def _static(name: str) -> str:
    text = resources.files("graphguard.report.html").joinpath("static", name).read_text("utf-8")
    # Inlined as it is: anything that could end the element or switch the HTML parser's script
    # state would break the page.
    if any(mark in text.lower() for mark in ("</script", "</style", "<script", "<!--")):
        raise ValueError(f"static/{name} must not contain tags or comment openers")
    return text


def _page(title: str, header: str, body: str, data: Any) -> str:
    script = _static("case.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{esc(title)}</title>\n"
        f"<style>{_static('style.css')}</style>\n"
        f"</head><body>\n{header}\n<main>\n{body}\n</main>\n"
        '<script type="application/json" id="gg-data">'
        f"{script_json(data)}</script>\n"
        f"<script>{script}</script>\n</body></html>\n"
    )


def _badge(label: Any) -> str:
    css = str(label) if label in ("bot_ring", "fake_engagement", "benign") else ""
    return f'<span class="badge {css}">{esc(label)}</span>'


def _meter(name: str, value: Any, hint: str = "") -> str:
    number = _num(value)
    width = 0.0 if number is None else max(0.0, min(1.0, number)) * 100
    level = "hi" if (number or 0) >= 0.7 else ("mid" if (number or 0) >= 0.4 else "")
    title = f' title="{esc(hint)}"' if hint else ""
    return (
        f'<div class="meter"{title}>{esc(name)} <b>{_fixed(number)}</b>'
        f'<div class="bar"><i class="{level}" style="width:{width:.1f}%"></i></div></div>'
    )


def _exact(value: Any) -> str:
    """A parameter as recorded, so a reader can repeat the run with it."""
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    return inert(str(value))


def _kv_table(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{esc(k)}</td><td>{html.escape(_exact(v), quote=True)}</td></tr>" for k, v in rows
    )
    return f'<table class="params"><tbody>{body}</tbody></table>'


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        rows: list[tuple[str, Any]] = []
        for key, item in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), item)
        return rows
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, value)]


def _section(meta: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    value: Any = meta
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, dict) else {}


def parameters_html(meta: Mapping[str, Any]) -> str:
    """Everything that produced the result: input, community detection, graph and scoring."""
    head = [
        ("graphguard version", meta.get("graphguard_version")),
        ("run created", meta.get("created_at")),
        *_flatten("input", _section(meta, "input")),
    ]
    community = _flatten("", _section(meta, "community"))
    graph = _flatten("", _section(meta, "config", "graph"))
    scoring = _flatten("", _section(meta, "config", "scoring"))
    return (
        '<div class="row3">'
        f"<div><h3>Run and communities</h3>{_kv_table(head + community)}</div>"
        f"<div><h3>Graph relations</h3>{_kv_table(graph)}</div>"
        f"<div><h3>Scoring</h3>{_kv_table(scoring)}</div>"
        "</div>"
    )


# --------------------------------------------------------------------------------------------
# Evidence in plain words


def evidence_sentences(
    cluster: Mapping[str, Any], meta: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The cluster's evidence columns as sentences, each with a level (strong, notable, plain)."""

    def level(share: float | None, strong: float = 0.5, notable: float = 0.2) -> str:
        share = share or 0.0
        return "strong" if share >= strong else ("notable" if share >= notable else "")

    size = cluster.get(SIZE) or 0
    out: list[tuple[str, str]] = []
    n_events, n_devices = cluster.get("n_events"), cluster.get("n_devices")
    n_ips, n_targets = cluster.get("n_ips"), cluster.get("n_targets")
    first, last = cluster.get("first_seen"), cluster.get("last_seen")
    if n_events is not None:
        out.append(
            (
                f"{_count(size, 'account')} made {_count(n_events, 'event')} from "
                f"{_count(n_devices, 'device')} and {_count(n_ips, 'IP')} on "
                f"{_count(n_targets, 'target')}, between {_when(first)} and {_when(last)}.",
                "",
            )
        )
    shared_dev = _num(cluster.get("shared_device_event_share"))
    if shared_dev and shared_dev >= 0.05:
        per_device = _num(cluster.get("accounts_per_device"))
        extra = f" ({per_device:.1f} accounts per device)" if (per_device or 0) >= 1.5 else ""
        out.append(
            (
                f"{shared_dev:.0%} of their events came from devices other members also "
                f"used{extra}.",
                level(shared_dev),
            )
        )
    shared_ip = _num(cluster.get("shared_ip_event_share"))
    if shared_ip and shared_ip >= 0.05:
        out.append(
            (
                f"{shared_ip:.0%} of their events came from an IP another member used in the "
                "same hour.",
                level(shared_ip),
            )
        )
    sync = _num(cluster.get("sync_engagement_share"))
    if sync and sync >= 0.05:
        gap = _num(_section(meta, "config", "graph", "sync").get("max_gap_s")) or 600.0
        kinds = _section(meta, "config", "graph").get("engagement_types")
        what = (
            "/".join(str(k) for k in kinds) if isinstance(kinds, list) and kinds else "engagement"
        )
        n_eng = cluster.get("n_engagements")
        sentence = (
            f"{sync:.0%} of their {_text(n_eng)} engagements ({what}) landed within "
            f"{max(1, math.ceil(gap / 60))} minutes of another member's on the same target "
            f"({_text(cluster.get('n_synced_targets'))} targets hit that way)."
        )
        lockstep = _num(cluster.get("lockstep_member_share"))
        if lockstep:
            sentence += f" {lockstep:.0%} of the members did so on at least 3 targets."
        out.append((sentence, level(sync, 0.3, 0.1)))
    exclusive = _num(cluster.get("target_exclusivity"))
    if exclusive and exclusive >= 0.1:
        out.append(
            (
                f"{exclusive:.0%} of their engagement went to targets that mostly this group "
                "engages.",
                level(exclusive, 0.4, 0.15),
            )
        )
    burst = cluster.get("signup_burst_size") or 0
    if burst >= 3:
        window = _num(_section(meta, "config", "scoring").get("creation_burst_window_s"))
        hours = max(1, round((window or 21600.0) / 3600))
        share = _num(cluster.get("creation_burst_share"))
        out.append(
            (
                f"{burst} of the {size} accounts signed up within {hours} hours of each other "
                f"({_text(cluster.get('n_signups'))} signups in the window).",
                level(share, 0.5, 0.2),
            )
        )
    single = _num(cluster.get("single_use_device_event_share"))
    if single and single >= 0.1:
        out.append(
            (
                f"{single:.0%} of their events came from device fingerprints seen in a single "
                "session (a fresh fingerprint per session).",
                level(single),
            )
        )
    edges = cluster.get("internal_edges")
    if edges is not None:
        relation = cluster.get(DOMINANT_RELATION)
        words = RELATION_WORDS.get(str(relation), _text(relation))
        out.append(
            (
                f"{edges:,} ties link the members (density "
                f"{_fixed(cluster.get('internal_density'))}); "
                f"{_pct(cluster.get('internal_weight_share'))} of their tie weight stays "
                f"inside the cluster, mostly through {words}.",
                "",
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Graph: selection, layout, SVG


def force_layout(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    *,
    seed: int = LAYOUT_SEED,
    iterations: int = 160,
) -> np.ndarray:
    """Fruchterman-Reingold positions in [0, 1]^2, deterministic for a given seed.

    Dense and vectorised (n^2 work per step): fine for the few hundred nodes a case graph draws,
    and several times faster there than networkx's sparse variant. A weak pull to the centre
    keeps components that share nothing drawn from drifting apart.
    """
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.full((1, 2), 0.5)
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1.0, 1.0, n), rng.uniform(-1.0, 1.0, n)
    k = 2.0 / math.sqrt(n)
    step = 0.2
    cooling = step / (iterations + 1)
    self_pairs = np.eye(n, dtype=bool)
    for _ in range(iterations):
        dx = x[:, None] - x[None, :]
        dy = y[:, None] - y[None, :]
        dist2 = np.maximum(dx * dx + dy * dy, 1e-4)
        dist2[self_pairs] = np.inf
        repulse = k * k / dist2
        fx, fy = (dx * repulse).sum(axis=1), (dy * repulse).sum(axis=1)
        if src.size:
            px, py = x[src] - x[dst], y[src] - y[dst]
            pull = np.sqrt(px * px + py * py) * weight / k
            fx -= np.bincount(src, px * pull, n) - np.bincount(dst, px * pull, n)
            fy -= np.bincount(src, py * pull, n) - np.bincount(dst, py * pull, n)
        fx -= x * GRAVITY * k
        fy -= y * GRAVITY * k
        length = np.sqrt(fx * fx + fy * fy) + 1e-9
        scale = np.minimum(length, step) / length
        x += fx * scale
        y += fy * scale
        step -= cooling
    pos = np.column_stack([x, y])
    # Scale by the 3rd-97th percentiles: a few loosely tied nodes far out would otherwise
    # squash the rest into the middle; they sit on the border instead.
    low, high = np.quantile(pos, 0.03, axis=0), np.quantile(pos, 0.97, axis=0)
    return np.clip((pos - low) / np.maximum(high - low, 1e-9), 0.0, 1.0)


def place_nodes(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, float]:
    """Positions in [0, 1]^2 and the height of the bottom strip.

    The largest connected piece gets the main area; smaller pieces (pairs tied by one shared IP,
    members whose shared entities are not drawn) each get a small cell in a strip along the
    bottom, so they neither squash the main group nor float around it.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pos = np.zeros((n, 2))
    if n == 0:
        return pos, 0.0
    adjacency = coo_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
    _, piece = connected_components(adjacency, directed=False)
    sizes = np.bincount(piece)
    main = int(np.argmax(sizes))
    others = [p for p in np.argsort(-sizes, kind="stable") if p != main]
    columns = min(20, max(8, len(others)))
    rows = math.ceil(len(others) / columns)
    strip = min(0.3, 0.09 * rows)

    def lay_out(members: np.ndarray) -> np.ndarray:
        remap = np.full(n, -1)
        remap[members] = np.arange(members.size)
        inside = (remap[src] >= 0) & (remap[dst] >= 0)
        return force_layout(members.size, remap[src[inside]], remap[dst[inside]], weight[inside])

    core = np.flatnonzero(piece == main)
    placed = lay_out(core)
    pos[core, 0] = placed[:, 0]
    pos[core, 1] = placed[:, 1] * (1.0 - strip - (0.03 if others else 0.0))
    cell_w, cell_h = 1.0 / columns, strip / max(rows, 1)
    for index, p in enumerate(others):
        row, column = divmod(index, columns)
        members = np.flatnonzero(piece == p)
        local = lay_out(members) if members.size > 1 else np.full((1, 2), 0.5)
        pos[members, 0] = (column + 0.15 + 0.7 * local[:, 0]) * cell_w
        pos[members, 1] = 1.0 - strip + (row + 0.15 + 0.7 * local[:, 1]) * cell_h
    return pos, strip


@dataclass
class GraphView:
    """What a case graph draws: node records (index = node id in the SVG) and edges."""

    nodes: list[dict[str, Any]]
    positions: np.ndarray
    uses: list[tuple[int, int]]
    ties: list[tuple[int, int, float, str]]
    labelled: list[int]
    caption: str
    strip: float = 0.0


def graph_view(case: Case) -> GraphView:
    members = case.members.with_row_index("_m")
    drawn = members.head(MAX_DRAWN_ACCOUNTS)
    ids = drawn.get_column(ACCOUNT)
    uses = case.entity_edges.filter(pl.col(ACCOUNT).is_in(ids.implode()))
    reach = (
        uses.group_by("kind", "entity")
        .agg(pl.len().alias("_drawn_members"))
        .filter(pl.col("_drawn_members") >= 2)
    )
    all_entities = entity_nodes(case)
    shared = all_entities.join(reach, on=["kind", "entity"]).sort(
        ["_drawn_members", "kind", "entity"], descending=[True, False, False]
    )

    def most_shared(frame: pl.DataFrame, budget: int, count: int) -> pl.DataFrame:
        return (
            frame.with_columns(pl.col("_drawn_members").cum_sum().alias("_uses"))
            .filter(pl.col("_uses") <= budget)
            .head(count)
            .drop("_uses")
        )

    # Shared devices and IPs first (up to half the entities and three quarters of the edges):
    # a hundred members on one popular post would otherwise crowd out the five devices they
    # all log in from.
    hardware = most_shared(
        shared.filter(pl.col("kind") != "target"), MAX_DRAWN_USES * 3 // 4, MAX_DRAWN_ENTITIES // 2
    )
    targets = most_shared(
        shared.filter(pl.col("kind") == "target"),
        MAX_DRAWN_USES - int(hardware["_drawn_members"].sum()),
        MAX_DRAWN_ENTITIES - hardware.height,
    )
    entities = pl.concat([hardware, targets])
    n_accounts = drawn.height
    nodes: list[dict[str, Any]] = []
    for row in drawn.select(ACCOUNT, "_m", RISK, PREDICTED_LABEL, "flagged").to_dicts():
        nodes.append(
            {
                "label": row[ACCOUNT],
                "type": "account",
                "m": row["_m"],
                "risk": _num(row[RISK]),
                "predicted_label": row[PREDICTED_LABEL],
                "flagged": row["flagged"],
            }
        )
    for row in entities.to_dicts():
        nodes.append(
            {
                "label": row["entity"],
                "type": row["kind"],
                "n_members": row["n_members"],
                "n_events": row["n_events"],
                "first_seen": _when(row["first_seen"]),
                "last_seen": _when(row["last_seen"]),
            }
        )
    account_index = pl.DataFrame(
        {ACCOUNT: ids, "_a": np.arange(n_accounts, dtype=np.int64)},
        schema={ACCOUNT: pl.String, "_a": pl.Int64},
    )
    entity_index = entities.select(
        "kind", "entity", (pl.int_range(pl.len()) + n_accounts).cast(pl.Int64).alias("_e")
    )
    use_pairs = uses.join(account_index, on=ACCOUNT).join(entity_index, on=["kind", "entity"])
    use_list = list(zip(use_pairs["_a"].to_list(), use_pairs["_e"].to_list(), strict=True))
    internal = case.account_edges.filter(pl.col("internal"))
    tie_rows = (
        internal.join(account_index.rename({ACCOUNT: "src_id", "_a": "_s"}), on="src_id")
        .join(account_index.rename({ACCOUNT: "dst_id", "_a": "_t"}), on="dst_id")
        .sort(["weight", "src_id", "dst_id"], descending=[True, False, False])
        .head(MAX_DRAWN_TIES)
    )
    tie_list = list(
        zip(
            tie_rows["_s"].to_list(),
            tie_rows["_t"].to_list(),
            tie_rows["weight"].to_list(),
            tie_rows["relation"].to_list(),
            strict=True,
        )
    )
    n = len(nodes)
    src = np.array([s for s, _ in use_list] + [s for s, *_ in tie_list], dtype=np.int64)
    dst = np.array([t for _, t in use_list] + [t for _, t, *_ in tie_list], dtype=np.int64)
    tie_weights = np.array([w for *_, w, _ in tie_list], dtype=np.float64)
    if tie_weights.size:
        tie_weights = 0.5 + np.minimum(tie_weights / max(np.median(tie_weights), 1e-9), 3.0) / 3
    weight = np.concatenate([np.ones(len(use_list)), tie_weights])
    positions, strip = place_nodes(n, src, dst, weight)
    labelled = [
        n_accounts + i
        for i, members_count in enumerate(entities.get_column("_drawn_members").to_list())
        if members_count >= 3
    ][:LABELLED_ENTITIES]
    caption = (
        f"Drawn: {n_accounts:,} of {members.height:,} accounts"
        + (" (the riskiest)" if n_accounts < members.height else "")
        + f", {entities.height:,} of {all_entities.height:,} devices, IPs and targets (those "
        f"used by at least two drawn members, most shared first), and the {len(tie_list):,} "
        f"strongest of {internal.height:,} ties between members. Exports hold the whole subgraph."
    )
    return GraphView(nodes, positions, use_list, tie_list, labelled, caption, strip)


def _risk_colour(risk: float | None) -> str:
    r = 0.0 if risk is None else max(0.0, min(1.0, risk))
    low, mid, high = (46, 125, 50), (239, 143, 0), (198, 40, 40)
    a, b, t = (low, mid, r / 0.5) if r < 0.5 else (mid, high, (r - 0.5) / 0.5)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def _shape(i: int, node: dict[str, Any], x: float, y: float, scale: float) -> str:
    kind = node["type"]
    if kind == "account":
        r = (3.5 + 3.0 * (node.get("risk") or 0.0)) * scale
        return (
            f'<circle class="n account" data-i="{i}" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" '
            f'fill="{_risk_colour(node.get("risk"))}"/>'
        )
    s = min(12.0, 3.5 + 1.2 * math.sqrt(node.get("n_members") or 1))
    if kind == "device":
        return (
            f'<rect class="n device" data-i="{i}" x="{x - s:.1f}" y="{y - s:.1f}" '
            f'width="{2 * s:.1f}" height="{2 * s:.1f}" rx="2"/>'
        )
    if kind == "ip":
        d = s * 1.3
        points = f"{x:.1f},{y - d:.1f} {x + d:.1f},{y:.1f} {x:.1f},{y + d:.1f} {x - d:.1f},{y:.1f}"
    else:
        points = f"{x:.1f},{y - s:.1f} {x + s:.1f},{y + s * 0.8:.1f} {x - s:.1f},{y + s * 0.8:.1f}"
    return f'<polygon class="n {kind}" data-i="{i}" points="{points}"/>'


def graph_svg(view: GraphView) -> str:
    xy = view.positions * np.array([_W - 2 * _PAD, _H - 2 * _PAD]) + _PAD
    parts = [
        f'<svg id="gg-graph" class="graph" viewBox="0 0 {_W:.0f} {_H:.0f}" '
        'role="img" aria-label="cluster graph">'
    ]
    for s, t in view.uses:
        parts.append(
            f'<line class="e uses" data-s="{s}" data-t="{t}" x1="{xy[s, 0]:.1f}" '
            f'y1="{xy[s, 1]:.1f}" x2="{xy[t, 0]:.1f}" y2="{xy[t, 1]:.1f}"/>'
        )
    if view.ties:
        top = max(w for *_, w, _ in view.ties) or 1.0
    for s, t, w, relation in view.ties:
        width = 0.6 + 2.4 * min(1.0, w / top)
        css = relation if relation in _RELATION_COLOURS else ""
        parts.append(
            f'<line class="e tie {css}" data-s="{s}" data-t="{t}" x1="{xy[s, 0]:.1f}" '
            f'y1="{xy[s, 1]:.1f}" x2="{xy[t, 0]:.1f}" y2="{xy[t, 1]:.1f}" '
            f'stroke-width="{width:.2f}"/>'
        )
    if view.strip > 0:
        y = _PAD + (1.0 - view.strip - 0.015) * (_H - 2 * _PAD)
        parts.append(
            f'<line class="grid" x1="{_PAD}" x2="{_W - _PAD}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#cbd5e1" stroke-dasharray="3 4"/><text class="lbl" x="{_PAD}" '
            f'y="{y + 12:.1f}">not linked to the main group</text>'
        )
    # Entities on top (devices above IPs above targets): they are few, and the most shared sit
    # in the middle of their accounts.
    order = [i for i, n in enumerate(view.nodes) if n["type"] == "account"]
    scale = min(1.0, max(0.6, math.sqrt(120 / max(len(order), 1))))
    for kind in ("target", "ip", "device"):
        order += [i for i, n in enumerate(view.nodes) if n["type"] == kind]
    parts += [_shape(i, view.nodes[i], xy[i, 0], xy[i, 1], scale) for i in order]
    taken: list[tuple[float, float, float, float]] = []
    for i in view.labelled:
        node = view.nodes[i]
        name = inert(str(node["label"]))
        name = name if len(name) <= 22 else name[:21] + "…"
        # Labels near the right border go to the left of their node, so they stay visible.
        right = xy[i, 0] > _W - 180
        anchor = ' text-anchor="end"' if right else ""
        width = 6.2 * (len(name) + 6)
        x0 = xy[i, 0] - 9 - width if right else xy[i, 0] + 9
        box = (x0, xy[i, 1] - 20, x0 + width, xy[i, 1] - 6)
        if any(
            not (box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]) for b in taken
        ):
            continue  # would overprint a label already placed
        taken.append(box)
        parts.append(
            f'<text class="lbl" x="{xy[i, 0] + (-9 if right else 9):.1f}" '
            f'y="{xy[i, 1] - 9:.1f}"{anchor}>{html.escape(name)} ({node["n_members"]})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    def swatch(shape: str) -> str:
        return f'<svg width="14" height="14" viewBox="0 0 14 14">{shape}</svg>'

    items = [
        (swatch('<circle cx="7" cy="7" r="5" fill="#2e7d32"/>'), "account, low risk"),
        (swatch('<circle cx="7" cy="7" r="6" fill="#c62828"/>'), "high risk"),
        (swatch('<rect x="2" y="2" width="10" height="10" fill="#1565c0"/>'), "device"),
        (swatch('<polygon points="7,0 14,7 7,14 0,7" fill="#7b1fa2"/>'), "IP"),
        (swatch('<polygon points="7,1 13,12 1,12" fill="#00897b"/>'), "target"),
    ]
    for relation, colour in _RELATION_COLOURS.items():
        line = f'<line x1="0" y1="7" x2="14" y2="7" stroke="{colour}" stroke-width="3"/>'
        items.append((swatch(line), f"tie: {relation}"))
    return (
        '<span class="legend">'
        + "".join(f"<span>{s} {esc(t)}</span>" for s, t in items)
        + "</span>"
    )


# --------------------------------------------------------------------------------------------
# Charts (inline SVG)


def _svg_text(x: float, y: float, text: Any, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{esc(text)}</text>'


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    titles: Sequence[str] | None = None,
    width: float = 420,
    height: float = 230,
    y_label: str = "",
    x_label: str = "",
    tick_every: int = 1,
    marker: tuple[float, str] | None = None,
) -> str:
    """Stacked bars, one stacked segment per series (name, values, colour).

    With one label per bar, labels sit under the bars; with one more label than bars, they mark
    the bar edges (a histogram of a continuous value). ``marker`` = (position in bars, text)
    draws a dashed vertical line there.
    """
    left, right, top, bottom = 44.0, 10.0, 10.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(series[0][1]) if series else 0
    edges = len(labels) == n + 1
    totals = [sum(values[i] for _, values, _ in series) for i in range(n)]
    y_max = _nice_max(max(totals, default=0))
    bar_w = plot_w / max(n, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img">']
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(_svg_text(left - 6, y + 4, _axis(y_max * frac), "end"))
    for i in range(n):
        base = 0.0
        x = left + i * bar_w
        group = ["<g>"]
        if titles:
            group.append(f"<title>{esc(titles[i])}</title>")
        for _, values, colour in series:
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / y_max
            y = top + plot_h - base - h
            group.append(
                f'<rect x="{x + bar_w * 0.08:.2f}" y="{y:.2f}" '
                f'width="{max(bar_w * 0.84, 0.8):.2f}" height="{h:.2f}" fill="{colour}"/>'
            )
            base += h
        group.append("</g>")
        parts.append("".join(group))
    for i, label in enumerate(labels):
        if i % tick_every == 0 or (edges and i == n):
            x = left + (i if edges else i + 0.5) * bar_w
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14:.1f}" '
                f'text-anchor="middle">{esc(label)}</text>'
            )
    if marker is not None:
        x = left + marker[0] * bar_w
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#c62828" '
            f'stroke-dasharray="4 3"/><text x="{x + 4:.1f}" y="{top + 10}" fill="#c62828">'
            f"{esc(marker[1])}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/>'
    )
    if x_label:
        parts.append(_svg_text(left + plot_w / 2, height - 6, x_label, "middle"))
    if y_label:
        parts.append(
            f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{esc(y_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _axis(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _legend_items(series: Sequence[tuple[str, Any, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span><svg width="12" height="12"><rect width="12" height="12" fill="{c}"/></svg> '
            f"{esc(name)}</span>"
            for name, _, c in series
        )
        + "</div>"
    )


_BIN_HOURS = (1, 2, 3, 6, 12, 24, 48, 72, 168)
_MAX_BARS = 180
_MAX_EVENT_TYPES = 6


def timeline_html(activity: pl.DataFrame) -> str:
    """The cluster's events over time, stacked by event type, binned to at most 180 bars."""
    if activity.is_empty():
        return '<p class="muted">No activity recorded for this cluster.</p>'
    start, end = activity["hour"].min(), activity["hour"].max()
    hours = int((end - start).total_seconds() // 3600) + 1
    bin_hours = next((b for b in _BIN_HOURS if hours / b <= _MAX_BARS), _BIN_HOURS[-1])
    n_bins = hours // bin_hours + 1
    by_type = (
        activity.group_by("event_type")
        .agg(pl.col("n_events").sum().alias("total"))
        .sort(["total", "event_type"], descending=[True, False])
    )
    kept = by_type["event_type"].head(_MAX_EVENT_TYPES).to_list()
    binned = (
        activity.with_columns(
            ((pl.col("hour") - pl.lit(start)).dt.total_hours() // bin_hours).alias("_bin"),
            pl.when(pl.col("event_type").is_in(kept))
            .then(pl.col("event_type"))
            .otherwise(pl.lit("other"))
            .alias("_type"),
        )
        .group_by("_bin", "_type")
        .agg(pl.col("n_events").sum())
    )
    names = kept + (["other"] if by_type.height > len(kept) else [])
    counts = {name: [0.0] * n_bins for name in names}
    for b, kind, count in binned.iter_rows():
        counts[kind][int(b)] += count
    series = [
        (name, counts[name], _SERIES_COLOURS[i % len(_SERIES_COLOURS)])
        for i, name in enumerate(names)
    ]
    starts = [start + timedelta(hours=i * bin_hours) for i in range(n_bins)]
    # Over a few days a date alone would repeat under every tick; show the hour too.
    labels = [s.strftime("%d %H:%M" if hours <= 72 else "%b %d") for s in starts]
    titles = [
        f"{s.strftime('%Y-%m-%d %H:%M')} UTC, {bin_hours} h: "
        + ", ".join(f"{int(counts[name][i])} {name}" for name in names if counts[name][i])
        for i, s in enumerate(starts)
    ]
    chart = bar_chart(
        labels,
        series,
        titles=titles,
        width=1000,
        height=200,
        y_label="events",
        tick_every=max(1, n_bins // 10),
    )
    hourly = (
        activity.group_by("hour")
        .agg(pl.col("n_events").sum(), pl.col("n_accounts").max())
        .sort(["n_events", "hour"], descending=[True, False])
    )
    peak = hourly.row(0, named=True)
    note = (
        f"Bars of {bin_hours} h. Busiest hour: {_when(peak['hour'])}, {peak['n_events']:,} events "
        f"by at least {peak['n_accounts']:,} accounts. Active in {hourly.height:,} of "
        f"{hours:,} hours."
    )
    return f'{_legend_items(series)}{chart}<p class="caption">{esc(note)}</p>'


def _line_chart(
    curves: Sequence[tuple[str, Sequence[float], Sequence[float], str]],
    points: Sequence[tuple[str, float, float, str]] = (),
    *,
    baseline: float | None = None,
    width: float = 420,
    height: float = 230,
    x_label: str = "recall",
    y_label: str = "precision",
) -> str:
    left, right, top, bottom = 44.0, 12.0, 10.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * plot_w, top + (1 - y) * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img">']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        gx, gy = at(frac, frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{gy:.1f}" y2="{gy:.1f}"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end">{frac:g}</text>')
        parts.append(
            f'<text x="{gx:.1f}" y="{top + plot_h + 14:.1f}" text-anchor="middle">{frac:g}</text>'
        )
    if baseline is not None:
        _, by = at(0, baseline)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{by:.1f}" y2="{by:.1f}" stroke="#94a3b8" '
            f'stroke-dasharray="4 3"/><text x="{left + plot_w - 4}" y="{by - 4:.1f}" '
            f'text-anchor="end">base rate {baseline:.2f}</text>'
        )
    for name, xs, ys, colour in curves:
        path = " ".join(f"{at(x, y)[0]:.1f},{at(x, y)[1]:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
            f"<title>{esc(name)}</title></polyline>"
        )
    for name, x, y, colour in points:
        px, py = at(x, y)
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="#fff" stroke="{colour}" '
            f'stroke-width="2.5"><title>{esc(name)}</title></circle>'
        )
    parts.append(_svg_text(left + plot_w / 2, height - 6, x_label, "middle"))
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{esc(y_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# Case file


_MEMBER_SHARES = ("p_sync", "p_shared_device", "p_shared_ip", "p_exclusive", "p_single_use_device")


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
        risk = _num(row.get(RISK)) or 0.0
        cells = [
            f'<td class="num" data-v="{m + 1}">{m + 1}</td>',
            f'<td class="id" data-v="{esc(row[ACCOUNT])}">{esc(row[ACCOUNT])}</td>',
            f'<td class="num" data-v="{risk:.6f}">{risk:.2f}<span class="rbar"><i style="'
            f'width:{risk * 100:.0f}%;background:{_risk_colour(risk)}"></i></span></td>',
            f'<td data-v="{esc(row.get(PREDICTED_LABEL))}">{_badge(row.get(PREDICTED_LABEL))}</td>',
            f'<td data-v="{int(bool(row.get("flagged")))}">'
            + ('<span class="badge flag">flagged</span>' if row.get("flagged") else "")
            + "</td>",
        ]
        if known:
            label = row.get("known_label")
            cells.append(f'<td data-v="{esc(label)}">{"" if label is None else esc(label)}</td>')
        for column in shares:
            value = _num(row.get(column))
            cells.append(f'<td class="num" data-v="{value or 0:.6f}">{_pct(value)}</td>')
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


def render_case_html(case: Case, *, report_href: str | None = None) -> str:
    """The case file of one cluster as a self-contained HTML page."""
    cluster = case.cluster
    cid = case.cluster_id
    view = graph_view(case)
    explanations = explain_members(case)
    member_ids = case.members.get_column(ACCOUNT).to_list()
    node_of_member = {n["m"]: i for i, n in enumerate(view.nodes) if n["type"] == "account"}
    back = f'<a href="{esc(report_href)}">← run report</a> · ' if report_href else ""
    pseudo = (
        " · identifiers pseudonymised (" + esc(", ".join(case.pseudonyms["kinds"])) + ")"
        if case.pseudonyms
        else ""
    )
    size = cluster.get(SIZE) or 0
    header = (
        '<header class="top">'
        f'<div class="crumbs">{back}graphguard case file{pseudo}</div>'
        f"<h1>Cluster {esc(cid)} {_badge(cluster.get(PREDICTED_LABEL))}</h1>"
        '<div class="facts">'
        f"<span>suspicion <b>{_fixed(cluster.get(SUSPICION), 3)}</b></span>"
        f"<span>rank <b>{esc(cluster.get('rank'))}</b></span>"
        f"<span><b>{esc(size)}</b> accounts, <b>{esc(cluster.get('n_flagged'))}</b> flagged</span>"
        f"<span>first seen <b>{esc(_when(cluster.get('first_seen')))}</b></span>"
        f"<span>last seen <b>{esc(_when(cluster.get('last_seen')))}</b></span>"
        "</div></header>"
    )
    sentences = "".join(
        f'<li class="{level}">{esc(text)}</li>'
        for text, level in evidence_sentences(cluster, case.meta)
    )
    meters = "".join(
        _meter(name, cluster.get(column), hint)
        for name, column, hint in (
            ("suspicion", SUSPICION, "how likely the cluster is a coordinated operation"),
            ("behaviour", "behaviour_score", "engagement in bursts on the same targets"),
            ("infrastructure", "infrastructure_score", "shared devices/IPs with other signals"),
            ("bot-likeness", "bot_likeness", "shared hardware or single-use fingerprints"),
            ("internal density", "internal_density", "share of member pairs that are tied"),
            ("mean member risk", "mean_risk", "average risk of the members"),
        )
        if column in cluster
    )
    detector = (
        f'<p class="detector">Detector\'s summary: {esc(cluster.get(EVIDENCE))}</p>'
        if cluster.get(EVIDENCE)
        else ""
    )
    evidence = (
        '<section class="card"><h2>Why this cluster is suspicious</h2>'
        f'<ul class="evidence">{sentences}</ul><div class="scores">{meters}</div>'
        f"{detector}</section>"
    )
    graph = (
        '<section class="card"><h2>Graph <small>accounts coloured by risk, the devices, IPs '
        "and targets they share, ties between members by relation</small></h2>"
        '<div class="toolbar">'
        '<input id="gg-search" type="search" placeholder="find account, device, IP…">'
        '<span id="gg-hits" class="muted"></span>'
        '<button id="gg-zoom-in" type="button" title="zoom in">+</button>'
        '<button id="gg-zoom-out" type="button" title="zoom out">−</button>'
        '<button id="gg-reset" type="button">reset</button>'
        f"{_legend()}</div>"
        f'<div class="graphbox">{graph_svg(view)}<div class="tip"></div>'
        '<aside class="details" id="gg-details"></aside></div>'
        f'<p class="caption">{esc(view.caption)} Click a node for details (an account: why it '
        "is here and what drove its risk); drag to pan, scroll to zoom.</p></section>"
    )
    top_row = f'<div class="casegrid">{evidence}{graph}</div>'
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
    data = {
        "cluster_id": cid,
        "nodes": view.nodes,
        "explain": [explanations[account] for account in member_ids],
    }
    body = "\n".join([top_row, timeline, members, params])
    return _page(f"graphguard · cluster {cid}", header, body, data)


# --------------------------------------------------------------------------------------------
# Run report


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


def precision_recall(scores: np.ndarray, abusive: np.ndarray, *, max_points: int = 300) -> dict:
    """Precision-recall curve of ``scores`` against boolean ``abusive``, thinned for drawing."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(abusive, scores)
    keep = np.unique(np.linspace(0, len(recall) - 1, min(len(recall), max_points)).astype(int))
    return {
        "recall": recall[keep].tolist(),
        "precision": precision[keep].tolist(),
        "average_precision": float(average_precision_score(abusive, scores)),
        "base_rate": float(abusive.mean()),
    }


def _label_sets(run: Run, truth: pl.DataFrame | None) -> list[tuple[str, pl.DataFrame]]:
    """(name, frame of risk, flagged, abusive) for each label source at hand."""
    sets = []
    flagged = pl.col("flagged") if "flagged" in run.accounts.columns else pl.lit(None)
    if "known_label" in run.accounts.columns:
        known = run.accounts.filter(pl.col("known_label").is_not_null()).select(
            RISK, flagged.alias("flagged"), (pl.col("known_label") != BENIGN).alias("abusive")
        )
        if known.height:
            sets.append(("labels given to detect", known))
    if truth is not None:
        scored = (
            truth.select(pl.col(ACCOUNT).cast(pl.String), pl.col("label").cast(pl.String))
            .join(
                run.accounts.select(ACCOUNT, RISK, flagged.alias("flagged")), on=ACCOUNT, how="left"
            )
            .select(
                pl.col(RISK).fill_null(0.0),
                pl.col("flagged").fill_null(False),
                (pl.col("label") != BENIGN).alias("abusive"),
            )
        )
        if scored.height:
            sets.append(("truth file", scored))
    return sets


def _pr_section(run: Run, truth: pl.DataFrame | None) -> str:
    sets = _label_sets(run, truth)
    usable = [(n, f) for n, f in sets if 0 < int(f["abusive"].sum()) < f.height]
    if not usable:
        return (
            '<section class="card"><h2>Precision and recall</h2><p class="muted">No labels: '
            "run detect with --labels, or pass --truth, to see precision-recall curves.</p>"
            "</section>"
        )
    curves, points, notes = [], [], []
    for i, (name, frame) in enumerate(usable):
        colour = _SERIES_COLOURS[i]
        pr = precision_recall(frame[RISK].to_numpy(), frame["abusive"].to_numpy())
        curves.append(
            (f"{name}: AP {pr['average_precision']:.3f}", pr["recall"], pr["precision"], colour)
        )
        note = (
            f"{name}: {frame.height:,} accounts, {int(frame['abusive'].sum()):,} abusive; "
            f"average precision {pr['average_precision']:.3f}"
        )
        if frame["flagged"].null_count() < frame.height:
            hit = frame.filter(pl.col("flagged"))
            tp = int(hit["abusive"].sum())
            positives = int(frame["abusive"].sum())
            p = tp / hit.height if hit.height else 0.0
            r = tp / positives
            points.append(
                (f"{name}: flagged accounts (precision {p:.2f}, recall {r:.2f})", r, p, colour)
            )
            note += f"; at the flag threshold precision {p:.2f}, recall {r:.2f}"
        notes.append(note)
    chart = _line_chart(curves, points, baseline=float(usable[0][1]["abusive"].mean()))
    legend = _legend_items([(c[0], None, c[3]) for c in curves])
    caveat = (
        " Labels given to detect are not held out: if a model learnt from them, their curve is "
        "optimistic."
        if any(n == "labels given to detect" for n, _ in usable)
        else ""
    )
    return (
        '<section class="card"><h2>Precision and recall <small>account risk against labels; '
        f"circles: the flagged accounts</small></h2>{legend}{chart}"
        f'<p class="caption">{esc("; ".join(notes) + "." + caveat)}</p></section>'
    )


def render_run_html(
    run: Run,
    *,
    case_files: Mapping[int, str] | None = None,
    truth: pl.DataFrame | None = None,
    top: int = 50,
) -> str:
    """The run report: headline counts, distributions, PR curves, ranked clusters, parameters.

    Args:
        run: the loaded run.
        case_files: cluster id -> relative link of its case file.
        truth: optional truth or labels table (account_id, label) for precision-recall curves.
        top: clusters listed in the ranked table.
    """
    case_files = case_files or {}
    summary = run_summary(run)
    meta = run.meta
    ingest = _section(meta, "ingest")
    ranked = run.clusters.sort(SUSPICION, descending=True, nulls_last=True, maintain_order=True)
    threshold = _num(summary.get("risk_threshold"))
    flagged_clusters = (
        int((ranked[SUSPICION] >= threshold).sum())
        if threshold is not None and ranked.height
        else None
    )
    header = (
        '<header class="top"><div class="crumbs">graphguard run report</div>'
        f'<h1>Run {esc(run.path.name or str(run.path))}</h1><div class="facts">'
        f"<span>run directory <b>{esc(str(run.path))}</b></span>"
        f"<span>created <b>{esc(meta.get('created_at'))}</b></span>"
        f"<span>graphguard <b>{esc(meta.get('graphguard_version'))}</b></span></div></header>"
    )
    tiles = [
        ("events used", ingest.get("rows_used")),
        ("accounts", summary["accounts"]),
        ("clusters reported", summary["clusters_reported"]),
        ("clusters flagged", flagged_clusters),
        ("accounts flagged", summary["accounts_flagged"]),
        ("flag threshold (risk)", summary["risk_threshold"]),
    ]
    tiles_html = (
        '<section class="card"><div class="tiles">'
        + "".join(f'<div class="tile"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in tiles)
        + "</div></section>"
    )
    sizes = [int(s) for s in ranked[SIZE].drop_nulls().to_list()]
    size_labels, size_counts = _size_bins(sizes)
    size_chart = bar_chart(
        size_labels,
        [("clusters", size_counts, "#2563eb")],
        titles=[
            f"{int(c)} clusters of size {lab}"
            for lab, c in zip(size_labels, size_counts, strict=True)
        ],
        x_label="accounts per cluster",
        y_label="clusters",
    )
    suspicion = [float(s) for s in ranked[SUSPICION].drop_nulls().to_list()]
    bins = 20
    counts = [0.0] * bins
    for value in suspicion:
        counts[min(bins - 1, max(0, int(value * bins)))] += 1
    cut = bins if threshold is None else int(math.floor(threshold * bins))
    low = [c if i < cut else 0.0 for i, c in enumerate(counts)]
    high = [c if i >= cut else 0.0 for i, c in enumerate(counts)]
    suspicion_chart = bar_chart(
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
    charts = (
        '<div class="row3">'
        f'<section class="card"><h2>Cluster sizes</h2>{size_chart}</section>'
        f'<section class="card"><h2>Cluster suspicion</h2>{suspicion_chart}</section>'
        f"{_pr_section(run, truth)}</div>"
    )
    rows = []
    flagged_col = "n_flagged" in ranked.columns
    for rank, row in enumerate(ranked.head(top).to_dicts(), start=1):
        cid = row[CLUSTER_ID]
        link = case_files.get(cid)
        name = f'<a href="{esc(link)}">cluster {esc(cid)}</a>' if link else f"cluster {esc(cid)}"
        value = _num(row.get(SUSPICION)) or 0.0
        rows.append(
            "<tr>"
            f'<td class="num" data-v="{rank}">{rank}</td>'
            f'<td class="nowrap" data-v="{cid}">{name}</td>'
            f'<td class="num" data-v="{row.get(SIZE) or 0}">{esc(row.get(SIZE))}</td>'
            f'<td class="num" data-v="{value:.6f}">{value:.3f}<span class="rbar"><i style="width:'
            f'{value * 100:.0f}%;background:{_risk_colour(value)}"></i></span></td>'
            f'<td data-v="{esc(row.get(PREDICTED_LABEL))}">{_badge(row.get(PREDICTED_LABEL))}</td>'
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
        '<th class="sortable num">size</th><th class="sortable num">suspicion</th>'
        '<th class="sortable">label</th>'
        + ('<th class="sortable num">flagged</th>' if flagged_col else "")
        + '<th class="sortable">relation</th><th>evidence</th>'
    )
    shown = min(top, ranked.height)
    cases_note = f"; case files for the top {len(case_files)}" if case_files else ""
    table = (
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
    rejected = ingest.get("rows_rejected")
    ingest_rows = [
        ("rows read", ingest.get("rows_read")),
        ("duplicates dropped", ingest.get("duplicates_dropped")),
        ("rows rejected", sum(rejected.values()) if isinstance(rejected, dict) else None),
        ("rows used", ingest.get("rows_used")),
        *[(f"rejected: {k}", v) for k, v in (rejected or {}).items()],
        *[(f"stage seconds: {k}", v) for k, v in _section(meta, "timings_s").items()],
    ]
    params = (
        '<section class="card"><h2>How this was produced <small>from run.json</small></h2>'
        f"{parameters_html(meta)}<h3>Ingest and timings</h3>{_kv_table(ingest_rows)}</section>"
    )
    body = "\n".join([tiles_html, charts, table, params])
    return _page(f"graphguard report · {run.path.name}", header, body, {"report": True})


def write_html_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    cases: int = 10,
    top: int = 50,
    truth_path: str | Path | None = None,
) -> list[Path]:
    """Write the run report (default ``<run_dir>/report.html``) and, next to it, the case files
    ``cluster-<id>.html`` of the ``cases`` most suspicious clusters. Returns the paths, report
    first."""
    run = load_run(run_dir)
    report_path = Path(out) if out is not None else run.path / "report.html"
    truth = None
    if truth_path is not None:
        from graphguard.evaluation.evaluate import read_truth

        truth = read_truth(truth_path)
        missing = [c for c in (ACCOUNT, "label") if c not in truth.columns]
        if missing:
            raise ValueError(f"{Path(truth_path).name}: missing column {missing[0]!r}")
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
    page = render_run_html(run, case_files=case_files, truth=truth, top=top)
    return [write_text_atomic(page, report_path), *written]
