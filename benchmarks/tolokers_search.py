"""A GraphSAGE search on Tolokers that keeps what it measured when it is cut short.

Each ``--config`` (a JSON object of `GraphSAGEDetector` settings, named ``NAME=JSON``) is
trained on each of ``--splits`` in turn; after every split one line (config, split, validation
and test ROC-AUC and AUPRC, best epoch, epochs run, seconds) is appended to
``OUT/<name>.jsonl`` and every node's scores so far are rewritten to ``OUT/<name>_scores.npz``,
so a run stopped by its deadline or by ``timeout`` still leaves every finished split. A split
is not started when the one before it says it would end past ``--deadline-s``.

``--summary OUT`` reads every ``*.jsonl`` there and below, prints mean ± std per config over the
splits it has, and, with ``--choose SPLITS``, names the config with the best mean *validation*
ROC-AUC over those splits (test masks are never read for the choice) on stdout's last line.
``--ensemble NAME=GLOB`` (with ``--summary``) averages the scores of every config whose name
matches GLOB, each standardised per split (a fixed rule: nothing is chosen on test), reports it
the same way and writes ``OUT/ensembles/NAME/tolokers_scores.npz``, which
``benchmarks/real_data.py --graphsage-scores`` reads to blend it with the trees. ``--seed-offset
K`` seeds split ``s`` with ``s + 1000 K``, so several runs of one setting are distinct members.

    python benchmarks/tolokers_search.py --device cuda --splits 0-2 --out runs \\
        --config 'd3={"block": "prenorm", "activation": "gelu", "hidden": 512, "layers": 3}'
    python benchmarks/tolokers_search.py --summary runs --choose 0-2

`benchmarks/device_tolokers.sh` runs the search the issue asks for on the GPU machine. Needs
numpy, torch, torch_geometric and scikit-learn; where polars is missing (the GPU machine),
`bench_train.py`'s inert stand-in takes its place (Tolokers' loader and the training loop never
call it; any real use would raise), and each row records ``"polars_stub"``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bench_train import import_models  # the polars stand-in where polars is missing

POLARS_STUB = import_models()[2]

from graphguard.datasets import load_dataset  # noqa: E402  (after the stand-in)
from graphguard.evaluation.real_data import split_metrics  # noqa: E402
from graphguard.models.detector import GraphSAGEDetector  # noqa: E402

#: what every config starts from: long training, the epoch with the best validation ROC-AUC
BASE = {"epochs": 1500, "patience": 300, "select_on": "auroc", "amp": False}


def parse_splits(text: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def parse_config(text: str) -> tuple[str, dict]:
    name, sep, body = text.partition("=")
    if not sep or not name.isidentifier():
        raise SystemExit(f"--config wants NAME=JSON with NAME a plain word, got {text[:80]!r}")
    return name, json.loads(body)


def run_config(name: str, settings: dict, splits: list[int], args, dataset) -> None:
    out: Path = args.out
    log = out / f"{name}.jsonl"
    scores_path = out / f"{name}_scores.npz"
    done_splits: list[int] = []
    done_scores: list[np.ndarray] = []
    if scores_path.exists():  # a second process or phase adds splits to the same config
        with np.load(scores_path) as saved:
            done_splits = [int(i) for i in saved["splits"]]
            done_scores = list(saved["graphsage"])
    params = {**BASE, **settings, "device": args.device}
    params.setdefault("fanouts", [10] * int(params.get("layers", 2)))
    last = 0.0
    for split in splits:
        elapsed = time.perf_counter() - args.started
        if args.deadline_s and elapsed + last > args.deadline_s:
            print(f"{name}: split {split} skipped, would end past the deadline", file=sys.stderr)
            continue
        train, val, test = dataset.splits[split]
        start = time.perf_counter()
        seed = split + 1000 * args.seed_offset
        detector = GraphSAGEDetector(**{**params, "seed": seed})
        detector.fit(dataset.inputs, dataset.y, train_mask=train, val_mask=val)
        score = detector.decision_function(dataset.inputs)
        last = time.perf_counter() - start
        test_m = split_metrics(dataset.y, score, test)
        val_m = split_metrics(dataset.y, score, val)
        row = {
            "config": name,
            "split": split,
            "seed": seed,
            "roc_auc": test_m["roc_auc"],
            "auprc": test_m["auprc"],
            "val_roc_auc": val_m["roc_auc"],
            "best_epoch": int(getattr(detector, "best_epoch_", -1)),
            "epochs_run": len(getattr(detector, "history_", [])),
            "seconds": last,
            "params": params,
            "polars_stub": POLARS_STUB,
        }
        with log.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        done_splits.append(split)
        done_scores.append(np.asarray(score, dtype=np.float32))
        order = np.argsort(done_splits)
        tmp = out / f"{name}_scores.tmp.npz"
        np.savez_compressed(
            tmp,
            splits=np.asarray(done_splits)[order],
            graphsage=np.stack(done_scores)[order],
        )
        tmp.replace(scores_path)
        print(
            f"{name} split {split}: val {val_m['roc_auc']:.4f} test {test_m['roc_auc']:.4f}"
            f" epoch {row['best_epoch']}/{row['epochs_run']} {last:.1f}s",
            file=sys.stderr,
            flush=True,
        )


def summary(folder: Path, choose: list[int] | None) -> None:
    rows = [
        json.loads(line)
        for path in sorted(folder.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    by_config: dict[str, list[dict]] = {}
    for row in rows:
        by_config.setdefault(row["config"], []).append(row)
    print(f"{'config':<12}{'splits':>7}{'val ROC-AUC':>20}{'test ROC-AUC':>20}{'epoch':>7}{'s':>7}")
    best_name, best_val = None, -1.0
    if choose is not None:
        # a deadline may have cut some configs short: choose on the splits every config has
        common = set(choose).intersection(*({r["split"] for r in v} for v in by_config.values()))
        if common != set(choose):
            print(f"not every config finished splits {choose}: choosing on {sorted(common)}")
        choose = sorted(common)
    for name, runs in sorted(by_config.items()):
        val = np.array([r["val_roc_auc"] for r in runs])
        test = np.array([r["roc_auc"] for r in runs])
        print(
            f"{name:<12}{len(runs):>7}{val.mean():>12.4f} ± {val.std():.4f}"
            f"{test.mean():>12.4f} ± {test.std():.4f}"
            f"{np.median([r['best_epoch'] for r in runs]):>7.0f}"
            f"{np.median([r['seconds'] for r in runs]):>7.0f}"
        )
        if choose is not None:
            picked = [r["val_roc_auc"] for r in runs if r["split"] in choose]
            if choose and len(picked) == len(choose) and np.mean(picked) > best_val:
                best_name, best_val = name, float(np.mean(picked))
    if choose is not None:
        if best_name is None:
            raise SystemExit(f"no config has validation figures on splits {choose}")
        print(f"chosen on validation splits {choose}: {best_name} ({best_val:.4f})")
        print(best_name)


def ensemble(folder: Path, name: str, pattern: str, dataset) -> None:
    """Average the standardised scores of the configs matching ``pattern`` on common splits."""
    members: dict[str, dict[int, np.ndarray]] = {}
    for path in sorted(folder.rglob("*_scores.npz")):
        config = path.name.removesuffix("_scores.npz")
        if "ensembles" in path.parts or not fnmatch.fnmatchcase(config, pattern):
            continue
        with np.load(path) as saved:
            by_split = members.setdefault(config, {})
            for split, score in zip(saved["splits"], saved["graphsage"], strict=True):
                by_split[int(split)] = score.astype(np.float64)
    if not members:
        raise SystemExit(f"--ensemble {name}: no scores under {folder} match {pattern!r}")
    common = sorted(set.intersection(*(set(v) for v in members.values())))
    if not common:
        raise SystemExit(f"--ensemble {name}: its members {sorted(members)} share no split")
    stacked = []
    for split in common:
        z = [(m[split] - m[split].mean()) / (m[split].std() or 1.0) for m in members.values()]
        stacked.append(np.mean(z, axis=0))
    vals, tests = [], []
    for split, score in zip(common, stacked, strict=True):
        train, val, test = dataset.splits[split]
        vals.append(split_metrics(dataset.y, score, val)["roc_auc"])
        tests.append(split_metrics(dataset.y, score, test)["roc_auc"])
    print(
        f"ensemble {name}: {len(members)} members ({', '.join(sorted(members))}), splits {common}:"
        f" val {np.mean(vals):.4f} ± {np.std(vals):.4f} test {np.mean(tests):.4f}"
        f" ± {np.std(tests):.4f}"
    )
    target = folder / "ensembles" / name
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "tolokers_scores.tmp.npz"
    np.savez_compressed(tmp, splits=np.asarray(common), graphsage=np.stack(stacked))
    tmp.replace(target / "tolokers_scores.npz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", default=[], help="NAME=JSON, repeatable")
    parser.add_argument("--splits", default="0-9")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--deadline-s", type=float, default=0.0, help="0: none")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/tolokers_search"))
    parser.add_argument("--summary", type=Path, default=None, help="folder to summarise")
    parser.add_argument("--choose", default=None, help="splits whose validation picks a config")
    parser.add_argument(
        "--ensemble", action="append", default=[], help="NAME=GLOB of configs to average"
    )
    parser.add_argument("--seed-offset", type=int, default=0, help="seed = split + 1000 K")
    args = parser.parse_args()
    if args.summary is not None:
        if args.ensemble:
            dataset = load_dataset("tolokers")
            for text in args.ensemble:
                name, _, pattern = text.partition("=")
                ensemble(args.summary, name, pattern or "*", dataset)
        else:
            summary(args.summary, parse_splits(args.choose) if args.choose else None)
        return
    args.started = time.perf_counter()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset("tolokers")
    for text in args.config:
        name, settings = parse_config(text)
        run_config(name, settings, parse_splits(args.splits), args, dataset)


if __name__ == "__main__":
    main()
