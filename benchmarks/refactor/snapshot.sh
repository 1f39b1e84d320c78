#!/usr/bin/env bash
# Save what graphguard writes on two fixed simulated worlds, so a restructuring can prove that
# behaviour is unchanged:  SRC=<checkout> benchmarks/refactor/snapshot.sh OUT [WORLDS]
# SRC is the source tree to run (default: this checkout); run it once on the old tree (a git
# worktree of the commit before) and once on the new one, then compare.py OLD NEW.
set -euo pipefail
OUT=$1; WORLDS=${2:-$OUT/../worlds}
HERE=$(cd "$(dirname "$0")/../.." && pwd); SRC=$(realpath "${SRC:-$HERE}"); PY=${PYTHON:-$HERE/.venv/bin/python}
mkdir -p "$OUT" "$WORLDS"
OUT=$(realpath "$OUT"); WORLDS=$(realpath "$WORLDS")
# run inside SRC: `python -m` puts the working directory first on sys.path, before PYTHONPATH
GG="env -C $SRC PYTHONPATH=$SRC $PY -m graphguard"
[ -d "$WORLDS/a" ] || $GG simulate "$WORLDS/a" --accounts 6000 --seed 7 --overwrite
[ -d "$WORLDS/b" ] || $GG simulate "$WORLDS/b" --accounts 6000 --seed 11 --overwrite
for w in a b; do
  $GG detect "$WORLDS/$w/events.parquet" --labels "$WORLDS/$w/labels.parquet" --out "$OUT/run_$w" --overwrite -q > /dev/null
  $GG report "$OUT/run_$w" --json > "$OUT/report_$w.json"
  $GG report "$OUT/run_$w" --markdown > "$OUT/report_$w.md"
  $GG evaluate "$OUT/run_$w" --truth "$WORLDS/$w/truth.parquet" --json > "$OUT/eval_$w.json"
done
# one model for both sides (trained by whichever side runs first), so detect --model compares
[ -f "$WORLDS/model_a.pt" ] || $GG train "$WORLDS/a/events.parquet" --labels "$WORLDS/a/labels.parquet" --out "$WORLDS/model_a.pt" --epochs 30 -q
$GG detect "$WORLDS/b/events.parquet" --model "$WORLDS/model_a.pt" --out "$OUT/run_bm" --overwrite -q > /dev/null
$GG report "$OUT/run_bm" --json > "$OUT/report_bm.json"
$GG evaluate "$OUT/run_bm" --truth "$WORLDS/b/truth.parquet" --json > "$OUT/eval_bm.json"
$GG export "$OUT/run_a" --top 3 -f parquet -f graphml -f cytoscape --out "$OUT/export_a" --overwrite > /dev/null
for run in run_a run_bm; do
  for acc in $($PY -c "
import polars as pl
a = pl.read_parquet('$OUT/$run/accounts.parquet').sort('risk', descending=True)
print(' '.join(a['account_id'].head(2).to_list() + a['account_id'].tail(1).to_list()))"); do
    $GG explain "$OUT/$run" "$acc" --json > "$OUT/explain_${run}_$acc.json"
  done
done
echo "snapshot written to $OUT"
