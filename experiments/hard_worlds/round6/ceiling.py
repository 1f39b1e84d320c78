"""What any arm that reads the account graph can reach on a hard world (section 5, round 6).

For every seed: the hard world through the pipeline as `benchmarks/hard_worlds.prepare` does
(`graph.sync.min_support=1`), then from the truth:

    graph-silent     campaign members with no member of their own campaign among their
                     neighbours in any relation of the account graph (sync, dense, device, ip)
    graph ceiling    AUPRC on the 40%-labels run's unlabelled accounts of a score that is
                     perfect except on graph-silent members, which it ranks among the benign
                     accounts at random (the graph carries nothing that ties them to a ring)

    python experiments/hard_worlds/round6/ceiling.py 3-7 experiments/hard_worlds/round6/ceiling.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import hard_worlds as hw  # noqa: E402

from graphguard import schema  # noqa: E402
from graphguard.compose import compose_config, settings  # noqa: E402
from graphguard.graph.inputs import label_codes  # noqa: E402
from graphguard.metrics import auprc  # noqa: E402
from graphguard.outputs import write_json_atomic  # noqa: E402
from graphguard.simulate import SimulationConfig, simulate  # noqa: E402


def audit(seed: int, rate: float = 0.4) -> dict:
    config = settings(compose_config(["graph.sync.min_support=1"])).detect
    world = simulate(SimulationConfig(n_accounts=4000, seed=seed, difficulty="hard"))
    prep = hw.prepare(world, config)
    campaign = (
        pl.DataFrame({schema.ACCOUNT: prep["ids"].cast(pl.String)})
        .join(world.truth.select(schema.ACCOUNT, "campaign_id"), on=schema.ACCOUNT, how="left")
        .get_column("campaign_id")
    )
    code = campaign.cast(pl.String).fill_null("").to_numpy()
    member = code != ""
    src, dst = np.concatenate([e.numpy() for e in prep["inputs"].edge_index_dict.values()], axis=1)
    same = member[src] & (code[src] == code[dst]) & (src != dst)
    linked = np.bincount(dst[same], minlength=member.size) > 0
    silent = member & ~linked
    y = label_codes(prep["ids"], hw.labels_at(prep, rate, seed))
    unlabelled = y < 0
    rng = np.random.default_rng(seed)
    ceiling = np.where(member & ~silent, 2.0, rng.random(member.size))
    return {
        "members": int(member.sum()),
        "graph_silent": int(silent.sum()),
        "graph_silent_share": float(silent.mean() / member.mean()),
        "unlabelled_members": int((member & unlabelled).sum()),
        "unlabelled_graph_silent": int((silent & unlabelled).sum()),
        "graph_ceiling_auprc_40": auprc(member[unlabelled], ceiling[unlabelled]),
    }


if __name__ == "__main__":
    seeds = hw.parse_seeds(sys.argv[1])
    per_seed = {str(s): audit(s) for s in seeds}
    values = [v["graph_ceiling_auprc_40"] for v in per_seed.values()]
    out = {
        "command": "python experiments/hard_worlds/round6/ceiling.py " + " ".join(sys.argv[1:]),
        "graph_ceiling_auprc_40": {"mean": float(np.mean(values)), "std": float(np.std(values))},
        "per_seed": per_seed,
    }
    write_json_atomic(out, Path(sys.argv[2]))
    print(json.dumps(out, indent=1))
