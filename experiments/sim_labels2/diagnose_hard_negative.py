"""Why GraphSAGE flags a hard-negative kind in sim_labels2: one seed, taken apart.

    python experiments/sim_labels2/diagnose_hard_negative.py --seed 2 \
        --out experiments/sim_labels2/diagnosis/seed2_auto.json
    python experiments/sim_labels2/diagnose_hard_negative.py --seed 2 \
        --set community.max_cluster_size=300 --out .../seed2_cap300.json
    python experiments/sim_labels2/diagnose_hard_negative.py --seed 2 --model-seeds 0,1,2 ...

Builds the world and the model exactly as `graphguard.evaluation.harness.score_world` does for
``experiment=sim_labels2`` (same composition, same split, same fusion), then reports for every
hard-negative kind on the evaluated (unlabelled) accounts:

- the share the model alone (``graphsage``) and the fused score (``graphsage+evidence``) flag;
- the training labels: how many of the kind are labelled (benign), and the labelled abusive
  accounts by campaign kind;
- the kind's communities: share in one, sizes, the community evidence (risk) and how many
  abusive accounts share them;
- for the worst kind, which inputs make the model flag it: each feature (and the cluster group)
  set to the benign population's median on the kind's accounts, each relation's edges dropped,
  and the flagged share after each change;
- the kind's feature medians against the benign population and the labelled abusive accounts.

``--model-seeds`` retrains with other ``train.seed`` values on the same world and labels, to
tell a feature of the world from a training accident.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.compose import compose_config, settings


def _flag_share(risk: np.ndarray, mask: np.ndarray, threshold: float) -> float | None:
    return float((risk[mask] >= threshold).mean()) if mask.any() else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2, help="world seed (default 2)")
    parser.add_argument("--set", action="append", default=[], help="Hydra override (repeatable)")
    parser.add_argument(
        "--model-seeds", default="", help="comma list of train.seed values to refit (default: none)"
    )
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    args = parser.parse_args(argv)

    import torch

    from graphguard.features.account import select_features
    from graphguard.graph.inputs import graph_inputs, label_codes
    from graphguard.pipeline.fusion import fuse_scores, unseen_classes
    from graphguard.pipeline.stages import build_stages
    from graphguard.pipeline.train import build_detector
    from graphguard.simulate import simulate

    cfg = compose_config(["experiment=sim_labels2", *args.set], config_name="experiments")
    s = settings(cfg)
    config, features, params = s.detect, s.features, s.params
    threshold = config.scoring.risk_threshold
    world = simulate(dataclasses.replace(s.simulate, seed=args.seed))
    stages = build_stages(world.events, config)
    table = stages.features()
    names = select_features(features.exclude)
    inputs = graph_inputs(
        table, stages.graph.edges, feature_names=names, relations=features.relations
    )
    evidence = stages.scores().sort("account")
    account_ids = stages.account_ids
    y = label_codes(account_ids, world.labels)

    truth = (
        pl.DataFrame({schema.ACCOUNT: account_ids.cast(pl.String)})
        .with_row_index("row")
        .join(world.truth, on=schema.ACCOUNT, how="left")
        .sort("row")
    )
    labelled = account_ids.is_in(world.labels.get_column(schema.ACCOUNT).implode()).to_numpy()
    evaluated = ~labelled
    hn = truth.get_column("hard_negative").to_numpy()
    abusive = (truth.get_column(schema.LABEL) != schema.BENIGN).to_numpy()
    kinds = [k for k in schema.HARD_NEGATIVE_KINDS if (hn == k).any()]
    population = ~abusive & (truth.get_column("hard_negative").is_null().to_numpy())
    cluster = evidence.get_column("cluster_id")
    evidence_risk = evidence.get_column("risk").fill_null(0.0).to_numpy()

    def fit(seed: int):
        detector = build_detector({**dataclasses.asdict(params), "seed": seed})
        val_mask = detector.validation_split(y)
        detector.fit(inputs, y, train_mask=(y >= 0) & ~val_mask, val_mask=val_mask)
        return detector

    def risks(detector, x=None, edges=None, proba=None) -> dict[str, np.ndarray]:
        if proba is None:
            run_inputs = dataclasses.replace(
                inputs,
                x=inputs.x if x is None else x,
                edge_index_dict=inputs.edge_index_dict if edges is None else edges,
            )
            proba = detector.predict_proba(run_inputs)
        out = {"proba": proba}
        for fusion, method in (("model", "graphsage"), ("noisy_or", "graphsage+evidence")):
            fused = fuse_scores(
                evidence,
                proba,
                dataclasses.replace(config.scoring, fusion=fusion),
                unseen=unseen_classes(detector),
            )
            out[method] = fused.get_column("risk").to_numpy()
        out["p_abuse"] = proba[:, 1] + proba[:, 2]
        return out

    detector = fit(int(params.seed))
    base = risks(detector)

    # ---- per kind: flag shares, labels, communities
    label_names = np.array(schema.LABELS)
    per_kind = {}
    for kind in kinds:
        mask = (hn == kind) & evaluated
        members = hn == kind
        kind_clusters = (
            pl.DataFrame({"cluster": cluster, "abusive": abusive, "kind": hn == kind})
            .filter(pl.col("cluster").is_not_null())
            .group_by("cluster")
            .agg(
                pl.len().alias("size"),
                pl.col("abusive").sum().alias("n_abusive"),
                pl.col("kind").sum().alias("n_kind"),
            )
            .filter(pl.col("n_kind") > 0)
        )
        per_kind[kind] = {
            "n_evaluated": int(mask.sum()),
            "n_labelled": int((members & labelled).sum()),
            "flagged_graphsage": _flag_share(base["graphsage"], mask, threshold),
            "flagged_graphsage+evidence": _flag_share(base["graphsage+evidence"], mask, threshold),
            "median_p_abuse": float(np.median(base["p_abuse"][mask])) if mask.any() else None,
            "share_in_community": float(cluster.filter(pl.Series(members)).is_not_null().mean()),
            "communities": kind_clusters.height,
            "community_sizes": sorted(kind_clusters.get_column("size").to_list(), reverse=True)[
                :12
            ],
            "accounts_in_communities_with_abusive": int(
                kind_clusters.filter(pl.col("n_abusive") > 0).get_column("n_kind").sum()
            ),
            "median_evidence_risk": float(np.median(evidence_risk[members])),
            "flagged_by_evidence": _flag_share(evidence_risk, mask, threshold),
        }
    worst = max(kinds, key=lambda k: per_kind[k]["flagged_graphsage"] or 0.0)

    labels_by_kind = (
        truth.filter(pl.Series(labelled))
        .with_columns(pl.Series("given", label_names[np.clip(y[labelled], 0, None)]))
        .group_by(pl.col("campaign_kind").fill_null("benign"), "given")
        .agg(pl.len().alias("n"))
        .sort("campaign_kind", "given")
        .to_dicts()
    )

    # ---- the worst kind: which inputs make the model flag it
    mask = (hn == worst) & evaluated
    rows = np.flatnonzero(hn == worst)
    x = inputs.x.clone()
    pop_median = x[torch.from_numpy(population)].median(dim=0).values
    ablations = {}
    groups = {"cluster_*": [i for i, n in enumerate(names) if "cluster" in n]}
    groups.update({n: [i] for i, n in enumerate(names)})
    for group, cols in groups.items():
        x2 = x.clone()
        for c in cols:
            x2[rows, c] = pop_median[c]
        r = risks(detector, x=x2)
        ablations[group] = _flag_share(r["graphsage"], mask, threshold)
    # all features of the kind at the population median: what the graph alone does
    x_all = x.clone()
    x_all[rows] = pop_median
    ablations["all features"] = _flag_share(risks(detector, x=x_all)["graphsage"], mask, threshold)
    edge_ablations = {}
    for relation in inputs.edge_index_dict:
        edges = dict(inputs.edge_index_dict)
        ei = edges[relation]
        touching = np.isin(ei[0].numpy(), rows) | np.isin(ei[1].numpy(), rows)
        edges[relation] = ei[:, ~touching]
        r = risks(detector, edges=edges)
        edge_ablations[relation] = {
            "edges_dropped": int(touching.sum() // 2),
            "flagged_graphsage": _flag_share(r["graphsage"], mask, threshold),
        }
    top = sorted(
        ((g, v) for g, v in ablations.items() if v is not None),
        key=lambda gv: gv[1],
    )[:12]

    lab_abusive = labelled & abusive
    medians = {
        name: {
            "kind": float(np.median(x[rows, i].numpy())),
            "benign_population": float(pop_median[i]),
            "labelled_abusive": float(np.median(x[torch.from_numpy(lab_abusive), i].numpy()))
            if lab_abusive.any()
            else None,
        }
        for i, name in enumerate(names)
    }

    def shares(r: dict[str, np.ndarray]) -> dict[str, float | None]:
        out = {
            kind: _flag_share(r["graphsage"], (hn == kind) & evaluated, threshold) for kind in kinds
        }
        out["benign_population"] = _flag_share(r["graphsage"], population & evaluated, threshold)
        out["recall_abusive"] = _flag_share(r["graphsage"], abusive & evaluated, threshold)
        return out

    refits = {f"{int(params.seed)} (the run's)": shares(base)}
    probas = [base["proba"]]
    for seed in [int(v) for v in args.model_seeds.split(",") if v.strip()]:
        detector_k = fit(seed)
        r = risks(detector_k)
        probas.append(r["proba"])
        refits[str(seed)] = shares(r)
    if len(probas) > 1:
        # the mean of the fits' class probabilities: a seed ensemble of the same model
        refits["mean of these fits"] = shares(risks(detector, proba=np.mean(probas, axis=0)))

    report = {
        "command": "python experiments/sim_labels2/diagnose_hard_negative.py "
        + " ".join([f"--seed {args.seed}", *(f"--set {v}" for v in args.set)])
        + (f" --model-seeds {args.model_seeds}" if args.model_seeds else ""),
        "seed": args.seed,
        "max_cluster_size": str(config.community.max_cluster_size),
        "threshold": threshold,
        "benign_population_flagged_graphsage": _flag_share(
            base["graphsage"], population & evaluated, threshold
        ),
        "per_kind": per_kind,
        "worst_kind": worst,
        "labels": labels_by_kind,
        "worst_kind_ablation_flagged_graphsage": dict(top),
        "worst_kind_all_features_to_median": ablations["all features"],
        "worst_kind_edges_dropped": edge_ablations,
        "worst_kind_feature_medians": medians,
        "refits_train_seed": refits,
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
