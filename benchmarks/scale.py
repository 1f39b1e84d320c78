"""Scaling benchmark: simulated worlds of growing size through `graphguard detect`, with wall
time, peak memory of the whole process tree, time per stage and quality against the truth.

For every size it uses the world ``WORLDS/w<size>`` (events/labels/truth.parquet), simulating it
first when it is missing (`graphguard simulate`, one block of 300,000 benign accounts at a time;
written under a temporary name and renamed when complete), then runs `graphguard detect` in a
child process, polling the RSS of the child and all its descendants (a Spark JVM included)
every 0.2 s, reads the per-stage times from the run's run.json and scores the run with
`graphguard evaluate`. Nothing is asserted: the figures are what this machine measured, and on a
shared machine they are noisy (the load average at each start is recorded beside them).

Writes OUT/NAME.json, OUT/NAME.md (a table) and, with matplotlib, OUT/NAME.png (cost per event
against events), each atomically. Worlds and run directories stay outside the repository.

    python benchmarks/scale.py --worlds /work/snap/scale                  # 1M 10M 30M 100M local,
                                                                          # 1M 10M spark local[2]
    python benchmarks/scale.py --worlds /work/snap/scale --sizes 1e6,1e7 --engines local \\
        --name scale_before
    python benchmarks/scale.py --worlds W --engines spark --spark-sizes 1e7 --master local[2]

A size whose predicted peak (the last measured peak of that engine, scaled by events) is over
--max-rss-gib is skipped with a note, and a run that goes over it is stopped and noted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphguard.outputs import write_json_atomic, write_text_atomic  # noqa: E402

#: Events per benign account of the default world (campaigns, hard negatives and organic
#: activity included): measured, 29.8M events from 833,333 accounts; used to aim at a size.
EVENTS_PER_ACCOUNT = 36.0
GIB = 1024**3
STAGES = (
    "start-up",
    "read",
    "index",
    "projections",
    "communities",
    "evidence",
    "scoring",
    "clusters",
    "subgraphs",
    "campaigns",
    "write",
)


def parse_sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def gib(n_bytes: float | None) -> float | None:
    return None if n_bytes is None else round(n_bytes / GIB, 3)


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def measure(cmd: list[str], *, max_rss: float | None = None, env: dict | None = None) -> dict:
    """Run `cmd`, polling the summed RSS of it and its descendants; stop it past `max_rss`.

    Without psutil, falls back to GNU time (the peak of the largest single process).
    """
    start = time.perf_counter()
    load = load_average()
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is None:
        timed = ["/usr/bin/time", "-f", "%M", *cmd]
        proc = subprocess.run(timed, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - start
        *rest, peak_kib = proc.stderr.strip().splitlines() or ["0"]
        return {
            "rc": proc.returncode,
            "wall_s": round(wall, 2),
            "peak_rss_bytes": int(peak_kib) * 1024 if peak_kib.isdigit() else None,
            "rss_method": "GNU time (largest process)",
            "stdout": proc.stdout,
            "stderr": "\n".join(rest),
            "killed_over_rss": False,
            "load_avg_1m_at_start": load,
        }
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as errf:
        proc = psutil.Popen(cmd, stdout=out, stderr=errf, text=True, env=env)
        peak, killed = 0, False
        while proc.poll() is None:
            try:
                family = [proc, *proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                family = []
            total = 0
            for p in family:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += p.memory_info().rss
            peak = max(peak, total)
            if max_rss is not None and total > max_rss:
                killed = True
                for p in reversed(family):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        p.kill()
                break
            time.sleep(0.2)
        rc = proc.wait()
        wall = time.perf_counter() - start
        out.seek(0)
        errf.seek(0)
        stdout, stderr = out.read(), errf.read()
    return {
        "rc": rc,
        "wall_s": round(wall, 2),
        "peak_rss_bytes": peak,
        "rss_method": "psutil, process tree summed, 0.2 s polling",
        "stdout": stdout,
        "stderr": stderr,
        "killed_over_rss": killed,
        "load_avg_1m_at_start": load,
    }


def graphguard_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "graphguard", *args]


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def ensure_world(worlds: Path, size: int, seed: int) -> dict:
    """The world of `size` events under `worlds`, simulated (and measured) when missing."""
    world = worlds / f"w{size}"
    info_path = world / "world.json"
    if (world / "events.parquet").exists() and (world / "truth.parquet").exists():
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        info.setdefault("path", str(world))
        return info
    accounts = max(1000, round(size / EVENTS_PER_ACCOUNT))
    tmp = worlds / f".w{size}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = graphguard_cmd("simulate", str(tmp), "--accounts", str(accounts), "--seed", str(seed))
    print(f"scale: simulating w{size} ({accounts:,} benign accounts) ...", file=sys.stderr)
    run = measure([*cmd, "-q"], env=child_env())
    if run["rc"] != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit(f"scale: simulate failed for w{size}:\n{run['stderr'][-2000:]}")
    info = {
        "path": str(world),
        "command": " ".join(cmd),
        "simulate_wall_s": run["wall_s"],
        "simulate_peak_rss_gib": gib(run["peak_rss_bytes"]),
        "simulate_stdout": run["stdout"].strip(),
        "load_avg_1m_at_start": run["load_avg_1m_at_start"],
    }
    write_json_atomic(info, tmp / "world.json")
    os.replace(tmp, world)
    return info


def world_character(world: Path) -> dict:
    """Per-event character of a world, from its files: what must not change with size."""
    import polars as pl

    events = pl.scan_parquet(world / "events.parquet").select(pl.len()).collect().item()
    truth = pl.read_parquet(world / "truth.parquet")
    abusive = truth.filter(pl.col("label") != "benign").height
    return {
        "events": events,
        "accounts": truth.height,
        "events_per_account": round(events / truth.height, 2),
        "abusive_share": round(abusive / truth.height, 4),
        "campaigns": truth["campaign_id"].drop_nulls().n_unique(),
        "campaigns_per_million_events": round(
            truth["campaign_id"].drop_nulls().n_unique() / events * 1e6, 2
        ),
        "hard_negative_share": round(truth["hard_negative"].is_not_null().mean(), 4),
        "parquet_bytes_per_event": round((world / "events.parquet").stat().st_size / events, 2),
    }


def spark_missing() -> str | None:
    """Why the Spark engine cannot run here, or None."""
    help_text = subprocess.run(
        graphguard_cmd("detect", "--help"), capture_output=True, text=True, env=child_env()
    ).stdout
    if "--engine" not in help_text:
        return "this graphguard has no Spark engine (`detect` has no --engine option)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'graphguard[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java found (java on PATH or JAVA_HOME)"
    return None


def evaluate(run_dir: Path, truth: Path) -> dict:
    proc = subprocess.run(
        graphguard_cmd("evaluate", str(run_dir), "--truth", str(truth), "--json"),
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-500:]}
    ev = json.loads(proc.stdout)
    acc, camp = ev["accounts"], ev["campaigns"]
    return {
        "auprc": acc["auprc"],
        "auroc": acc["auroc"],
        "precision_at_flag": acc["precision"],
        "recall_at_flag": acc["recall"],
        "recall_at_1pct_fpr": acc["recall_at_1pct_fpr"],
        "n_flagged": acc["n_flagged"],
        "n_abusive": acc["n_abusive"],
        "campaigns_caught": camp["n_caught"],
        "campaigns": camp["n"],
    }


def detect(world: Path, run_dir: Path, engine: str, master: str, max_rss: float | None) -> dict:
    args = ["detect", str(world / "events.parquet"), "--out", str(run_dir), "--overwrite", "-q"]
    if engine != "local":
        args += ["--engine", engine, "--master", master]
    cmd = graphguard_cmd(*args)
    run = measure(cmd, max_rss=max_rss, env=child_env())
    row = {
        "command": " ".join(cmd),
        "wall_s": run["wall_s"],
        "peak_rss_gib": gib(run["peak_rss_bytes"]),
        "rss_method": run["rss_method"],
        "load_avg_1m_at_start": run["load_avg_1m_at_start"],
    }
    if run["killed_over_rss"]:
        row["note"] = f"stopped: the process tree went over {gib(max_rss)} GiB (--max-rss-gib)"
        return row
    if run["rc"] != 0:
        row["note"] = f"detect failed (exit {run['rc']}): {run['stderr'].strip()[-400:]}"
        return row
    meta = json.loads((run_dir / "run.json").read_text())
    row["events"] = meta["ingest"]["rows_used"]
    row["accounts"] = meta["ingest"]["accounts"]
    row["us_per_event"] = round(run["wall_s"] / row["events"] * 1e6, 3)
    row["stages_s"] = {k: v["seconds"] for k, v in meta["stages"].items()}
    # CPU seconds (user + system, all threads) of the stages that record them (run.json):
    # steadier than wall time on a shared machine
    cpu = {k: v["cpu_seconds"] for k, v in meta["stages"].items() if "cpu_seconds" in v}
    if cpu:
        row["stages_cpu_s"] = cpu
        row["cpu_s"] = round(sum(cpu.values()), 2)
    row["stages_peak_rss_gib"] = {
        k: round(v["peak_rss_mib"] / 1024, 3) for k, v in meta["stages"].items()
    }
    row["quality"] = evaluate(run_dir, world / "truth.parquet")
    return row


def markdown(report: dict) -> str:
    stage_names = [s for s in STAGES if any(s in r.get("stages_s", {}) for r in report["rows"])]
    head = [
        "events",
        "engine",
        "wall s",
        "CPU s",
        "peak RSS GiB",
        "us/event",
        *[f"{s} s" for s in stage_names],
        "AUPRC",
        "precision@flag",
        "recall@flag",
        "campaigns caught",
        "load",
    ]
    lines = [
        f"# {report['name']}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine']['cpus']} CPUs, {report['machine']['mem_gib']} GiB RAM, "
        f"Python {report['machine']['python']}, polars {report['machine']['polars']}; "
        f"{report['started_at']}. Peak RSS is the whole process tree "
        "(psutil, 0.2 s polling); CPU s is the user + system seconds of the stages that "
        "record them (run.json `cpu_seconds`, the worker's own); load is the 1-minute load "
        "average when the run started "
        "(the machine is shared, so compare rows of one run, not absolute figures).",
        "",
    ]
    measured = [r for r in report["rows"] if "events" in r]
    if measured:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---:|" * len(head))
    for r in measured:
        q = r.get("quality", {})
        caught = f"{q['campaigns_caught']}/{q['campaigns']}" if "campaigns" in q else "-"
        fmt = lambda x, d=3: "-" if x is None else f"{x:.{d}f}"  # noqa: E731
        cells = [
            f"{r['events']:,}",
            r["engine"] + (f" {r['master']}" if r["engine"] != "local" else ""),
            f"{r['wall_s']:.1f}",
            fmt(r.get("cpu_s"), 1),
            fmt(r["peak_rss_gib"], 2),
            fmt(r["us_per_event"], 2),
            *[fmt(r["stages_s"].get(s), 1) for s in stage_names],
            fmt(q.get("auprc")),
            fmt(q.get("precision_at_flag")),
            fmt(q.get("recall_at_flag")),
            caught,
            fmt(r.get("load_avg_1m_at_start"), 1),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [r for r in report["rows"] if "note" in r]
    if notes:
        lines += ["", "Not measured:", ""]
        lines += [f"- {r['target_events']:,} events, {r['engine']}: {r['note']}" for r in notes]
    worlds = report.get("worlds", {})
    chars = {k: w["character"] for k, w in worlds.items() if "character" in w}
    if chars:
        cols = [
            ("events", "events", "{:,}"),
            ("accounts", "accounts", "{:,}"),
            ("events/account", "events_per_account", "{}"),
            ("abusive share", "abusive_share", "{:.2%}"),
            ("campaigns", "campaigns", "{:,}"),
            ("campaigns per 1M events", "campaigns_per_million_events", "{}"),
            ("hard-negative share", "hard_negative_share", "{:.2%}"),
            ("Parquet bytes/event", "parquet_bytes_per_event", "{}"),
        ]
        lines += ["", "The worlds, per event (what must not change with size):", ""]
        lines.append("| world | " + " | ".join(c[0] for c in cols) + " |")
        lines.append("|---|" + "---:|" * len(cols))
        for size, c in chars.items():
            lines.append(
                f"| w{size} | " + " | ".join(f.format(c[key]) for _, key, f in cols) + " |"
            )
    if worlds:
        lines += ["", "Worlds:", ""]
        for size, w in worlds.items():
            made = (
                f"simulated in {w['simulate_wall_s']} s, peak RSS {w['simulate_peak_rss_gib']} GiB"
                f" (`{w['command']}`)"
                if "simulate_wall_s" in w
                else f"already there: {w['note']}"
                if w.get("note")
                else "already there (how it was made is not recorded)"
            )
            lines.append(f"- w{size}: {w['path']}, {made}")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not any("events" in r for r in report["rows"]):
        return False
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for engine in sorted({r["engine"] for r in report["rows"]}):
        rows = [r for r in report["rows"] if r["engine"] == engine and "events" in r]
        if rows:
            ax.plot(
                [r["events"] for r in rows], [r["us_per_event"] for r in rows], "o-", label=engine
            )
    ax.set_xscale("log")
    ax.set_xlabel("events")
    ax.set_ylabel("wall time per event (us)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(report["name"])
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7,3e7,1e8", help="event counts, local engine")
    parser.add_argument("--spark-sizes", default="1e6,1e7", help="event counts, Spark engine")
    parser.add_argument("--engines", default="local,spark", help="local, spark or both")
    parser.add_argument("--master", default="local[2]", help="Spark master for --engine spark")
    parser.add_argument("--worlds", type=Path, default=Path.home() / ".cache/graphguard/scale")
    parser.add_argument("--runs", type=Path, help="run directories (default WORLDS/runs)")
    parser.add_argument("--out", type=Path, default=REPO / "experiments" / "benchmarks")
    parser.add_argument("--name", default="scale", help="OUT/NAME.json, .md, .png")
    parser.add_argument("--seed", type=int, default=1, help="seed of worlds simulated here")
    parser.add_argument("--max-rss-gib", type=float, default=12.0)
    parser.add_argument(
        "--worlds-only", action="store_true", help="make and describe the worlds, run nothing"
    )
    args = parser.parse_args()

    worlds = args.worlds.expanduser().resolve()
    if worlds == REPO or REPO in worlds.parents:
        raise SystemExit(f"scale: --worlds {worlds} is inside the repository; use a cache dir")
    worlds.mkdir(parents=True, exist_ok=True)
    runs = (args.runs or worlds / "runs").expanduser().resolve()
    runs.mkdir(parents=True, exist_ok=True)
    max_rss = args.max_rss_gib * GIB
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    plan = [("local", s) for s in parse_sizes(args.sizes)] if "local" in engines else []
    if "spark" in engines:
        plan += [("spark", s) for s in parse_sizes(args.spark_sizes)]

    import polars as pl

    report = {
        "name": args.name,
        "command": " ".join(["python", "benchmarks/scale.py", *sys.argv[1:]]),
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "polars": pl.__version__,
            "cpus": len(os.sched_getaffinity(0)),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
        },
        "max_rss_gib": args.max_rss_gib,
        "worlds": {},
        "rows": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    spark_reason = spark_missing() if "spark" in engines else None
    last: dict[str, tuple[int, float]] = {}  # engine -> (events, peak bytes) of its last run

    def save() -> None:
        write_json_atomic(report, args.out / f"{args.name}.json")
        write_text_atomic(markdown(report), args.out / f"{args.name}.md")

    for engine, size in plan:
        base = {"target_events": size, "engine": engine, "master": args.master}
        if engine == "spark" and spark_reason:
            report["rows"].append({**base, "note": f"skipped: {spark_reason}"})
            save()
            continue
        if engine in last:
            events, peak = last[engine]
            predicted = peak * size / events
            if predicted > max_rss:
                report["rows"].append(
                    {
                        **base,
                        "note": f"skipped: predicted peak {predicted / GIB:.1f} GiB "
                        f"(last peak {peak / GIB:.2f} GiB at {events:,} events, scaled by "
                        f"events) is over --max-rss-gib {args.max_rss_gib}",
                    }
                )
                save()
                continue
        world_info = ensure_world(worlds, size, args.seed)
        world = Path(world_info["path"])
        world_info["character"] = world_character(world)
        report["worlds"][str(size)] = world_info
        if args.worlds_only:
            save()
            continue
        print(f"scale: detect on w{size} ({engine}) ...", file=sys.stderr)
        row = {**base, **detect(world, runs / f"{engine}-{size}", engine, args.master, max_rss)}
        report["rows"].append(row)
        if "stopped" in row.get("note", ""):
            last[engine] = (size, max_rss)  # a larger world would go over it as well
        if "events" in row:
            last[engine] = (row["events"], row["peak_rss_gib"] * GIB)
            q = row["quality"]
            print(
                f"scale: {row['events']:,} events, {engine}: {row['wall_s']} s, "
                f"{row['peak_rss_gib']} GiB, AUPRC {q.get('auprc')}",
                file=sys.stderr,
            )
        else:
            print(f"scale: {size:,} events, {engine}: {row['note']}", file=sys.stderr)
        save()
    save()
    if plot(report, args.out / f"{args.name}.png"):
        print(f"scale: wrote {args.out / args.name}.json, .md, .png", file=sys.stderr)
    else:
        print(
            f"scale: wrote {args.out / args.name}.json, .md (no plot: no runs, or no matplotlib)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
