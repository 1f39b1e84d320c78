"""Worlds in independent blocks: the split, the seeds, the tagged ids, and that writing a world
one block at a time (in one process or several) gives the frames `simulate` returns."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphguard import schema
from graphguard.config import ConfigError
from graphguard.simulate import SimulationConfig, simulate, write_world_chunked
from graphguard.simulate.blocks import block_configs, block_seed, block_sizes, tag_block
from graphguard.simulate.world import WORLD_FILES
from tests.clicheck import invoke

# Three blocks of 300 benign accounts; few days keep it fast.
CFG = SimulationConfig(n_accounts=900, block_accounts=300, seed=3, days=5)


@pytest.fixture(scope="module")
def world():
    return simulate(CFG)


def _read(out_dir):
    return {name: pl.read_parquet(out_dir / f"{name}.parquet") for name in WORLD_FILES}


def test_block_sizes_split_evenly() -> None:
    sizes = lambda n, b: block_sizes(SimulationConfig(n_accounts=n, block_accounts=b))  # noqa: E731
    assert sizes(900, 300) == [300, 300, 300]
    assert sizes(901, 300) == [226, 225, 225, 225]
    assert sizes(1000, 0) == [1000]
    assert sizes(250, 300) == [250]
    assert sum(sizes(2_777_778, 300_000)) == 2_777_778
    assert len(sizes(2_777_778, 300_000)) == 10
    with pytest.raises(ValueError, match="block_accounts"):
        sizes(10_000_000, 100)


def test_block_accounts_is_validated() -> None:
    with pytest.raises(ConfigError, match="block_accounts"):
        SimulationConfig(block_accounts=50)
    with pytest.raises(ConfigError, match="block_accounts"):
        SimulationConfig(block_accounts=-1)
    assert SimulationConfig.from_mapping({"block_accounts": 2e5}).block_accounts == 200_000


def test_block_seeds_are_fixed_and_distinct() -> None:
    assert block_seed(7, 0) == 7
    seeds = [block_seed(7, k) for k in range(50)]
    assert len(set(seeds)) == 50
    assert seeds == [block_seed(7, k) for k in range(50)]
    assert block_seed(8, 1) != block_seed(7, 1)
    assert [c.seed for c in block_configs(CFG)] == [block_seed(3, k) for k in range(3)]


def test_a_world_of_one_block_is_the_unsplit_world() -> None:
    small = dataclasses.replace(CFG, n_accounts=300)
    one = simulate(small)
    unsplit = simulate(dataclasses.replace(small, block_accounts=0))
    assert_frame_equal(one.events, unsplit.events)
    assert_frame_equal(one.truth, unsplit.truth)
    # ... and its ids carry no block tag.
    assert one.truth[schema.ACCOUNT].str.len_chars().max() == 11


def test_each_block_is_its_own_world(world) -> None:
    """Block k of a world is the one-block world of block k's config, ids tagged: it depends on
    nothing else (not on other blocks, nor on the order they are made in)."""
    events, labels, truth = world.events, world.labels, world.truth
    for k, cfg in enumerate(block_configs(CFG)):
        alone = simulate(cfg)
        ev, lab, tr = tag_block(alone.events, alone.labels, alone.truth, k)
        tag = f"u{k:03x}"
        assert_frame_equal(events.filter(pl.col(schema.ACCOUNT).str.starts_with(tag)), ev)
        assert_frame_equal(labels.filter(pl.col(schema.ACCOUNT).str.starts_with(tag)), lab)
        assert_frame_equal(truth.filter(pl.col(schema.ACCOUNT).str.starts_with(tag)), tr)


def test_blocks_share_no_id(world) -> None:
    truth = world.truth
    ids = truth[schema.ACCOUNT]
    assert ids.is_unique().all() and ids.is_sorted()
    assert set(world.events[schema.ACCOUNT].unique()) == set(ids)
    block_of = lambda col: pl.col(col).str.slice(1, 3)  # noqa: E731
    # devices and targets of an account's events carry the account's own block
    ev = world.events.drop_nulls([schema.DEVICE, schema.TARGET])
    assert (ev.select(block_of(schema.DEVICE) == block_of(schema.ACCOUNT)).to_series()).all()
    assert (ev.select(block_of(schema.TARGET) == block_of(schema.ACCOUNT)).to_series()).all()
    # campaigns are numbered per block: KIND-BLOCK-NN, every one in one block only
    camp = truth.drop_nulls("campaign_id").with_columns(
        block=pl.col("campaign_id").str.extract(r"-([0-9a-f]{3})-\d+$"),
        acct_block=block_of(schema.ACCOUNT),
    )
    assert (camp["block"] == camp["acct_block"]).all()
    per_block = [
        simulate(c).truth["campaign_id"].drop_nulls().n_unique() for c in block_configs(CFG)
    ]
    assert camp["campaign_id"].n_unique() == sum(per_block)


def test_chunked_writing_gives_the_frames_simulate_returns(world, tmp_path) -> None:
    seen = []
    summary = write_world_chunked(CFG, tmp_path / "one", progress=seen.append)
    assert [d.block for d in seen] == [0, 1, 2] and all(d.blocks == 3 for d in seen)
    written = _read(tmp_path / "one")
    for name in WORLD_FILES:
        assert_frame_equal(written[name], getattr(world, name))
    assert summary.events == world.events.height == sum(d.events for d in seen)
    assert summary.accounts == world.truth.height
    assert summary.labels == world.labels.height
    assert summary.campaigns == world.truth["campaign_id"].drop_nulls().n_unique()
    # nothing but the three files is left behind (the part files are gone)
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [
        "events.parquet",
        "labels.parquet",
        "truth.parquet",
    ]


def test_the_world_does_not_depend_on_the_number_of_workers(world, tmp_path) -> None:
    write_world_chunked(CFG, tmp_path / "two", workers=2)
    written = _read(tmp_path / "two")
    for name in WORLD_FILES:
        assert_frame_equal(written[name], getattr(world, name))


def test_a_one_block_world_is_written_as_simulate_returns_it(tmp_path) -> None:
    small = dataclasses.replace(CFG, n_accounts=300)
    write_world_chunked(small, tmp_path / "w")
    expected = simulate(small)
    written = _read(tmp_path / "w")
    for name in WORLD_FILES:
        assert_frame_equal(written[name], getattr(expected, name))


def test_many_blocks_are_only_equal_in_distribution_to_the_unsplit_world(world) -> None:
    """A world of three blocks is not the unsplit world of the same size (the claim in
    `blocks`), but per account it looks like a world of the block size."""
    unsplit = simulate(dataclasses.replace(CFG, block_accounts=0))
    assert unsplit.events.height != world.events.height or not unsplit.events.equals(world.events)

    def character(w):
        abusive = w.truth.filter(pl.col(schema.LABEL) != schema.BENIGN).height
        return w.events.height / w.truth.height, abusive / w.truth.height

    one_block = simulate(dataclasses.replace(CFG, n_accounts=300, seed=11))
    per_account, abusive_share = character(world)
    ref_per_account, ref_share = character(one_block)
    assert per_account == pytest.approx(ref_per_account, rel=0.25)
    assert abusive_share == pytest.approx(ref_share, rel=0.35)


def test_cli_simulate_in_blocks_reports_progress_unless_quiet(tmp_path) -> None:
    args = ["--accounts", "300", "--block-accounts", "150", "--days", "3", "--seed", "2"]
    loud = invoke("simulate", tmp_path / "loud", *args)
    assert loud.exit_code == 0, loud.output
    assert "in 2 blocks" in loud.stderr
    assert "block 1/2" in loud.stderr and "block 2/2" in loud.stderr
    quiet = invoke("simulate", tmp_path / "quiet", *args, "-q")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    events = pl.read_parquet(tmp_path / "quiet" / "events.parquet")
    assert f"{events.height:,}" in quiet.stdout
    assert_frame_equal(events, pl.read_parquet(tmp_path / "loud" / "events.parquet"))
    expected = simulate(SimulationConfig(n_accounts=300, block_accounts=150, days=3, seed=2))
    assert_frame_equal(events, expected.events)


def test_a_failing_block_leaves_no_world_behind(tmp_path, monkeypatch) -> None:
    from graphguard.simulate import world as world_module

    real = world_module._simulate_block

    def second_block_fails(config):
        if config.seed == block_seed(CFG.seed, 1):
            raise MemoryError("block 1")
        return real(config)

    monkeypatch.setattr(world_module, "_simulate_block", second_block_fails)
    with pytest.raises(MemoryError):
        write_world_chunked(CFG, tmp_path / "w")
    assert list((tmp_path / "w").iterdir()) == []
