"""Compare two experiment metrics.json files, ignoring timings and the command line.

python benchmarks/refactor/compare_metrics.py OLD/metrics.json NEW/metrics.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

VOLATILE = {"wall_seconds", "seconds", "command", "created_at", "timings_s"}


def differences(old: Any, new: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            if key in VOLATILE:
                continue
            if key not in old or key not in new:
                out.append((f"{path}.{key}", "only on one side"))
            else:
                out += differences(old[key], new[key], f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if old != new and not (
        isinstance(old, float) and isinstance(new, float) and abs(old - new) < 1e-12
    ):
        return [(path, f"{old!r} vs {new!r}")]
    return []


if __name__ == "__main__":
    found = differences(*(json.loads(Path(p).read_text()) for p in sys.argv[1:3]))
    print(f"{len(found)} differences (besides timings and the command line)")
    for where, what in found[:20]:
        print(f"  {where}: {what}")
