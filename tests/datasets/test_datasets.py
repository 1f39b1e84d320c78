"""The real-data loaders: shapes and label counts as PROVENANCE.md states them, disjoint splits,
and features that do not move when labels do. Skipped where ../shared/data is absent (CI)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from graphguard.datasets import DATASET_DIRS, load_dataset, load_yelpchi

DATA_ROOT = Path(
    os.environ.get(
        "GRAPHGUARD_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"
    )
)


def _dataset(name: str):
    if not (DATA_ROOT / DATASET_DIRS[name]).is_dir():
        pytest.skip(f"{DATA_ROOT / DATASET_DIRS[name]} absent")
    return load_dataset(name, DATA_ROOT, seeds=(0, 1, 2))


@pytest.fixture(scope="module")
def tolokers():
    return _dataset("tolokers")


@pytest.fixture(scope="module")
def reddit():
    return _dataset("reddit")


@pytest.fixture(scope="module")
def yelpchi():
    return _dataset("yelpchi")


def _check_splits(dataset, sizes):
    for train, val, test in dataset.splits:
        assert [int(m.sum()) for m in (train, val, test)] == sizes
        assert not (train & val).any() and not (train & test).any() and not (val & test).any()
        assert dataset.scored[train | val | test].all()


def _check_edges(dataset):
    n = dataset.inputs.num_nodes
    for edge_index in dataset.inputs.edge_index_dict.values():
        assert edge_index.dtype.is_floating_point is False
        assert edge_index.min() >= 0 and edge_index.max() < n
        assert (edge_index[0] != edge_index[1]).all()  # no self loops


def test_tolokers_matches_provenance(tolokers):
    assert tuple(tolokers.inputs.x.shape) == (11_758, 11)
    assert np.bincount(tolokers.y).tolist() == [9_192, 2_566]
    assert tolokers.inputs.edge_index_dict["co_task"].shape == (2, 2 * 519_000)
    assert len(tolokers.splits) == 10
    _check_splits(tolokers, [5_879, 2_939, 2_940])
    _check_edges(tolokers)


def test_tolokers_edges_are_symmetric(tolokers):
    src, dst = tolokers.inputs.edge_index_dict["co_task"].numpy()
    n = tolokers.inputs.num_nodes
    assert np.array_equal(np.sort(src * n + dst), np.sort(dst * n + src))


def test_reddit_users_scored_subreddits_not(reddit):
    assert tuple(reddit.inputs.x.shape) == (10_984, 66)
    users = reddit.node_type == 0
    assert users.sum() == 10_000
    assert (reddit.y[~users] == -1).all()
    assert np.bincount(reddit.y[users]).tolist() == [9_634, 366]
    posted_in = reddit.inputs.edge_index_dict["posted_in"].numpy()
    has_poster = reddit.inputs.edge_index_dict["has_poster"].numpy()
    assert posted_in.shape == has_poster.shape == (2, 78_516)
    assert users[posted_in[0]].all() and not users[posted_in[1]].any()
    assert not users[has_poster[0]].any() and users[has_poster[1]].all()
    _check_splits(reddit, [4_000, 2_000, 4_000])
    _check_edges(reddit)


def test_random_splits_are_stratified_and_seeded(reddit):
    rate = (reddit.y[reddit.scored] == 1).mean()
    for train, val, test in reddit.splits:
        for mask in (train, val, test):
            assert abs((reddit.y[mask] == 1).mean() - rate) < 0.002
    assert not np.array_equal(reddit.splits[0][2], reddit.splits[1][2])
    again = load_dataset("reddit", DATA_ROOT, seeds=(0,))
    assert all(np.array_equal(a, b) for a, b in zip(again.splits[0], reddit.splits[0], strict=True))


def test_yelpchi_matches_provenance(yelpchi):
    users = yelpchi.node_type == 0
    assert users.sum() == 38_063 and (~users).sum() == 201
    assert (yelpchi.y[users] == 1).sum() == 7_739
    assert (yelpchi.y[~users] == -1).all()
    assert yelpchi.inputs.edge_index_dict["reviewed"].shape[1] == 67_395
    _check_splits(yelpchi, [15_225, 7_612, 15_226])
    _check_edges(yelpchi)


def test_yelpchi_features_ignore_labels(tmp_path):
    """Flip every review's label: the features must not change, only y."""
    source = DATA_ROOT / "yelpchi-raw" / "metadata.gz"
    if not source.exists():
        pytest.skip(f"{source} absent")
    lines = gzip.decompress(source.read_bytes()).decode().splitlines()
    flipped = []
    for line in lines:
        user, product, rating, label, date = line.split(" ")
        flipped.append(" ".join([user, product, rating, "1" if label == "-1" else "-1", date]))
    (tmp_path / "metadata.gz").write_bytes(gzip.compress("\n".join(flipped).encode()))
    original = load_yelpchi(source.parent, seeds=(0,))
    relabelled = load_yelpchi(tmp_path, seeds=(0,))
    assert np.array_equal(original.inputs.x.numpy(), relabelled.inputs.x.numpy())
    assert not np.array_equal(original.y, relabelled.y)


def test_no_feature_column_is_the_label(tolokers, reddit):
    for dataset in (tolokers, reddit):
        scored = dataset.scored
        y = dataset.y[scored]
        x = dataset.inputs.x.numpy()[scored]
        for column in x.T:
            if column.std() > 0:
                assert abs(np.corrcoef(column, y)[0, 1]) < 0.9


def test_missing_folder_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "tolokers")):
        load_dataset("tolokers", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cora", tmp_path)
