"""Where detect's subgraph stage spends its time: one `run_detection` with timers around the
stage's functions (`pipeline.detect`), printed as calls and seconds each.

    python benchmarks/profile_subgraphs.py /work/snap/scale/w100000000/events.parquet [--out RUN]
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable
from typing import Any

from graphguard.pipeline import detect as detect_module

TIMED = (
    "member_account_ranges",
    "entity_edge_codes",
    "_activity_counts",
    "_member_tables",
    "_account_edges",
    "_cluster_activity",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events")
    parser.add_argument("--out", default="/tmp/profile_subgraphs_run")
    args = parser.parse_args()
    seconds: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                seconds[name] += time.perf_counter() - start
                calls[name] += 1

        return wrapper

    for name in TIMED:
        setattr(detect_module, name, timed(name, getattr(detect_module, name)))
    result = detect_module.run_detection(args.events, args.out, overwrite=True)
    for name in TIMED:
        print(f"{name:24s} {calls[name]:4d} calls {seconds[name]:8.2f} s")
    print({k: round(v, 1) for k, v in result.timer.seconds().items()})


if __name__ == "__main__":
    main()
