"""Per-component Leiden (graphguard.community.leiden) against the whole-graph Leiden it replaced.

Quality, on simulated worlds of seeds no test uses (no labels used): the detection metrics of
benchmarks/eval_unsupervised.py and the modularity of the partition over the whole graph, for
both procedures on the same account graph:

    python benchmarks/leiden/compare.py quality --seeds 401-408 --out experiments/leiden

Speed, on a scale world's account graph (Leiden alone, both procedures, same process):

    python benchmarks/leiden/compare.py speed /work/snap/scale/w10000000/events.parquet \
        --out experiments/leiden
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

import whole_graph_leiden  # noqa: E402
from eval_unsupervised import parse_seeds, summarise  # noqa: E402

from graphguard.community import leiden  # noqa: E402
from graphguard.config import CommunityConfig, DetectConfig  # noqa: E402
from graphguard.evaluation.evaluate import evaluate  # noqa: E402
from graphguard.graph.build import build_account_graph, index_events  # noqa: E402
from graphguard.io import load_events  # noqa: E402
from graphguard.pipeline import stages  # noqa: E402
from graphguard.pipeline.detect import detect  # noqa: E402
from graphguard.simulate import SimulationConfig, simulate  # noqa: E402

#: the setting both procedures were measured with (whole-graph Leiden predates "auto")
CONFIG = DetectConfig(community=CommunityConfig(max_cluster_size=300))
PROCEDURES = {"per_component": leiden.leiden, "whole_graph": whole_graph_leiden.leiden}
KEYS = (
    "auprc",
    "auroc",
    "recall_at_1pct_fpr",
    "campaigns_caught_share",
    "ari",
    "fpr_benign_population",
    "modularity",
    "n_communities",
)


def quality(args: argparse.Namespace) -> dict:
    rows = []
    for seed in parse_seeds(args.seeds):
        world = simulate(SimulationConfig(n_accounts=args.accounts, seed=seed))
        for name, fn in PROCEDURES.items():
            stages.leiden = fn
            try:
                result = detect(world.events, CONFIG)
            finally:
                stages.leiden = leiden.leiden
            row = {
                "seed": seed,
                "procedure": name,
                **summarise(evaluate(result.accounts, world.truth)),
            }
            row["modularity"] = result.community["modularity"]
            row["n_communities"] = result.community["n_communities"]
            rows.append(row)
            print(
                f"seed {seed} {name}: AUPRC {row['auprc']:.4f} caught "
                f"{row['campaigns_caught']} modularity {row['modularity']:.5f}",
                file=sys.stderr,
            )
    summary = {}
    for name in PROCEDURES:
        mine = [r for r in rows if r["procedure"] == name]
        summary[name] = {k: sum(r[k] for r in mine) / len(mine) for k in KEYS}
    return {"accounts": args.accounts, "seeds": args.seeds, "summary": summary, "per_seed": rows}


def speed(args: argparse.Namespace) -> dict:
    config = CONFIG
    events, _, _ = load_events(args.events, config.data)
    indexed, account_ids = index_events(events)
    del events
    graph = build_account_graph(indexed, len(account_ids), config.graph)
    del indexed
    out = {"events": str(args.events), "accounts": len(account_ids), "edges": graph.edges.height}
    for name in ("per_component", "whole_graph"):
        start = time.perf_counter()
        partition = PROCEDURES[name](len(account_ids), graph.edges, config.community)
        out[name] = {
            "seconds": round(time.perf_counter() - start, 2),
            "modularity": partition.quality,
            "clusters": int(partition.membership.max()) + 1,
            "clustered_accounts": int((partition.membership >= 0).sum()),
            "parameters": {
                k: v
                for k, v in partition.parameters.items()
                if k in ("components_partitioned", "largest_component", "refined_communities")
            },
        }
        print(name, out[name], file=sys.stderr)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--seeds", default="401-408")
    q.add_argument("--accounts", type=int, default=20_000)
    s = sub.add_parser("speed")
    s.add_argument("events", type=Path)
    for p in (q, s):
        p.add_argument("--out", type=Path, default=Path("experiments/leiden"))
    args = parser.parse_args()
    doc = quality(args) if args.what == "quality" else speed(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.what}.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc.get("summary", doc), indent=2))


if __name__ == "__main__":
    main()
