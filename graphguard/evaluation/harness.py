"""Experiments: GraphSAGE against its baselines on the same split, with metrics and plots.

The entry point `python -m graphguard.experiment` (`graphguard.experiment`) composes the
config and calls `run` with typed objects: the experiment section (`ExperimentConfig`) and the
settings every method runs with (`DetectConfig`, `FeatureConfig`, `GraphSAGEParams`,
`SimulationConfig`). Every run writes into its directory:

- ``metrics.json``: per method, the mean and standard deviation over seeds of each metric,
  the per-seed values, and the targets with whether they were met;
- ``pr_curves.png`` and ``score_hist.png``: precision-recall curves and score histograms of
  every method on the evaluated accounts (all seeds pooled);
- ``summary.md``: the side-by-side table that is also printed;
- ``model.pt``: the first seed's GraphSAGE checkpoint (kept out of git).

Kinds of experiment (`ExperimentConfig.kind`):

- ``simulated``: one simulated world per seed; the model trains on the world's partial (and,
  if configured, noisy or kind-censored) labels and is scored on every account without a
  label, against the simulator's truth.
- ``inductive``: train on the world of each seed, score a second world of seed
  ``seed + inductive_offset`` whose accounts training never saw.
- ``real``: a third-party dataset (`graphguard.evaluation.real_data`).

Methods on the same split: ``graphsage`` (model alone), ``graphsage+evidence`` (model fused
with the cluster evidence, `graphguard.pipeline.fusion`), ``gbt`` (gradient-boosted trees on the
features plus neighbour aggregates), ``gbt+evidence`` (the trees' abuse score fused with the
evidence by the same noisy-OR), ``mlp`` (the features alone) and ``evidence`` (the
unsupervised cluster score, no labels used).

Importing this module loads neither torch nor the pipeline; `run` and its parts do.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.config import DetectConfig, FeatureConfig, ScoringConfig
from graphguard.outputs import write_json_atomic, write_text_atomic
from graphguard.scores import noisy_or_array

if TYPE_CHECKING:
    from graphguard.models.params import GraphSAGEParams
    from graphguard.simulate import SimulationConfig

Progress = Callable[[str], None]

#: metrics reported per method (keys of `flat_metrics`), in table order
METRICS = (
    "auprc",
    "auroc",
    "recall_at_1pct_fpr",
    "class_accuracy",
    "campaigns_caught",
    "benign_fpr",
    "worst_hard_negative_fpr",
)
SIM_METHODS = ("graphsage+evidence", "graphsage", "gbt+evidence", "gbt", "mlp", "evidence")
#: kinds of experiment (`ExperimentConfig.kind`)
KINDS = ("simulated", "inductive", "real")


@dataclass
class ExperimentConfig:
    """One experiment: what runs, on which seeds, and the figures it is meant to reach."""

    #: names the experiment and its output directory
    name: str
    description: str = ""
    #: simulated | inductive | real
    kind: str = "simulated"
    #: world seeds (simulated, inductive) or split/seed indices (real); mean and std over them
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    #: inductive: the scoring world's seed is seed + this
    inductive_offset: int = 1000
    #: real: tolokers | reddit | yelpchi, read from the shared data directory
    dataset: str | None = None
    methods: list[str] = field(default_factory=lambda: list(SIM_METHODS))
    #: real: GraphSAGE settings on top of the model and train groups
    graphsage: dict[str, Any] = field(default_factory=dict)
    #: settings of the baselines (`graphguard.models.baselines`), e.g. gbt: {max_leaf_nodes: 63}
    baselines: dict[str, dict[str, Any]] = field(default_factory=lambda: {"gbt": {}, "mlp": {}})
    #: figures to reach: {name: {method, metric, at_least | at_most}}
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"experiment.kind must be {', '.join(KINDS[:-1])} or {KINDS[-1]}, got {self.kind!r}"
            )
        if self.kind == "real" and not self.dataset:
            raise ValueError("experiment.dataset: a real experiment names its dataset")
        if not self.seeds:
            raise ValueError("experiment.seeds is empty; name at least one seed")
        for name, target in self.targets.items():
            missing = [key for key in ("method", "metric") if key not in target]
            bounds = [key for key in ("at_least", "at_most") if key in target]
            if missing or len(bounds) != 1:
                raise ValueError(
                    f"experiment.targets.{name}: a target has a method, a metric and one of "
                    "at_least or at_most"
                )


# --------------------------------------------------------------------------------------------
# One simulated world


def flat_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """The numbers a table shows, from `graphguard.evaluation.evaluate.evaluate` output."""
    accounts = metrics["accounts"]
    fpr = metrics["false_positive_rate"]
    hard = [v.get("fpr") for v in (fpr.get("hard_negatives") or {}).values()]
    hard = [v for v in hard if v is not None]
    classes = metrics.get("classes") or {}
    return {
        "auprc": accounts["auprc"],
        "auroc": accounts["auroc"],
        "recall_at_1pct_fpr": accounts["recall_at_1pct_fpr"],
        "class_accuracy": classes.get("accuracy"),
        "campaigns_caught": metrics["campaigns"]["caught_share"],
        "benign_fpr": fpr["benign_population"],
        "worst_hard_negative_fpr": max(hard) if hard else None,
    }


def _accounts_frame(
    account_ids: pl.Series,
    risk: np.ndarray,
    cluster_id: pl.Series,
    threshold: float,
    predicted: np.ndarray | None = None,
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            schema.ACCOUNT: account_ids.cast(pl.String),
            "cluster_id": cluster_id,
            "risk": np.asarray(risk, dtype=np.float64),
        }
    ).with_columns((pl.col("risk") >= threshold).alias("flagged"))
    if predicted is not None:
        frame = frame.with_columns(pl.Series("predicted_label", predicted, dtype=pl.String))
    return frame


def _scored_frame(
    scored: pl.DataFrame, account_ids: pl.Series, cluster_id: pl.Series, threshold: float
) -> pl.DataFrame:
    """`_accounts_frame` of a frame that has risk and predicted_label (in account order)."""
    return _accounts_frame(
        account_ids,
        scored.get_column("risk").to_numpy(),
        cluster_id,
        threshold,
        scored.get_column("predicted_label").to_numpy(),
    )


class WorldScores:
    """Every method's scores on one world, and the accounts they are judged on."""

    def __init__(self, truth: pl.DataFrame, eval_ids: pl.Series):
        self.truth = truth.filter(pl.col(schema.ACCOUNT).is_in(eval_ids.implode()))
        self.eval_ids = eval_ids
        self.frames: dict[str, pl.DataFrame] = {}

    def add(self, method: str, frame: pl.DataFrame) -> None:
        self.frames[method] = frame.filter(pl.col(schema.ACCOUNT).is_in(self.eval_ids.implode()))

    def evaluate(self) -> dict[str, dict[str, Any]]:
        from graphguard.evaluation.evaluate import evaluate

        return {method: evaluate(frame, self.truth) for method, frame in self.frames.items()}

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """method -> (is_abusive, risk) over the evaluated accounts."""
        truth = self.truth.select(
            schema.ACCOUNT, (pl.col(schema.LABEL) != schema.BENIGN).alias("abusive")
        )
        out = {}
        for method, frame in self.frames.items():
            joined = truth.join(frame, on=schema.ACCOUNT, how="left")
            out[method] = (
                joined.get_column("abusive").to_numpy(),
                joined.get_column("risk").fill_null(0.0).to_numpy(),
            )
        return out


def score_world(
    config: DetectConfig,
    features: FeatureConfig,
    params: GraphSAGEParams,
    train_world: Any,
    score_world_: Any | None = None,
    *,
    methods: Sequence[str] = SIM_METHODS,
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    model_path: Path | None = None,
    model_metadata: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[WorldScores, dict[str, float]]:
    """Train every method on ``train_world``'s labels; score ``score_world_`` (default: the same
    world's unlabelled accounts).

    ``config`` builds the pipeline stages, ``features`` chooses what the models read,
    ``params`` configures GraphSAGE (its seed also seeds the baselines), ``baselines`` holds
    the gbt and mlp settings. With ``model_path`` the fitted GraphSAGE is saved there, with
    ``model_metadata``.
    """
    from graphguard.features.account import select_features
    from graphguard.graph.inputs import graph_inputs, label_codes
    from graphguard.models.baselines import fit_predict_gbt, fit_predict_mlp, neighbour_aggregate
    from graphguard.pipeline.fusion import fuse_scores, unseen_classes
    from graphguard.pipeline.stages import build_stages
    from graphguard.pipeline.train import build_detector

    names = select_features(features.exclude)
    relations = features.relations
    baselines = baselines or {}
    threshold = config.scoring.risk_threshold
    seconds: dict[str, float] = {}
    inductive = score_world_ is not None

    def prepared(world: Any) -> dict[str, Any]:
        start = time.perf_counter()
        stages = build_stages(world.events, config)
        table = stages.features()
        inputs = graph_inputs(
            table,
            stages.graph.edges,
            feature_names=names,
            relations=relations,
            edge_attrs=params.edge_gate,
        )
        evidence = stages.scores().sort("account")
        seconds["pipeline"] = seconds.get("pipeline", 0.0) + time.perf_counter() - start
        return {"stages": stages, "inputs": inputs, "evidence": evidence}

    train = prepared(train_world)
    score = prepared(score_world_) if inductive else train
    y = label_codes(train["stages"].account_ids, train_world.labels)
    detector = build_detector(dataclasses.asdict(params))
    val_mask = detector.validation_split(y)
    train_mask = (y >= 0) & ~val_mask

    start = time.perf_counter()
    detector.fit(train["inputs"], y, train_mask=train_mask, val_mask=val_mask)
    seconds["graphsage_fit"] = time.perf_counter() - start
    if model_path is not None:
        detector.save(model_path, metadata=dict(model_metadata or {}))
    start = time.perf_counter()
    proba = detector.predict_proba(score["inputs"])
    seconds["graphsage_score"] = time.perf_counter() - start

    account_ids = score["stages"].account_ids
    evidence = score["evidence"]
    cluster_id = evidence.get_column("cluster_id")
    if inductive:
        eval_ids = account_ids
    else:
        labelled = train_world.labels.get_column(schema.ACCOUNT)
        eval_ids = account_ids.filter(~account_ids.is_in(labelled.implode()))
    scores = WorldScores(score_world_.truth if inductive else train_world.truth, eval_ids)

    methods = list(methods)
    for fusion in ("noisy_or", "model"):
        method = "graphsage+evidence" if fusion == "noisy_or" else "graphsage"
        if method not in methods:
            continue
        fused = fuse_scores(
            evidence,
            proba,
            _with_fusion(config.scoring, fusion),
            unseen=unseen_classes(detector),
        )
        scores.add(method, _scored_frame(fused, account_ids, cluster_id, threshold))
    if "evidence" in methods:
        scores.add("evidence", _scored_frame(evidence, account_ids, cluster_id, threshold))
    if any(m.split("+")[0] in ("gbt", "mlp") for m in methods):
        x_train = train["inputs"].x.numpy()
        x_score = score["inputs"].x.numpy()
        for method in ("gbt", "mlp"):
            if method not in methods and f"{method}+evidence" not in methods:
                continue
            start = time.perf_counter()
            if method == "gbt":
                agg_train = neighbour_aggregate(x_train, train["inputs"].edge_index_dict)
                agg_score = (
                    neighbour_aggregate(x_score, score["inputs"].edge_index_dict)
                    if inductive
                    else agg_train
                )
                risk = _fit_score(
                    fit_predict_gbt,
                    agg_train,
                    agg_score,
                    y,
                    train_mask,
                    val_mask,
                    seed=int(params.seed),
                    **baselines.get("gbt", {}),
                )
            else:
                risk = _fit_score(
                    fit_predict_mlp,
                    x_train,
                    x_score,
                    y,
                    train_mask,
                    val_mask,
                    seed=int(params.seed),
                    **baselines.get("mlp", {}),
                )
            seconds[method] = time.perf_counter() - start
            if method in methods:
                scores.add(method, _accounts_frame(account_ids, risk, cluster_id, threshold))
            if f"{method}+evidence" in methods:
                # the same noisy-OR as graphsage+evidence, so the fusion is compared fairly
                fused_risk = noisy_or_array(risk, evidence.get_column("risk").to_numpy())
                scores.add(
                    f"{method}+evidence",
                    _accounts_frame(account_ids, fused_risk, cluster_id, threshold),
                )
    if progress:
        progress(f"scored {len(eval_ids):,} accounts with {', '.join(scores.frames)}")
    return scores, seconds


def _fit_score(fit_predict, x_train, x_score, y, train_mask, val_mask, **kwargs) -> np.ndarray:
    """A baseline trained on ``x_train`` rows and applied to ``x_score`` (same or another world).

    The baselines fit and predict in one call; to score another world the two worlds' rows are
    stacked and the second world's rows are given no label.
    """
    if x_score is x_train:
        return fit_predict(x_train, y, train_mask, val_mask, **kwargs)
    stacked = np.concatenate([x_train, x_score])
    pad = np.zeros(x_score.shape[0], dtype=bool)
    y_all = np.concatenate([y, np.full(x_score.shape[0], -1, dtype=y.dtype)])
    out = fit_predict(
        stacked,
        y_all,
        np.concatenate([train_mask, pad]),
        np.concatenate([val_mask, pad]),
        **kwargs,
    )
    return out[x_train.shape[0] :]


def _with_fusion(scoring: ScoringConfig, fusion: str) -> ScoringConfig:
    return dataclasses.replace(scoring, fusion=fusion)


# --------------------------------------------------------------------------------------------
# Aggregation, tables, plots


def summarise(per_seed: Sequence[Mapping[str, Mapping[str, float | None]]]) -> dict[str, Any]:
    """method -> {mean, std, per_seed} over the seeds' flat metrics."""
    methods = list(per_seed[0])
    out: dict[str, Any] = {}
    for method in methods:
        rows = [seed[method] for seed in per_seed]
        mean, std = {}, {}
        for key in rows[0]:
            values = [r[key] for r in rows if r.get(key) is not None]
            mean[key] = float(np.mean(values)) if values else None
            std[key] = float(np.std(values)) if values else None
        out[method] = {"mean": mean, "std": std, "per_seed": rows}
    return out


def check_targets(summary: Mapping[str, Any], targets: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each target ``{method, metric, at_least|at_most}`` with the measured mean and a verdict."""
    checked = []
    for name, target in targets.items():
        method, metric = target["method"], target["metric"]
        entry = summary.get(method, {})
        value = entry.get("mean", {}).get(metric)
        worst = _worst(entry.get("per_seed", []), metric, "at_least" in target)
        if "at_least" in target:
            bound, ok = target["at_least"], value is not None and value >= target["at_least"]
        else:
            bound, ok = target["at_most"], value is not None and value <= target["at_most"]
        checked.append(
            {
                "target": name,
                "method": method,
                "metric": metric,
                "bound": ("at_least" if "at_least" in target else "at_most", bound),
                "mean": value,
                "worst_seed": worst,
                "met": bool(ok),
            }
        )
    return checked


def _worst(rows: Sequence[Mapping[str, Any]], metric: str, higher_is_better: bool) -> Any:
    values = [r.get(metric) for r in rows if r.get(metric) is not None]
    if not values:
        return None
    return min(values) if higher_is_better else max(values)


def _cell(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.4f} ± {std:.4f}" if std else f"{mean:.4f}"


def summary_table(summary: Mapping[str, Any], metrics: Sequence[str] = METRICS) -> str:
    """Markdown table: one row per method, mean ± std per metric."""
    shown = [m for m in metrics if any(s["mean"].get(m) is not None for s in summary.values())]
    lines = [
        "| method | " + " | ".join(shown) + " |",
        "|---|" + "---:|" * len(shown),
    ]
    for method, entry in summary.items():
        cells = [_cell(entry["mean"].get(m), entry["std"].get(m)) for m in shown]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], out_dir: Path, title: str
) -> list[Path]:
    """pr_curves.png and score_hist.png of every method (labels: True = abusive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from graphguard.metrics import pr_points

    paths = []
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=110)
    floor = 1.0
    for method, (truth, score) in curves.items():
        # every point of the curve: the figure is drawn from the full curve
        points = pr_points(truth, score, max_points=len(truth) + 1)
        if points is None:  # one class only: no curve
            continue
        precision = np.asarray(points["precision"])
        recall = np.asarray(points["recall"])
        ap = points["average_precision"]
        ax.plot(recall, precision, label=f"{method} (AP {ap:.4f})", linewidth=1.6)
        floor = min(floor, float(precision[(recall >= 0.5) & (recall <= 0.98)].min(initial=1.0)))
    # near-perfect curves hug the corner: zoom the precision axis to where they differ
    low = 0.0 if floor < 0.6 else math.floor((floor - 0.02) * 20) / 20
    ax.set_xlabel("recall (abusive accounts found)")
    ax.set_ylabel("precision" + (f" (axis from {low:.2f})" if low > 0 else ""))
    ax.set_xlim(0, 1.01)
    ax.set_ylim(low, 1.005)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(f"{title}: precision-recall, evaluated accounts", fontsize=10)
    fig.tight_layout()
    paths.append(_save_png(fig, out_dir / "pr_curves.png"))
    plt.close(fig)

    n = len(curves)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), dpi=110, squeeze=False)
    bins = np.linspace(0, 1, 41)
    for ax, (method, (truth, score)) in zip(axes.flat, curves.items(), strict=False):
        clipped = np.clip(score, 0, 1)
        ax.hist(clipped[~truth], bins=bins, alpha=0.6, label="benign", color="#4878a8")
        ax.hist(clipped[truth], bins=bins, alpha=0.6, label="abusive", color="#d1495b")
        ax.set_yscale("log")
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("score", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{title}: score histograms (log count)", fontsize=10)
    fig.tight_layout()
    paths.append(_save_png(fig, out_dir / "score_hist.png"))
    plt.close(fig)
    return paths


def _save_png(fig: Any, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------
# Experiment kinds


def run_simulated(
    experiment: ExperimentConfig,
    out_dir: Path,
    *,
    simulation: SimulationConfig,
    config: DetectConfig,
    features: FeatureConfig,
    params: GraphSAGEParams,
    progress: Progress = print,
) -> dict[str, Any]:
    """``simulated`` and ``inductive`` experiments over ``experiment.seeds``: each seed's world
    is ``simulation`` with that seed."""
    from graphguard.simulate import simulate

    per_seed, timings = [], []
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for i, seed in enumerate(experiment.seeds):
        progress(f"seed {seed}: simulating {simulation.n_accounts:,} accounts")
        world = simulate(dataclasses.replace(simulation, seed=int(seed)))
        other = None
        if experiment.kind == "inductive":
            other_seed = int(seed) + int(experiment.inductive_offset)
            progress(f"seed {seed}: scoring world has seed {other_seed}")
            other = simulate(dataclasses.replace(simulation, seed=other_seed))
        scores, seconds = score_world(
            config,
            features,
            params,
            world,
            other,
            methods=experiment.methods,
            baselines=experiment.baselines,
            model_path=out_dir / "model.pt" if i == 0 else None,
            model_metadata={"experiment": dataclasses.asdict(experiment)},
            progress=progress,
        )
        evaluated = scores.evaluate()
        per_seed.append({method: flat_metrics(m) for method, m in evaluated.items()})
        timings.append(seconds)
        for method, curve in scores.curves().items():
            pooled.setdefault(method, []).append(curve)
        progress(
            f"seed {seed}: "
            + ", ".join(f"{m} AUPRC {v['auprc']:.4f}" for m, v in per_seed[-1].items())
        )
    curves = {
        method: (np.concatenate([c[0] for c in cs]), np.concatenate([c[1] for c in cs]))
        for method, cs in pooled.items()
    }
    plot_curves(curves, out_dir, experiment.name)
    return {
        "summary": summarise(per_seed),
        "seconds": {k: float(np.mean([t.get(k, 0.0) for t in timings])) for k in timings[0]},
        "evaluated_accounts": "unlabelled accounts of each world"
        if experiment.kind == "simulated"
        else "every account of the scoring world",
    }


def real_graphsage_params(params: GraphSAGEParams, experiment: ExperimentConfig) -> dict[str, Any]:
    """GraphSAGE settings of a ``real`` experiment: ``params`` with ``experiment.graphsage`` on
    top; no seed (each split's index seeds it)."""
    settings = dataclasses.asdict(params)
    unknown = sorted(set(experiment.graphsage) - set(settings))
    if unknown:
        raise ValueError(
            f"experiment.graphsage: unknown parameter {unknown[0]!r}; "
            f"known: {', '.join(sorted(settings))}"
        )
    settings.update(experiment.graphsage)
    settings.pop("seed", None)
    return settings


def run_real(
    experiment: ExperimentConfig,
    out_dir: Path,
    *,
    params: GraphSAGEParams,
    shared_data: str | Path | None = None,
    progress: Progress = print,
) -> dict[str, Any]:
    """``real`` experiments: a dataset of ``shared_data`` (`graphguard.evaluation.real_data`).

    ``experiment.seeds`` are split indices (Tolokers' ten fixed splits; seeds of the random
    40/20/40 splits of Reddit and YelpChi). GraphSAGE takes ``params`` with
    ``experiment.graphsage`` on top (the seed is the split index); gbt, mlp and agg_mlp take
    ``experiment.baselines``. Metrics are on each split's test mask.
    """
    from graphguard.datasets import load_dataset
    from graphguard.evaluation.real_data import MODELS, run_real_experiment

    splits = [int(s) for s in experiment.seeds]
    dataset = load_dataset(str(experiment.dataset), root=shared_data, seeds=splits)
    sage = real_graphsage_params(params, experiment)
    methods = [m for m in experiment.methods if m in MODELS]
    baselines = experiment.baselines
    outcome = run_real_experiment(
        dataset,
        {"graphsage": sage, **{m: baselines.get(m, {}) for m in MODELS if m != "graphsage"}},
        splits=splits if str(experiment.dataset) == "tolokers" else list(range(len(splits))),
        models=methods,
        keep_scores=True,
        progress=progress,
    )
    summary, curves = {}, {}
    for method, result in outcome["results"].items():
        rows = [
            {"auroc": r["roc_auc"], "auprc": r["auprc"], "val_auroc": r["val_roc_auc"]}
            for r in result["runs"]
        ]
        summary[method] = summarise([{method: row} for row in rows])[method]
        pooled = [
            (dataset.y[test] > 0, outcome["scores"][method][i][test])
            for i, (_, _, test) in enumerate(dataset.splits[r["split"]] for r in result["runs"])
        ]
        curves[method] = (
            np.concatenate([t for t, _ in pooled]),
            np.concatenate([s for _, s in pooled]),
        )
    plot_curves(curves, out_dir, experiment.name)
    return {
        "summary": summary,
        "seconds": {m: r["summary"]["seconds_mean"] for m, r in outcome["results"].items()},
        "metrics_shown": ("auroc", "auprc", "val_auroc"),
        "evaluated_accounts": dataset.metric,
        "published": dataset.published,
        "params": outcome["params"],
    }


def run(
    experiment: ExperimentConfig,
    out_dir: Path,
    *,
    config: DetectConfig,
    features: FeatureConfig,
    params: GraphSAGEParams,
    simulation: SimulationConfig,
    shared_data: str | Path | None = None,
    command: str = "",
    progress: Progress = print,
) -> dict[str, Any]:
    """Run ``experiment`` and write metrics.json, summary.md and the plots into ``out_dir``.

    ``command`` (what reruns it) is recorded in metrics.json.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if experiment.kind == "real":
        result = run_real(
            experiment, out_dir, params=params, shared_data=shared_data, progress=progress
        )
    else:
        result = run_simulated(
            experiment,
            out_dir,
            simulation=simulation,
            config=config,
            features=features,
            params=params,
            progress=progress,
        )
    targets = experiment.targets
    result["targets"] = check_targets(result["summary"], targets) if targets else []
    metrics = {
        "experiment": experiment.name,
        "kind": experiment.kind,
        "description": experiment.description,
        "seeds": list(experiment.seeds),
        "command": command,
        "wall_seconds": round(time.perf_counter() - start, 1),
        **result,
    }
    write_json_atomic(metrics, out_dir / "metrics.json")
    table = summary_table(result["summary"], result.get("metrics_shown", METRICS))
    lines = [f"# {experiment.name}\n", experiment.description.strip() + "\n", table]
    for t in result["targets"]:
        mark = "met" if t["met"] else "NOT met"
        bound = ">=" if t["bound"][0] == "at_least" else "<="
        mean = "n/a" if t["mean"] is None else f"{t['mean']:.4f}"
        worst = "n/a" if t["worst_seed"] is None else f"{t['worst_seed']:.4f}"
        lines.append(
            f"- {t['target']}: {t['method']} {t['metric']} {mean} (worst seed {worst}) "
            f"{bound} {t['bound'][1]}: {mark}"
        )
    write_text_atomic("\n".join(lines) + "\n", out_dir / "summary.md")
    progress("\n" + "\n".join(lines))
    return metrics
