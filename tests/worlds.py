"""Event logs with known answers shared by the tests: tiny hand-built ones, and small simulated
worlds run through the pipeline (`pipeline_world`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.pipeline.stages import Stages, build_stages
from graphguard.simulate import SimulationConfig, World, simulate


@dataclass
class Pipeline:
    """`build_stages` output of a log plus its account features."""

    stages: Stages
    features: pl.DataFrame

    @property
    def account_ids(self) -> pl.Series:
        return self.stages.account_ids

    @property
    def edges(self) -> pl.DataFrame:
        return self.stages.graph.edges

    @property
    def membership(self) -> np.ndarray:
        return self.stages.partition.membership


def run_pipeline(events: pl.DataFrame, config: DetectConfig | None = None) -> Pipeline:
    """The stages `graphguard.pipeline.detect.detect` builds, and the features `train` would use."""
    stages = build_stages(events, config)
    return Pipeline(stages, stages.features())


@lru_cache(maxsize=4)
def pipeline_world(seed: int, n_accounts: int = 2000) -> tuple[World, Pipeline]:
    """A small simulated world (label_fraction 0.4) and its pipeline, built once per seed."""
    world = simulate(SimulationConfig(n_accounts=n_accounts, seed=seed, label_fraction=0.4))
    return world, run_pipeline(world.events)


T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def frame(rows: list[tuple]) -> pl.DataFrame:
    """Rows of (time, account, type, device, ip, target) -> a validated-schema event frame."""
    return pl.DataFrame(rows, schema=list(schema.EVENT_COLUMNS), orient="row").with_columns(
        pl.col(schema.TIME).cast(pl.Datetime("us", "UTC"))
    )


def ordinary_users(
    rng: np.random.Generator,
    n: int,
    *,
    prefix: str = "user",
    nat_ip: str | None = None,
    n_items: int = 400,
) -> list[tuple]:
    """Accounts on their own device, liking popular-ish items at random times over 30 days.

    With ``nat_ip`` every event goes through that one carrier-grade NAT address.
    """
    rows = []
    for a in range(n):
        for _ in range(int(rng.integers(10, 30))):
            t = T0 + timedelta(seconds=int(rng.integers(0, 30 * 86400)))
            ip = nat_ip or f"198.51.{a // 250}.{a % 250}"
            item = f"item{int(rng.zipf(1.6)) % n_items}"
            rows.append((t, f"{prefix}{a}", "like", f"{prefix}-dev{a}", ip, item))
    return rows


def bot_ring(
    rng: np.random.Generator,
    *,
    size: int = 12,
    devices: int = 2,
    waves: int = 8,
    prefix: str = "ring",
) -> list[tuple]:
    """Accounts on a couple of shared devices and one datacenter IP, liking the ring's own
    targets in waves a few minutes long."""
    rows = []
    for w in range(waves):
        start = T0 + timedelta(days=3 * w + 1, hours=int(rng.integers(0, 20)))
        for a in range(size):
            t = start + timedelta(seconds=int(rng.integers(0, 240)))
            rows.append(
                (
                    t,
                    f"{prefix}{a}",
                    "like",
                    f"{prefix}-dev{a % devices}",
                    "203.0.113.7",
                    f"{prefix}-target{w}",
                )
            )
    return rows


def viral_burst(
    rng: np.random.Generator, n_users: int, *, item: str = "viral-item", prefix: str = "user"
) -> list[tuple]:
    """Many ordinary accounts liking one item within the same hour."""
    start = T0 + timedelta(days=10)
    return [
        (
            start + timedelta(seconds=int(rng.integers(0, 3600))),
            f"{prefix}{a}",
            "like",
            f"{prefix}-dev{a}",
            f"198.51.{a // 250}.{a % 250}",
            item,
        )
        for a in range(n_users)
    ]
