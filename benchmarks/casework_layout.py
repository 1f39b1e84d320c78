"""The case graph's two layouts compared on a 200-account ring and a 12-account one.

For each ring, detect it (the real pipeline), draw its case file with the seeded force layout the
case files used before (``force``) and with `kind_layout` (``kinds``: accounts on an outer ring,
what they share inside, by kind), and measure on the drawn positions (the 1000 x 620 frame the
page draws):

* edge crossings: pairs of edges that cross, sharing no end: as the page draws them by default
  (the force layout draws ties too, the kinds layout hides them behind a button), among all
  edges (uses and ties), and among the uses (account-entity edges) alone;
* node overlaps: pairs of nodes closer than the sum of their drawn radii;
* entity separation: how many accounts sit closer to the centre of the picture than the
  farthest entity (0 when accounts and what they share are separated).

Screenshots of the graph box in headless Chromium (DevTools protocol, `tests/browser.py`) go to
``--out`` as small PNGs, the figures to ``layout.json``.

    python benchmarks/casework_layout.py --out experiments/casework
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphguard.config import CommunityConfig, DetectConfig  # noqa: E402
from graphguard.export import load_cases  # noqa: E402
from graphguard.pipeline.detect import run_detection  # noqa: E402
from graphguard.report.html import graph_data, graph_view, render_case_html  # noqa: E402
from graphguard.rundir import load_run  # noqa: E402
from tests.worlds import T0, frame, ordinary_users  # noqa: E402


def ring_rows(rng: np.random.Generator, size: int, devices: int, ips: int, waves: int) -> list:
    """A ring of ``size`` accounts on ``devices`` shared devices and ``ips`` datacenter IPs,
    liking the ring's targets in waves of a few minutes."""
    rows = []
    for w in range(waves):
        start = T0 + timedelta(days=2 * w + 1, hours=int(rng.integers(0, 20)))
        for a in range(size):
            t = start + timedelta(seconds=int(rng.integers(0, 240)))
            rows.append(
                (
                    t,
                    f"ring{a}",
                    "like",
                    f"ring-dev{a % devices}",
                    f"203.0.113.{a % ips}",
                    f"ring-target{w}",
                )
            )
    return rows


def crossings(xy: np.ndarray, edges: np.ndarray, chunk: int = 256) -> int:
    """Pairs of segments that properly cross, among those sharing no endpoint."""
    p, q = xy[edges[:, 0]], xy[edges[:, 1]]

    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.sign(
            (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1])
            - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
        )

    total = 0
    for start in range(0, len(edges), chunk):
        i = slice(start, start + chunk)
        a, b = p[i, None, :], q[i, None, :]
        c, d = p[None, :, :], q[None, :, :]
        cross = (orient(a, b, c) * orient(a, b, d) < 0) & (orient(c, d, a) * orient(c, d, b) < 0)
        e = edges[i]
        shared = (
            (e[:, None, 0] == edges[None, :, 0])
            | (e[:, None, 0] == edges[None, :, 1])
            | (e[:, None, 1] == edges[None, :, 0])
            | (e[:, None, 1] == edges[None, :, 1])
        )
        later = np.arange(start, start + len(e))[:, None] < np.arange(len(edges))[None, :]
        total += int((cross & ~shared & later).sum())
    return total


def measure(data: dict) -> dict:
    nodes = data["nodes"]
    xy = np.array([[n["x"], n["y"]] for n in nodes])
    radius = np.array([n["size"] / 2 for n in nodes])
    edges = np.array([[e[0], e[1]] for e in data["edges"]], dtype=np.int64).reshape(-1, 2)
    uses = np.array([[e[0], e[1]] for e in data["edges"] if e[2] == "uses"], dtype=np.int64)
    shown = edges if data["show_ties"] else uses
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    overlap = np.triu(dist < radius[:, None] + radius[None, :], k=1).sum()
    is_account = np.array([n["type"] == "account" for n in nodes])
    # Distances from the centre of the drawing, the frame's aspect taken out.
    centre = (xy.max(axis=0) + xy.min(axis=0)) / 2
    span = np.maximum((xy.max(axis=0) - xy.min(axis=0)) / 2, 1e-9)
    r = np.hypot(*((xy - centre) / span).T)
    farthest_entity = r[~is_account].max() if (~is_account).any() else 0.0
    return {
        "accounts": int(is_account.sum()),
        "entities": int((~is_account).sum()),
        "edges": len(edges),
        "uses": len(uses),
        "ties_shown": data["show_ties"],
        "crossings_as_drawn": crossings(xy, shown.reshape(-1, 2)),
        "crossings_all_edges": crossings(xy, edges),
        "use_crossings": crossings(xy, uses.reshape(-1, 2)),
        "node_overlaps": int(overlap),
        "accounts_inside_entities": int((r[is_account] < farthest_entity).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/casework"))
    parser.add_argument("--no-screenshots", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    worlds = {
        "ring200": ordinary_users(rng, 400) + ring_rows(rng, 200, devices=20, ips=2, waves=10),
        "ring12": ordinary_users(rng, 300) + ring_rows(rng, 12, devices=2, ips=1, waves=8),
    }
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pages = {}
        for name, rows in worlds.items():
            events, run_dir = Path(tmp) / f"{name}.parquet", Path(tmp) / name
            frame(rows).write_parquet(events)
            # Modularity at resolution 1 cuts an isolated 200-account ring into pieces of
            # 20-50; a low resolution keeps it whole, as a real campaign's case would be.
            config = DetectConfig(community=CommunityConfig(resolution=0.1))
            run_detection(events, run_dir, config)
            run = load_run(run_dir)
            ring = run.accounts.filter(run.accounts["account_id"] == "ring0")["cluster_id"][0]
            [case] = load_cases(run, [int(ring)])
            for layout in ("force", "kinds"):
                view = graph_view(case, layout=layout)
                results[f"{name}/{layout}"] = {
                    "members": case.members.height,
                    **measure(graph_data(view)),
                }
                page = Path(tmp) / f"{name}-{layout}.html"
                page.write_text(render_case_html(case, layout=layout), encoding="utf-8")
                pages[f"{name}_{layout}"] = page
        if not args.no_screenshots:
            from tests.browser import Browser

            with Browser(width=1500, height=1100) as browser:
                for name, page in pages.items():
                    browser.open(page.as_uri(), ready="document.documentElement.dataset.ready")
                    browser.screenshot(args.out / f"layout_{name}.png", ".graphbox", scale=0.6)
    (args.out / "layout.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
