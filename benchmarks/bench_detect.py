"""Scale benchmark: simulate 1M and 10M events, run `graphguard detect` on each, and compare the
projection + community steps with a straightforward pandas + networkx implementation on 1M.

Reports wall time, events per second and peak memory per stage (from run.json, measured inside
the detect process), plus the whole command's wall time and peak RSS (GNU time). Nothing here is
asserted: the figures are what this machine measured.

    python benchmarks/bench_detect.py                       # 1M and 10M, baseline on 1M
    python benchmarks/bench_detect.py --sizes 1000000 --out benchmarks/out
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from graphguard.config import GraphConfig
from graphguard.simulate import SimulationConfig, simulate, write_world

# Measured on the default world: about 36 events per benign account once campaigns, hard
# negatives and organic activity are added; used only to aim at a target event count.
EVENTS_PER_ACCOUNT = 36.0


def simulate_world(n_events: int, out: Path, seed: int) -> dict:
    n_accounts = max(1000, round(n_events / EVENTS_PER_ACCOUNT))
    start = time.perf_counter()
    world = simulate(SimulationConfig(n_accounts=n_accounts, seed=seed))
    sim_s = time.perf_counter() - start
    paths = write_world(world, out)
    return {
        "n_accounts_benign": n_accounts,
        "events": world.events.height,
        "accounts": world.truth.height,
        "simulate_s": round(sim_s, 2),
        "events_path": str(paths["events"]),
        "truth_path": str(paths["truth"]),
    }


def run_detect(events_path: str, run_dir: Path) -> dict:
    """`graphguard detect` in a fresh process, under GNU time for whole-process peak RSS."""
    cmd = [
        "/usr/bin/time",
        "-f",
        "%e %M",
        sys.executable,
        "-m",
        "graphguard",
        "detect",
        events_path,
        "--out",
        str(run_dir),
        "--overwrite",
        "--quiet",
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"detect failed: {proc.stderr.strip()[-2000:]}")
    wall_s, max_kib = proc.stderr.strip().splitlines()[-1].split()
    meta = json.loads((run_dir / "run.json").read_text())
    return {
        "wall_s": float(wall_s),
        "peak_rss_mib": round(int(max_kib) / 1024, 1),
        "stages": meta["stages"],
        "summary": meta["summary"],
    }


def pandas_networkx_baseline(events_path: str, cfg: GraphConfig) -> dict:
    """The same four projections and a community step, written the straightforward way:
    pandas self-merges inside each entity (all pairs, no hub bound) and networkx Louvain
    (networkx ships no Leiden of its own)."""
    import networkx as nx
    import numpy as np
    import pandas as pd

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ev = pd.read_parquet(events_path)
    ev["t"] = ev["event_time"].astype("int64") // 1_000  # ns -> us
    timings["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_per_account = ev.groupby("account_id").size().rename("n_account")

    def pairs_within(occ: pd.DataFrame, key: str, max_gap_us: float | None) -> pd.DataFrame:
        m = occ.merge(occ, on=key, suffixes=("_a", "_b"))
        m = m[m["account_id_a"] < m["account_id_b"]]
        if max_gap_us is not None:
            m = m[(m["t_a"] - m["t_b"]).abs() <= max_gap_us]
        return m

    relations = {}
    # device: accounts sharing a device (devices with <= max_accounts accounts)
    dev = (
        ev.dropna(subset=["device_id"])
        .groupby(["device_id", "account_id"])
        .agg(t=("t", "min"), n=("t", "size"))
        .reset_index()
    )
    dev = dev.join(n_per_account, on="account_id")
    dev["share"] = dev["n"] / dev["n_account"]
    crowd = dev.groupby("device_id")["account_id"].transform("size")
    dev = dev[crowd <= (cfg.device.max_accounts or np.inf)]
    m = pairs_within(dev[["device_id", "account_id", "t", "share"]], "device_id", None)
    m["w"] = np.minimum(m["share_a"], m["share_b"])
    relations["device"] = m.groupby(["account_id_a", "account_id_b"])["w"].sum()
    # ip: same IP within the same hour, in >= min_support hours
    ip = ev.dropna(subset=["ip"]).copy()
    ip["hour"] = ip["t"] // 3_600_000_000
    ip = ip.groupby(["ip", "hour", "account_id"]).agg(t=("t", "min")).reset_index()
    m = pairs_within(ip, ["ip", "hour"], cfg.ip.max_gap_s * 1e6)
    g = m.groupby(["account_id_a", "account_id_b"]).size()
    relations["ip"] = g[g >= cfg.ip.min_support].astype(float)
    # sync and dense: co-engagement on targets
    eng = ev[ev["event_type"].isin(cfg.engagement_types) & ev["target_id"].notna()]
    eng = eng.groupby(["target_id", "account_id"]).agg(t=("t", "min")).reset_index()
    pop = eng.groupby("target_id")["account_id"].transform("size")
    eng["w"] = 1.0 / np.log2(2.0 + pop)
    m = pairs_within(eng, "target_id", cfg.sync.max_gap_s * 1e6)
    g = m.groupby(["account_id_a", "account_id_b"]).agg(s=("w_a", "size"), w=("w_a", "sum"))
    relations["sync"] = g.loc[g["s"] >= cfg.sync.min_support, "w"]
    rare = eng[pop <= (cfg.dense.max_accounts or np.inf)]
    m = pairs_within(rare, "target_id", None)
    g = m.groupby(["account_id_a", "account_id_b"]).agg(s=("w_a", "size"), w=("w_a", "sum"))
    relations["dense"] = g.loc[g["s"] >= cfg.dense.min_support, "w"]
    combined = None
    weights = {
        "device": cfg.device.weight,
        "ip": cfg.ip.weight,
        "sync": cfg.sync.weight,
        "dense": cfg.dense.weight,
    }
    for name, series in relations.items():
        part = np.log1p(series) * weights[name]
        combined = part if combined is None else combined.add(part, fill_value=0.0)
    timings["projections"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    graph = nx.Graph()
    graph.add_weighted_edges_from(
        (a, b, w)
        for (a, b), w in combined.items()  # networkx takes Python tuples
    )
    communities = nx.community.louvain_communities(graph, weight="weight", resolution=1.0, seed=0)
    timings["communities"] = time.perf_counter() - t0
    return {
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "edges": int(graph.number_of_edges()),
        "communities": len(communities),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="1000000,10000000", help="comma-separated target event counts"
    )
    parser.add_argument(
        "--baseline-size",
        type=int,
        default=1_000_000,
        help="size on which to run the pandas+networkx comparison (0: skip)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--seed", type=int, default=101)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    report: dict = {
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "polars": pl.__version__},
        "runs": [],
    }
    for size in [int(float(s)) for s in args.sizes.split(",")]:
        world_dir = args.out / f"world_{size}"
        print(f"simulating ~{size:,} events ...", file=sys.stderr)
        world = simulate_world(size, world_dir, args.seed)
        print(f"detect on {world['events']:,} events ...", file=sys.stderr)
        det = run_detect(world["events_path"], args.out / f"run_{size}")
        det["events_per_s"] = round(world["events"] / det["wall_s"])
        entry = {"target_events": size, "world": world, "detect": det}
        if size == args.baseline_size:
            print("pandas + networkx baseline ...", file=sys.stderr)
            base = pandas_networkx_baseline(world["events_path"], GraphConfig())
            ours = det["stages"]["projections"]["seconds"] + det["stages"]["communities"]["seconds"]
            theirs = base["timings_s"]["projections"] + base["timings_s"]["communities"]
            base["graphguard_projections_plus_communities_s"] = round(ours, 2)
            base["baseline_projections_plus_communities_s"] = round(theirs, 2)
            base["speedup"] = round(theirs / ours, 1)
            entry["baseline"] = base
        report["runs"].append(entry)
        (args.out / "bench.json").write_text(json.dumps(report, indent=2))
    print(_markdown(report))


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _markdown(report: dict) -> str:
    lines = [
        "| events | accounts | detect wall s | events/s | peak RSS MiB | stages (s / peak MiB) |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for run in report["runs"]:
        det = run["detect"]
        stages = ", ".join(
            f"{k} {v['seconds']:.1f}/{v['peak_rss_mib']:.0f}" for k, v in det["stages"].items()
        )
        lines.append(
            f"| {run['world']['events']:,} | {run['world']['accounts']:,} | "
            f"{det['wall_s']:.1f} | {det['events_per_s']:,} | {det['peak_rss_mib']:,.0f} "
            f"| {stages} |"
        )
    for run in report["runs"]:
        if "baseline" in run:
            b = run["baseline"]
            lines.append("")
            lines.append(
                f"pandas+networkx on {run['world']['events']:,} events: projections "
                f"{b['timings_s']['projections']} s, Louvain {b['timings_s']['communities']} s; "
                f"graphguard projections+Leiden {b['graphguard_projections_plus_communities_s']} s "
                f"-> {b['speedup']}x"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
