"""Bad settings, driven through the CLI: each exits 2 with one `Error:` line naming the key as
the user wrote it, no traceback, and leaves no run directory or model file behind."""

from __future__ import annotations

import pickle

import pytest
import torch

from tests.clicheck import assert_clean_error, assert_no_run_left, invoke

#: (override, what the one line must hold)
RANGE = [
    ("graph.sync.max_gap_s=-5", "graph.sync.max_gap_s must be a number 0 or more, got -5.0"),
    ("graph.device.window_rows=0", "graph.device.window_rows must be at least 1, got 0"),
    ("graph.ip.min_overlap=1.5", "graph.ip.min_overlap must be a share within [0, 1]"),
    ("graph.min_edge_weight=-1", "graph.min_edge_weight"),
    ("graph.engagement_types=[]", "graph.engagement_types must name at least one event type"),
    ("community.resolution=-1", "community.resolution must be a positive number, got -1.0"),
    ("community.resolution=nan", "community.resolution must be a positive number, got nan"),
    ("community.min_cluster_size=-3", "community.min_cluster_size must be at least 1, got -3"),
    ("community.max_cluster_size=-1", "community.max_cluster_size must be at least 0, got -1"),
    (
        "community.max_cluster_size=big",
        "community.max_cluster_size must be an integer or auto, got 'big'",
    ),
    ("community.dense_blocks=yes", "community.dense_blocks must be one of auto, on, off"),
    ("community.objective=cmp", "community.objective must be one of modularity, cpm"),
    ("community.n_iterations=0", "community.n_iterations"),
    ("scoring.risk_threshold=5", "scoring.risk_threshold must be a share within [0, 1], got 5.0"),
    ("scoring.sync_min_share=-0.1", "scoring.sync_min_share"),
    ("scoring.participation_saturation=0", "scoring.participation_saturation"),
    ("data.max_rejected_share=2", "data.max_rejected_share"),
    ("data.epoch_unit=us", "data.epoch_unit must be one of s, ms"),
    ("train.epochs=0", "train.epochs must be at least 1, got 0"),
    ("train.epochs=-1", "train.epochs must be at least 1, got -1"),
    ("train.lr=0", "train.lr must be a positive number, got 0.0"),
    ("train.val_fraction=1", "train.val_fraction must be a share within [0, 1)"),
    ("train.device=tpu", "train.device must be one of auto, cpu, cuda, cuda:N, got 'tpu'"),
    ("train.fanouts=[5]", "train.fanouts needs one entry per layer (2)"),
    ("train.fanouts=[5,0]", "train.fanouts entries must be positive"),
    ("model.dropout=1", "model.dropout must be a share within [0, 1)"),
    ("model.hidden=0", "model.hidden must be at least 1, got 0"),
    ("model.aggr=median", "model.aggr must be one of mean, max, sum"),
    ("simulate.n_accounts=10", "simulate.n_accounts must be at least 50, got 10"),
    ("simulate.label_fraction=1.5", "simulate.label_fraction must be a share within [0, 1]"),
    ("simulate.campaign_scale=-1", "simulate.campaign_scale"),
    ("simulate.start=yesterday", "simulate.start must be an ISO-8601 timestamp"),
]

#: a value of the wrong type, one per section: the key and what it takes
WRONG_TYPE = [
    ("data.drop_duplicates=maybe", "data.drop_duplicates must be true or false, got 'maybe'"),
    ("graph.sync.max_gap_s=soon", "graph.sync.max_gap_s must be a number, got 'soon'"),
    ("community.resolution=abc", "community.resolution must be a number, got 'abc'"),
    ("scoring.risk_threshold=high", "scoring.risk_threshold must be a number, got 'high'"),
    ("features.relations=device", "takes a list: write features.relations=[device]"),
    ("model.hidden=1.5", "model.hidden must be an integer, got '1.5'"),
    ("train.epochs=many", "train.epochs must be an integer, got 'many'"),
    ("simulate.days=week", "simulate.days must be an integer, got 'week'"),
    # a list setting takes a list: a bare value is refused with the spelling that works
    ("graph.engagement_types=like", "takes a list: write graph.engagement_types=[like]"),
    ("graph.engagement_types=like,comment", "graph.engagement_types=[like,comment]"),
    ("graph.no_such_key=1", "unknown setting graph.no_such_key; known:"),
]  # fmt: skip


@pytest.mark.parametrize(("override", "message"), RANGE + WRONG_TYPE)
def test_config_refuses_a_bad_setting(override, message):
    result = invoke("config", "--set", override)
    assert_clean_error(result, message, code=2)
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("community.resolution=-1", "community.resolution must be a positive number"),
        ("graph.sync.max_gap_s=-5", "graph.sync.max_gap_s"),
        ("graph.engagement_types=like", "graph.engagement_types=[like]"),
    ],
)
def test_detect_refuses_a_bad_setting_before_any_work(ring_log, tmp_path, override, message):
    out_dir = tmp_path / "run"
    result = invoke("detect", ring_log, "--out", out_dir, "--set", override)
    assert_clean_error(result, message, code=2)
    assert_no_run_left(out_dir)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--epochs", "0"), "train.epochs must be at least 1, got 0"),
        (("--epochs", "-1"), "train.epochs must be at least 1, got -1"),
        (("--device", "tpu"), "train.device must be one of auto, cpu, cuda, cuda:N, got 'tpu'"),
        (("--set", "train.lr=-0.1"), "train.lr must be a positive number"),
    ],
)
def test_train_refuses_a_bad_setting(ring_log, tmp_path, args, message):
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,label\na,benign\n")
    model = tmp_path / "m.pt"
    result = invoke("train", ring_log, "--labels", labels, "--out", model, *args)
    assert_clean_error(result, message, code=2)
    assert not model.exists()
    assert not list(tmp_path.glob("*.pt*"))


def test_detect_device_names_the_accepted_values(ring_log, tmp_path):
    out_dir = tmp_path / "run"
    result = invoke("detect", ring_log, "--out", out_dir, "--device", "tpu")
    assert_clean_error(result, "--device must be one of auto, cpu, cuda, cuda:N, got 'tpu'", code=2)
    assert "xla" not in result.output  # not torch's list of device types
    assert_no_run_left(out_dir)


class _Thing:
    pass


def _checkpoints(tmp_path, good):
    data = good.read_bytes()
    files = {
        "empty": (b"", "is empty (0 bytes)"),
        "truncated": (data[: len(data) // 2], "truncated"),
        "text": (b"account_id,label\n", "not a graphguard checkpoint"),
        "pickle": (pickle.dumps(_Thing()), "refused to load: it holds Python objects"),
    }
    for name, (content, _) in files.items():
        (tmp_path / f"{name}.pt").write_bytes(content)
    stored = torch.load(good, weights_only=True)
    torch.save({**stored, "extra": _Thing}, tmp_path / "hostile.pt")
    torch.save({**stored, "format": "other"}, tmp_path / "wrongformat.pt")
    torch.save({**stored, "version": 99}, tmp_path / "newer.pt")
    return {
        **{name: message for name, (_, message) in files.items()},
        "hostile": "refused to load: it holds Python objects (loading them could run code)",
        "wrongformat": "not a graphguard GraphSAGE checkpoint",
        "newer": "written by a newer graphguard",
    }


def test_bad_checkpoints_are_named_and_explained(ring_log, tmp_path, trained_model):
    cases = _checkpoints(tmp_path, trained_model)
    for name, message in cases.items():
        path = tmp_path / f"{name}.pt"
        out_dir = tmp_path / f"run-{name}"
        result = invoke("detect", ring_log, "--out", out_dir, "--model", path)
        line = assert_clean_error(result, str(path), message, code=1)
        assert "weights_only" not in line and "EOFError" not in line
        assert_no_run_left(out_dir)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    from graphguard.simulate import SimulationConfig, simulate, write_world

    root = tmp_path_factory.mktemp("config-corpus")
    write_world(simulate(SimulationConfig(n_accounts=300, days=3, seed=5)), root)
    return root


@pytest.fixture(scope="module")
def trained_model(small_world):
    path = small_world / "model.pt"
    result = invoke(
        "train", small_world / "events.parquet", "--labels", small_world / "labels.parquet",
        "--out", path, "--epochs", "2", "--device", "cpu", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("keep", ["benign", "abusive"])
def test_train_refuses_labels_of_one_side(small_world, tmp_path, keep):
    import polars as pl

    labels = pl.read_parquet(small_world / "labels.parquet")
    side = pl.col("label") == "benign"
    labels.filter(side if keep == "benign" else ~side).write_parquet(tmp_path / "labels.parquet")
    model = tmp_path / "m.pt"
    result = invoke(
        "train", small_world / "events.parquet", "--labels", tmp_path / "labels.parquet",
        "--out", model, "--epochs", "2", "--device", "cpu", "-q",
    )  # fmt: skip
    missing = "abusive" if keep == "benign" else "benign"
    assert_clean_error(result, "training needs benign and abusive accounts", f"no {missing}")
    assert not model.exists()
