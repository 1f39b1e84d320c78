"""Per-event volumes of the detector's stages on a simulated world: the measured inputs of the
10B-events-a-day estimate (experiments/benchmarks/estimate_10b.md).

Runs the local engine's index and projections (`graphguard.graph`) on one world (or one block
of a many-block world: ``--block 002`` keeps the accounts whose ids carry that tag) and counts,
per event:

* bytes: Parquet on disk, the canonical frame in memory (strings), and the same events with
  every id made a dense integer (what a distributed engine would shuffle after encoding);
* per projection (device, ip, sync, dense): the occurrence rows each projection partitions by
  entity (one shuffle), the candidate pair rows `windowed_pairs` emits (the second shuffle, by
  account pair), and the account pairs kept after `min_support`; with the bytes per row of each;
* account-entity edges by kind, account-graph edges, and the connected components of the
  account graph (how many, how large: what per-component Leiden would work on).

    python benchmarks/shuffle_profile.py /work/snap/scale/w10000000 --out /tmp/p10m.json
    python benchmarks/shuffle_profile.py /work/snap/scale/w30000000 --block 001 --out /tmp/b1.json

Memory is that of `graphguard detect` on the same events (about 4.5 GiB at 10M).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import igraph as ig  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from graphguard import schema  # noqa: E402
from graphguard.config import GraphConfig  # noqa: E402
from graphguard.graph import projections  # noqa: E402
from graphguard.graph.build import build_account_graph, entity_edges, index_events  # noqa: E402
from graphguard.outputs import write_json_atomic  # noqa: E402


def per_row(frame: pl.DataFrame) -> float | None:
    return round(frame.estimated_size() / frame.height, 2) if frame.height else None


def encoded(events: pl.DataFrame) -> pl.DataFrame:
    """The events with every id a dense integer: u32 account/device/ip/target, u8 type, i64 t."""
    codes = [pl.col(schema.TIME).dt.epoch("us").alias("t")]
    for col in (schema.ACCOUNT, schema.DEVICE, schema.IP, schema.TARGET):
        codes.append(pl.col(col).rank("dense").cast(pl.UInt32).alias(col))
    codes.append(pl.col(schema.EVENT_TYPE).rank("dense").cast(pl.UInt8))
    return events.select(codes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", type=Path, help="folder with events.parquet")
    parser.add_argument("--block", help="three hex digits: only that block's accounts")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    path = args.world / "events.parquet"
    lazy = pl.scan_parquet(path)
    total_events = lazy.select(pl.len()).collect().item()
    if args.block:
        lazy = lazy.filter(pl.col(schema.ACCOUNT).str.slice(1, 3) == args.block)
    events = lazy.collect()
    n = events.height
    if n == 0:
        raise SystemExit(f"no events in {path} for block {args.block!r}")
    result: dict = {
        "world": str(args.world),
        "block": args.block,
        "events": n,
        "bytes_per_event": {
            # a block's share of the file is taken as its share of the events
            "parquet": round(path.stat().st_size / total_events, 2),
            "frame_strings": per_row(events),
            "dense_integers": per_row(encoded(events)),
        },
    }

    calls: list[dict] = []
    real_pairs, real_finish = projections.windowed_pairs, projections._finish

    def counted_pairs(occurrences: pl.DataFrame, **kw):
        start = time.perf_counter()
        out = real_pairs(occurrences, **kw)
        calls.append(
            {
                "key": kw["key"],
                "occurrences": occurrences.height,
                "occurrence_bytes_per_row": per_row(occurrences),
                "pairs": out.height,
                "pair_bytes_per_row": per_row(out),
                "pairs_s": round(time.perf_counter() - start, 3),
            }
        )
        return out

    def counted_finish(pairs, occurrences, weight, cfg, relation):
        start = time.perf_counter()
        out = real_finish(pairs, occurrences, weight, cfg, relation)
        calls[-1].update(
            relation=relation,
            pair_rows_aggregated=pairs.height,  # ip dedups pairs per IP-hour first
            account_pairs_kept=out.height,
            finish_s=round(time.perf_counter() - start, 3),
        )
        return out

    projections.windowed_pairs, projections._finish = counted_pairs, counted_finish
    cfg = GraphConfig()
    start = time.perf_counter()
    indexed, account_ids = index_events(events)
    del events
    result["accounts"] = len(account_ids)
    result["index_s"] = round(time.perf_counter() - start, 3)
    ent = entity_edges(indexed)
    result["entity_edges"] = {
        k: int(v) for k, v in ent.group_by("kind").len().sort("kind").iter_rows()
    }
    del ent
    start = time.perf_counter()
    graph = build_account_graph(indexed, len(account_ids), cfg)
    result["account_graph_s"] = round(time.perf_counter() - start, 3)
    projections.windowed_pairs, projections._finish = real_pairs, real_finish
    result["projections"] = {c.pop("relation"): c for c in calls}
    edges = graph.edges
    result["account_graph_edges"] = edges.height
    result["account_graph_edge_bytes_per_row"] = per_row(edges)

    g = ig.Graph(n=len(account_ids), edges=edges.select("src", "dst").to_numpy().tolist())
    sizes = np.array(g.connected_components().sizes())
    linked = sizes[sizes > 1]
    result["components"] = {
        "linked_components": int(linked.size),
        "accounts_linked": int(linked.sum()),
        "largest": int(sizes.max()),
        "size_quantiles": {
            q: int(np.quantile(linked, float(q))) for q in ("0.5", "0.9", "0.99", "0.999")
        }
        if linked.size
        else {},
        "over_300": int((linked > 300).sum()),
        "over_10000": int((linked > 10_000).sum()),
        "accounts_in_largest_share": round(float(sizes.max()) / len(account_ids), 4),
    }
    per_event = {
        f"{rel}_{what}": round(v[what] / n, 4)
        for rel, v in result["projections"].items()
        for what in ("occurrences", "pairs", "account_pairs_kept")
    }
    per_event["account_graph_edges"] = round(edges.height / n, 4)
    per_event.update(
        {f"entity_edges_{k}": round(v / n, 4) for k, v in result["entity_edges"].items()}
    )
    result["per_event"] = per_event
    result["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    write_json_atomic(result, args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
