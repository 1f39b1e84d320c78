#!/usr/bin/env bash
# GraphSAGE training/scoring speed on the GPU machine (issue 3): the CUDA run, then the same
# benchmark on that machine's own CPU cores (all of them) for reference, then the tables.
#
# Needs benchmarks/out/inputs_100k.npz (git-ignored: carry it; make it here with
# `python benchmarks/bench_train.py --prepare benchmarks/out`) and, for the comparison with this
# project's 1-thread CPU figures, experiments/benchmarks/train_speed_cpu.json (travels with the
# tree). Needs only python3 with numpy, torch (CUDA), torch_geometric and scikit-learn: no
# polars (see bench_train.py's docstring).
#
# Time: made to end within 6 minutes. Each run has a hard `timeout`, and --time-budget-s skips
# a 1M phase predicted (from its 100k time) to end past the budget; the JSON is rewritten after
# every phase, so a cut run still returns what it measured. Worst case 170 + 160 s plus
# start-up; expected ~1-2 min on the GPU and ~2-3 min on the CPU.
#
#   bash benchmarks/device_train.sh            # writes to $OUT (or benchmarks/out/device)
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-benchmarks/out/device}
INPUTS=benchmarks/out/inputs_100k.npz
BENCH=benchmarks/bench_train.py
mkdir -p "$OUT"
rc=0

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv \
    | tee "$OUT/nvidia-smi.txt" || rc=$?
nproc
python3 -c "import torch, torch_geometric; print('torch', torch.__version__, 'cuda', \
torch.version.cuda, 'pyg', torch_geometric.__version__, 'gpu', torch.cuda.is_available())"

# GPU: bf16 autocast as the detector does; cheap epochs, so more of them
timeout 170 python3 "$BENCH" --inputs "$INPUTS" --device cuda \
    --epochs-full 8 --epochs-mini 3 --epochs-mini-large 3 --repeats 5 --time-budget-s 120 \
    --out "$OUT/train_speed_gpu.json" || rc=$?

# the GPU machine's own CPU, every core (torch's default thread count); RSS cap well inside
# its 128 GiB, 1M sampled training cut to one warm-up + one timed epoch to fit the time
timeout 160 python3 "$BENCH" --inputs "$INPUTS" --device cpu \
    --epochs-full 3 --epochs-mini 3 --epochs-mini-large 2 --repeats 3 --time-budget-s 110 \
    --max-rss-gib 64 --out "$OUT/train_speed_devcpu.json" || rc=$?

{
    for f in train_speed_gpu train_speed_devcpu; do
        [ -f "$OUT/$f.json" ] && python3 "$BENCH" --table "$OUT/$f.json" && echo
    done
    if [ -f "$OUT/train_speed_gpu.json" ]; then
        [ -f "$OUT/train_speed_devcpu.json" ] &&
            python3 "$BENCH" --compare "$OUT/train_speed_devcpu.json" "$OUT/train_speed_gpu.json" &&
            echo
        python3 "$BENCH" --compare experiments/benchmarks/train_speed_cpu.json \
            "$OUT/train_speed_gpu.json"
    fi
} | tee "$OUT/tables.md"
exit $rc
