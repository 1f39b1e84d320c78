"""The case graph: which nodes and edges it draws, where they go, and the SVG.

`graph_view` picks the riskiest accounts and the devices, IPs and targets they share (within the
limits below), `place_nodes` lays them out with `force_layout` (seeded, so the same run gives the
same picture) and `graph_svg` draws them; the page's script adds pan, zoom and the details panel.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from graphguard.report.html.escape import esc, inert, number, when
from graphguard.report.html.page import risk_colour
from graphguard.rundir import PREDICTED_LABEL, RISK
from graphguard.rundir.cases import Case, entity_nodes
from graphguard.schema import ACCOUNT

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
#: Colours of the ties between members, by relation (the stylesheet uses the same).
RELATION_COLOURS = {"device": "#1565c0", "ip": "#7b1fa2", "sync": "#ef6c00", "dense": "#6d4c41"}


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
    """The part of the case's subgraph that is drawn, laid out."""
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
                "risk": number(row[RISK]),
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
                "first_seen": when(row["first_seen"]),
                "last_seen": when(row["last_seen"]),
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


def _shape(i: int, node: dict[str, Any], x: float, y: float, scale: float) -> str:
    kind = node["type"]
    if kind == "account":
        r = (3.5 + 3.0 * (node.get("risk") or 0.0)) * scale
        return (
            f'<circle class="n account" data-i="{i}" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" '
            f'fill="{risk_colour(node.get("risk"))}"/>'
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
    """The graph as inline SVG; node ``data-i`` attributes index ``view.nodes``."""
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
        css = relation if relation in RELATION_COLOURS else ""
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


def graph_legend() -> str:
    """What the shapes and colours of the graph mean."""

    def swatch(shape: str) -> str:
        return f'<svg width="14" height="14" viewBox="0 0 14 14">{shape}</svg>'

    items = [
        (swatch('<circle cx="7" cy="7" r="5" fill="#2e7d32"/>'), "account, low risk"),
        (swatch('<circle cx="7" cy="7" r="6" fill="#c62828"/>'), "high risk"),
        (swatch('<rect x="2" y="2" width="10" height="10" fill="#1565c0"/>'), "device"),
        (swatch('<polygon points="7,0 14,7 7,14 0,7" fill="#7b1fa2"/>'), "IP"),
        (swatch('<polygon points="7,1 13,12 1,12" fill="#00897b"/>'), "target"),
    ]
    for relation, colour in RELATION_COLOURS.items():
        line = f'<line x1="0" y1="7" x2="14" y2="7" stroke="{colour}" stroke-width="3"/>'
        items.append((swatch(line), f"tie: {relation}"))
    return (
        '<span class="legend">'
        + "".join(f"<span>{s} {esc(t)}</span>" for s, t in items)
        + "</span>"
    )
