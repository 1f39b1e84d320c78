"""The Spark engine against the local one on one world, in the same run (a ratio, since the
machine's load changes absolute times), with the shuffle each pipeline stage moved.

    python benchmarks/bench_spark.py /work/snap/scale/w10000000/events.parquet \
        --master 'local[2]' --driver-memory 2g --out experiments/benchmarks/spark

The local engine runs first (`python -m graphguard detect`, its own process), then the Spark
engine in this process. Each graphguard stage's Spark jobs carry the stage's name as their job
group, and the stages' input, shuffle-read and shuffle-write bytes are read from Spark's REST
API (the driver's UI, /api/v1) before the session stops: what a cluster estimate scales from.
At the start of every stage, the figures so far (the local run, each Spark stage's start, the
bytes per stage) are written to ``OUT/partial.json``, so a run stopped early still says how far
it got.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import psutil

from graphguard.config import DetectConfig, SparkConfig
from graphguard.spark.engine import run_detection_spark
from graphguard.spark.session import spark_session


def _rss_watch(stop: threading.Event, peak: dict) -> None:
    """Peak resident memory of this process and its children (the JVM, Python workers)."""
    me = psutil.Process()
    while not stop.is_set():
        try:
            procs = [me, *me.children(recursive=True)]
            total = sum(p.memory_info().rss for p in procs if p.is_running())
            peak["rss"] = max(peak.get("rss", 0), total)
        except psutil.Error:
            pass
        stop.wait(0.5)


def _get(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def shuffle_by_stage(spark) -> dict:
    """Bytes per graphguard stage (job group), from the REST API of the running application."""
    base = spark.sparkContext.uiWebUrl
    app = spark.sparkContext.applicationId
    jobs = _get(f"{base}/api/v1/applications/{app}/jobs")
    stages = {s["stageId"]: s for s in _get(f"{base}/api/v1/applications/{app}/stages")}
    out: dict[str, dict[str, int]] = {}
    seen: set[int] = set()
    for job in jobs:
        group = job.get("jobGroup") or "(none)"
        acc = out.setdefault(
            group,
            {
                "jobs": 0,
                "stages": 0,
                "input_bytes": 0,
                "shuffle_read_bytes": 0,
                "shuffle_write_bytes": 0,
                "executor_run_ms": 0,
                # CPU time, unlike the run time, hardly depends on the machine's load
                "executor_cpu_ms": 0,
            },
        )
        acc["jobs"] += 1
        for sid in job["stageIds"]:
            if sid in seen or sid not in stages:
                continue  # a skipped stage reused an earlier one's shuffle
            seen.add(sid)
            s = stages[sid]
            acc["stages"] += 1
            acc["input_bytes"] += s.get("inputBytes", 0)
            acc["shuffle_read_bytes"] += s.get("shuffleReadBytes", 0)
            acc["shuffle_write_bytes"] += s.get("shuffleWriteBytes", 0)
            acc["executor_run_ms"] += s.get("executorRunTime", 0)
            acc["executor_cpu_ms"] += s.get("executorCpuTime", 0) // 1_000_000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("experiments/benchmarks/spark"))
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "runs"
    doc: dict = {
        "events": str(args.events),
        "master": args.master,
        "driver_memory": args.driver_memory,
        "shuffle_partitions": args.shuffle_partitions,
    }
    if not args.skip_local:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "graphguard",
                "detect",
                str(args.events),
                "--out",
                str(work / "local"),
                "--overwrite",
                "--quiet",
                "--json",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ},
        )
        doc["local"] = {
            "wall_s": round(time.perf_counter() - start, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "stages": json.loads((work / "local" / "run.json").read_text())["stages"],
        }
        print("local", doc["local"]["wall_s"], "s", file=sys.stderr)
    config = replace(
        DetectConfig(),
        engine="spark",
        spark=SparkConfig(
            master=args.master,
            driver_memory=args.driver_memory,
            shuffle_partitions=args.shuffle_partitions,
        ),
    )
    peak: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_rss_watch, args=(stop, peak), daemon=True)
    watcher.start()
    start = time.perf_counter()
    with spark_session(config.spark) as spark:

        def progress(stage: str) -> None:
            at = round(time.perf_counter() - start, 1)
            # what the run has done so far, kept on disk at every stage: a run stopped before
            # its end (a deadline, a watchdog) still leaves its stage times and bytes
            doc.setdefault("spark_stage_starts_s", {})[stage] = at
            doc["shuffle_by_stage"] = shuffle_by_stage(spark)
            doc["peak_rss_mib_so_far"] = round(peak.get("rss", 0) / 2**20)
            (args.out / "partial.json").write_text(json.dumps(doc, indent=2) + "\n")
            spark.sparkContext.setJobGroup(stage, stage)
            print("spark stage", stage, at, file=sys.stderr)

        result = run_detection_spark(
            args.events, work / "spark", config, overwrite=True, progress=progress
        )
        wall = time.perf_counter() - start
        doc["shuffle_by_stage"] = shuffle_by_stage(spark)
    stop.set()
    doc["spark"] = {
        "wall_s": round(wall, 1),
        "peak_rss_mib_jvm_and_python": round(peak.get("rss", 0) / 2**20),
        "stages": result.timer.stages,
    }
    if "local" in doc:
        doc["ratio_spark_to_local"] = round(wall / doc["local"]["wall_s"], 2)
        same = _same_clusters(work / "local", work / "spark")
        doc["same_clusters"] = same
    (args.out / "result.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "shuffle_by_stage"}, indent=2))


def _same_clusters(local: Path, spark: Path) -> bool:
    import polars as pl

    a = pl.read_parquet(local / "accounts.parquet").select("account_id", "cluster_id")
    b = pl.read_parquet(spark / "accounts.parquet").select("account_id", "cluster_id")
    return a.sort("account_id").equals(b.sort("account_id"))


if __name__ == "__main__":
    main()
