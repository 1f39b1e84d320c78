"""The null model and its operating point when ``community.max_cluster_size`` cuts a ring into
pieces: the pieces of one Leiden community share one vote in the null, and the unlabelled
false-positive estimate counts what the null does not single out as false."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from graphguard.community import leiden
from graphguard.community.calibration import (
    PARENT,
    _weighted_median,
    calibrate,
    null_fpr,
    threshold_for_fpr,
)
from graphguard.config import CommunityConfig
from tests.community.evidence_frames import community_evidence


def _clusters(sync: np.ndarray, size: np.ndarray, parent: np.ndarray | None = None):
    return community_evidence(sync, size, events_per_member=40, parent=parent)


def test_the_weighted_median_with_unit_weights_is_the_median():
    rng = np.random.default_rng(3)
    group = rng.integers(0, 7, 500)
    value = rng.random(500).round(2)  # ties, as the log's shares have
    got = _weighted_median(group, value, np.ones(500))
    want = [np.median(value[group == g]) for g in range(7)]
    assert got.tolist() == pytest.approx(want, abs=0)


def test_a_piece_weighs_its_share_of_its_parent():
    # group 0: one parent of three pieces at 0.9 (one vote) against two parents at 0.1 and 0.2
    value = np.array([0.9, 0.9, 0.9, 0.1, 0.2])
    weight = np.array([1 / 3, 1 / 3, 1 / 3, 1.0, 1.0])
    assert _weighted_median(np.zeros(5, dtype=np.int64), value, weight)[0] == 0.2
    assert _weighted_median(np.zeros(5, dtype=np.int64), value, np.ones(5))[0] == 0.9


def _split_ring_log(seed: int = 0):
    """300 organic communities of every size, 24 of them in the ring's stratum (sizes 16-31,
    the same activity), and one ring cut into 30 pieces of 16-31 accounts: in that stratum the
    pieces outnumber the organic communities."""
    rng = np.random.default_rng(seed)
    organic_size = np.r_[rng.integers(5, 16, 276), rng.integers(16, 32, 24)]
    organic_sync = rng.beta(1, 30, 300)
    ring_size = rng.integers(16, 32, 30)
    ring_sync = rng.uniform(0.8, 0.95, 30)
    sync = np.r_[organic_sync, ring_sync]
    size = np.r_[organic_size, ring_size]
    parent = np.r_[np.arange(300), np.full(30, 300)]
    return sync, size, parent


def test_pieces_of_one_ring_do_not_make_their_stratum_null():
    sync, size, parent = _split_ring_log()
    ring = parent == 300
    alone = calibrate(_clusters(sync, size), fdr=0.01)
    together = calibrate(_clusters(sync, size, parent), fdr=0.01)
    q_alone = alone.get_column("behaviour_q").to_numpy()
    q_together = together.get_column("behaviour_q").to_numpy()
    # each piece its own community: the pieces set the stratum's median on the first round,
    # but stand out against the whole log's null, leave the estimate, and are caught too
    # (`calibrate`'s rounds; before them their median q was above 0.3)
    assert (q_alone[ring] <= 0.01).all()
    # one vote between them: the stratum is too thin, the size stratum's organic median rules
    assert (q_together[ring] <= 0.01).all()
    assert (q_together[~ring] <= 0.01).mean() < 0.02
    # the pieces are judged against the organic communities, not against each other
    assert together.get_column("behaviour_null").to_numpy()[ring].max() < 0.1


def test_without_parents_each_community_is_its_own():
    sync, size, _ = _split_ring_log(1)
    own = np.arange(sync.size)
    a = calibrate(_clusters(sync, size), fdr=0.01)
    b = calibrate(_clusters(sync, size, own), fdr=0.01)
    assert a.get_column("evidence_q").to_list() == b.get_column("evidence_q").to_list()
    assert a.get_column("behaviour_null").to_list() == b.get_column("behaviour_null").to_list()


def test_null_fpr_with_fdr_counts_what_the_null_does_not_single_out_as_false():
    clusters = pl.DataFrame({"cluster": [0, 1], "evidence_q": [1e-4, 0.3], "suspicion": [0.9, 0.8]})
    # community 0 (significant): 10 full participants at its suspicion 0.9 and 5 members at
    # 0.45 (half their activity in the coordination); community 1 (q 0.3, above fdr): 10 full
    # participants at its suspicion 0.8
    accounts = pl.DataFrame(
        {
            "cluster_id": [0] * 15 + [1] * 10 + [None] * 975,
            "risk": [0.9] * 10 + [0.45] * 5 + [0.8] * 10 + [0.0] * 975,
        },
        schema={"cluster_id": pl.Int64, "risk": pl.Float64},
    )
    old = null_fpr(accounts, clusters, [0.9, 0.8, 0.4])
    new = null_fpr(accounts, clusters, [0.9, 0.8, 0.4], fdr=0.01)
    # without fdr the q is read as the chance of being ordinary: community 1 counts 0.3 each
    assert old[1] == pytest.approx((1e-3 + 3.0) / (1000 - 20 + 1e-3 + 3.0), rel=1e-9)
    # with it: the full participants of 0 count its q ...
    assert new[0] == pytest.approx(1e-3 / (1000 - 10 + 1e-3), rel=1e-9)
    # ... the ten of community 1, which the null does not single out, are all false ...
    fp = 1e-3 + 10
    assert new[1] == pytest.approx(fp / (1000 - 20 + fp), rel=1e-9)
    # ... and so are the five partial participants of 0
    fp = 1e-3 + 15
    assert new[2] == pytest.approx(fp / (1000 - 25 + fp), rel=1e-9)
    assert threshold_for_fpr(accounts, clusters, 0.005, fdr=0.01) == 0.9
    # read as a chance, all 25 flagged at 0.45 would be 0.3% false positives
    assert threshold_for_fpr(accounts, clusters, 0.005) == 0.45
    assert threshold_for_fpr(accounts, clusters, 1e-7, fdr=0.01) == 1.0


def _ring_graph(seed: int = 0) -> tuple[int, pl.DataFrame]:
    """Sparse random background plus three tight groups of 40 accounts."""
    rng = np.random.default_rng(seed)
    n = 600
    src = rng.integers(0, n, 1200)
    dst = rng.integers(0, n, 1200)
    blocks = []
    for start in (100, 300, 500):
        members = np.arange(start, start + 40)
        a, b = np.triu_indices(40, 1)
        keep = rng.random(a.size) < 0.5
        blocks.append(np.column_stack([members[a[keep]], members[b[keep]]]))
    pairs = np.vstack([np.column_stack([src, dst]), *blocks])
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    edges = (
        pl.DataFrame({"src": pairs[:, 0], "dst": pairs[:, 1]})
        .unique()
        .with_columns(pl.lit(1.0).alias("weight"))
        .sort("src", "dst")
    )
    return n, edges


def test_pieces_carry_the_leiden_community_they_were_cut_from():
    n, edges = _ring_graph()
    cfg = CommunityConfig(max_cluster_size=15, min_cluster_size=3)
    split = leiden.leiden(n, edges, cfg)
    whole = leiden.leiden(n, edges, dataclasses.replace(cfg, max_cluster_size=0))
    assert split.parameters["refined_communities"] > 0
    # without the split, pre_split is the partition itself (named by its smallest account)
    placed = whole.membership >= 0
    named = leiden.named_by_first(whole.membership[placed], np.nonzero(placed)[0])
    assert whole.pre_split[placed].tolist() == named.tolist()
    # with it, every piece lies inside one unsplit community, and that is its pre_split
    assert split.pre_split[placed].tolist() == named.tolist()
    parents = leiden.pre_split_communities(split.membership, split.pre_split)
    members = pl.DataFrame({"cluster": split.membership, "pre_split": split.pre_split}).filter(
        pl.col("cluster") >= 0
    )
    per_piece = members.group_by("cluster").agg(pl.col("pre_split").n_unique().alias("k"))
    assert per_piece.get_column("k").max() == 1
    assert parents.height == int(split.membership.max()) + 1
    assert parents.get_column(PARENT).n_unique() < parents.height  # some share a parent
    joined = members.unique("cluster").join(parents, on="cluster")
    assert (joined.get_column("pre_split") == joined.get_column(PARENT)).all()


def test_a_stratum_of_distinct_campaigns_is_judged_by_its_size_stratum():
    """30 campaigns of one size and activity, each its own Leiden community, beside 10
    organic communities of that activity and 300 of that size at another: the fine stratum's
    median is the campaigns', so the quieter size stratum is the null."""
    rng = np.random.default_rng(5)
    size = np.r_[rng.integers(16, 32, 300), rng.integers(16, 32, 10), rng.integers(16, 32, 30)]
    sync = np.r_[rng.beta(1, 30, 310), rng.uniform(0.8, 0.95, 30)]
    frame = _clusters(sync, size).with_columns(
        pl.Series("n_events", (size * np.r_[np.full(300, 40), np.full(40, 10)]).astype(np.uint32))
    )
    out = calibrate(frame, fdr=0.01)
    q = out.get_column("behaviour_q").to_numpy()
    assert (q[-30:] <= 0.01).all()
    assert (q[:-30] <= 0.01).mean() < 0.02
    assert out.get_column("behaviour_null").to_numpy()[-30:].max() < 0.1
