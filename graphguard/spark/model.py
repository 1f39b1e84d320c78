"""GraphSAGE scoring on Spark: the model broadcast, inference per group of whole components.

`GraphSAGEDetector.predict_proba` scores over full neighbourhoods (never sampled: full-graph on
small graphs, layer-wise over every neighbour on large ones; `graphguard.models.sampling` only
serves training). An account's score therefore depends on its component of the account graph
alone, so scoring every component on its own gives the whole-graph scores; only the order of
floating-point sums inside a matrix product may differ (float32: about 1e-7).

Accounts are put in groups of whole components (``pmod(hash(component), n_groups)``; an account
without an edge is its own component), each group's feature rows and edges are cogrouped and
scored by `applyInPandas` on an executor with the model broadcast once (as its checkpoint
bytes, loaded with ``weights_only``, once per Python worker). Inside a group, accounts keep
the order of their indices, so each node sees its neighbours in the same order as in the whole
graph. The group's inputs are built by the local engine's own `graph_inputs`.
"""

from __future__ import annotations

import math
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from graphguard import schema
from graphguard.schema import ANY_RELATION, RELATIONS

if TYPE_CHECKING:
    import pandas as pd

    from graphguard.models.detector import GraphSAGEDetector

__all__ = ["DEFAULT_ACCOUNTS_PER_GROUP", "spark_model_scores", "score_components"]

#: accounts per group of components scored by one task (a component larger than this is one
#: group of its own): small enough for an executor's Python worker, large enough that a task
#: is not all overhead.
DEFAULT_ACCOUNTS_PER_GROUP = 200_000

#: the loaded detector of each broadcast model, per Python worker (workers are reused)
_LOADED: dict[str, Any] = {}


def _checkpoint_bytes(model: GraphSAGEDetector) -> bytes:
    with tempfile.TemporaryDirectory(prefix="graphguard-model-") as tmp:
        path = model.save(Path(tmp) / "model.pt")
        return path.read_bytes()


def _load(token: str, payload: bytes) -> GraphSAGEDetector:
    detector = _LOADED.get(token)
    if detector is None:
        from graphguard.models.detector import GraphSAGEDetector

        with tempfile.TemporaryDirectory(prefix="graphguard-model-") as tmp:
            path = Path(tmp) / "model.pt"
            path.write_bytes(payload)
            detector = GraphSAGEDetector.load(path, feature_names=None, device="cpu")
        _LOADED.clear()  # one model per worker at a time
        _LOADED[token] = detector
    return detector


def score_components(
    detector: GraphSAGEDetector,
    features: pd.DataFrame,
    edges: pd.DataFrame,
    known_labels: np.ndarray | None = None,
) -> pd.DataFrame:
    """Class probabilities of the accounts of whole components (one group of `applyInPandas`).

    Args:
        features: account (global index) and the model's feature columns.
        edges: src, dst (global indices, both ends among ``features``) and the relation
            columns of the account graph.
        known_labels: the label-trick model's known label of every global account index.

    Returns:
        account and `schema.SCORE_COLUMNS` (float64), in account order.
    """
    import pandas as pd
    import polars as pl

    from graphguard.pipeline.fusion import model_inputs

    table = pl.from_pandas(features).sort("account")
    accounts = table.get_column("account").to_numpy().astype(np.int64)
    local = table.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("account"))
    pairs = pl.from_pandas(edges)
    src = np.searchsorted(accounts, pairs.get_column("src").to_numpy())
    dst = np.searchsorted(accounts, pairs.get_column("dst").to_numpy())
    pairs = pairs.with_columns(
        pl.Series("src", src, dtype=pl.UInt32), pl.Series("dst", dst, dtype=pl.UInt32)
    )
    labels = None if known_labels is None else known_labels[accounts]
    proba = detector.predict_proba(model_inputs(detector, local, pairs), known_labels=labels)
    out = {"account": accounts.astype(np.int32)}
    for i, column in enumerate(schema.SCORE_COLUMNS):
        out[column] = proba[:, i].astype(np.float64)
    return pd.DataFrame(out)


def _edge_columns(relations: tuple[str, ...]) -> list[str]:
    columns = []
    for relation in relations:
        if relation == ANY_RELATION:
            columns.append("weight")
        elif relation in RELATIONS:
            columns += [f"{relation}_support", f"{relation}_weight"]
    return sorted(set(columns), key=columns.index)


def spark_model_scores(
    stages: Any,
    features: DataFrame,
    model: GraphSAGEDetector,
    *,
    accounts_per_group: int = DEFAULT_ACCOUNTS_PER_GROUP,
) -> DataFrame:
    """The model stage of the Spark engine: ``model.predict_proba`` of every account.

    Args:
        stages: an `engine.SparkStages` (``spark``, ``edges``, ``membership``, ``n_accounts``).
        features: `spark_features` output (account and the feature columns).
        model: a fitted `GraphSAGEDetector`.
        accounts_per_group: about this many accounts are scored per task.

    Returns:
        account (int) and the class probabilities as `schema.SCORE_COLUMNS` (double), one row
        per account; `spark.scoring.spark_fuse_scores` meets them with the evidence.
    """
    model._check_fitted()
    names = list(model.feature_names_)
    missing = [name for name in names if name not in features.columns]
    if missing:
        raise ValueError(f"features lack column {missing[0]!r}")
    known = None
    if model.label_input:
        known = getattr(model, "train_labels_", None)
        if known is None or known.size != stages.n_accounts:
            raise ValueError("a label_input model needs known_labels for a graph it was not fit on")
        known = np.asarray(known, dtype=np.int64)
    spark = stages.spark
    n_groups = max(1, math.ceil(stages.n_accounts / max(1, int(accounts_per_group))))
    token = uuid.uuid4().hex
    payload = spark.sparkContext.broadcast(_checkpoint_bytes(model))
    labels = None if known is None else spark.sparkContext.broadcast(known)

    component = stages.membership.select(
        F.col("account").cast("int").alias("account"), F.col("component").cast("long")
    )
    group = F.pmod(F.xxhash64(F.col("_key")), F.lit(n_groups)).alias("_group")
    rows = (
        features.select(F.col("account").cast("int").alias("account"), *names)
        .join(component, on="account", how="left")
        .withColumn("_key", F.coalesce(F.col("component"), F.col("account").cast("long")))
        .select(group, "account", *names)
    )
    relation_columns = _edge_columns(tuple(model.relations_))
    links = (
        stages.edges.select(
            F.col("src").cast("int").alias("src"),
            F.col("dst").cast("int").alias("dst"),
            *relation_columns,
        )
        .join(component.withColumnRenamed("account", "src"), on="src", how="inner")
        .withColumnRenamed("component", "_key")
        .select(group, "src", "dst", *relation_columns)
    )
    out_schema = "account int, " + ", ".join(f"{c} double" for c in schema.SCORE_COLUMNS)

    def score(features_pdf: pd.DataFrame, edges_pdf: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        if features_pdf.empty:
            return pd.DataFrame({"account": [], **{c: [] for c in schema.SCORE_COLUMNS}})
        import torch

        torch.set_num_threads(1)  # one task per executor core
        detector = _load(token, payload.value)
        return score_components(
            detector,
            features_pdf.drop(columns="_group"),
            edges_pdf.drop(columns="_group"),
            None if labels is None else labels.value,
        )

    return (
        rows.groupBy("_group")
        .cogroup(links.groupBy("_group"))
        .applyInPandas(score, schema=out_schema)
    )
