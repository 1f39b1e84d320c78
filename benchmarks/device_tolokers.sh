#!/usr/bin/env bash
# Tolokers on the GPU machine (issue 12, item 5): the pre-norm residual GraphSAGE recipe
# (LayerNorm first, GELU, width 512, dropout 0.2, separate ego and neighbour weights, long
# training at a small learning rate, test at the best validation epoch), depth 1-5 chosen on
# validation, then the chosen setting on all 10 fixed splits; then the GPU half of
# benchmarks/device_train.sh if time is left.
#
# Phase 1: one process per candidate, all sharing the GPU, each over splits 0-2.
# Phase 2: the candidate with the best mean validation ROC-AUC over splits 0-2 (test masks not
# read) on splits 3-9, four processes. Every phase has a hard `timeout`, and every split is
# written when it ends (benchmarks/tolokers_search.py), so a cut phase still returns what it
# measured; $OUT/tolokers.tar.gz is rewritten after each phase.
#
# Needs: $GRAPHGUARD_SHARED_DATA/tolokers/tolokers.npz (carry it), python3 with torch (CUDA),
# torch_geometric and scikit-learn (no polars: see tolokers_search.py).
#
#   bash benchmarks/device_tolokers.sh        # writes to $OUT (or benchmarks/out/device_tolokers)
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-benchmarks/out/device_tolokers}
RUNS=$OUT/runs
P1=${P1_SECONDS:-240}
P2=${P2_SECONDS:-180}
TRAIN_BENCH=${TRAIN_BENCH_SECONDS:-100}
SEARCH=benchmarks/tolokers_search.py
# a dry run elsewhere: DEVICE=cpu WIDTH=16 EPOCHS=3 P1_SECONDS=60 P2_SECONDS=60
DEVICE=${DEVICE:-cuda}
WIDTH=${WIDTH:-512}
EPOCHS=${EPOCHS:-1000}
mkdir -p "$RUNS"
start=$(date +%s)

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
python3 -c "import torch, torch_geometric; print('torch', torch.__version__, 'cuda', \
torch.version.cuda, 'pyg', torch_geometric.__version__, 'gpu', torch.cuda.is_available())" ||
    exit 1

recipe='"block": "prenorm", "activation": "gelu", "dropout": 0.2, "lr": 3e-4'
recipe+=", \"hidden\": $WIDTH, \"epochs\": $EPOCHS"
pack() { tar -czf "$OUT/tolokers.tar.gz" -C "$OUT" runs; }

# phase 1: depth 1-5, and depth 3 with the label trick
pids=()
for d in 1 2 3 4 5; do
    timeout "$P1" python3 "$SEARCH" --device "$DEVICE" --splits 0-2 --deadline-s $((P1 - 15)) \
        --out "$RUNS" --config "prenorm_d$d={$recipe, \"layers\": $d}" \
        2>"$RUNS/p1_d$d.log" &
    pids+=($!)
done
timeout "$P1" python3 "$SEARCH" --device "$DEVICE" --splits 0-2 --deadline-s $((P1 - 15)) \
    --out "$RUNS" --config "prenorm_d3_lbl={$recipe, \"layers\": 3, \"label_input\": true}" \
    2>"$RUNS/p1_d3_lbl.log" &
pids+=($!)
wait "${pids[@]}"
tail -n 3 "$RUNS"/p1_*.log
python3 "$SEARCH" --summary "$RUNS" --choose 0-2 | tee "$OUT/phase1.txt"
pack
chosen=$(tail -n 1 "$OUT/phase1.txt")
echo "phase 1 took $(($(date +%s) - start)) s; chosen: $chosen"

# phase 2: the chosen config on splits 3-9, four processes
if [ -n "$chosen" ] && [ -f "$RUNS/$chosen.jsonl" ]; then
    config=$(head -n 1 "$RUNS/$chosen.jsonl" | python3 -c "import json,sys; \
p=json.load(sys.stdin)['params']; p.pop('device'); print(json.dumps(p))")
    pids=()
    for part in 3,4 5,6 7,8 9; do
        timeout "$P2" python3 "$SEARCH" --device "$DEVICE" --splits "$part" \
            --deadline-s $((P2 - 15)) --out "$RUNS/p2_${part/,/_}" \
            --config "$chosen=$config" 2>"$RUNS/p2_${part/,/_}.log" &
        pids+=($!)
    done
    wait "${pids[@]}"
    tail -n 2 "$RUNS"/p2_*.log
    pack
fi
echo "phases 1-2 took $(($(date +%s) - start)) s"

# the GPU half of the training speed benchmark, if its inputs travelled
if [ -f benchmarks/out/inputs_100k.npz ]; then
    timeout "$TRAIN_BENCH" python3 benchmarks/bench_train.py \
        --inputs benchmarks/out/inputs_100k.npz --device "$DEVICE" \
        --epochs-full 8 --epochs-mini 3 --epochs-mini-large 3 --repeats 5 \
        --time-budget-s $((TRAIN_BENCH - 40)) --out "$OUT/train_speed_gpu.json"
    [ -f "$OUT/train_speed_gpu.json" ] && python3 benchmarks/bench_train.py --compare \
        experiments/benchmarks/train_speed_cpu.json "$OUT/train_speed_gpu.json" \
        | tee "$OUT/train_speed_tables.md"
fi
echo "all took $(($(date +%s) - start)) s"
