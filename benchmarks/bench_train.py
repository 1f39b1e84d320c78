"""Training and scoring speed of the GraphSAGE account classifier, at 100k and 1M accounts.

Three modes:

    # 1. once, where the full pipeline runs (polars, igraph, leidenalg): simulate a seeded
    #    100k-account world, build the stages `graphguard train` builds, save the model inputs
    python benchmarks/bench_train.py --prepare benchmarks/out

    # 2. the benchmark, on any machine with numpy + torch (+ torch_geometric, sklearn):
    python benchmarks/bench_train.py --inputs benchmarks/out/inputs_100k.npz --device cpu \\
        --out experiments/benchmarks/train_speed_cpu.json
    python benchmarks/bench_train.py --inputs benchmarks/out/inputs_100k.npz --device cuda \\
        --out train_speed_gpu.json

    # 3. side by side, with GPU/CPU ratios:
    python benchmarks/bench_train.py --compare train_speed_cpu.json train_speed_gpu.json

What is measured is what `graphguard train` and `graphguard detect --model` run: the training
loop is `GraphSAGEDetector.fit` itself (hidden 64, 2 layers, fanouts 15,10, batch 1024, AdamW,
class-weighted cross-entropy, bf16 autocast on CUDA), and the seconds per epoch are the
detector's own ``history_[i]["train_seconds"]`` (the optimisation pass only: sampling, the
forward and backward passes, the optimiser steps; on CUDA every step ends in a host read of the
loss, so the time is synchronised). Full-batch vs sampled training is forced through the
detector's ``full_batch_max_nodes`` (huge: full batch; 0: neighbour-sampled mini-batches).
The training accounts are the detector's default ones: the labelled accounts (40% in the
simulator) minus its stratified 20% validation split drawn with seed 0, so 32% of all accounts.
The validation accounts are passed as an empty ``val_mask`` here: validation runs after the
timed part of every epoch and does not change it, so skipping it only saves wall time (and
early stopping cannot end a run early). The first epoch is a warm-up and is left out of the
median.

Scoring is timed two ways: the model alone on inputs already on the device (``model(x, edges)``
for a full-graph forward, ``model.inference(x, edges, 8192)`` for layer-wise inference, both
under the detector's autocast), and ``GraphSAGEDetector.predict_proba`` end to end
(normalisation, host-to-device copies, softmax, copy back), with ``full_batch_max_nodes``
choosing its full-forward or layer-wise branch. Each is one warm-up call, then the median of
``--repeats`` calls; on CUDA with ``torch.cuda.synchronize()`` before the clock is read.

1M accounts are ten disjoint copies of the 100k graph (node ids shifted by 100k per copy, same
features and labels): degrees and features are distributed exactly as at 100k and the work per
account is the same, only the size grows. It is not a 1M-account simulation (which would have
larger campaigns and hubs).

Peak memory per phase: on CPU the process's peak RSS (VmHWM, reset through
/proc/self/clear_refs before each phase; ru_maxrss, a lifetime peak, where that is refused),
on CUDA ``torch.cuda.max_memory_allocated`` (reset per phase) besides the host RSS.

Imports. Benchmark mode needs only numpy, torch, torch_geometric (SAGEConv) and scikit-learn
(imported by the detector module) and the `graphguard.models` modules. Those modules import
polars at module level (`detector.py`, `schema.py`, `features/account.py`,
`graph/projections.py`), but on the benchmark path polars is only touched at import time:
`schema.py` builds a dict of polars dtypes, everything else uses polars inside functions that
this script never calls (`graph_inputs`, `label_codes` and the feature code run in
``--prepare`` only). So where polars is not installed (the GPU machine) the script puts a
stand-in module under ``sys.modules["polars"]`` *before* importing graphguard, whose every
attribute is an inert placeholder type; the JSON records ``"polars_stub": true``. The real
modules and the real training loop run unchanged; polars used for real on the timed path
would fail loudly (any method of a placeholder raises), not silently. ``--stub-polars`` forces
the stand-in where polars is installed, to test that path here.

Sizes: the "100k" world is 100,000 simulated ordinary accounts plus the planted campaign
accounts (107,039 accounts with seed 101); "1M" is ten copies of it (1,070,390).

Guards, so a run stays inside its machine: on CPU every phase runs under a soft RLIMIT_AS that
leaves ``--max-rss-gib`` of room for the resident set, so a phase that needs more fails with an
allocation error, recorded in the JSON, instead of taking the memory (the estimate from 100k x
copies is recorded beside it); ``--time-budget-s`` skips a phase predicted to end past the
budget. The JSON is rewritten after every phase.

Shared CPUs: each phase records process CPU time / wall time (``cpu_per_wall``: about the
thread count on idle cores, lower when other jobs took them). CPU runs also give the figures in
CPU time (``s_per_epoch_cpu``, ``accounts_per_cpu_s``); with one thread they estimate an idle
core's speed and are much less sensitive to other jobs than the wall-clock figures.
"""

from __future__ import annotations

import argparse
import functools
import importlib.machinery
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import types
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

SCALE_NOTE = (
    "1M = ten disjoint copies of the 100k graph (node ids shifted by 100k per copy; same "
    "features and labels): exact degree and feature distribution, not a 1M simulation"
)
BIG = 10**12  # full_batch_max_nodes that forces full-batch training / full-forward scoring


# --------------------------------------------------------------------------------------------
# polars stand-in (benchmark mode only, only when polars is missing or --stub-polars)


class _PolarsPlaceholder:
    """An instance of a stand-in polars attribute. Constructing one is all that graphguard's
    module-level code does at import time (``pl.Datetime("us", "UTC")``); any attribute of an
    instance (a method of a "DataFrame", an "expression") raises, so real use fails loudly."""

    _name = "polars.?"

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise RuntimeError(
            f"polars is not installed (bench_train.py stand-in): {self._name}.{attr}"
        )

    def __repr__(self) -> str:
        return f"<polars stand-in {self._name}>"


@functools.cache
def _placeholder_type(name: str) -> type:
    """One class per attribute name, so ``isinstance(x, pl.DataFrame)`` works (False for
    anything that is not a placeholder)."""
    return type(name.rsplit(".", 1)[-1], (_PolarsPlaceholder,), {"_name": name})


def _install_polars_stub() -> None:
    stub = types.ModuleType("polars", "stand-in: polars is not installed (bench_train.py)")
    stub.__version__ = "stand-in"
    stub.__spec__ = importlib.machinery.ModuleSpec("polars", None)

    def attribute(attr: str) -> type:  # PEP 562 module __getattr__
        if attr.startswith("__"):  # __file__, __path__, ...: tools probing modules (inspect)
            raise AttributeError(attr)
        return _placeholder_type(f"polars.{attr}")

    stub.__getattr__ = attribute
    sys.modules["polars"] = stub


def import_models(force_stub: bool = False):
    """``(detector module, sampling module, polars_stubbed)``; see the module docstring."""
    stubbed = False
    if force_stub or importlib.util.find_spec("polars") is None:
        if "polars" in sys.modules and not isinstance(sys.modules["polars"], types.ModuleType):
            raise RuntimeError("polars already imported")
        _install_polars_stub()
        stubbed = True
    from graphguard.models import detector, sampling

    return detector, sampling, stubbed


# --------------------------------------------------------------------------------------------
# machine facts and memory


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts(torch, device: str, polars_stub: bool) -> dict:
    facts = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpus_logical": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "env_threads": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS")
        },
        "numpy": np.__version__,
        "polars_stub": polars_stub,
    }
    try:
        import psutil

        facts["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        import torch_geometric

        facts["torch_geometric"] = torch_geometric.__version__
    except ImportError:
        facts["torch_geometric"] = None
    facts["pyg_lib"] = importlib.util.find_spec("pyg_lib") is not None
    facts["torch_sparse"] = importlib.util.find_spec("torch_sparse") is not None
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        facts["gpu"] = torch.cuda.get_device_name(0)
        facts["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        facts["cuda"] = torch.version.cuda
        facts["bf16"] = torch.cuda.is_bf16_supported()
    return facts


class PeakMemory:
    """Peak host RSS (and CUDA allocation) over one phase."""

    def __init__(self, torch, device: str):
        self.torch = torch
        self.cuda = device == "cuda"
        self.method = "VmHWM"

    def reset(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        except OSError:
            self.method = "ru_maxrss (process lifetime)"
        if self.cuda:
            self.torch.cuda.synchronize()
            self.torch.cuda.reset_peak_memory_stats()

    def read(self) -> dict:
        out: dict = {}
        if self.method == "VmHWM":
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out["peak_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
        else:
            import resource

            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out["peak_rss_mib"] = round(peak_kib / 1024, 1)
        out["peak_rss_method"] = self.method
        if self.cuda:
            self.torch.cuda.synchronize()
            out["cuda_max_allocated_mib"] = round(self.torch.cuda.max_memory_allocated() / 2**20, 1)
            out["cuda_max_reserved_mib"] = round(self.torch.cuda.max_memory_reserved() / 2**20, 1)
        return out


def _proc_status_kib() -> dict[str, int]:
    values = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Vm") and line.endswith("kB"):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0])
    except OSError:
        pass
    return values


def current_rss_mib() -> float:
    return round(_proc_status_kib().get("VmRSS", 0) / 1024, 1)


@contextmanager
def memory_cap(max_rss_gib: float, enabled: bool):
    """Soft address-space limit (RLIMIT_AS) leaving ``max_rss_gib`` minus the current RSS of
    room: a phase that would need more fails with an allocation error (recorded) instead of
    pushing the machine's memory past the limit. CPU only (CUDA maps huge virtual ranges).
    Yields the cap in GiB, or None where none was set; the old soft limit is put back."""
    status = _proc_status_kib()
    if not enabled or not max_rss_gib or "VmSize" not in status:
        yield None
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    room = max(max_rss_gib * 2**30 - status["VmRSS"] * 1024, 0)
    cap = int(status["VmSize"] * 1024 + room)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield round(cap / 2**30, 2)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# --------------------------------------------------------------------------------------------
# --prepare


def prepare(out_dir: Path, n_accounts: int, seed: int) -> dict:
    """Simulate, build the stages and features as `graphguard train` does, save the inputs."""
    from graphguard.config import DetectConfig
    from graphguard.features.account import FEATURE_NAMES
    from graphguard.graph.inputs import graph_inputs, label_codes
    from graphguard.pipeline.stages import build_stages
    from graphguard.simulate import SimulationConfig, simulate

    timings = {}
    t0 = time.perf_counter()
    world = simulate(SimulationConfig(n_accounts=n_accounts, seed=seed))
    timings["simulate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stages = build_stages(world.events, DetectConfig())
    timings["stages_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    features = stages.features()
    inputs = graph_inputs(features, stages.graph.edges, feature_names=FEATURE_NAMES)
    y = label_codes(stages.account_ids, world.labels)
    timings["features_s"] = time.perf_counter() - t0

    arrays: dict[str, np.ndarray] = {
        "x": inputs.x.numpy().astype(np.float32),
        "y": y.astype(np.int8),
    }
    edges_directed = {}
    for relation, edge_index in inputs.edge_index_dict.items():
        both = edge_index.numpy()
        half = both[:, : both.shape[1] // 2]
        # graph_inputs lists every pair, then every pair reversed: keep the first half only
        if not np.array_equal(np.concatenate([half, half[::-1]], axis=1), both):
            raise AssertionError(f"{relation}: edge index is not [pairs, reversed pairs]")
        if half.size and half.max() >= np.iinfo(np.int32).max:
            raise AssertionError("node ids do not fit int32")
        arrays[f"edges_{relation}"] = half.astype(np.int32)
        edges_directed[relation] = int(both.shape[1])
    label_counts = {name: int((y == code).sum()) for code, name in enumerate(_labels())} | {
        "unlabelled": int((y < 0).sum())
    }
    meta = {
        "n_accounts": int(inputs.num_nodes),
        "n_accounts_simulated_benign": n_accounts,
        "seed": seed,
        "events": int(world.events.height),
        "feature_names": list(inputs.feature_names),
        "relations": list(inputs.edge_index_dict),
        "edges_directed": edges_directed,
        "labels": label_counts,
        "edges_stored": "one direction per relation, int32 [2, E]; the loader adds the reverse",
        "prepare_timings_s": {k: round(v, 2) for k, v in timings.items()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    arrays["meta"] = np.array(json.dumps(meta))
    out_dir.mkdir(parents=True, exist_ok=True)
    label = f"{round(inputs.num_nodes, -3) // 1000}k" if n_accounts != 100_000 else "100k"
    path = out_dir / f"inputs_{label}.npz"
    tmp = path.with_name(path.name + ".partial.npz")
    t0 = time.perf_counter()
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    timings["save_s"] = time.perf_counter() - t0
    meta["prepare_timings_s"]["save_s"] = round(timings["save_s"], 2)
    meta["path"] = str(path)
    meta["npz_mib"] = round(path.stat().st_size / 2**20, 2)
    meta["x_shape"] = list(arrays["x"].shape)
    return meta


def _labels() -> tuple[str, ...]:
    from graphguard.schema import LABELS

    return LABELS


# --------------------------------------------------------------------------------------------
# benchmark


def load_inputs(torch, detector_mod, path: Path, copies: int):
    """`GraphInputs` of ``copies`` disjoint copies of the saved graph, and ``y``."""
    z = np.load(path)
    meta = json.loads(str(z["meta"]))
    x = z["x"]
    n = x.shape[0]
    y = z["y"].astype(np.int64)
    edge_index_dict = {}
    for relation in meta["relations"]:
        half = z[f"edges_{relation}"].astype(np.int64)
        if copies > 1:
            half = np.concatenate([half + c * n for c in range(copies)], axis=1)
        both = np.concatenate([half, half[::-1]], axis=1)  # as graph_inputs lays them out
        edge_index_dict[relation] = torch.from_numpy(np.ascontiguousarray(both))
    if copies > 1:
        x = np.tile(x, (copies, 1))
        y = np.tile(y, copies)
    inputs = detector_mod.GraphInputs(
        x=torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        edge_index_dict=edge_index_dict,
        feature_names=tuple(meta["feature_names"]),
    )
    return inputs, y, meta


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _sync(torch, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def train_phase(torch, detector_mod, inputs, y, train_mask, *, device, full_batch, epochs, mem):
    """Fit for ``epochs`` epochs, full batch or sampled; seconds per epoch from ``history_``."""
    det = detector_mod.GraphSAGEDetector(
        epochs=epochs,
        patience=epochs + 1,
        full_batch_max_nodes=BIG if full_batch else 0,
        device=device,
        seed=0,
    )
    mem.reset()
    rss_before = current_rss_mib()
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    det.fit(inputs, y, train_mask=train_mask, val_mask=np.zeros_like(train_mask))
    _sync(torch, device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    seconds = [record["train_seconds"] for record in det.history_]
    timed = seconds[1:] if len(seconds) > 1 else seconds
    n_seeds = int(train_mask.sum())
    result = {
        "full_batch": bool(det.full_batch_),
        "epochs_run": len(seconds),
        "epoch_seconds": seconds,
        "warmup_epochs_dropped": len(seconds) - len(timed),
        "s_per_epoch": round(_median(timed), 4),
        "train_seeds": n_seeds,
        "s_per_1k_seeds": round(_median(timed) / (n_seeds / 1000), 5),
        "fit_wall_s": round(wall, 2),
        "fit_cpu_s": round(cpu, 2),
        # process CPU time / wall time: ~torch threads when the cores are free; below that,
        # other jobs took cores (this machine is shared)
        "cpu_per_wall": round(cpu / wall, 2),
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "rss_before_mib": rss_before,
        **mem.read(),
    }
    if device == "cpu":
        # On a shared machine other jobs take cores; process CPU time is less sensitive to that
        # than wall time. With one torch thread, s_per_epoch * cpu/wall estimates the seconds an
        # epoch would take on an idle core (an estimate: contention also costs cache).
        result["s_per_epoch_cpu"] = round(result["s_per_epoch"] * cpu / wall, 4)
    if not full_batch:
        result["batches_per_epoch"] = -(-n_seeds // det.batch_size)
        result["fanouts"] = list(det.fanouts)
        result["batch_size"] = det.batch_size
    return det, result


def time_calls(torch, device: str, fn, repeats: int) -> dict:
    fn()  # warm-up
    _sync(torch, device)
    times, cpu_times = [], []
    for _ in range(repeats):
        _sync(torch, device)
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        _sync(torch, device)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    return {
        "seconds": [round(t, 4) for t in times],
        "median_s": round(_median(times), 4),
        "median_cpu_s": round(_median(cpu_times), 4),
        "cpu_per_wall": round(sum(cpu_times) / sum(times), 2),
    }


class Guard:
    """Runs one phase under the time budget and, on CPU, the memory cap; records why not."""

    def __init__(self, torch, args, t_start: float):
        self.torch = torch
        self.args = args
        self.deadline = t_start + args.time_budget_s if args.time_budget_s else None
        self.growth_mib: dict[str, float] = {}  # phase -> peak RSS growth at 1 copy
        self.wall_s: dict[str, float] = {}  # phase -> wall seconds at 1 copy

    def run(self, name: str, copies: int, fn, units: int = 1) -> dict:
        """``fn()``'s result dict, or why it did not run; ``units`` (epochs) scale the time
        predicted from the phase at 1 copy."""
        args = self.args
        note: dict = {}
        if copies > 1 and name in self.growth_mib:
            estimate = current_rss_mib() + self.growth_mib[name] * copies
            note["estimated_peak_rss_gib"] = round(estimate / 1024, 1)
        if self.deadline is not None:
            # a phase at k copies is predicted to take k times its wall time at 1 copy
            predicted = self.wall_s.get(name, 0.0) * units * copies if copies > 1 else 0.0
            if time.perf_counter() + predicted > self.deadline:
                return {
                    "skipped": f"--time-budget-s {args.time_budget_s}: would end past it "
                    f"(predicted {predicted:.0f} s from 100k x {copies})",
                    **note,
                }
        rss_before = current_rss_mib()
        t0 = time.perf_counter()
        with memory_cap(args.max_rss_gib, args.device == "cpu") as cap:
            try:
                result = fn()
            except (RuntimeError, MemoryError) as exc:  # CUDA OOM is a RuntimeError too
                failed = {"failed": f"{type(exc).__name__}: {str(exc)[:300]}"}
                if cap is not None:
                    failed["address_space_cap_gib"] = cap
                    failed["cap_note"] = (
                        f"run under a soft RLIMIT_AS leaving --max-rss-gib {args.max_rss_gib} "
                        "of room: an allocation past it fails instead of using more memory"
                    )
                _free(self.torch, args.device)
                return {**failed, **note}
        if copies == 1:
            self.wall_s[name] = (time.perf_counter() - t0) / units
            if "peak_rss_mib" in result:
                self.growth_mib[name] = max(result["peak_rss_mib"] - rss_before, 0.0)
        if cap is not None:
            result["address_space_cap_gib"] = cap
        return {**result, **note}


def scoring_phase(torch, det, inputs, *, device, repeats, mem, guard: Guard, copies: int):
    """Accounts per second: model alone (inputs resident) and predict_proba end to end."""
    n = inputs.num_nodes
    model = det.model_.eval()
    dev = det.device_
    x = det._normalise(det._raw_features(inputs)).to(dev)
    edges = {r: e.to(dev) for r, e in inputs.edge_index_dict.items()}
    amp_dtype = det._amp_dtype()
    autocast = dict(device_type=dev.type, dtype=amp_dtype, enabled=amp_dtype is not None)

    def forward():
        with torch.no_grad(), torch.autocast(**autocast):
            return model(x, edges)

    def layerwise():
        with torch.autocast(**autocast):
            return model.inference(x, edges, det.inference_batch_size)

    def proba_full():
        det.full_batch_max_nodes = BIG
        return det.predict_proba(inputs)

    def proba_layerwise():
        det.full_batch_max_nodes = 0
        return det.predict_proba(inputs)

    out: dict = {
        "amp_dtype": None if amp_dtype is None else str(amp_dtype).replace("torch.", ""),
        "inference_batch_size": det.inference_batch_size,
        "repeats": repeats,
        "model_calls": "inputs already normalised and on the device; logits only",
        "predict_proba": "GraphSAGEDetector.predict_proba: normalise, copy to device, "
        "softmax, copy back to numpy",
    }
    plan = [
        ("full_forward", forward),
        ("layerwise", layerwise),
        ("predict_proba_full_forward", proba_full),
        ("predict_proba_layerwise", proba_layerwise),
    ]
    for name, fn in plan:

        def measure(fn=fn):
            mem.reset()
            timing = time_calls(torch, device, fn, repeats)
            timing["accounts_per_s"] = round(n / timing["median_s"])
            if device == "cpu":  # see train_phase's s_per_epoch_cpu
                timing["accounts_per_cpu_s"] = round(n / timing["median_cpu_s"])
            return {**timing, **mem.read()}

        out[name] = guard.run(f"scoring_{name}", copies, measure)
        if "accounts_per_s" in out[name]:
            _progress(
                f"  {name}: {out[name]['median_s']:.3f} s -> {out[name]['accounts_per_s']:,} acc/s"
                f" (cpu/wall {out[name]['cpu_per_wall']})"
            )
        else:
            _progress(f"  {name}: {out[name]}")
    det.full_batch_max_nodes = 200_000
    return out


def _free(torch, device: str) -> None:
    import gc

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def benchmark(args) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    detector_mod, sampling, stubbed = import_models(args.stub_polars)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    mem = PeakMemory(torch, args.device)
    report: dict = {
        "benchmark": "bench_train",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "device": args.device,
        "machine": machine_facts(torch, args.device, stubbed),
        "settings": {
            "model": "GraphSAGEDetector defaults: hidden 64, 2 layers, mean aggregation, "
            "dropout 0.2, AdamW lr 1e-2, class-weighted cross-entropy, seed 0",
            "amp": "bf16 autocast on CUDA (detector default amp=True), float32 on CPU",
            "fanouts": [15, 10],
            "batch_size": 1024,
            "inference_batch_size": 8192,
            "sampler": "pyg NeighborLoader (pyg-lib/torch-sparse)"
            if sampling.PYG_SAMPLER_AVAILABLE
            else "graphguard NeighborSampler (plain torch; pyg-lib/torch-sparse not installed)",
            "epochs_full_batch": args.epochs_full,
            "epochs_minibatch": args.epochs_mini,
            "epochs_minibatch_large": args.epochs_mini_large or args.epochs_mini,
            "warmup": "first epoch / first call dropped; medians of the rest",
            "s_per_epoch": "GraphSAGEDetector.history_ train_seconds: the optimisation pass "
            "(sampling, forward, backward, optimiser steps), not validation",
            "train_seeds": "labelled accounts minus the detector's stratified 20% validation "
            "split (seed 0): ~32% of accounts; validation itself skipped (empty val_mask)",
            "detector_default_paths": "full-batch training and full-forward scoring up to "
            "200,000 accounts (full_batch_max_nodes), sampled training and layer-wise scoring "
            "above; both are timed at both scales here",
            "scales": SCALE_NOTE,
            "max_rss_gib": args.max_rss_gib if args.device == "cpu" else None,
            "time_budget_s": args.time_budget_s or None,
        },
        "scales": {},
    }
    t_start = time.perf_counter()
    guard = Guard(torch, args, t_start)
    last_scorer = None
    for copies in args.copies:
        label = "100k" if copies == 1 else f"{copies / 10:g}M" if copies % 10 == 0 else f"{copies}x"
        _progress(f"{label}: loading {copies} cop{'y' if copies == 1 else 'ies'} ...")
        _free(torch, args.device)
        t0 = time.perf_counter()
        inputs, y, meta = load_inputs(torch, detector_mod, args.inputs, copies)
        load_s = time.perf_counter() - t0
        probe = detector_mod.GraphSAGEDetector(seed=0)
        train_mask = (y >= 0) & ~probe.validation_split(y)
        entry: dict = {
            "copies": copies,
            "n_accounts": inputs.num_nodes,
            "n_features": int(inputs.x.size(1)),
            "edges_directed": {r: int(e.size(1)) for r, e in inputs.edge_index_dict.items()},
            "edges_directed_total": int(sum(e.size(1) for e in inputs.edge_index_dict.values())),
            "labelled": int((y >= 0).sum()),
            "train_seeds": int(train_mask.sum()),
            "load_s": round(load_s, 2),
            "rss_after_load_mib": current_rss_mib(),
        }
        report["scales"][label] = entry
        if copies == 1:
            report["inputs"] = {
                "path": str(args.inputs),
                **{k: v for k, v in meta.items() if k != "feature_names"},
            }

        models = {}
        for full_batch in (True, False):
            key = "full_batch_train" if full_batch else "minibatch_train"
            epochs = args.epochs_full if full_batch else args.epochs_mini
            if copies > 1 and not full_batch and args.epochs_mini_large:
                epochs = args.epochs_mini_large
            _progress(f"{label} {key}: {epochs} epochs ...")

            def fit(
                full_batch=full_batch,
                epochs=epochs,
                key=key,
                inputs=inputs,
                y=y,
                train_mask=train_mask,
                models=models,
            ):
                det, result = train_phase(
                    torch,
                    detector_mod,
                    inputs,
                    y,
                    train_mask,
                    device=args.device,
                    full_batch=full_batch,
                    epochs=epochs,
                    mem=mem,
                )
                models[key] = det
                return result

            result = entry[key] = guard.run(key, copies, fit, units=epochs)
            if "s_per_epoch" in result:
                _progress(
                    f"{label} {key}: {result['s_per_epoch']:.3f} s/epoch (epochs "
                    f"{result['epoch_seconds']}, cpu/wall {result['cpu_per_wall']}), "
                    f"peak RSS {result['peak_rss_mib']:.0f} MiB"
                )
            else:
                _progress(f"{label} {key}: {result}")
            _write(args.out, report)
        scorer = models.get("full_batch_train") or models.get("minibatch_train")
        scorer_from = label
        if scorer is None and last_scorer is not None:
            # the model is inductive: a model fitted at the smaller scale scores this graph
            # exactly as `detect --model` would; the weights do not change the work
            scorer, scorer_from = last_scorer
        if scorer is not None:
            _progress(f"{label} scoring ...")
            entry["scoring"] = scoring_phase(
                torch,
                scorer,
                inputs,
                device=args.device,
                repeats=args.repeats,
                mem=mem,
                guard=guard,
                copies=copies,
            )
            entry["scoring"]["model_fitted_at"] = scorer_from
            last_scorer = (scorer, scorer_from)
        else:
            entry["scoring"] = {"skipped": "no model was trained at this scale"}
        inputs = y = scorer = models = None  # free this scale before the next one
        _free(torch, args.device)
        entry["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        _write(args.out, report)
    report["total_wall_s"] = round(time.perf_counter() - t_start, 1)
    _write(args.out, report)
    return report


def _write(path: Path | None, report: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# tables


ROWS = (
    ("full-batch train, s/epoch", ("full_batch_train", "s_per_epoch"), "s"),
    ("sampled train, s/epoch", ("minibatch_train", "s_per_epoch"), "s"),
    ("sampled train, s per 1k seeds", ("minibatch_train", "s_per_1k_seeds"), "s"),
    ("full forward, accounts/s", ("scoring", "full_forward", "accounts_per_s"), "rate"),
    ("layer-wise inference, accounts/s", ("scoring", "layerwise", "accounts_per_s"), "rate"),
    (
        "predict_proba full, accounts/s",
        ("scoring", "predict_proba_full_forward", "accounts_per_s"),
        "rate",
    ),
    (
        "predict_proba layer-wise, accounts/s",
        ("scoring", "predict_proba_layerwise", "accounts_per_s"),
        "rate",
    ),
)
#: CPU runs only: the same figures in process CPU time (contention-robust for 1 thread)
CPU_TIME_ROWS = (
    ("full-batch train, CPU-s/epoch", ("full_batch_train", "s_per_epoch_cpu"), "s"),
    ("sampled train, CPU-s/epoch", ("minibatch_train", "s_per_epoch_cpu"), "s"),
    ("full forward, accounts/CPU-s", ("scoring", "full_forward", "accounts_per_cpu_s"), "rate"),
    ("layer-wise, accounts/CPU-s", ("scoring", "layerwise", "accounts_per_cpu_s"), "rate"),
)
MEMORY_ROWS = (
    ("full-batch train peak", ("full_batch_train",)),
    ("sampled train peak", ("minibatch_train",)),
    ("full forward peak", ("scoring", "full_forward")),
    ("layer-wise peak", ("scoring", "layerwise")),
)


def _get(entry: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(entry, dict) or key not in entry:
            return None
        entry = entry[key]
    return entry


def _status(entry: dict, path: tuple[str, ...]) -> str | None:
    """ "skipped" or "failed" when the phase (or the section holding it) did not run."""
    for depth in range(1, len(path)):
        phase = _get(entry, path[:depth])
        if isinstance(phase, dict):
            if "skipped" in phase:
                return "skipped"
            if "failed" in phase:
                return "failed"
    return None


def _fmt(value, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _mem(phase: dict | None) -> str:
    if not isinstance(phase, dict) or "peak_rss_mib" not in phase:
        return "skipped" if isinstance(phase, dict) and "skipped" in phase else "-"
    text = f"{phase['peak_rss_mib']:,.0f} MiB RSS"
    if "cuda_max_allocated_mib" in phase:
        text += f", {phase['cuda_max_allocated_mib']:,.0f} MiB CUDA"
    return text


def describe(report: dict) -> str:
    m = report["machine"]
    where = m.get("gpu") or m["cpu_model"]
    return (
        f"{report['device']} on {where} ({m['cpus_usable']} usable cores, torch "
        f"{m['torch']}, {m['torch_threads']} threads)"
    )


def table(report: dict) -> str:
    scales = list(report["scales"])
    lines = [
        f"# {describe(report)}",
        "",
        "| metric | "
        + " | ".join(f"{s} ({report['scales'][s]['n_accounts']:,} accounts)" for s in scales)
        + " |",
        "|---|" + "---:|" * len(scales),
    ]
    rows = ROWS + (CPU_TIME_ROWS if report["device"] == "cpu" else ())
    for title, path, kind in rows:
        cells = [
            _status(report["scales"][s], path) or _fmt(_get(report["scales"][s], path), kind)
            for s in scales
        ]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    for title, path in MEMORY_ROWS:
        cells = [_mem(_get(report["scales"][s], path)) for s in scales]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    cells = [_contention(report["scales"][s]) for s in scales]
    lines.append("| process CPU time / wall, lowest phase | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _contention(entry: dict) -> str:
    """The lowest CPU-time/wall ratio over the phases: ~threads on an idle machine, lower when
    other jobs took the cores (a hint that the timings of that scale are inflated)."""
    ratios = [
        phase["cpu_per_wall"]
        for phase in [entry.get("full_batch_train"), entry.get("minibatch_train")]
        + list((entry.get("scoring") or {}).values())
        if isinstance(phase, dict) and "cpu_per_wall" in phase
    ]
    return f"{min(ratios):.2f}" if ratios else "-"


def compare(cpu_path: Path, gpu_path: Path) -> str:
    cpu, gpu = (json.loads(Path(p).read_text()) for p in (cpu_path, gpu_path))
    lines = [
        f"A: {describe(cpu)}",
        f"B: {describe(gpu)}",
        "",
        "| scale | metric | A | B | B/A speed-up |",
        "|---|---|---:|---:|---:|",
    ]
    for scale in [s for s in cpu["scales"] if s in gpu["scales"]]:
        a_entry, b_entry = cpu["scales"][scale], gpu["scales"][scale]
        for title, path, kind in ROWS:
            a, b = _get(a_entry, path), _get(b_entry, path)
            if a is None and b is None:
                continue
            ratio = "-"
            if a and b:
                ratio = f"{(a / b if kind == 's' else b / a):.1f}x"
            a_text = _status(a_entry, path) or _fmt(a, kind)
            b_text = _status(b_entry, path) or _fmt(b, kind)
            lines.append(f"| {scale} | {title} | {a_text} | {b_text} | {ratio} |")
        for title, path in MEMORY_ROWS:
            a_mem, b_mem = _mem(_get(a_entry, path)), _mem(_get(b_entry, path))
            lines.append(f"| {scale} | {title} | {a_mem} | {b_mem} | |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--prepare", type=Path, metavar="DIR", help="write DIR/inputs_100k.npz")
    mode.add_argument("--inputs", type=Path, metavar="NPZ", help="benchmark these inputs")
    mode.add_argument("--compare", type=Path, nargs=2, metavar=("CPU_JSON", "GPU_JSON"))
    mode.add_argument("--table", type=Path, metavar="JSON", help="print one result as a table")
    parser.add_argument("--accounts", type=int, default=100_000, help="--prepare: world size")
    parser.add_argument("--seed", type=int, default=101, help="--prepare: simulation seed")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, help="JSON result (written after every phase)")
    parser.add_argument(
        "--copies",
        type=lambda s: [int(c) for c in s.split(",")],
        default=[1, 10],
        help="scales as numbers of disjoint copies of the saved graph (default 1,10)",
    )
    parser.add_argument("--epochs-full", type=int, default=4, help="full-batch epochs (1 warm-up)")
    parser.add_argument("--epochs-mini", type=int, default=3, help="sampled epochs (1 warm-up)")
    parser.add_argument(
        "--epochs-mini-large",
        type=int,
        default=0,
        help="sampled epochs at copies > 1 (0: as --epochs-mini)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed scoring calls per kind")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=7.5,
        help="CPU: run every phase under a soft RLIMIT_AS leaving this much room for RSS, so a "
        "phase that needs more fails (recorded) instead (0: no cap)",
    )
    parser.add_argument(
        "--time-budget-s",
        type=float,
        default=0,
        help="skip a phase predicted (from its 100k time x copies) to end past this many "
        "seconds from the start (0: no budget)",
    )
    parser.add_argument(
        "--stub-polars",
        action="store_true",
        help="use the polars stand-in even where polars is installed (tests the GPU path)",
    )
    args = parser.parse_args()

    if args.compare:
        print(compare(*args.compare))
    elif args.table:
        print(table(json.loads(args.table.read_text())))
    elif args.prepare:
        meta = prepare(args.prepare, args.accounts, args.seed)
        print(json.dumps({k: v for k, v in meta.items() if k != "feature_names"}, indent=2))
    else:
        report = benchmark(args)
        print(table(report))


if __name__ == "__main__":
    main()
