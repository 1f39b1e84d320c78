"""Shared fixtures: a tiny hand-built event log with one planted bot ring, and run directories
of the real pipeline (a hostile ring, a small simulated world) for the readers' tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.config import CommunityConfig, DetectConfig
from graphguard.simulate import SimulationConfig, simulate
from tests.worlds import build_run, hostile_log

RING_SIZE = 10
ORDINARY_ACCOUNTS = 100
T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def make_ring_log(seed: int = 7) -> pl.DataFrame:
    """Ten accounts on two shared devices liking the same ten targets within minutes on five
    days, plus a hundred ordinary accounts on their own devices liking random items."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(5):
        wave = T0 + timedelta(days=2 * day + 1, hours=int(rng.integers(0, 20)))
        for a in range(RING_SIZE):
            for k in range(10):
                t = wave + timedelta(seconds=int(rng.integers(0, 300)))
                rows.append(
                    (t, f"ring{a}", "like", f"farm-dev{a % 2}", "203.0.113.7", f"ring-target{k}")
                )
    for a in range(ORDINARY_ACCOUNTS):
        for _ in range(int(rng.integers(10, 25))):
            t = T0 + timedelta(seconds=int(rng.integers(0, 14 * 86400)))
            item = f"item{int(rng.integers(0, 300))}"
            rows.append((t, f"user{a}", "like", f"user-dev{a}", f"198.51.100.{a}", item))
    return pl.DataFrame(rows, schema=list(schema.EVENT_COLUMNS), orient="row").with_columns(
        pl.col(schema.TIME).cast(pl.Datetime("us", "UTC"))
    )


@pytest.fixture(scope="session")
def ring_events() -> pl.DataFrame:
    return make_ring_log()


@pytest.fixture(scope="session")
def ring_log(ring_events: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ring log written as one Parquet file (read-only: tests must not modify it)."""
    path = tmp_path_factory.mktemp("ring_log") / "events.parquet"
    ring_events.write_parquet(path)
    return path


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of a log whose planted ring carries hostile ids, devices, IP and targets
    (`tests.worlds.hostile_log`); read-only."""
    return build_run(hostile_log(), tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def simulated_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run directory, truth file) of a small simulated world, detected with its labels."""
    world = simulate(SimulationConfig(n_accounts=2000, seed=11))
    directory = tmp_path_factory.mktemp("simulated")
    world.truth.write_parquet(directory / "truth.parquet")
    # the partition the report tests' case geometry was written against (communities split
    # above 300 accounts; `auto` splits this world's above 50, a different top case)
    config = DetectConfig(community=CommunityConfig(max_cluster_size=300))
    run = build_run(world.events, directory, world.labels, config)
    return run, directory / "truth.parquet"


@pytest.fixture(scope="session")
def simulated_run(simulated_world: tuple[Path, Path]) -> Path:
    return simulated_world[0]
