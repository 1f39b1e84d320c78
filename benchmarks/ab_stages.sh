#!/bin/bash
# Adapted from /work/snap/ab.sh; rows appended to $OUTDIR/TAG.tsv, tabled by benchmarks/ab_stages_table.py TSV
# interleaved A/B: A = /work/wt/speed11 (or $AWT), B = /work/main; usage: ab.sh ROUNDS SIZE TAG
W=/work/snap/scale/w${2:-10000000}/events.parquet
TAG=${3:-ab}
OUTF=${OUTDIR:-/tmp}/$TAG.tsv
A=${AWT:-/work/wt/speed11}
for round in $(seq 1 ${1:-3}); do
 for arm in A B; do
  if [ $arm = A ]; then T=$A; else T=/work/main; fi
  R=/tmp/s11_ab_$arm
  rm -rf $R
  load=$(cut -d' ' -f1 /proc/loadavg)
  ( cd $T && PYTHONPATH=$T /usr/bin/time -v /work/main/.venv/bin/python -m graphguard detect $W --out $R -q ) 2> /tmp/ab_stages_time_$arm >/dev/null
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
