"""How the run directory's big tables are best written: Parquet codec, level, statistics and
row-group size, measured on a finished run directory.

For each table (entity_edges and account_edges by default) and each setting it writes the
table from memory, as `graphguard.outputs.write_parquet_chunks_atomic` does (Polars' streaming
sink over the table in a few chunks), and records the wall and CPU seconds of the write, the
file's size, and the seconds to read it back whole; every file is read back and compared with
the table (DataFrame.equals). Nothing is asserted: the figures are this machine's, noisy on a
shared machine (take CPU seconds over wall).

    python benchmarks/parquet_write.py RUN_DIR --out /tmp/parquet_write.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402
from polars.io.plugins import register_io_source  # noqa: E402

#: (name, sink_parquet options); the first is what the run directory uses
SETTINGS: tuple[tuple[str, dict], ...] = (
    ("zstd (polars default)", {}),
    ("zstd, no statistics", {"statistics": False}),
    ("zstd level 1", {"compression": "zstd", "compression_level": 1}),
    ("lz4", {"compression": "lz4"}),
    ("snappy", {"compression": "snappy"}),
    ("uncompressed", {"compression": "uncompressed"}),
    ("zstd, row groups of 1M", {"row_group_size": 1_000_000}),
)


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def write_chunks(frame: pl.DataFrame, path: Path, chunks: int, options: dict) -> None:
    step = max(1, -(-frame.height // chunks))

    def source(*_):
        for start in range(0, max(frame.height, 1), step):
            yield frame.slice(start, step)

    register_io_source(source, schema=frame.schema).sink_parquet(
        path, maintain_order=True, **options
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--tables", default="entity_edges,account_edges")
    parser.add_argument("--chunks", type=int, default=8, help="chunks a table is written in")
    parser.add_argument("--out", type=Path, help="JSON file for the figures")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="parquet-write-") as tmp:
        for table in args.tables.split(","):
            frame = pl.read_parquet(args.run_dir / f"{table}.parquet")
            for name, options in SETTINGS:
                path = Path(tmp) / f"{table}.parquet"
                wall, cpu = time.perf_counter(), cpu_seconds()
                write_chunks(frame, path, args.chunks, options)
                wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
                read = time.perf_counter()
                back = pl.read_parquet(path)
                read = time.perf_counter() - read
                row = {
                    "table": table,
                    "rows": frame.height,
                    "setting": name,
                    "options": options,
                    "write_wall_s": round(wall, 2),
                    "write_cpu_s": round(cpu, 2),
                    "mib": round(path.stat().st_size / 2**20, 1),
                    "read_wall_s": round(read, 2),
                    "equal": back.equals(frame),
                }
                del back
                path.unlink()
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
