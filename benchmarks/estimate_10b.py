"""A worked estimate of one 10B-event day on a Spark cluster, from measured Spark runs.

The inputs are `benchmarks/bench_spark.py` results (``result.json``) of the Spark engine on two
simulated worlds of different sizes (say 1M and 10M events): per graphguard stage, the
shuffle bytes written, the executor CPU time, the number of Spark jobs and the wall time, read
from Spark's REST API. From them, per event and per stage: shuffle bytes, executor CPU µs and
core-µs of wall time (wall x local cores: an upper bound that also holds the Python workers'
time, which Spark's executor CPU does not count), and their growth between the two worlds. The
day is then worked out on the cluster given by the flags; every assumption is printed beside
the figure it feeds.

    python benchmarks/estimate_10b.py \\
        --run experiments/benchmarks/spark/w1000000_after.json \\
        --run experiments/benchmarks/spark/w10000000.json \\
        --profile experiments/benchmarks/profile_w1000000.json \\
        --profile experiments/benchmarks/profile_w10000000.json \\
        --out experiments/benchmarks/estimate_10b.md
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphguard.outputs import write_text_atomic  # noqa: E402

STAGES = ("read", "index", "projections", "communities", "evidence", "clusters", "collect")


def n_events(run: dict) -> int:
    """The events of the run's world: the Parquet row count when the file is here, else the
    size in the world's name (wN)."""
    path = Path(run["events"])
    if path.exists():
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    match = re.search(r"w(\d+)", str(path))
    if not match:
        raise SystemExit(f"{path}: no such file, and no world size in its name")
    return int(match.group(1))


def local_cores(run: dict) -> int:
    match = re.match(r"local\[(\d+)\]", run["master"])
    return int(match.group(1)) if match else 1


def per_event(run: dict) -> dict[str, dict[str, float]]:
    """Per stage: shuffle bytes, executor CPU µs, core-µs of wall, jobs, per event."""
    e = n_events(run)
    cores = local_cores(run)
    walls = run["spark"]["stages"]
    out: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        s = run["shuffle_by_stage"].get(stage, {})
        wall = walls.get(stage, {}).get("seconds", 0.0)
        out[stage] = {
            "bytes": s.get("shuffle_write_bytes", 0) / e,
            "cpu_us": s.get("executor_cpu_ms", 0) * 1e3 / e,
            "core_us": wall * cores * 1e6 / e,
            "jobs": s.get("jobs", 0),
        }
    return out


def growth(lo: float, hi: float, ratio: float) -> float:
    """The exponent g of per-event cost ~ events^g between the two worlds (0 when either is 0)."""
    if lo <= 0 or hi <= 0:
        return 0.0
    return math.log(hi / lo) / math.log(ratio)


def fmt(x: float, digits: int = 3) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, action="append", required=True)
    parser.add_argument("--profile", type=Path, action="append", default=[])
    parser.add_argument("--events", type=float, default=10e9, help="events in the day")
    parser.add_argument("--executors", type=int, default=100)
    parser.add_argument("--cores", type=int, default=4, help="cores per executor")
    parser.add_argument("--memory-gib", type=float, default=16)
    parser.add_argument(
        "--shuffle-mb-s",
        type=float,
        default=100.0,
        help="assumed sustained shuffle write + read per executor, MB/s",
    )
    parser.add_argument(
        "--efficiency",
        type=float,
        default=0.5,
        help="assumed share of the cluster's cores busy over a stage (stragglers, skew)",
    )
    parser.add_argument(
        "--job-s", type=float, default=1.0, help="assumed scheduling cost of one Spark job, s"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    runs = sorted((json.loads(p.read_text()) for p in args.run), key=n_events)
    if len(runs) < 2:
        raise SystemExit("give two --run files (two world sizes) to measure growth")
    lo, hi = runs[0], runs[-1]
    e_lo, e_hi = n_events(lo), n_events(hi)
    p_lo, p_hi = per_event(lo), per_event(hi)
    ratio = e_hi / e_lo
    day = args.events
    cores = args.executors * args.cores
    L: list[str] = []
    add = L.append
    add("# A 10B-event day on a Spark cluster: a worked estimate from measured runs")
    add("")
    add(
        "Built by `python benchmarks/estimate_10b.py "
        + " ".join(f"--run {p}" for p in args.run)
        + "".join(f" --profile {p}" for p in args.profile)
        + f" --out {args.out}` (cluster flags: {args.executors} executors x {args.cores} cores,"
        f" {args.memory_gib:g} GiB each; shuffle {args.shuffle_mb_s:g} MB/s per executor,"
        f" efficiency {args.efficiency:g}, {args.job_s:g} s per job)."
    )
    add("")
    add("## 1. Measured, per event and stage")
    add("")
    add(
        f"Spark `{lo['master']}` runs of `benchmarks/bench_spark.py` on {e_lo:,} and {e_hi:,}"
        " events (simulated worlds). Shuffle = bytes written; CPU = Spark executor CPU (JVM"
        " only); core-µs = stage wall x local cores (counts the Python workers, the driver and"
        " idle time too: an upper bound); g = growth exponent of the per-event figure"
        " (per-event cost ~ events^g; 0 = linear total)."
    )
    add("")
    add(
        "| stage | shuffle B/ev lo | hi | g | CPU µs/ev lo | hi | g | core-µs/ev lo | hi |"
        " jobs lo | hi |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    tot_lo = {k: sum(p_lo[s][k] for s in STAGES) for k in ("bytes", "cpu_us", "core_us", "jobs")}
    tot_hi = {k: sum(p_hi[s][k] for s in STAGES) for k in ("bytes", "cpu_us", "core_us", "jobs")}
    rows = [(s, p_lo[s], p_hi[s]) for s in STAGES] + [("**all**", tot_lo, tot_hi)]
    for name, a, b in rows:
        add(
            f"| {name} | {fmt(a['bytes'])} | {fmt(b['bytes'])} |"
            f" {growth(a['bytes'], b['bytes'], ratio):+.2f} | {fmt(a['cpu_us'])} |"
            f" {fmt(b['cpu_us'])} | {growth(a['cpu_us'], b['cpu_us'], ratio):+.2f} |"
            f" {fmt(a['core_us'])} | {fmt(b['core_us'])} | {a['jobs']:.0f} | {b['jobs']:.0f} |"
        )
    add("")
    add(
        f"The lo run: {lo['spark']['wall_s']:.0f} s wall; the hi run: {hi['spark']['wall_s']:.0f}"
        " s. Wall times depend on the machine's load (see spark.md for each run's conditions);"
        " shuffle bytes and job counts do not."
    )
    add("")

    # ---- the day
    add(f"## 2. The day: {day:,.0f} events on {args.executors} executors ({cores} cores)")
    add("")
    add(
        "Per stage, per-event figures from the larger run, two ways: **flat** (the hi run's"
        " per-event figure, total linear in events) and **grown** (the per-event figure"
        f" extrapolated with its exponent g from {e_hi:,} to {day:,.0f} events, g clipped at"
        " 0 below and 0.3 above, since a measured g over one decade says little about three)."
        f" CPU time = events x µs / ({cores} cores x efficiency {args.efficiency:g});"
        f" shuffle time = 2 x bytes (written, then read) / ({args.executors} x"
        f" {args.shuffle_mb_s:g} MB/s); stage time = the larger of the two plus"
        f" jobs x {args.job_s:g} s. The core-µs column bounds CPU from above (Python included)."
    )
    add("")
    add(
        "| stage | shuffle GB flat | grown | CPU h flat | grown | core-h (wall bound) |"
        " min flat (CPU) | min grown | min bound (core-µs) |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    scale_up = day / e_hi
    sums = [0.0] * 8
    for s in STAGES:
        a, b = p_lo[s], p_hi[s]
        gb = min(max(growth(a["bytes"], b["bytes"], ratio), 0.0), 0.3)
        gc = min(max(growth(a["cpu_us"], b["cpu_us"], ratio), 0.0), 0.3)
        gk = min(max(growth(a["core_us"], b["core_us"], ratio), 0.0), 0.3)
        sh_flat = day * b["bytes"]
        sh_grown = sh_flat * scale_up**gb
        cpu_flat = day * b["cpu_us"] / 1e6
        cpu_grown = cpu_flat * scale_up**gc
        core = day * b["core_us"] / 1e6 * scale_up**gk

        def minutes(cpu_s: float, shuffle_b: float, jobs: float) -> float:
            t_cpu = cpu_s / (cores * args.efficiency)
            t_sh = 2 * shuffle_b / (args.executors * args.shuffle_mb_s * 1e6)
            return (max(t_cpu, t_sh) + jobs * args.job_s) / 60

        m_flat = minutes(cpu_flat, sh_flat, b["jobs"])
        m_grown = minutes(cpu_grown, sh_grown, b["jobs"])
        m_bound = minutes(core, sh_grown, b["jobs"])
        vals = [sh_flat / 1e9, sh_grown / 1e9, cpu_flat / 3600, cpu_grown / 3600, core / 3600]
        vals += [m_flat, m_grown, m_bound]
        sums = [x + y for x, y in zip(sums, vals, strict=True)]
        add(f"| {s} | " + " | ".join(fmt(v) for v in vals) + " |")
    add("| **all** | " + " | ".join(f"**{fmt(v)}**" for v in sums) + " |")
    add("")
    add(
        f"**Headline**: the day takes about {fmt(sums[5])} minutes (flat) to {fmt(sums[7])}"
        f" minutes (grown, with the wall-time bound on CPU) on {args.executors} executors, and"
        f" shuffles {fmt(sums[0] / 1e3)}-{fmt(sums[1] / 1e3)} TB, *provided* the largest"
        " connected component can be clustered at all (section 3): the volumes scale out, the"
        " largest component does not."
    )
    add("")
    add(
        f"Per executor ({args.memory_gib:g} GiB): the day's largest stage shuffle, spread over"
        f" {args.executors} executors, is {fmt(max_stage(p_hi, day) / args.executors / 1e9)} GB"
        " each (flat), written to local disk and read back; it need not fit in memory."
    )
    add("")
    _skew(add, args, runs)
    write_text_atomic("\n".join(L) + "\n", args.out)
    print(f"wrote {args.out}")


def max_stage(p: dict, day: float) -> float:
    return max(day * p[s]["bytes"] for s in STAGES)


def _skew(add, args, runs) -> None:
    add("## 3. What the totals hide: the largest component and cluster")
    add("")
    profiles = [json.loads(p.read_text()) for p in args.profile]
    if profiles:
        add("Connected components of the account graph (`benchmarks/shuffle_profile.py`):")
        add("")
        add("| world | events | accounts | largest component | share of accounts |")
        add("|---|---:|---:|---:|---:|")
        for p in sorted(profiles, key=lambda p: p["events"]):
            c = p["components"]
            add(
                f"| {Path(p.get('world') or '-').name} | {p['events']:,} |"
                f" {p['accounts']:,} | {c['largest']:,} | {c['accounts_in_largest_share']:.1%} |"
            )
        add("")
    add(
        "Leiden runs per component (`spark/communities.py`): one component is one task, and a"
        " component past the driver-side limit stops the run with a message. In the simulated"
        " worlds one component holds a steady share of the accounts (table above); at that share"
        " a 10B-event day would put tens of millions of accounts in one component, far past one"
        " executor: the largest risk of the whole estimate, and not a question of shuffle volume."
        " The evidence stage hashes the member events by cluster (Leiden community), so its"
        " largest task is the largest cluster's events; Leiden's clusters stay small in these"
        " worlds (the largest a few hundred accounts, a few % of member events at 1M), but a"
        " real platform's largest community decides that task's time."
    )
    add("")
    add("## 4. Assumptions, and what would invalidate them")
    add("")
    add(
        f"* **Per-event cost stays near the larger run's.** Measured growth over one decade is"
        " the g column; a real day's hubs (viral posts, shared NAT IPs) are bounded by the hub"
        " caps and window rows of the projections, so per-event pair rows are bounded, but not"
        " measured past 10M events here. A g above 0.3 at the next size would invalidate the"
        " grown column.\n"
        "* **Executor CPU is JVM time only.** The read's `mapInArrow` (Polars) and Leiden"
        " (`applyInPandas`) run in Python workers, counted only in the core-µs bound.\n"
        f"* **Shuffle throughput {args.shuffle_mb_s:g} MB/s per executor** (local SSD, 10 Gbit"
        " network, write + read); a slower disk or network scales the shuffle time inversely.\n"
        f"* **Efficiency {args.efficiency:g}**: half the cores busy on average over a stage"
        " (stragglers, uneven partitions, the largest cluster's task).\n"
        f"* **{args.job_s:g} s per job** of scheduling: the job counts are the measured ones;"
        " connected components' rounds grow with the graph's diameter, so its job count may grow.\n"
        "* **local[2] stands for a cluster**: the runs used one machine's two cores and no"
        " network; serialization and shuffle costs are real, network transfer is not."
    )


if __name__ == "__main__":
    main()
