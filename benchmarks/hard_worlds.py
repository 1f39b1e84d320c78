"""GraphSAGE + evidence against gradient-boosted trees on hard simulated worlds.

A hard world (`simulate.difficulty=hard`, `graphguard.simulate.hard`) draws every campaign
member's own activity from the benign distribution, so only what members do together gives
them away. For every seed one hard world is built and run through the pipeline once (features,
account graph, cluster evidence); then, at each label rate, a random share of its accounts gets
its true label and every arm is trained on them (the model's own validation split) and judged
by AUPRC on every unlabelled account:

    gbt (own)                   trees on the per-account features only (no graph, no evidence)
    gbt+agg+evidence            trees on every feature (evidence columns included) next to the
                                mean and max of the neighbours' features per relation and the
                                degrees, noisy-OR with the cluster evidence: the honest baseline
    gbt+agg+labels+evidence     the same with the training labels' share among neighbours
                                (`neighbour_label_share`, out of fold for labelled rows)
    graphsage+evidence          the default GraphSAGE, noisy-OR with the evidence
    graphsage(label trick)+evidence   GraphSAGE with `model.label_input` (training labels as input)
    graphsage(degrees)+evidence       GraphSAGE with `model.degree_features` (log1p degree per
                                relation next to the features)
    gbt+agg(sum)+evidence       gbt+agg+evidence with the neighbours' feature sums beside their
                                mean and max: what `model.aggr=sum` reads, given to the trees
    graphsage(sum)+evidence     GraphSAGE with `model.aggr=sum` (sum of the neighbours, so how
                                many like-minded co-engagers an account has counts, not only
                                their average)
    hetero(label trick)+evidence      `models.hetero`: messages through devices, IPs, targets and
                                (target, hour) slots, with the training labels as input
    hetero+evidence             the same without the training labels as input
    gbt+agg+lp+evidence         gbt+agg+evidence with the training labels propagated over the
                                account graph as two more columns (`label_propagation`, out of
                                fold for labelled rows)
    graphsage(sum+lp)+evidence  graphsage(sum) with the same two columns as input
    graphsage(sum+gate)+evidence  graphsage(sum) with `model.edge_gate`: every message scaled
                                by a gate learned from its account pair's attributes
                                (`graph.inputs.edge_attributes`: support, mean weight and
                                common neighbours per relation, Jaccard share of neighbours)
    gbt+agg+edge+evidence       gbt+agg+evidence with the same edge attributes given to the
                                trees: per relation, each account's sum and max over its edges
    gbt+agg+st(conf)+evidence   gbt+agg+evidence trained also on every unlabelled account,
                                pseudo-labelled from its evidence risk and weighted by the
                                confidence of that pseudo-label (`confidence_pseudo_labels`)
    graphsage(sum+st(conf))+evidence  graphsage(sum) trained on the same weighted pseudo-labels
    gbt+agg+st(conf-cap)+evidence, graphsage(sum+st(conf-cap))+evidence  the same with the
                                pseudo-labels' total weight capped at the number of true
                                training labels
    evidence                    the unsupervised cluster score alone

`--set KEY=VALUE` (repeatable) changes the detection config of every world (the `--set` of
`graphguard detect`, e.g. `graph.sync.min_support=1`); the trees see the same features, graph
and evidence as the models. The same seeds' easy worlds give `gbt (own)` at 40% as the
reference the hard world must drop below. Writes results.json and results.md to --out.

    python benchmarks/hard_worlds.py --seeds 1-5 --accounts 4000 --out experiments/hard_worlds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from graphguard import schema
from graphguard.compose import compose_config, settings
from graphguard.config import DetectConfig
from graphguard.features.account import FEATURE_NAMES, select_features
from graphguard.graph.inputs import GraphInputs, graph_inputs, label_codes
from graphguard.metrics import auprc
from graphguard.models.baselines import (
    fit_predict_gbt,
    label_propagation,
    neighbour_aggregate,
    neighbour_label_share,
)
from graphguard.models.hetero import account_entity_edges, fit_predict_hetero
from graphguard.models.params import GraphSAGEParams
from graphguard.outputs import write_json_atomic, write_text_atomic
from graphguard.pipeline.fusion import fuse_scores, unseen_classes
from graphguard.pipeline.stages import build_stages
from graphguard.pipeline.train import build_detector
from graphguard.scores import noisy_or_array
from graphguard.simulate import SimulationConfig, simulate

RATES = (0.02, 0.1, 0.4)
#: per-account features: everything before the community/graph block of `FEATURES`
OWN = FEATURE_NAMES[: FEATURE_NAMES.index("sync_burst_share")]
ARMS = (
    "gbt (own)",
    "gbt+agg+evidence",
    "gbt+agg+labels+evidence",
    "graphsage+evidence",
    "graphsage(label trick)+evidence",
    "graphsage(degrees)+evidence",
    "gbt+agg(sum)+evidence",
    "graphsage(sum)+evidence",
    "hetero(label trick)+evidence",
    "hetero+evidence",
    "gbt+agg+lp+evidence",
    "graphsage(sum+lp)+evidence",
    "graphsage(sum+gate)+evidence",
    "gbt+agg+edge+evidence",
    "gbt+agg+st(conf)+evidence",
    "graphsage(sum+st(conf))+evidence",
    "gbt+agg+st(conf-cap)+evidence",
    "graphsage(sum+st(conf-cap))+evidence",
    "evidence",
)
#: evidence-risk bins of `confidence_pseudo_labels` (0 alone, then upper edges)
RISK_BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)


def confidence_pseudo_labels(
    evidence: pl.DataFrame, y: np.ndarray, train_mask: np.ndarray, cap: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Self-training targets from the evidence, weighted by confidence instead of hard cuts.

    The evidence risk is binned (0 alone, then (0, .1], (.1, .3], ..., (.9, 1]); on the
    training accounts each bin's share of abusive accounts is ``p`` (Laplace-smoothed toward
    the training share). Every unlabelled account gets a pseudo-label: the evidence's class
    (bot ring or fake engagement, whichever cluster score is higher) where its bin's ``p`` >=
    0.5, benign otherwise, with weight ``|2p - 1|`` (0 for a coin flip, 1 when the bin is
    pure). ``cap``: the pseudo-labels' weights are scaled down so they total at most the
    number of training accounts. True training labels weigh 1; validation is untouched.
    Returns ``(y, train_mask, sample_weight)`` for the fit.
    """
    risk = evidence.get_column("risk").to_numpy()
    bins = np.searchsorted(np.asarray(RISK_BINS), risk, side="left")
    abusive = (y > 0).astype(float)
    prior = float(abusive[train_mask].mean())
    n = np.bincount(bins[train_mask], minlength=len(RISK_BINS) + 1)
    a = np.bincount(bins[train_mask], weights=abusive[train_mask], minlength=len(RISK_BINS) + 1)
    p = ((a + 2 * prior) / (n + 2))[bins]
    cls = np.where(
        evidence.get_column("score_bot_ring").to_numpy()
        >= evidence.get_column("score_fake_engagement").to_numpy(),
        schema.LABELS.index(schema.BOT_RING),
        schema.LABELS.index(schema.FAKE_ENGAGEMENT),
    )
    free = y < 0
    y2 = np.where(free, np.where(p >= 0.5, cls, 0), y)
    weight = np.where(free, np.abs(2 * p - 1), 1.0)
    if cap:
        total = weight[free].sum()
        if total > train_mask.sum():
            weight[free] *= train_mask.sum() / total
    return y2, train_mask | free, weight


def edge_attribute_aggregate(inputs: GraphInputs) -> np.ndarray:
    """Per relation, each account's sum and max of its edges' `edge_attributes` (0 without
    edges): what the edge-gated model reads, given to the trees as columns."""
    n = inputs.num_nodes
    columns = []
    for relation, edge_index in inputs.edge_index_dict.items():
        attr = inputs.edge_attr_dict[relation].numpy().astype(np.float64)
        target = edge_index[1].numpy()
        total = np.zeros((n, attr.shape[1]))
        np.add.at(total, target, attr)
        top = np.zeros((n, attr.shape[1]))
        np.maximum.at(top, target, attr)  # attributes are >= 0, so 0 is "no edge"
        columns.extend([total, top])
    return np.hstack(columns)


def prepare(world, config: DetectConfig) -> dict:
    stages = build_stages(world.events, config)
    table = stages.features()
    names = select_features(())
    # the edges' attributes ride along for the edge-gated arms; every other arm ignores them
    inputs = graph_inputs(table, stages.graph.edges, feature_names=names, edge_attrs=True)
    evidence = stages.scores().sort("account")
    ids = stages.account_ids
    truth = pl.DataFrame({schema.ACCOUNT: ids.cast(pl.String)}).join(
        world.truth.select(schema.ACCOUNT, schema.LABEL), on=schema.ACCOUNT, how="left"
    )
    own = [names.index(n) for n in OWN]
    hetero = account_entity_edges(world.events, ids)
    return {
        "ids": ids,
        "truth": truth,
        "inputs": inputs,
        "evidence": evidence,
        "own": own,
        "hetero": hetero,
    }


def labels_at(prep: dict, rate: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng([seed, int(rate * 1000), 0x4A4D])
    truth = prep["truth"]
    pick = rng.random(truth.height) < rate
    return truth.filter(pl.Series(pick)).select(schema.ACCOUNT, schema.LABEL)


def run_rate(
    prep: dict, rate: float, seed: int, config: DetectConfig, easy: bool, arms=ARMS
) -> dict:
    labels = labels_at(prep, rate, seed)
    y = label_codes(prep["ids"], labels)
    params = GraphSAGEParams(seed=seed)
    detector = build_detector(dataclasses.asdict(params))
    val_mask = detector.validation_split(y)
    train_mask = (y >= 0) & ~val_mask
    unlabelled = y < 0
    abusive = (prep["truth"].get_column(schema.LABEL) != schema.BENIGN).to_numpy()
    x = prep["inputs"].x.numpy()
    edges = prep["inputs"].edge_index_dict
    ev = prep["evidence"].get_column("risk").to_numpy()
    scores: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}

    def timed(name, fn):
        if name not in arms:
            return
        start = time.perf_counter()
        scores[name] = fn()
        seconds[name] = round(time.perf_counter() - start, 2)

    timed(
        "gbt (own)", lambda: fit_predict_gbt(x[:, prep["own"]], y, train_mask, val_mask, seed=seed)
    )
    if not easy:
        agg = neighbour_aggregate(x, edges)
        timed(
            "gbt+agg+evidence",
            lambda: noisy_or_array(fit_predict_gbt(agg, y, train_mask, val_mask, seed=seed), ev),
        )
        timed(
            "gbt+agg(sum)+evidence",
            lambda: noisy_or_array(
                fit_predict_gbt(
                    neighbour_aggregate(x, edges, aggregations=("mean", "max", "sum")),
                    y,
                    train_mask,
                    val_mask,
                    seed=seed,
                ),
                ev,
            ),
        )
        timed(
            "gbt+agg+edge+evidence",
            lambda: noisy_or_array(
                fit_predict_gbt(
                    np.hstack([agg, edge_attribute_aggregate(prep["inputs"])]),
                    y,
                    train_mask,
                    val_mask,
                    seed=seed,
                ),
                ev,
            ),
        )
        share = neighbour_label_share(y, train_mask, edges, seed=seed)
        timed(
            "gbt+agg+labels+evidence",
            lambda: noisy_or_array(
                fit_predict_gbt(np.hstack([agg, share]), y, train_mask, val_mask, seed=seed), ev
            ),
        )
        lp = label_propagation(y, train_mask, edges, seed=seed)
        timed(
            "gbt+agg+lp+evidence",
            lambda: noisy_or_array(
                fit_predict_gbt(np.hstack([agg, lp]), y, train_mask, val_mask, seed=seed), ev
            ),
        )
        pseudo = {
            cap: confidence_pseudo_labels(prep["evidence"], y, train_mask, cap)
            for cap in (False, True)
        }
        for name, cap in (
            ("gbt+agg+st(conf)+evidence", False),
            ("gbt+agg+st(conf-cap)+evidence", True),
        ):
            timed(
                name,
                lambda cap=cap: noisy_or_array(
                    fit_predict_gbt(
                        agg,
                        pseudo[cap][0],
                        pseudo[cap][1],
                        val_mask,
                        seed=seed,
                        sample_weight=pseudo[cap][2],
                    ),
                    ev,
                ),
            )
        with_lp = GraphInputs(
            torch.cat([prep["inputs"].x, torch.from_numpy(lp)], dim=1),
            prep["inputs"].edge_index_dict,
            prep["inputs"].feature_names + ("lp_abusive_share", "lp_mass"),
        )
        for name, overrides, inputs in (
            ("graphsage+evidence", {}, prep["inputs"]),
            ("graphsage(label trick)+evidence", {"label_input": True}, prep["inputs"]),
            ("graphsage(degrees)+evidence", {"degree_features": True}, prep["inputs"]),
            ("graphsage(sum)+evidence", {"aggr": "sum"}, prep["inputs"]),
            ("graphsage(sum+lp)+evidence", {"aggr": "sum"}, with_lp),
            ("graphsage(sum+gate)+evidence", {"aggr": "sum", "edge_gate": True}, prep["inputs"]),
            ("graphsage(sum+st(conf))+evidence", {"aggr": "sum"}, prep["inputs"]),
            ("graphsage(sum+st(conf-cap))+evidence", {"aggr": "sum"}, prep["inputs"]),
        ):

            def sage(name=name, overrides=overrides, inputs=inputs):
                model = build_detector(dataclasses.asdict(params), **overrides)
                if "st(conf" in name:
                    yy, tt, weight = pseudo["cap" in name]
                    model.fit(inputs, yy, train_mask=tt, val_mask=val_mask, sample_weight=weight)
                else:
                    model.fit(inputs, y, train_mask=train_mask, val_mask=val_mask)
                proba = model.predict_proba(inputs)
                fused = fuse_scores(
                    prep["evidence"], proba, config.scoring, unseen=unseen_classes(model)
                )
                return fused.get_column("risk").to_numpy()

            timed(name, sage)
        for name, label_input in (
            ("hetero(label trick)+evidence", True),
            ("hetero+evidence", False),
        ):
            timed(
                name,
                lambda label_input=label_input: noisy_or_array(
                    fit_predict_hetero(
                        x,
                        prep["hetero"],
                        y,
                        train_mask,
                        val_mask,
                        seed=seed,
                        label_input=label_input,
                        epochs=200,
                        patience=30,
                    ),
                    ev,
                ),
            )
        scores["evidence"] = ev
    return {
        "auprc": {k: auprc(abusive[unlabelled], v[unlabelled]) for k, v in scores.items()},
        "seconds": seconds,
        "labelled": int((y >= 0).sum()),
        "abusive_unlabelled": int(abusive[unlabelled].sum()),
    }


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def table(summary: dict, rates: list[float], arms: list[str]) -> str:
    head = "| method | " + " | ".join(f"{r:.0%} labels" for r in rates) + " |"
    lines = [head, "|---|" + "---:|" * len(rates)]
    for arm in arms:
        cells = []
        for r in rates:
            cell = summary.get(f"{r}", {}).get(arm)
            cells.append("n/a" if cell is None else f"{cell['mean']:.4f} ± {cell['std']:.4f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--accounts", type=int, default=4000)
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES))
    parser.add_argument("--out", type=Path, default=Path("experiments/hard_worlds"))
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated arms to run")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="detection config KEY=VALUE"
    )
    args = parser.parse_args(argv)
    arms = tuple(a for a in args.arms.split(",") if a)
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        parser.error(f"unknown arm {unknown[0]!r}; known: {', '.join(ARMS)}")
    torch.set_num_threads(1)
    seeds = parse_seeds(args.seeds)
    rates = [float(r) for r in args.rates.split(",")]
    config = settings(compose_config(args.overrides)).detect if args.overrides else DetectConfig()
    start = time.perf_counter()
    per_seed: dict[str, dict] = {}
    for seed in seeds:
        per_seed[str(seed)] = {}
        # the easy world serves only `gbt (own)`'s reference
        difficulties = ("hard", "easy") if "gbt (own)" in arms else ("hard",)
        for difficulty in difficulties:
            world = simulate(
                SimulationConfig(n_accounts=args.accounts, seed=seed, difficulty=difficulty)
            )
            prep = prepare(world, config)
            for rate in rates if difficulty == "hard" else [max(rates)]:
                result = run_rate(prep, rate, seed, config, easy=difficulty == "easy", arms=arms)
                per_seed[str(seed)][f"{difficulty}@{rate}"] = result
                print(seed, difficulty, rate, json.dumps(result["auprc"]), file=sys.stderr)
    summary: dict[str, dict] = {}
    for key in {k for s in per_seed.values() for k in s}:
        values: dict[str, list[float]] = {}
        for s in per_seed.values():
            for arm, v in s[key]["auprc"].items():
                values.setdefault(arm, []).append(v)
        summary[key] = {
            arm: {"mean": float(np.mean(v)), "std": float(np.std(v)), "values": v}
            for arm, v in values.items()
        }
    hard = {f"{r}": summary[f"hard@{r}"] for r in rates}
    easy = {f"{max(rates)}": summary.get(f"easy@{max(rates)}", {})}
    command = "python benchmarks/hard_worlds.py " + shlex.join(argv or sys.argv[1:])
    out = {
        "command": command.strip(),
        "seeds": seeds,
        "accounts": args.accounts,
        "rates": rates,
        "overrides": args.overrides,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "summary": summary,
        "per_seed": per_seed,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, args.out / "results.json")
    md = [
        "# Hard worlds: GraphSAGE + evidence against the trees",
        "",
        f"`{out['command']}` ({len(seeds)} seeds, {args.accounts} benign accounts per world, "
        f"{out['wall_seconds']} s). AUPRC on every unlabelled account, mean ± std over seeds.",
        "",
        f"Detection config overrides: {', '.join(args.overrides) or 'none (defaults)'}.",
        "",
        "Hard worlds (`simulate.difficulty=hard`):",
        "",
        table(hard, rates, [a for a in ARMS if a in arms]),
        "",
        "Easy worlds of the same seeds (the default simulator), per-account trees only:",
        "",
        table(easy, [max(rates)], ["gbt (own)"]),
        "",
    ]
    write_text_atomic("\n".join(md), args.out / "results.md")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
