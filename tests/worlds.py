"""Event logs with known answers shared by the tests: tiny hand-built ones, and small simulated
worlds run through the pipeline (`pipeline_world`), and run directories written by the real
pipeline (`build_run`), among them a ring whose ids, devices, IP and targets are hostile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.pipeline.detect import run_detection
from graphguard.pipeline.stages import Stages, build_stages
from graphguard.rundir import load_run
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


# --------------------------------------------------------------------------------------------
# A ring with hostile ids, and runs of the real pipeline (exports, case files, explanations)

HTML_ID = "<img src=x onerror=alert(1)>"
SCRIPT_ID = "</script><script>alert(1)</script>"
QUOTE_ID = "q\"uote'&amp;<b>"
CONTROL_ID = "evil\x1b[31mred"
HOSTILE_ACCOUNTS = (HTML_ID, SCRIPT_ID, QUOTE_ID, CONTROL_ID)
HOSTILE_DEVICE = '<svg onload=alert("dev")>'
HOSTILE_IP = "\"><iframe src=javascript:alert('ip')>"
HOSTILE_TARGET = "</script><img src=x onerror=alert('target')>"
RING_SIZE = 12


def hostile_log(seed: int = 5) -> pl.DataFrame:
    """Three hundred ordinary users and one bot ring whose first accounts, first device, IP and
    first target carry hostile strings."""
    rng = np.random.default_rng(seed)
    rows = ordinary_users(rng, 300) + bot_ring(rng, size=RING_SIZE, devices=2, waves=8)
    renames = {f"ring{i}": hostile for i, hostile in enumerate(HOSTILE_ACCOUNTS)}
    return frame(rows).with_columns(
        pl.col(schema.ACCOUNT).replace(renames),
        pl.col(schema.DEVICE).replace({"ring-dev0": HOSTILE_DEVICE}),
        pl.col(schema.IP).replace({"203.0.113.7": HOSTILE_IP}),
        pl.col(schema.TARGET).replace({"ring-target0": HOSTILE_TARGET}),
    )


def build_run(
    events: pl.DataFrame,
    directory: Path,
    labels: pl.DataFrame | None = None,
    config: DetectConfig | None = None,
) -> Path:
    """Write ``events`` (and labels) and run the real detection into ``directory / run``."""
    events_path = directory / "events.parquet"
    events.write_parquet(events_path)
    labels_path = None
    if labels is not None:
        labels_path = directory / "labels.parquet"
        labels.write_parquet(labels_path)
    run_detection(events_path, directory / "run", config, labels_path=labels_path)
    return directory / "run"


def hostile_cluster(run_dir: Path) -> int:
    accounts = load_run(run_dir).accounts
    ids = accounts.filter(pl.col(schema.ACCOUNT) == HTML_ID).get_column("cluster_id")
    assert ids[0] is not None, "the hostile ring must be found as a cluster"
    return int(ids[0])


# --------------------------------------------------------------------------------------------
# Ratings-like logs (no device, no IP): dense blocks and the organic crowds the null explains


def without_hardware(rows: list[tuple]) -> list[tuple]:
    """The rows with no device and no IP (a ratings, reviews or follows log)."""
    return [(t, a, kind, None, None, target) for t, a, kind, _, _, target in rows]


def spread_block(
    rng: np.random.Generator,
    *,
    accounts: int = 30,
    targets: int = 30,
    density: float = 0.8,
    prefix: str = "fake",
) -> list[tuple]:
    """A dense account x target block spread over a month: each account likes its share of the
    block's own targets on three days of its own, at random hours (no synchrony to see)."""
    rows = []
    for a in range(accounts):
        days = rng.integers(0, 30, 3)
        for j in np.nonzero(rng.random(targets) < density)[0]:
            t = T0 + timedelta(days=int(rng.choice(days)), seconds=int(rng.integers(0, 86400)))
            rows.append((t, f"{prefix}{a}", "like", None, None, f"{prefix}-item{j}"))
    return rows


def fans_of_creator(
    rng: np.random.Generator,
    fans: int,
    *,
    posts: int = 25,
    creator: str = "creator0",
    prefix: str = "user",
) -> list[tuple]:
    """One creator posting ``posts`` times over a month, and ``fans`` accounts (``prefix`` +
    index) each liking about half of the posts hours after they appear."""
    rows = []
    for p in range(posts):
        posted = T0 + timedelta(days=int(rng.integers(0, 29)), hours=int(rng.integers(0, 20)))
        rows.append((posted, creator, "post", None, None, f"{creator}-post{p}"))
        for a in np.nonzero(rng.random(fans) < 0.5)[0]:
            t = posted + timedelta(seconds=int(1200 + rng.lognormal(np.log(5 * 3600), 1.0)))
            rows.append((t, f"{prefix}{a}", "like", None, None, f"{creator}-post{p}"))
    return rows


def ratings_block_log(seed: int = 5, *, block: bool = True) -> pl.DataFrame:
    """A ratings log without devices or IPs: 500 users rating 5-60 of 1,500 items each (by
    popularity), and with ``block`` 40 fakes rating 80% of 40 items plus 15 popular ones each
    (camouflage). Leiden alone puts a real user into the fakes' community; the refined dense
    block (`community.dense_blocks`) is exactly the fakes."""
    rng = np.random.default_rng(seed)
    n_items = 1500
    pop = rng.random(n_items) + 0.2
    pop /= pop.sum()
    users: list[str] = []
    items: list[str] = []
    for u in range(500):
        k = int(rng.integers(5, 60))
        users += [f"user{u:04d}"] * k
        items += [f"item{i:04d}" for i in rng.choice(n_items, k, replace=False, p=pop)]
    if block:
        films = rng.choice(n_items, 40, replace=False)
        fa, fi = np.nonzero(rng.random((40, 40)) < 0.8)
        users += [f"fake{a:02d}" for a in fa]
        items += [f"item{films[i]:04d}" for i in fi]
        for a in range(40):
            users += [f"fake{a:02d}"] * 15
            items += [f"item{i:04d}" for i in rng.choice(n_items, 15, replace=False, p=pop)]
    pairs = pl.DataFrame({schema.ACCOUNT: users, schema.TARGET: items}).unique(maintain_order=True)
    seconds = rng.integers(0, 90 * 86400, pairs.height)
    return pairs.select(
        (pl.lit(T0) + pl.duration(seconds=pl.Series(seconds))).alias(schema.TIME),
        schema.ACCOUNT,
        pl.lit("like").alias(schema.EVENT_TYPE),
        pl.lit(None, dtype=pl.String).alias(schema.DEVICE),
        pl.lit(None, dtype=pl.String).alias(schema.IP),
        schema.TARGET,
    )
