"""Compare two snapshots of `snapshot.sh` (before and after a restructuring): which outputs are
equal on every column they had, which columns were added, and what else changed.

    python benchmarks/refactor/compare.py OLD NEW

Float columns that Polars sums in parallel (a cluster's mean risk, its internal weight share)
can differ between two runs of the same code by ~1e-15; they are compared to 1e-12 and named.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

TABLES = ("accounts", "clusters", "account_edges", "entity_edges", "cluster_activity")
VOLATILE_META = {"created_at", "timings_s", "stages", "input"}


def compare_table(old: pl.DataFrame, new: pl.DataFrame) -> tuple[bool, str]:
    added = [c for c in new.columns if c not in old.columns]
    dropped = [c for c in old.columns if c not in new.columns]
    if dropped:
        return False, f"DROPPED {dropped}"
    kept = new.select(old.columns)
    try:
        assert_frame_equal(old, kept, check_exact=True)
        return True, f"equal on every old column; added {added}"
    except AssertionError:
        pass
    try:
        assert_frame_equal(old, kept, check_exact=False, rel_tol=0, abs_tol=1e-12)
    except AssertionError as error:
        return False, f"DIFFERENT: {str(error).splitlines()[0]}"
    noisy = [c for c in old.columns if not old[c].equals(kept[c])]
    return True, f"equal on every old column, {noisy} to 1e-12; added {added}"


def close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-12
    return a == b


def main(old_dir: Path, new_dir: Path) -> bool:
    ok = True
    for run in sorted(p.name for p in old_dir.glob("run_*")):
        for table in TABLES:
            old = pl.read_parquet(old_dir / run / f"{table}.parquet")
            new = pl.read_parquet(new_dir / run / f"{table}.parquet")
            same, words = compare_table(old, new)
            ok &= same
            print(f"{run}/{table}.parquet ({old.height} rows): {words}")
        old_meta = json.loads((old_dir / run / "run.json").read_text())
        new_meta = json.loads((new_dir / run / "run.json").read_text())
        changed = sorted(
            k
            for k in set(old_meta) | set(new_meta)
            if k not in VOLATILE_META and old_meta.get(k) != new_meta.get(k)
        )
        print(f"{run}/run.json: keys that differ (besides times and paths): {changed}")
    for path in sorted(old_dir.glob("eval_*.json")):
        same = json.loads(path.read_text()) == json.loads((new_dir / path.name).read_text())
        ok &= same
        print(f"{path.name}: {'equal' if same else 'DIFFERENT'}")
    for path in sorted(old_dir.glob("report_*.json")):
        old, new = json.loads(path.read_text()), json.loads((new_dir / path.name).read_text())
        rows = len(old["clusters"]) == len(new["clusters"]) and all(
            all(close(value, row[key]) for key, value in old_row.items())
            for old_row, row in zip(old["clusters"], new["clusters"], strict=True)
        )
        ok &= rows and old["summary"] == new["summary"]
        print(f"{path.name}: summary equal {old['summary'] == new['summary']}, rows equal {rows}")
    for path in sorted(old_dir.glob("report_*.md")):
        old_lines = path.read_text().splitlines()
        new_lines = (new_dir / path.name).read_text().splitlines()
        differ = len(old_lines) != len(new_lines) or any(
            a != b and not a.startswith(("Run directory", "Timings", "| events", "| labels"))
            for a, b in zip(old_lines, new_lines, strict=True)
        )
        print(f"{path.name}: {'DIFFERENT' if differ else 'equal but for paths and times'}")
    for path in sorted((old_dir / "export_a").glob("*.parquet")):
        if not (new_dir / "export_a" / path.name).is_file():
            print(f"export_a/{path.name}: MISSING in {new_dir}")
            ok = False
            continue
        same, words = compare_table(
            pl.read_parquet(path), pl.read_parquet(new_dir / "export_a" / path.name)
        )
        ok &= same
        print(f"export_a/{path.name}: {words}")
    for path in sorted(old_dir.glob("explain_*.json")):
        if not (new_dir / path.name).is_file():
            print(f"{path.name}: not in {new_dir} (explained accounts differ)")
            continue
        old, new = json.loads(path.read_text()), json.loads((new_dir / path.name).read_text())
        parts = {k: old["drivers"][k] == new["drivers"][k] for k in ("behaviour", "infrastructure")}
        print(f"{path.name}: risk equal {old['risk'] == new['risk']}, parts equal {parts}")
    print("equal wherever the old outputs had a value" if ok else "SOME OUTPUTS DIFFER")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main(Path(sys.argv[1]), Path(sys.argv[2])) else 1)
