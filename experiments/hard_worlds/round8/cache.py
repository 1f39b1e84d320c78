# ruff: noqa: E402, SIM115
# Pilot cache of round 8 of ../README.md (scratch under /tmp/hardw11): one min_support=1 hard
# world's inputs (`hard_worlds.prepare`) plus the account graph's edge table, pickled.
#   python cache.py SEED
import os
import pickle
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../benchmarks"))
import hard_worlds as hw

from graphguard.compose import compose_config, settings
from graphguard.pipeline.stages import build_stages
from graphguard.simulate import SimulationConfig, simulate

seed = int(sys.argv[1])
config = settings(compose_config(["graph.sync.min_support=1"])).detect
t = time.perf_counter()
world = simulate(SimulationConfig(n_accounts=4000, seed=seed, difficulty="hard"))
prep = hw.prepare(world, config)
prep["edges"] = build_stages(world.events, config).graph.edges
prep["events"] = world.events
os.makedirs("/tmp/hardw11", exist_ok=True)
with open(f"/tmp/hardw11/prep_{seed}.pkl", "wb") as f:
    pickle.dump(prep, f)
print(seed, round(time.perf_counter() - t, 1), prep["inputs"].x.shape, prep["edges"].columns)
