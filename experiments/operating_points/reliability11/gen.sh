#!/bin/bash
# Build the run tables the offline check reads: DIR/model.pt, DIR/w<seed>/, DIR/run<seed>/ (one
# detect per seed, no target: the tables do not depend on it).
#   gen.sh DIR ACCOUNTS DIFFICULTY MODEL|- SEED...
# MODEL "-": train on seed 1 of the same difficulty (graphguard train --set train.device=cpu).
set -euo pipefail
dir=$1; n=$2; diff=$3; model=$4; shift 4
PY=/work/main/.venv/bin/python
export OMP_NUM_THREADS=1
mkdir -p "$dir"
gg() { nice -n 10 $PY -m graphguard "$@"; }
if [ "$model" = "-" ]; then
  [ -f "$dir/model.pt" ] || {
    gg simulate "$dir/w1" --accounts "$n" --seed 1 --label-fraction 0.4 --set simulate.difficulty=$diff -q --overwrite
    gg train "$dir/w1/events.parquet" --labels "$dir/w1/labels.parquet" --out "$dir/model.pt" --set train.device=cpu -q
  }
else
  cp "$model" "$dir/model.pt"
fi
for s in "$@"; do
  [ -f "$dir/run$s/accounts.parquet" ] && continue
  gg simulate "$dir/w$s" --accounts "$n" --seed "$s" --label-fraction 0.4 --set simulate.difficulty=$diff -q --overwrite
  gg detect "$dir/w$s/events.parquet" --model "$dir/model.pt" --out "$dir/run$s" --device cpu -q
  rm -f "$dir/w$s/events.parquet"
done
