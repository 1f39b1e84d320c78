#!/usr/bin/env bash
# Tolokers on the GPU machine, second round (issue 12, item 5): seed ensembles of the two best
# GraphSAGE settings, and a probe of the small-learning-rate recipe that round 1
# (benchmarks/device_tolokers.sh) did not reach.
#
# Members: the plain setting behind the 0.8446 row (width 256, 3 layers, residual, jumping
# knowledge, dropout 0.5, lr 1e-3, up to 600 epochs, patience 60) and the same with the label
# trick, each with $SEEDS seeds (--seed-offset), every member on all 10 fixed splits. Probe:
# pre-norm, GELU, width 256, depth 3, label trick, dropout 0.5, lr 1e-4, up to 1500 epochs
# (patience 300) on splits 0 and 1, to compare on validation with round 1's lr 3e-4.
# Every process shares the one GPU, has a hard `timeout`, and writes each split when it ends
# (benchmarks/tolokers_search.py), so a cut run keeps its finished splits. The ensembles and
# the blend with the trees are computed afterwards on any machine:
#
#   python benchmarks/tolokers_search.py --summary RUNS --ensemble 'plain=plain_s*' \
#       --ensemble 'lbl=plainlbl_s*' --ensemble 'both=plain*_s*'
#   python benchmarks/real_data.py tolokers --models gbt --threads 1 \
#       --graphsage-scores RUNS/ensembles/both --out OUT
#
# Needs: $GRAPHGUARD_SHARED_DATA/tolokers/tolokers.npz (carry it), python3 with torch (CUDA),
# torch_geometric and scikit-learn (no polars).
#
#   bash benchmarks/device_tolokers_ensemble.sh     # writes to $OUT (or benchmarks/out/...)
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-benchmarks/out/device_tolokers_ensemble}
RUNS=$OUT/runs
LIMIT=${LIMIT_SECONDS:-420}
SEEDS=${SEEDS:-4}
SEARCH=benchmarks/tolokers_search.py
# a dry run elsewhere: DEVICE=cpu WIDTH=8 EPOCHS=3 PROBE_EPOCHS=3 SEEDS=1 LIMIT_SECONDS=120
DEVICE=${DEVICE:-cuda}
WIDTH=${WIDTH:-256}
EPOCHS=${EPOCHS:-600}
PROBE_EPOCHS=${PROBE_EPOCHS:-1500}
mkdir -p "$RUNS"
start=$(date +%s)

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
python3 -c "import torch, torch_geometric; print('torch', torch.__version__, 'cuda', \
torch.version.cuda, 'pyg', torch_geometric.__version__, 'gpu', torch.cuda.is_available())" ||
    exit 1

plain="\"hidden\": $WIDTH, \"layers\": 3, \"residual\": true, \"jumping_knowledge\": true"
plain+=", \"dropout\": 0.5, \"lr\": 1e-3, \"epochs\": $EPOCHS, \"patience\": 60"
probe="\"block\": \"prenorm\", \"activation\": \"gelu\", \"hidden\": $WIDTH, \"layers\": 3"
probe+=", \"label_input\": true, \"dropout\": 0.5, \"lr\": 1e-4, \"epochs\": $PROBE_EPOCHS"
probe+=", \"patience\": 300"

pids=()
for k in $(seq 0 $((SEEDS - 1))); do
    for kind in plain plainlbl; do
        extra=""
        [ "$kind" = plainlbl ] && extra=', "label_input": true'
        timeout "$LIMIT" python3 "$SEARCH" --device "$DEVICE" --splits 0-9 --seed-offset "$k" \
            --deadline-s $((LIMIT - 10)) --out "$RUNS" \
            --config "${kind}_s$k={$plain$extra}" 2>"$RUNS/${kind}_s$k.log" &
        pids+=($!)
    done
done
for split in 0 1; do
    timeout "$LIMIT" python3 "$SEARCH" --device "$DEVICE" --splits "$split" \
        --out "$RUNS/probe_$split" --config "prenorm_lr1e4={$probe}" \
        2>"$RUNS/probe_$split.log" &
    pids+=($!)
done
wait "${pids[@]}"
tail -n 2 "$RUNS"/*.log
tar -czf "$OUT/runs.tar.gz" -C "$OUT" runs
echo "all took $(($(date +%s) - start)) s"
