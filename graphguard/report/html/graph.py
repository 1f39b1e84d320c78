"""The case graph: which nodes and edges it draws, where they go, and the SVG.

`graph_view` picks the riskiest accounts and the devices, IPs and targets they share (within the
limits below) and lays them out, by default with `kind_layout` (accounts on an outer ring, what
they share inside, grouped by kind; deterministic), or with the older seeded force layout
(`place_nodes`, `force_layout`), which draws a 200-account ring as a hairball
(experiments/casework/layout.md measures both). `graph_data` is what the page's script hands to
the vendored Cytoscape.js (``vendor/``), which draws, pans and zooms.
"""

from __future__ import annotations

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
#: Layouts `graph_view` knows.
LAYOUTS = ("kinds", "force")
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


#: Order of the entity kinds around the inner ring of `kind_layout`.
_KIND_ORDER = ("device", "ip", "target")
#: Radii of `kind_layout` (the frame is [-1, 1]^2 before scaling): the hub ring of entities most
#: members share, the farthest an entity few share sits out, and the accounts' rings.
_HUB_RADIUS = 0.3
_OUTER_ENTITY_RADIUS = 0.8
_ACCOUNT_RADII = (1.0, 0.92)
#: An entity used by at least this share of the drawn accounts is a hub (inner ring, by kind).
_HUB_SHARE = 0.5
#: Rounds of barycentre ordering (accounts by their entities, entities by their accounts).
_ORDER_ROUNDS = 4


def _mean_angle(angle: np.ndarray, groups: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Circular mean of ``angle`` per group (NaN where a group has none) and the group sizes."""
    sx = np.bincount(groups, np.cos(angle), n)
    sy = np.bincount(groups, np.sin(angle), n)
    count = np.bincount(groups, minlength=n)
    mean = np.where(count > 0, np.arctan2(sy, sx), np.nan)
    return mean, count


def kind_layout(
    kinds: list[str], src: np.ndarray, dst: np.ndarray, tie_src: np.ndarray, tie_dst: np.ndarray
) -> np.ndarray:
    """Accounts on an outer ring, the devices, IPs and targets they share inside it; positions
    in [0, 1]^2, deterministic (no randomness at all).

    ``kinds[i]`` is ``account`` or an entity kind; accounts come first. ``src`` -> ``dst`` are
    account -> entity uses, ``tie_src``/``tie_dst`` account-account ties. Entities most drawn
    accounts use (the ring's hubs) sit on a small inner ring, one sector per kind; an entity few
    of them use sits between the centre and its accounts, the farther out the fewer. The order
    around the rings comes from a few rounds of barycentre sorting (an account at the mean angle
    of its entities, an entity at the mean angle of its accounts), which keeps uses short and
    radial: accounts on one device sit side by side with it. Accounts with no drawn entity take
    the mean angle of their ties, then close the ring in their given order.
    """
    n = len(kinds)
    pos = np.full((n, 2), 0.5)
    n_accounts = sum(1 for k in kinds if k == "account")
    n_entities = n - n_accounts
    if n <= 1:
        return pos
    kind_of = np.array(
        [_KIND_ORDER.index(k) if k in _KIND_ORDER else 3 for k in kinds[n_accounts:]], dtype=int
    )
    e_src, e_dst = src, dst - n_accounts
    share = np.bincount(e_dst, minlength=n_entities) / max(n_accounts, 1)
    hub = share >= _HUB_SHARE
    # Hub sectors: each kind's share of the inner ring, at least a little for a lone hub.
    counts = np.bincount(kind_of[hub], minlength=4).astype(float)
    width = np.where(counts > 0, np.maximum(counts, 0.06 * max(hub.sum(), 1)), 0.0)
    bounds = np.concatenate([[0.0], np.cumsum(width)]) / max(width.sum(), 1e-9) * 2 * np.pi
    entity_rank = np.arange(n_entities, dtype=float)  # given order: most shared first
    account_angle = 2 * np.pi * (np.arange(n_accounts) + 0.5) / max(n_accounts, 1)
    entity_angle = np.zeros(n_entities)

    def place_entities() -> None:
        rel, rel_count = _mean_angle(account_angle[e_src], e_dst, n_entities)
        free = ~hub
        entity_angle[free] = np.where(rel_count[free] > 0, rel[free], 0.0)
        for kind in range(4):
            members = np.flatnonzero(hub & (kind_of == kind))
            if members.size:
                order = members[np.lexsort((members, entity_rank[members]))]
                step = (bounds[kind + 1] - bounds[kind]) / order.size
                entity_angle[order] = bounds[kind] + step * (np.arange(order.size) + 0.5)
        ranked = np.where(rel_count > 0, np.mod(rel - bounds[0], 2 * np.pi), entity_rank)
        entity_rank[:] = ranked

    for _ in range(_ORDER_ROUNDS):
        place_entities()
        # Accounts follow what they use; hubs pull everyone alike, so only the others count
        # where an account has any.
        weight = np.where(hub[e_dst], 0.05, 1.0)
        sx = np.bincount(e_src, weight * np.cos(entity_angle[e_dst]), n_accounts)
        sy = np.bincount(e_src, weight * np.sin(entity_angle[e_dst]), n_accounts)
        count = np.bincount(e_src, minlength=n_accounts)
        mean = np.where(count > 0, np.arctan2(sy, sx), np.nan)
        if tie_src.size:
            both = np.concatenate([tie_src, tie_dst])
            other = np.concatenate([tie_dst, tie_src])
            known = ~np.isnan(mean[other])
            tie_mean, _ = _mean_angle(mean[other[known]], both[known], n_accounts)
            mean = np.where(count > 0, mean, tie_mean)
        key = np.where(np.isnan(mean), 10.0, np.mod(mean, 2 * np.pi))  # unplaced ones last
        order = np.lexsort((np.arange(n_accounts), key))
        account_angle[order] = 2 * np.pi * (np.arange(n_accounts) + 0.5) / max(n_accounts, 1)
    place_entities()
    # Alternate two radii where the account ring is crowded, so neighbours do not overprint.
    crowded = n_accounts > 160
    rank = np.argsort(np.argsort(account_angle))
    a_radius = np.where(crowded & (rank % 2 == 1), _ACCOUNT_RADII[1], _ACCOUNT_RADII[0])
    e_radius = np.where(
        hub,
        _HUB_RADIUS,
        _HUB_RADIUS + (_OUTER_ENTITY_RADIUS - _HUB_RADIUS) * (1 - share / _HUB_SHARE),
    )
    angle = np.concatenate([account_angle, entity_angle]) - np.pi / 2
    radius = np.concatenate([a_radius, e_radius])
    pos[:, 0] = 0.5 + 0.5 * radius * np.cos(angle)
    pos[:, 1] = 0.5 + 0.5 * radius * np.sin(angle)
    return pos


@dataclass
class GraphView:
    """What a case graph draws: node records (index = node id in the SVG) and edges."""

    nodes: list[dict[str, Any]]
    positions: np.ndarray
    uses: list[tuple[int, int]]
    ties: list[tuple[int, int, float, str]]
    labelled: list[int]
    caption: str
    layout: str = "kinds"


def graph_view(case: Case, *, layout: str = "kinds") -> GraphView:
    """The part of the case's subgraph that is drawn, laid out.

    ``layout``: ``kinds`` (`kind_layout`: accounts around, what they share inside, the default)
    or ``force`` (`place_nodes`, the seeded force layout the case files drew before).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
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
    if layout == "force":
        positions, _ = place_nodes(n, src, dst, weight)
    else:
        kinds = [node["type"] for node in nodes]
        n_uses = len(use_list)
        positions = kind_layout(kinds, src[:n_uses], dst[:n_uses], src[n_uses:], dst[n_uses:])
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
    return GraphView(nodes, positions, use_list, tie_list, labelled, caption, layout)


def _node_size(node: dict[str, Any], scale: float) -> float:
    if node["type"] == "account":
        return 2 * (3.5 + 3.0 * (node.get("risk") or 0.0)) * scale
    return 2 * min(12.0, 3.5 + 1.2 * math.sqrt(node.get("n_members") or 1))


def graph_data(view: GraphView) -> dict[str, Any]:
    """What the page's script draws (with the vendored Cytoscape.js): every node record with its
    position in a 1000 x 620 frame, size, colour and caption, and the edges as ``[source,
    target, class, width]`` (class ``uses`` or the tie's relation). Node ids are indices, never
    the attacker-controlled labels."""
    xy = view.positions * np.array([_W - 2 * _PAD, _H - 2 * _PAD]) + _PAD
    n_accounts = sum(1 for n in view.nodes if n["type"] == "account")
    scale = min(1.0, max(0.6, math.sqrt(120 / max(n_accounts, 1))))
    captions = {i: inert(str(view.nodes[i]["label"])) for i in view.labelled}
    nodes = []
    for i, node in enumerate(view.nodes):
        drawn = dict(node, x=round(float(xy[i, 0]), 1), y=round(float(xy[i, 1]), 1))
        drawn["size"] = round(_node_size(node, scale), 1)
        if node["type"] == "account":
            drawn["colour"] = risk_colour(node.get("risk"))
        if i in captions:
            name = captions[i]
            name = name if len(name) <= 22 else name[:21] + "…"
            drawn["caption"] = f"{name} ({node['n_members']})"
        nodes.append(drawn)
    edges: list[list[Any]] = [[s, t, "uses", 0.7] for s, t in view.uses]
    if view.ties:
        top = max(w for *_, w, _ in view.ties) or 1.0
        for s, t, w, relation in view.ties:
            css = relation if relation in RELATION_COLOURS else "tie"
            edges.append([s, t, css, round(0.6 + 2.4 * min(1.0, w / top), 2)])
    # In the kinds layout what members share is drawn, so ties (which mostly repeat it, as
    # chords across the ring) start hidden; the force layout drew them.
    return {
        "nodes": nodes,
        "edges": edges,
        "layout": view.layout,
        "show_ties": view.layout == "force",
    }


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
