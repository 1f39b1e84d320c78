"""GraphSAGE on Spark: per-component scoring with the model broadcast equals whole-graph scoring
of the local engine (1e-6), and so do the fused scores."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphguard import schema
from graphguard.community.scoring import score_accounts
from graphguard.graph.inputs import graph_inputs, label_codes
from graphguard.models.detector import GraphSAGEDetector
from graphguard.pipeline.fusion import fuse_scores, model_inputs, unseen_classes
from graphguard.spark.evidence import to_polars
from graphguard.spark.model import spark_model_scores
from graphguard.spark.scoring import spark_fuse_scores
from tests.spark.conftest import to_spark


@pytest.fixture(scope="module")
def trained(scored_world):
    """A small detector fitted on the world's labelled accounts (seconds)."""
    world, pipeline, frames, _, _, _ = scored_world
    inputs = graph_inputs(pipeline.features, pipeline.edges)
    y = label_codes(pipeline.account_ids, world.labels)
    model = GraphSAGEDetector(seed=0, hidden=16, epochs=15, device="cpu").fit(inputs, y)
    features = to_spark(frames.spark, pipeline.features).persist()
    yield model, features
    features.unpersist()


def _local_proba(model, pipeline) -> np.ndarray:
    return model.predict_proba(model_inputs(model, pipeline.features, pipeline.edges))


@pytest.mark.parametrize("accounts_per_group", [250, 1_000_000])
def test_per_component_scores_equal_whole_graph_scores(scored_world, trained, accounts_per_group):
    _, pipeline, frames, _, _, _ = scored_world
    model, features = trained
    local = _local_proba(model, pipeline)
    got = to_polars(
        spark_model_scores(frames, features, model, accounts_per_group=accounts_per_group)
    ).sort("account")
    assert got.get_column("account").to_list() == list(range(pipeline.stages.n_accounts))
    proba = got.select(schema.SCORE_COLUMNS).to_numpy()
    assert np.abs(proba - local).max() <= 1e-6
    # the model is not trivial: it tells accounts apart
    assert proba[:, 0].std() > 0.05


def test_fused_scores_equal_the_local_engine(scored_world, trained):
    _, pipeline, frames, _, _, accounts = scored_world
    model, features = trained
    stages = pipeline.stages
    unseen = unseen_classes(model)
    local_accounts = score_accounts(
        stages.n_accounts,
        stages.account_ids,
        stages.partition.membership,
        stages.members,
        stages.clusters,
        stages.config.scoring,
    )
    local = fuse_scores(
        local_accounts, _local_proba(model, pipeline), stages.config.scoring, unseen=unseen
    )
    proba = spark_model_scores(frames, features, model, accounts_per_group=500)
    fused = spark_fuse_scores(accounts, proba, stages.config.scoring, unseen=unseen)
    got = to_polars(fused).sort("account")
    got = got.select([pl.col(c).cast(local.schema[c]) for c in local.columns])
    assert_frame_equal(
        got.drop("predicted_label", "flagged"),
        local.drop("predicted_label", "flagged"),
        check_exact=False,
        rel_tol=0,
        abs_tol=1e-6,
    )
    # labels and flags follow the scores: the same wherever the scores are not within 1e-6
    # of a tie or of the threshold
    threshold = stages.config.scoring.risk_threshold
    clear = (local.get_column("risk") - threshold).abs().to_numpy() > 1e-6
    assert (got.get_column("flagged").to_numpy() == local.get_column("flagged").to_numpy())[
        clear
    ].all()
    assert got.get_column("flagged").sum() > 20


def test_a_label_trick_model_without_its_labels_is_refused(scored_world, trained):
    _, _, frames, _, _, _ = scored_world
    model, features = trained
    other = GraphSAGEDetector(seed=0, hidden=8, epochs=1, label_input=True, device="cpu")
    for name in ("model_", "feature_names_", "relations_"):
        setattr(other, name, getattr(model, name))
    with pytest.raises(ValueError, match="needs known_labels"):
        spark_model_scores(frames, features, other)


def test_a_label_trick_model_scores_with_its_training_labels(scored_world, trained):
    world, pipeline, frames, _, _, _ = scored_world
    _, features = trained
    inputs = graph_inputs(pipeline.features, pipeline.edges)
    y = label_codes(pipeline.account_ids, world.labels)
    model = GraphSAGEDetector(seed=1, hidden=8, epochs=5, label_input=True, device="cpu")
    model.fit(inputs, y)
    local = _local_proba(model, pipeline)
    got = to_polars(spark_model_scores(frames, features, model, accounts_per_group=600))
    proba = got.sort("account").select(schema.SCORE_COLUMNS).to_numpy()
    assert np.abs(proba - local).max() <= 1e-6
