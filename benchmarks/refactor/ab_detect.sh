#!/usr/bin/env bash
# A/B timing of `graphguard detect`: two source trees alternating on the same logs, in one run
# (a ratio holds on a shared machine; an absolute time does not):
#   benchmarks/refactor/ab_detect.sh OLD_SRC NEW_SRC EVENTS.parquet [ROUNDS]
set -euo pipefail
OLD=$(realpath "$1"); NEW=$(realpath "$2"); EVENTS=$(realpath "$3"); ROUNDS=${4:-2}
HERE=$(cd "$(dirname "$0")/../.." && pwd); PY=${PYTHON:-$HERE/.venv/bin/python}
OUT=$(mktemp -d)
for round in $(seq "$ROUNDS"); do
  for side in old new; do
    src=$OLD; [ $side = new ] && src=$NEW
    # run inside the tree: `python -m` puts the working directory first on sys.path
    (cd "$src" && /usr/bin/time -f "$side round $round: %e s wall, peak %M KiB" \
      env PYTHONPATH="$src" "$PY" -m graphguard detect "$EVENTS" --out "$OUT/$side" --overwrite -q > /dev/null)
  done
done
rm -rf "$OUT"
