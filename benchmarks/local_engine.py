"""Local-engine benchmark: `graphguard detect` on scale worlds, this tree against a reference
tree (e.g. a `git worktree` of main) in the same session, alternating, so that the ratio holds
on a shared machine. Writes a Markdown table (events, wall, peak RSS, seconds per stage, ratio
against the reference) and the raw figures as JSON.

    python benchmarks/local_engine.py --ref /tmp/ref --rounds 2 \
        --events /work/snap/scale/w10000000/events.parquet --out experiments/benchmarks/local_engine
    python benchmarks/local_engine.py --events .../w100000000/events.parquet   # no reference

Nothing is asserted: the figures are what this machine measured, with its load at the time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def run_once(src: Path, events: str, out: Path, extra: list[str]) -> dict:
    """One `detect` in a fresh process under GNU time: wall, peak RSS, run.json stages."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [
        "/usr/bin/time",
        "-f",
        "%e %M",
        sys.executable,
        "-m",
        "graphguard",
        "detect",
        events,
        "--out",
        str(out),
        "--overwrite",
        "-q",
        *extra,
    ]
    # in the tree itself: `python -m` puts the working directory first on sys.path
    done = subprocess.run(cmd, env=env, cwd=src, capture_output=True, text=True, check=False)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    match = re.fullmatch(r"([\d.]+) (\d+)", last)
    if done.returncode != 0 or not match:
        return {"ok": False, "stderr": done.stderr[-2000:]}
    meta = json.loads((out / "run.json").read_text())
    return {
        "ok": True,
        "wall_s": float(match.group(1)),
        "peak_rss_gib": int(match.group(2)) / 2**20,
        "events": meta["ingest"]["rows_used"],
        "stages_s": meta["timings_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", action="append", required=True)
    parser.add_argument("--ref", type=Path, help="reference source tree (run alternately)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "experiments/benchmarks/local_engine")
    parser.add_argument("--set", action="append", default=[], help="detect --set for this tree")
    args = parser.parse_args()
    extra = [x for s in args.set for x in ("--set", s)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="gg-bench-") as tmp:
        for events in args.events:
            for round_ in range(args.rounds):
                sides = [("new", HERE, extra)] + ([("ref", args.ref, [])] if args.ref else [])
                if round_ % 2:
                    sides.reverse()
                for side, src, more in sides:
                    start = time.strftime("%H:%M:%S")
                    load = os.getloadavg()[0]
                    result = run_once(src, events, Path(tmp) / side, more)
                    result.update(side=side, round=round_, path=events, start=start, load=load)
                    rows.append(result)
                    print(json.dumps(result), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print(f"raw figures: {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
