"""Rounds and per-round edge rows of the Spark engine's connected components
(`graphguard.spark.components`: alternating large-star and small-star) on a run directory's
account graph, replayed in Polars: an input of the 10B-event estimate
(experiments/benchmarks/estimate_10b.md, ``cc_iterations``) taken without a Spark run.

    python benchmarks/cc_rounds.py /tmp/run-10m [--json /tmp/cc.json]

The replay applies the same two rewrites, with the same stopping rule (no node is both a leaf
and a root), to ``account_edges.parquet``. Accounts are numbered by the order of their ids, as
the Spark engine's index numbers them (the rewrites only compare labels, so ranks among the
linked accounts give the same rounds as ranks among all of them). Each round's rows are what
the Spark round shuffles (about 16 bytes a row: two ints plus UnsafeRow's header).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

MAX_ROUNDS = 200


def _large_star(edges: pl.DataFrame) -> pl.DataFrame:
    both = pl.concat([edges, edges.select(u="v", v="u")])
    smallest = both.group_by("u").agg(m=pl.min_horizontal(pl.col("v").min(), pl.col("u").first()))
    return (
        both.filter(pl.col("v") > pl.col("u"))
        .join(smallest, on="u")
        .select(u="v", v="m")
        .filter(pl.col("u") != pl.col("v"))
        .unique()
    )


def _small_star(edges: pl.DataFrame) -> pl.DataFrame:
    oriented = edges.select(u=pl.max_horizontal("u", "v"), v=pl.min_horizontal("u", "v"))
    smallest = oriented.group_by("u").agg(m=pl.col("v").min())
    linked = oriented.join(smallest, on="u")
    return pl.concat(
        [
            linked.select(u="v", v="m").filter(pl.col("u") != pl.col("v")),
            linked.select("u", v="m"),
        ]
    ).unique()


def rounds(edges: pl.DataFrame) -> list[int]:
    """Rows of the edge set after each round, until it is a forest of stars."""
    sizes = []
    current = edges
    for _ in range(MAX_ROUNDS):
        current = _small_star(_large_star(current))
        sizes.append(current.height)
        leaves = current.select("u").unique()
        roots = current.select(u="v").unique()
        if leaves.join(roots, on="u").height == 0:
            return sizes
    raise RuntimeError(f"did not converge in {MAX_ROUNDS} rounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run directory (account_edges.parquet)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raw = pl.read_parquet(args.run / "account_edges.parquet", columns=["src_id", "dst_id"])
    ids = pl.concat([raw["src_id"], raw["dst_id"]]).unique().sort()
    code = pl.DataFrame({"id": ids, "code": pl.int_range(ids.len(), dtype=pl.Int64, eager=True)})
    edges = (
        raw.join(code.rename({"id": "src_id", "code": "u"}), on="src_id")
        .join(code.rename({"id": "dst_id", "code": "v"}), on="dst_id")
        .select(u=pl.min_horizontal("u", "v"), v=pl.max_horizontal("u", "v"))
        .filter(pl.col("u") != pl.col("v"))
    )
    sizes = rounds(edges)
    doc = {
        "run": str(args.run),
        "edges": edges.height,
        "accounts_linked": ids.len(),
        "cc_iterations": len(sizes),
        "rows_per_round": sizes,
        "rows_all_rounds": sum(sizes),
    }
    text = json.dumps(doc, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text, file=sys.stdout)


if __name__ == "__main__":
    main()
