#!/bin/bash
# Interleaved A/B of `graphguard detect`, per stage: arm A = the checkout $AWT, arm B = $BWT
# (default: this checkout), alternating, ROUNDS rounds on $WORLDS/wSIZE/events.parquet (worlds
# written by `graphguard simulate`, e.g. benchmarks/scale.py's). Rows (wall, CPU, peak RSS, load,
# each stage's seconds/CPU/peak) are appended to $OUTDIR/TAG.tsv; table them with
# `python benchmarks/ab_stages_table.py TSV`.
#   AWT=../other-checkout WORLDS=/data/scale bash benchmarks/ab_stages.sh 3 10000000 ab
W=${WORLDS:?set WORLDS to the folder of wSIZE worlds}/w${2:-10000000}/events.parquet
TAG=${3:-ab}
OUTF=${OUTDIR:-/tmp}/$TAG.tsv
A=${AWT:?set AWT to the checkout to compare}
B=${BWT:-$PWD}
PY=${PY:-$B/.venv/bin/python}
for round in $(seq 1 ${1:-3}); do
 for arm in A B; do
  if [ $arm = A ]; then T=$A; else T=$B; fi
  R=/tmp/s11_ab_$arm
  rm -rf $R
  load=$(cut -d' ' -f1 /proc/loadavg)
  ( cd $T && PYTHONPATH=$T /usr/bin/time -v $PY -m graphguard detect $W --out $R -q ) 2> /tmp/ab_stages_time_$arm >/dev/null
  w=$(grep Elapsed /tmp/ab_stages_time_$arm | awk '{print $NF}'); r=$(grep Maximum /tmp/ab_stages_time_$arm | awk '{print $NF}')
  u=$(grep "User time" /tmp/ab_stages_time_$arm | awk '{print $NF}'); s=$(grep "System time" /tmp/ab_stages_time_$arm | awk '{print $NF}')
  python3 - "$round" "$arm" "$w" "$r" "$u" "$s" "$load" "$R" >> $OUTF <<'PY'
import json, sys
rnd, arm, w, r, u, s, load, R = sys.argv[1:]
d = json.load(open(R + "/run.json"))["stages"]
m, sec = w.split(":")[-2:]; wall = int(m) * 60 + float(sec)
cells = [rnd, arm, f"{wall:.2f}", f"{float(u)+float(s):.2f}", f"{int(r)/2**20:.2f}", load]
cells += [f"{k}={v['seconds']:.2f}/{v.get('cpu_seconds') or 0:.2f}/{v.get('stage_peak_rss_mib',0):.0f}" for k, v in d.items()]
print("\t".join(cells))
PY
  tail -1 $OUTF
 done
done
