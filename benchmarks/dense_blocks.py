"""Dense blocks injected into MovieLens-100k, FRAUDAR's protocol: who catches them, at what cost.

MovieLens-100k (../shared/data/movielens-100k/u.data: 943 real users, 1,682 films, 100,000
ratings, no device or IP) is the benign background. Each scenario injects blocks of fake
accounts x films (100 x 100 unless named): dense or sparse (density 1.0, 0.5, 0.1), on films
drawn at random, on new films nobody else rates, or on moderately popular ones (50-150 real
raters), compressed in time (all in one hour or one day) or spread over months (each account on
its own days), with random camouflage (each fake also rates as many random films) or biased
camouflage (as many films, drawn by popularity). Seeded; the data never leave shared/ (the
injected logs live in a temporary directory).

Methods, each at its own operating point:

- ``pipeline``: `graphguard detect`'s default pipeline with a column mapping (user -> account,
  item -> target, timestamp -> time, event_type constant 'rate'); flagged = risk >= 0.5. The
  log has no device or IP, so its dense-block evidence (`graphguard.community.blocks`) counts,
  the dense projection has no engager cap (``graph.dense_cap: auto``), communities are split
  again above 300 accounts (``community.max_cluster_size: auto``) and the refined blocks that
  `graphguard dense` flags are carved out as communities of their own
  (``community.dense_blocks: auto``, `graphguard.dense.seeded`).
- ``communities+null``: the same run's communities, each measured by
  `graphguard.dense.significance.block_significance`; flagged = members of communities with
  q <= 0.01.
- ``fraudar``: `graphguard.dense.fraudar.find_blocks`, k = 1 (FRAUDAR's output: the densest
  block); flagged = its accounts. No FRAUDAR package is on PyPI, so this peeling IS the FRAUDAR
  baseline.
- ``fraudar+null``: k = 10 blocks, each measured by the null; flagged = accounts of blocks with
  q <= 0.01.

- ``refined``: both peelings' 10 blocks refined by local search against the Chung-Lu null
  (`graphguard.dense.refine`); flagged = members of refined blocks with lift >=
  dense.min_lift and share >= dense.min_share.

Per scenario and method: precision and recall of the injected accounts, population FPR (share
of the 943 real users flagged), and caught (recall >= 0.9 at FPR <= 1%).

    PYTHONPATH=$PWD python benchmarks/dense_blocks.py --out experiments/dense_blocks

Detect alone on fresh injection seeds (``--detect-seeds 8,9,10`` -> detect_seeds.md, .json).

Held-out mode (``--seeds N --tune 1,2``): every scenario on injection seeds 1..N (detect,
FRAUDAR, excess peel, refined); the refined rule's two thresholds are chosen on
the control and the tuning seeds only (`choose_rule`) and reported on the others, mean and std
over seeds -> held_out.md and held_out.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.config import DataConfig, DenseConfig, DetectConfig, GraphConfig
from graphguard.dense.bipartite import bipartite
from graphguard.dense.fraudar import find_blocks
from graphguard.dense.refine import peeled_seeds, refine_blocks
from graphguard.dense.significance import block_significance
from graphguard.io import load_events
from graphguard.outputs import write_json_atomic, write_text_atomic
from graphguard.pipeline.detect import detect

DATA = Path(os.environ.get("GRAPHGUARD_SHARED_DATA", "../shared/data")) / "movielens-100k"
DAY_S = 86400
Q_LEVEL = 0.01
FPR_LEVEL = 0.01
RECALL_LEVEL = 0.9

MAPPING = DataConfig(
    format="parquet",
    columns={
        schema.TIME: "timestamp",
        schema.ACCOUNT: "user",
        schema.TARGET: "item",
        schema.DEVICE: None,
        schema.IP: None,
    },
    constants={schema.EVENT_TYPE: "rate"},
)
CONFIG = DetectConfig(data=MAPPING, graph=GraphConfig(engagement_types=("rate",)))


@dataclass(frozen=True)
class Scenario:
    name: str
    density: float = 1.0
    accounts: int = 100
    items: int = 100
    films: str = "random"  # random | new | popular
    timing: str = "spread"  # hour | day | spread
    camouflage: str = "none"  # none | random | biased


SCENARIOS = (
    Scenario("dense 1.0, one hour", timing="hour"),
    Scenario("dense 1.0, spread"),
    Scenario("density 0.5, spread", density=0.5),
    Scenario("sparse 0.1, spread", density=0.1),
    Scenario("sparse 0.1, one day", density=0.1, timing="day"),
    Scenario("dense 1.0, new films, spread", films="new"),
    Scenario("dense 1.0, popular films (50-150 raters), spread", films="popular"),
    Scenario("density 0.5, random camouflage", density=0.5, camouflage="random"),
    Scenario("density 0.5, biased camouflage", density=0.5, camouflage="biased"),
    Scenario("sparse 0.1, biased camouflage", density=0.1, camouflage="biased"),
    Scenario("small 20 x 20, dense 1.0, spread", accounts=20, items=20),
)


def read_movielens(path: Path) -> pl.DataFrame:
    return pl.read_csv(
        path / "u.data",
        separator="\t",
        has_header=False,
        new_columns=["user", "item", "rating", "timestamp"],
        schema_overrides={"user": pl.String, "item": pl.String},
    ).with_columns(("u" + pl.col("user")).alias("user"), ("m" + pl.col("item")).alias("item"))


def inject(base: pl.DataFrame, sc: Scenario, seed: int) -> pl.DataFrame:
    """The base log plus one block of ``sc``: rows (user, item, rating, timestamp)."""
    rng = np.random.default_rng(seed)
    degree = base.group_by("item").len().sort("item")
    items = degree.get_column("item").to_numpy()
    deg = degree.get_column("len").to_numpy()
    if sc.films == "new":
        films = np.array([f"new{j}" for j in range(sc.items)])
    elif sc.films == "popular":
        pool = items[(deg >= 50) & (deg <= 150)]
        films = rng.choice(pool, sc.items, replace=False)
    else:
        films = rng.choice(items, sc.items, replace=False)
    fa, fi = np.nonzero(rng.random((sc.accounts, sc.items)) < sc.density)
    users = np.array([f"fake{i}" for i in range(sc.accounts)])
    u, it = users[fa], films[fi]
    if sc.camouflage != "none":
        per = np.bincount(fa, minlength=sc.accounts)
        cu = np.repeat(users, per)
        p = None if sc.camouflage == "random" else deg / deg.sum()
        ci = rng.choice(items, cu.size, p=p)
        u, it = np.concatenate([u, cu]), np.concatenate([it, ci])
    t0, t1 = int(base["timestamp"].min()), int(base["timestamp"].max())
    if sc.timing == "hour":
        start = rng.integers(t0, t1 - 3600)
        ts = start + rng.integers(0, 3600, u.size)
    elif sc.timing == "day":
        start = rng.integers(t0, t1 - DAY_S)
        ts = start + rng.integers(0, DAY_S, u.size)
    else:  # each account on its own three days over the whole seven months
        account = np.searchsorted(users, u) if u.size else u
        order = np.argsort(users)
        account = order[np.searchsorted(users[order], u)]
        days = rng.integers(0, (t1 - t0) // DAY_S, (sc.accounts, 3))
        day = days[account, rng.integers(0, 3, u.size)]
        ts = t0 + day * DAY_S + rng.integers(0, DAY_S, u.size)
    fake = pl.DataFrame(
        {
            "user": u,
            "item": it,
            "rating": rng.integers(4, 6, u.size),
            "timestamp": ts.astype(np.int64),
        }
    ).unique(["user", "item"], keep="first", maintain_order=True)
    return pl.concat([base, fake.cast(base.schema)])


def scores(flagged: set[str], fakes: set[str], n_real: int) -> dict:
    tp = len(flagged & fakes)
    fp = len(flagged - fakes)
    recall = tp / len(fakes)
    fpr = fp / n_real
    return {
        "flagged": len(flagged),
        "precision": tp / len(flagged) if flagged else None,
        "recall": recall,
        "population_fpr": fpr,
        "caught": recall >= RECALL_LEVEL and fpr <= FPR_LEVEL,
    }


#: how a group is flagged by the null: name -> (dispersion (None: estimated), least ratio)
RULES = {
    "q": (None, 0.0),
    "q_raw+ratio3": (1.0, 3.0),
    "q_raw+ratio4": (1.0, 4.0),
    "q_raw+ratio5": (1.0, 5.0),
    "q+ratio4": (None, 4.0),
}
#: the rule the table shows (graphguard dense's default: dense.min_ratio)
MAIN_RULE = "q_raw+ratio4"


def null_rules(graph, groups: pl.DataFrame, name: str, fakes: set[str], n_real: int) -> dict:
    """``name`` scored under `MAIN_RULE`, and every rule of `RULES` under ``name[rule]``."""
    out = {}
    dispersions = sorted({d for d, _ in RULES.values()}, key=lambda d: -1.0 if d is None else d)
    sigs = {d: block_significance(graph, groups, dispersion=d) for d in dispersions}
    for rule, (dispersion, least) in RULES.items():
        sig = sigs[dispersion]
        hit = sig.filter((pl.col("q_value") <= Q_LEVEL) & (pl.col("ratio") >= least))["group"]
        flagged = groups.filter(pl.col("group").is_in(hit.implode())).get_column(schema.ACCOUNT)
        out[f"{name}[{rule}]"] = scores(set(flagged), fakes, n_real)
        out[f"{name}[{rule}]"]["groups_tested"] = sig.height
        out[f"{name}[{rule}]"]["groups_flagged"] = hit.len()
    out[name] = dict(out[f"{name}[{MAIN_RULE}]"])
    return out


def peeling(graph, objective: str, name: str, fakes: set[str], n_real: int, timings: dict) -> dict:
    """k = 1 (the densest block, FRAUDAR's output) and k = 10 blocks kept where q <= 0.01."""
    out: dict = {}
    t = time.perf_counter()
    blocks, _ = find_blocks(graph, 10, objective=objective)
    timings[f"{name}_k10"] = time.perf_counter() - t
    first = set(blocks.get_column("accounts")[0]) if blocks.height else set()
    out[name] = scores(first, fakes, n_real)
    # how deep the list of blocks must go to catch the injected one, and what that costs
    seen: set[str] = set()
    out[name]["blocks_to_catch"] = None
    for b, accounts in enumerate(blocks.get_column("accounts").to_list()):
        seen |= set(accounts)
        if len(seen & fakes) >= RECALL_LEVEL * len(fakes):
            out[name]["blocks_to_catch"] = b + 1
            out[name]["fpr_when_caught"] = len(seen - fakes) / n_real
            break
    block_groups = blocks.select(
        pl.col("accounts").alias(schema.ACCOUNT), pl.col("block").alias("group")
    ).explode(schema.ACCOUNT)
    t = time.perf_counter()
    bsig = block_significance(graph, block_groups, dispersion=1.0)
    timings[f"{name}_significance"] = time.perf_counter() - t
    out.update(null_rules(graph, block_groups, f"{name}+null", fakes, n_real))
    out[f"{name}+null"]["blocks"] = [
        {
            "block": int(r["group"]),
            "n_accounts": int(r["n_members"]),
            "fakes": len(set(blocks.get_column("accounts")[int(r["group"])]) & fakes),
            "ratio": round(float(r["ratio"]), 3),
            "z": round(float(r["z"]), 2),
            "q": float(r["q_value"]),
        }
        for r in bsig.iter_rows(named=True)
    ]
    return out


def evaluate(path: Path, fakes: set[str], n_real: int, timings: dict) -> dict:
    events, _, _ = load_events(path, MAPPING)
    out: dict = {}
    t = time.perf_counter()
    result = detect(events, CONFIG)
    timings["pipeline"] = time.perf_counter() - t
    acc = result.accounts
    out["pipeline"] = scores(
        set(acc.filter(pl.col("flagged")).get_column(schema.ACCOUNT)), fakes, n_real
    )
    fake_clusters = (
        acc.filter(pl.col(schema.ACCOUNT).is_in(list(fakes)))
        .get_column("cluster_id")
        .value_counts(sort=True)
    )
    top = fake_clusters.filter(pl.col("cluster_id").is_not_null()).head(1)
    cid = top.get_column("cluster_id").to_list()
    if cid:
        suspicion = result.clusters.filter(pl.col("cluster_id") == cid[0]).get_column("suspicion")
        out["pipeline"]["fakes_main_cluster"] = {
            "fakes": int(top.get_column("count")[0]),
            "size": int(result.clusters.filter(pl.col("cluster_id") == cid[0])["size"][0]),
            "suspicion": float(suspicion[0]),
        }
    else:
        out["pipeline"]["fakes_main_cluster"] = None

    t = time.perf_counter()
    graph = bipartite(events, CONFIG.graph.engagement_types)
    timings["bipartite"] = time.perf_counter() - t
    groups = acc.select(schema.ACCOUNT, pl.col("cluster_id").alias("group"))
    t = time.perf_counter()
    out.update(null_rules(graph, groups, "communities+null", fakes, n_real))
    timings["significance_communities"] = time.perf_counter() - t

    for name, objective in (("fraudar", "density"), ("excess-peel", "excess")):
        out.update(peeling(graph, objective, name, fakes, n_real, timings))
    t = time.perf_counter()
    _, refined = candidates(graph)
    timings["refined"] = time.perf_counter() - t
    rule = DenseConfig()
    out["refined"] = rule_scores(refined, rule.min_lift, rule.min_share, fakes, n_real)
    return out


#: the refined-block rule's grid: least lift and least share (`graphguard.dense.refine`)
LIFT_GRID = tuple(np.round(np.arange(3.0, 12.01, 0.25), 2).tolist())
SHARE_GRID = tuple(np.round(np.arange(0.0, 0.81, 0.05), 2).tolist())


def candidates(graph, k: int = 10) -> tuple[dict, list]:
    """The densest blocks (FRAUDAR, k = 1; excess peel, k = 1) and the refined blocks seeded by
    the k blocks of each peeling (`graphguard.dense.refine.peeled_seeds`, as `graphguard dense`
    with dense.refine): (peeled, refined rows)."""
    first = {}
    for name, objective in (("fraudar", "density"), ("excess-peel", "excess")):
        blocks, _ = find_blocks(graph, 1, objective=objective)
        first[name] = set(blocks.get_column("accounts")[0]) if blocks.height else set()
    refined = refine_blocks(graph, peeled_seeds(graph, k))
    return first, refined.select("lift", "share", "accounts").to_dicts()


def rule_scores(refined: list, lift: float, share: float, fakes: set, n_real: int) -> dict:
    flagged: set[str] = set()
    for r in refined:
        if r["lift"] >= lift and r["share"] >= share:
            flagged |= set(r["accounts"])
    return scores(flagged, fakes, n_real)


def choose_rule(runs: list, n_real: int) -> dict:
    """The (least lift, least share) that catches the most tuning runs while flagging no more
    than FPR_LEVEL of the real users in any of them; among ties, the grid point nearest the
    middle of the tied ones (away from both edges)."""
    best, tied = -1, []
    for lift in LIFT_GRID:
        for share in SHARE_GRID:
            res = [rule_scores(r["refined"], lift, share, r["fakes"], n_real) for r in runs]
            if any(x["population_fpr"] > FPR_LEVEL for x in res):
                continue
            n = sum(x["caught"] for x in res)
            if n > best:
                best, tied = n, []
            if n == best:
                tied.append((lift, share))
    pts = np.array(tied)
    centre = pts.mean(axis=0)
    lift, share = min(
        tied, key=lambda p: ((p[0] - centre[0]) / 9) ** 2 + ((p[1] - centre[1]) / 0.8) ** 2
    )
    return {
        "min_lift": lift,
        "min_share": share,
        "tuning_caught": best,
        "tuning_runs": len(runs),
        "tied_points": len(tied),
        "tied": tied,
    }


def fake_users(log: pl.DataFrame) -> set[str]:
    """The injected accounts of ``log`` (their ids start with "fake")."""
    return set(log.filter(pl.col("user").str.starts_with("fake"))["user"].unique())


def scenario_logs(base: pl.DataFrame, seeds: list[int], tmp: Path):
    """The control (``base``) and every scenario injected with each of ``seeds`` (scenario i of
    seed s with injection seed 1000 s + i), one at a time as (seed, scenario name, log, its
    events as graphguard reads them, through a Parquet file in ``tmp``); seed None is the
    control."""
    logs = [(None, "no injection (control)", base)]
    for seed in seeds:
        logs += [
            (seed, sc.name, inject(base, sc, 1000 * seed + i)) for i, sc in enumerate(SCENARIOS)
        ]
    for seed, name, log in logs:
        path = tmp / "log.parquet"
        log.write_parquet(path)
        events, _, _ = load_events(path, MAPPING)
        yield seed, name, log, events


def held_out(args, base: pl.DataFrame, real_users: int) -> None:
    """Every scenario on seeds 1..N: the rule is chosen on the tuning seeds, reported on the
    others (mean and std of recall and population FPR over seeds, scenarios caught per seed)."""
    seeds = list(range(1, args.seeds + 1))
    tune = [int(s) for s in args.tune.split(",")]
    runs = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gg-dense-") as tmp:
        for seed, name, log, events in scenario_logs(base, seeds, Path(tmp)):
            graph = bipartite(events, CONFIG.graph.engagement_types)
            fakes = fake_users(log) or {"__none__"}
            t = time.perf_counter()
            first, refined = candidates(graph)
            seconds = time.perf_counter() - t
            t = time.perf_counter()
            accounts = detect(events, CONFIG).accounts
            first["pipeline"] = set(accounts.filter(pl.col("flagged")).get_column(schema.ACCOUNT))
            runs.append(
                {
                    "seed": seed,
                    "scenario": name,
                    "fakes": fakes,
                    "refined": refined,
                    "first": first,
                    "seconds": seconds,
                    "detect_seconds": time.perf_counter() - t,
                }
            )
            print(f"seed {seed} {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    control = runs[0]
    rule = choose_rule([control] + [r for r in runs if r["seed"] in tune], real_users)
    rows = []
    for r in runs:
        m = {name: scores(first, r["fakes"], real_users) for name, first in r["first"].items()}
        m["refined"] = rule_scores(
            r["refined"], rule["min_lift"], rule["min_share"], r["fakes"], real_users
        )
        rows.append(
            {
                "seed": r["seed"],
                "scenario": r["scenario"],
                "methods": m,
                "refined_blocks": [
                    {
                        "lift": round(b["lift"], 3),
                        "share": round(b["share"], 3),
                        "n_accounts": len(b["accounts"]),
                        "fakes": len(set(b["accounts"]) & r["fakes"]),
                    }
                    for b in r["refined"]
                ],
                "seconds": round(r["seconds"], 2),
                "detect_seconds": round(r["detect_seconds"], 2),
            }
        )
    doc = {
        "command": "GRAPHGUARD_SHARED_DATA=/work/shared/data PYTHONPATH=$PWD python "
        f"benchmarks/dense_blocks.py --seeds {args.seeds} --tune {args.tune} --out {args.out}",
        "seeds": seeds,
        "tuning_seeds": tune,
        "rule": rule,
        "injection_seed": "1000 * seed + scenario index",
        "levels": {"fpr": FPR_LEVEL, "recall": RECALL_LEVEL},
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "runs": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(doc, args.out / "held_out.json")
    write_text_atomic(render_held_out(doc), args.out / "held_out.md")
    print(render_held_out(doc))


HELD_OUT_METHODS = {
    "pipeline": "`graphguard detect`, default settings (the log having no device or IP: its "
    "dense-block evidence on, `graphguard dense`'s flagged refined blocks carved out as "
    "communities), flagged = risk >= 0.5; nothing of detect tuned on these seeds",
    "fraudar": "FRAUDAR peeling (our implementation), its densest block",
    "excess-peel": "peeling by excess over the configuration model, its densest block",
    "refined": "refined blocks (`graphguard.dense.refine`) flagged by the tuned rule",
}


def render_held_out(doc: dict) -> str:
    rule = doc["rule"]
    report = [s for s in doc["seeds"] if s not in doc["tuning_seeds"]]
    lines = [
        "# Dense blocks on MovieLens-100k: held-out seeds",
        "",
        f"Command: `{doc['command']}` ({doc['seconds']:.0f} s, peak RSS "
        f"{doc['peak_rss_mib']:.0f} MiB). Each of the {len(SCENARIOS)} scenarios of "
        "`results.md` injected with seeds "
        f"{', '.join(map(str, doc['seeds']))} (injection seed {doc['injection_seed']}).",
        "",
        f"The refined-block rule was chosen on the control and tuning seeds "
        f"{', '.join(map(str, doc['tuning_seeds']))} only: lift >= {rule['min_lift']} and share >= "
        f"{rule['min_share']} (it caught {rule['tuning_caught']} of {rule['tuning_runs']} tuning "
        f"runs, control included, flagging at most {FPR_LEVEL:.0%} of real users in each; "
        f"{rule['tied_points']} grid points tied, the middlemost taken). Reported below: seeds "
        f"{', '.join(map(str, report))}, which the rule never saw.",
        "",
        "Per scenario and method: recall of the injected accounts and population FPR, mean ± std "
        "over the reported seeds, and in how many of them it was caught (recall >= 90% at "
        "FPR <= 1%).",
        "",
        "| scenario | " + " | ".join(HELD_OUT_METHODS) + " |",
        "|---" * (len(HELD_OUT_METHODS) + 1) + "|",
    ]
    names = ["no injection (control)"] + [sc.name for sc in SCENARIOS]
    totals = {m: 0 for m in HELD_OUT_METHODS}
    for name in names:
        runs = [
            r
            for r in doc["runs"]
            if r["scenario"] == name and (r["seed"] is None or r["seed"] in report)
        ]
        cells = []
        for m in HELD_OUT_METHODS:
            rec = np.array([r["methods"][m]["recall"] for r in runs])
            fpr = np.array([r["methods"][m]["population_fpr"] for r in runs])
            caught = sum(r["methods"][m]["caught"] for r in runs)
            if runs[0]["seed"] is None:
                cells.append(f"FPR {100 * fpr.mean():.1f}%")
                continue
            totals[m] += caught
            cells.append(
                f"{100 * rec.mean():.0f} ± {100 * rec.std():.0f}% / "
                f"{100 * fpr.mean():.1f} ± {100 * fpr.std():.1f}% ({caught}/{len(runs)})"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Runs caught, of {len(SCENARIOS) * len(report)} (scenarios x reported seeds):",
        "",
    ]
    lines += [f"- `{m}` ({what}): {totals[m]}" for m, what in HELD_OUT_METHODS.items()]
    per_seed = []
    for s in report:
        per_seed.append(
            f"seed {s}: "
            + ", ".join(
                f"{m} {sum(r['methods'][m]['caught'] for r in doc['runs'] if r['seed'] == s)}"
                for m in HELD_OUT_METHODS
            )
        )
    lines += ["", "Scenarios caught per reported seed (of 11): " + "; ".join(per_seed) + "."]
    return "\n".join(lines) + "\n"


def detect_seeds(args, base: pl.DataFrame, real_users: int) -> None:
    """``graphguard detect`` alone on every scenario of the given injection seeds (and the
    control): recall, population FPR, caught, and the communities carved from refined blocks
    -> detect_seeds.json and detect_seeds.md. For seeds that neither the refined rule nor
    detect's settings were chosen on."""
    seeds = [int(s) for s in args.detect_seeds.split(",")]
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gg-dense-") as tmp:
        for seed, name, log, events in scenario_logs(base, seeds, Path(tmp)):
            fakes = fake_users(log) or {"__none__"}
            t = time.perf_counter()
            result = detect(events, CONFIG)
            flagged = set(result.accounts.filter(pl.col("flagged")).get_column(schema.ACCOUNT))
            rows.append(
                {
                    "seed": seed,
                    "scenario": name,
                    **scores(flagged, fakes, real_users),
                    "carved_communities": result.community.get("dense_block_communities"),
                    "detect_seconds": round(time.perf_counter() - t, 2),
                }
            )
            print(f"seed {seed} {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    doc = {
        "command": "GRAPHGUARD_SHARED_DATA=/work/shared/data PYTHONPATH=$PWD python "
        f"benchmarks/dense_blocks.py --detect-seeds {args.detect_seeds} --out {args.out}",
        "seeds": seeds,
        "injection_seed": "1000 * seed + scenario index",
        "levels": {"fpr": FPR_LEVEL, "recall": RECALL_LEVEL},
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "runs": rows,
    }
    lines = [
        "# `graphguard detect` on MovieLens-100k, injection seeds " + ", ".join(map(str, seeds)),
        "",
        f"Command: `{doc['command']}` ({doc['seconds']:.0f} s). Default settings; each cell: "
        "recall of the injected accounts / population FPR (share of the 943 real users "
        "flagged), ✔ = caught (recall >= 90% at FPR <= 1%).",
        "",
        "| scenario | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|" + "---|" * len(seeds),
    ]
    control = rows[0]
    lines.append(
        f"| {control['scenario']} | FPR {_pct(control['population_fpr'])} |"
        + " |" * (len(seeds) - 1)
    )
    for sc in SCENARIOS:
        cells = []
        for seed in seeds:
            r = next(r for r in rows if r["seed"] == seed and r["scenario"] == sc.name)
            mark = " ✔" if r["caught"] else ""
            cells.append(f"{_pct(r['recall'])} / {_pct(r['population_fpr'])}{mark}")
        lines.append(f"| {sc.name} | " + " | ".join(cells) + " |")
    caught = sum(r["caught"] for r in rows[1:])
    lines += ["", f"Runs caught: {caught} of {len(rows) - 1}."]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(doc, args.out / "detect_seeds.json")
    write_text_atomic("\n".join(lines) + "\n", args.out / "detect_seeds.md")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/dense_blocks"))
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    parser.add_argument("--seeds", type=int, help="held-out mode: every scenario on seeds 1..N")
    parser.add_argument(
        "--tune", default="1,2", help="held-out mode: the seeds the rule is chosen on"
    )
    parser.add_argument(
        "--detect-seeds", help="detect alone on every scenario of these seeds, e.g. 8,9,10"
    )
    args = parser.parse_args()
    base = read_movielens(args.data)
    if args.detect_seeds:
        detect_seeds(args, base, base.get_column("user").n_unique())
        return
    if args.seeds:
        held_out(args, base, base.get_column("user").n_unique())
        return
    real_users = base.get_column("user").n_unique()
    rows = []
    with tempfile.TemporaryDirectory(prefix="gg-dense-") as tmp:
        control = Path(tmp) / "control.parquet"
        base.write_parquet(control)
        timings: dict = {}
        started = time.perf_counter()
        res = evaluate(control, {"__none__"}, real_users, timings)
        rows.append({"scenario": "no injection (control)", "methods": res, "timings_s": timings})
        print(f"control: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        for i, sc in enumerate(SCENARIOS):
            if args.only and args.only not in sc.name:
                continue
            log = inject(base, sc, args.seed + i)
            fakes = fake_users(log)
            path = Path(tmp) / f"s{i}.parquet"
            log.write_parquet(path)
            timings = {}
            started = time.perf_counter()
            res = evaluate(path, fakes, real_users, timings)
            rows.append(
                {
                    "scenario": sc.name,
                    "setup": {**vars(sc), "seed": args.seed + i, "fakes": len(fakes)},
                    "methods": res,
                    "timings_s": timings,
                }
            )
            print(f"{sc.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    doc = {
        "command": "GRAPHGUARD_SHARED_DATA=/work/shared/data PYTHONPATH=$PWD "
        "python benchmarks/dense_blocks.py --out " + str(args.out),
        "seed": args.seed,
        "data": "movielens-100k u.data (943 users, 1,682 films, 100,000 ratings)",
        "levels": {"q": Q_LEVEL, "fpr": FPR_LEVEL, "recall": RECALL_LEVEL},
        "rules": {k: {"dispersion": d, "min_ratio": r} for k, (d, r) in RULES.items()},
        "main_rule": MAIN_RULE,
        "python": platform.python_version(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "scenarios": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(doc, args.out / "results.json")
    write_text_atomic(render(doc), args.out / "results.md")
    print(render(doc))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


METHODS = {
    "pipeline": "`graphguard detect`, default settings (no device or IP: its dense-block evidence "
    "counts, the dense projection is uncapped and the refined blocks `graphguard dense` flags "
    "are carved out as communities), flagged = risk >= 0.5",
    "communities+null": "detect's communities, flagged where q <= 0.01 and ratio >= 4",
    "fraudar": "FRAUDAR peeling (density g), its densest block",
    "fraudar+null": "10 FRAUDAR blocks, flagged where q <= 0.01 and ratio >= 4",
    "excess-peel": "peeling by excess over the configuration model, its densest block",
    "excess-peel+null": "10 excess blocks, flagged where q <= 0.01 and ratio >= 4",
    "refined": "both peelings' 10 blocks refined against the Chung-Lu null "
    "(`graphguard.dense.refine`), flagged where lift >= dense.min_lift and share >= "
    "dense.min_share (4.75, 0.25: chosen on seeds 1-2 of held_out.md; seed 12 is "
    "none of its seeds)",
}


def render(doc: dict) -> str:
    """results.md: what was run, the table, how many scenarios each method catches."""
    rows = doc["scenarios"]
    injected = [r for r in rows if "setup" in r]
    lines = [
        "# Dense blocks injected into MovieLens-100k",
        "",
        f"Command: `{doc['command']}` (seed {doc['seed']}; {doc['data']}; peak RSS "
        f"{doc['peak_rss_mib']:.0f} MiB). Generated by `benchmarks/dense_blocks.py`, whose "
        "docstring describes the scenarios; per-block figures and every flagging rule tried "
        "are in `results.json`.",
        "",
        "Each cell: precision / recall of the injected accounts / population FPR (share of the "
        f"943 real users flagged); ✔ = caught (recall >= {RECALL_LEVEL:.0%} at FPR <= "
        f"{FPR_LEVEL:.0%}). Methods:",
        "",
    ]
    lines += [f"- `{m}`: {what}" for m, what in METHODS.items()]
    lines += [
        "",
        "| scenario | " + " | ".join(METHODS) + " |",
        "|---" * (len(METHODS) + 1) + "|",
    ]
    for row in rows:
        cells = []
        for m in METHODS:
            r = row["methods"][m]
            mark = " ✔" if r["caught"] else ""
            cells.append(
                f"{_pct(r['precision'])} / {_pct(r['recall'])} / {_pct(r['population_fpr'])}{mark}"
            )
        lines.append(f"| {row['scenario']} | " + " | ".join(cells) + " |")
    lines += ["", f"Scenarios caught, of {len(injected)}:", ""]
    for m in METHODS:
        n = sum(r["methods"][m]["caught"] for r in injected)
        lines.append(f"- `{m}`: {n}")
    lines += [
        "",
        "Where `graphguard detect` put most of the fakes (its cluster, the fakes in it, its "
        "suspicion), and how deep FRAUDAR's list of blocks must go to hold 90% of them (the "
        "population FPR of that many blocks):",
        "",
        "| scenario | detect's cluster of the fakes | FRAUDAR blocks needed (FPR) | "
        "excess blocks needed (FPR) |",
        "|---|---|---|---|",
    ]
    for row in injected:
        m = row["methods"]
        c = m["pipeline"]["fakes_main_cluster"]
        cluster = (
            "none (not clustered)"
            if c is None
            else f"{c['fakes']} fakes of {c['size']}, suspicion {c['suspicion']:.3f}"
        )
        deep = []
        for name in ("fraudar", "excess-peel"):
            k = m[name]["blocks_to_catch"]
            deep.append("not in 10" if k is None else f"{k} ({_pct(m[name]['fpr_when_caught'])})")
        lines.append(f"| {row['scenario']} | {cluster} | {deep[0]} | {deep[1]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
