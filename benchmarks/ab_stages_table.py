"""Table of an interleaved A/B of `graphguard detect` (benchmarks/ab_stages.sh).

Per stage, each arm's wall and CPU seconds by round, and B/A of the medians; then each arm's
peak RSS, load at start and projections' stage peak. Usage: python ab_stages_table.py TAG.tsv
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def main(path: str) -> None:
    arms: dict[str, dict] = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        row = line.split("\t")
        _, arm, wall, cpu, rss, load = row[:6]
        d = arms.setdefault(arm, {"wall": [], "cpu": [], "rss": [], "load": [], "stages": {}})
        for key, value in (("wall", wall), ("cpu", cpu), ("rss", rss), ("load", load)):
            d[key].append(float(value))
        for cell in row[6:]:
            stage, figures = cell.split("=")
            d["stages"].setdefault(stage, []).append(tuple(float(x) for x in figures.split("/")))
    names = list(arms)
    print("| | " + " | ".join(f"{a} wall (rounds) | {a} CPU (rounds)" for a in names) + " | B/A |")
    print("|---|" + "---:|" * (2 * len(names) + 1))
    stages = list(arms[names[0]]["stages"])

    def series(arm: str, stage: str) -> tuple[list[float], list[float]]:
        d = arms[arm]
        if stage == "total":
            return d["wall"], d["cpu"]
        return [x[0] for x in d["stages"][stage]], [x[1] for x in d["stages"][stage]]

    for stage in ["total", *stages]:
        cells = []
        for arm in names:
            wall, cpu = series(arm, stage)
            cells += [_fmt(wall), _fmt(cpu)]
        ratio = ""
        if {"A", "B"} <= set(names):
            (wa, ca), (wb, cb) = (
                tuple(statistics.median(x) for x in series(a, stage)) for a in ("A", "B")
            )
            ratio = f"wall {wb / wa:.2f}x" if wa else ""
            ratio += f", cpu {cb / ca:.2f}x" if ca else ""
        print(f"| {stage} | " + " | ".join(cells) + f" | {ratio} |")
    for arm, d in arms.items():
        peaks = [x[2] for x in d["stages"].get("projections", [])]
        print(
            f"{arm}: peak RSS GiB {_fmt(d['rss'])}, load at start {_fmt(d['load'])}, "
            f"projections stage peak MiB {_fmt(peaks)}"
        )


if __name__ == "__main__":
    main(sys.argv[1])
