"""A simulated world: what `simulate` returns, how it is put together, and how it is saved.

`_simulate_block` runs the generators of one block in a fixed order (the order of their random
draws is what makes a seed reproduce a world) and `_assemble` turns the integer-coded state into
the three frames. `simulate` concatenates the blocks of `blocks.block_configs` in memory;
`write_world_chunked` writes the same frames one block at a time, so its memory is that of one
block whatever the world's size.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from graphguard.outputs import (
    publish_mode,
    sink_parquet_atomic,
    temp_prefix,
    write_parquet_atomic,
)
from graphguard.schema import (
    ACCOUNT,
    DEVICE,
    EVENT_COLUMNS,
    EVENT_SCHEMA,
    EVENT_TYPE,
    IP,
    TARGET,
    TIME,
)
from graphguard.simulate.benign import benign_activity, draw_accounts, signups
from graphguard.simulate.blocks import block_configs, tag_block
from graphguard.simulate.campaigns import (
    camouflage,
    campaign_activity,
    plan_campaigns,
    setup_campaigns,
)
from graphguard.simulate.clock import Clock
from graphguard.simulate.config import EVENT_TYPES, SimulationConfig
from graphguard.simulate.content import backlog, resolve_targets
from graphguard.simulate.hard import (
    hard_camouflage,
    hard_campaign_activity,
    setup_hard_campaigns,
)
from graphguard.simulate.hard_negatives import (
    assign_hard_negatives,
    kiosk_sessions,
    viral_and_fans,
)
from graphguard.simulate.ids import account_ids, id_strings, ip_strings
from graphguard.simulate.infrastructure import seal_pools
from graphguard.simulate.labels import label_table, truth_table
from graphguard.simulate.state import Network, SimState


@dataclass
class World:
    """A simulated world.

    events: canonical event columns (`schema.EVENT_SCHEMA`), sorted by event_time then account_id
        (within each block, blocks in order, when the world has several).
    labels: account_id, label -- partial (label_fraction) and optionally noisy.
    truth: `schema.TRUTH_SCHEMA`, one row per account that occurs in events, sorted by account_id;
        campaign_id / campaign_kind are null for benign accounts, hard_negative is null unless the
        account belongs to a hard-negative population.
    """

    events: pl.DataFrame
    labels: pl.DataFrame
    truth: pl.DataFrame


#: The three files of a world, in the order they are written.
WORLD_FILES = ("events", "labels", "truth")


@dataclass(frozen=True)
class BlockDone:
    """What `write_world_chunked` reports after each block."""

    block: int  # 0-based
    blocks: int
    events: int  # events of this block
    accounts: int  # accounts (truth rows) of this block
    seconds: float  # time to simulate and write it


@dataclass(frozen=True)
class WorldSummary:
    """What `write_world_chunked` wrote."""

    paths: dict[str, Path]
    blocks: int
    events: int
    accounts: int
    labels: int
    campaigns: int


def simulate(config: SimulationConfig) -> World:
    """Generate a world from `config`. Deterministic: equal configs give equal frames.

    A world of several blocks (`SimulationConfig.block_accounts`) is its blocks' frames
    concatenated in block order: each block's events are sorted by time, not the whole log.
    """
    configs = block_configs(config)
    if len(configs) == 1:
        return _simulate_block(configs[0])
    parts = [tag_block(*_frames(_simulate_block(c)), k) for k, c in enumerate(configs)]
    return World(*(pl.concat([p[i] for p in parts]) for i in range(3)))


def write_world_chunked(
    config: SimulationConfig,
    out_dir: str | Path,
    *,
    workers: int = 1,
    progress: Callable[[BlockDone], None] | None = None,
) -> WorldSummary:
    """Write the world `simulate(config)` returns, one block at a time, into `out_dir`.

    Each block is simulated and written to a part file (in a temporary folder inside `out_dir`),
    then the parts are streamed into events.parquet, labels.parquet and truth.parquet, each
    renamed into place when complete. Memory is that of one block per worker; the frames are
    those of `simulate(config)`, whatever `workers` is (blocks are independent).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    configs = block_configs(config)
    n = len(configs)
    parts = Path(tempfile.mkdtemp(prefix=temp_prefix("world-blocks"), suffix=".tmp", dir=out))
    try:
        jobs = [(c, k, n, str(parts)) for k, c in enumerate(configs)]
        done: list[BlockDone] = []
        for result in _run_blocks(jobs, workers):
            done.append(result)
            if progress is not None:
                progress(result)
        paths: dict[str, Path] = {}
        for name in WORLD_FILES:
            files = [parts / f"{name}-{k:05d}.parquet" for k in range(n)]
            dest = out / f"{name}.parquet"
            if n == 1:
                publish_mode(files[0])
                os.replace(files[0], dest)
                paths[name] = dest
            else:
                lazy = pl.concat([pl.scan_parquet(f) for f in files])
                paths[name] = sink_parquet_atomic(lazy, dest)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    truth = pl.scan_parquet(paths["truth"])
    n_campaigns = truth.select(pl.col("campaign_id").drop_nulls().n_unique()).collect().item()
    n_labels = pl.scan_parquet(paths["labels"]).select(pl.len()).collect().item()
    return WorldSummary(
        paths=paths,
        blocks=n,
        events=sum(d.events for d in done),
        accounts=sum(d.accounts for d in done),
        labels=int(n_labels),
        campaigns=int(n_campaigns),
    )


def _run_blocks(jobs: list[tuple], workers: int) -> Iterable[BlockDone]:
    """`_write_block` over `jobs`, in block order, in this process or in `workers` processes."""
    if workers <= 1 or len(jobs) == 1:
        yield from map(_write_block, jobs)
        return
    # spawn, not fork: Polars' thread pool does not survive a fork.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        yield from pool.map(_write_block, jobs)


def _write_block(job: tuple) -> BlockDone:
    """Simulate one block and write its three part files (ids tagged in a world of several)."""
    config, block, blocks, parts = job
    start = time.perf_counter()
    frames = _frames(_simulate_block(config))
    n_events, n_accounts = frames[0].height, frames[2].height
    if blocks > 1:
        frames = tag_block(*(f.lazy() for f in frames), block)
    for name, frame in zip(WORLD_FILES, frames, strict=True):
        path = Path(parts) / f"{name}-{block:05d}.parquet"
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(path)
        else:
            frame.write_parquet(path)
    del frames
    return BlockDone(block, blocks, n_events, n_accounts, time.perf_counter() - start)


def _frames(world: World) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return world.events, world.labels, world.truth


def _simulate_block(config: SimulationConfig) -> World:
    """One block (a whole world when it fits in one), from its own seed."""
    # One generator drawn from in a fixed order is what makes the output reproducible.
    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 0x6A7A]))
    clock = Clock.from_config(config)
    plan = plan_campaigns(config, rng)
    net = Network(rng)
    acc = draw_accounts(config, rng, clock, plan, net)
    s = SimState(cfg=config, rng=rng, clock=clock, plan=plan, acc=acc, net=net)

    groups = assign_hard_negatives(s)
    hard = config.difficulty == "hard"
    (setup_hard_campaigns if hard else setup_campaigns)(s)
    seal_pools(s)
    benign_activity(s)
    backlog(s)
    viral_and_fans(s, groups)
    (hard_campaign_activity if hard else campaign_activity)(s)
    # Camouflage is sized from the campaign events emitted so far, so it comes after them.
    (hard_camouflage if hard else camouflage)(s)
    kiosk_sessions(s, groups)
    signups(s)
    resolve_targets(s)
    return _assemble(s)


def write_world(world: World, out_dir: str | Path) -> dict[str, Path]:
    """Write events.parquet, labels.parquet and truth.parquet into `out_dir` (created if needed).

    Each file is written to a temporary name inside `out_dir` and then `os.replace()`d into place,
    so a reader never sees a half-written file under a final name. Returns {name: path}.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in (("events", world.events), ("labels", world.labels), ("truth", world.truth)):
        paths[name] = write_parquet_atomic(frame, out / f"{name}.parquet")
    return paths


def _assemble(s: SimState) -> World:
    """Events in the window with id strings, sorted; then the truth and label tables."""
    rng, clock, plan = s.rng, s.clock, s.plan
    A = plan.n_total
    cols = list(zip(*s.log.chunks, strict=True))
    s.log.chunks = []
    t = np.concatenate(cols[0])
    keep = (t >= 0) & (t < clock.span)
    t = t[keep]
    acct, etype, dev, ip, tc, ta = (np.concatenate(c)[keep] for c in cols[1:])
    del cols
    ip = np.where(rng.random(ip.size) < 0.002, -1, ip)  # rare missing IPs
    t_us = np.floor(t * 1e6).astype(np.int64)
    del t

    key = rng.integers(0, 1 << 62, 4)
    acc_str, acc_rank = account_ids(rng.permutation(A), int(key[0]))
    n_dev, n_content = s.net.n_dev, s.content.n
    dev_str = id_strings(n_dev, "d", 12, int(key[1]), rng.permutation(n_dev))
    con_str = id_strings(n_content, "c", 10, int(key[2]), rng.permutation(n_content))
    ip_str = ip_strings(s.net)

    # Sort by (event_time, account_id); stable so equal keys keep a deterministic order.
    rank = acc_rank[acct]
    bits = max(1, int(A - 1).bit_length())
    if int(t_us.max(initial=0)) < (1 << (62 - bits)):
        order = np.argsort((t_us << bits) | rank, kind="stable")
    else:
        order = np.lexsort((rank, t_us))
    del rank

    def nullable(table: pl.Series, idx: np.ndarray) -> pl.Series:
        # The extra last row is null; index -1 maps onto it.
        full = pl.concat([table, pl.Series([None], dtype=pl.String)])
        return full.gather(pl.Series(np.where(idx < 0, table.len(), idx)[order]))

    # Account targets (follows) come after all content in the combined target table.
    tgt_idx = np.where(tc >= 0, tc, np.where(ta >= 0, n_content + ta, -1))
    events = (
        pl.DataFrame(
            {
                TIME: pl.Series(t_us[order] + clock.start_us).cast(pl.Datetime("us", "UTC")),
                ACCOUNT: acc_str.gather(pl.Series(acct[order])),
                EVENT_TYPE: pl.Series(list(EVENT_TYPES), dtype=pl.String).gather(
                    pl.Series(etype[order].astype(np.int64))
                ),
                DEVICE: nullable(dev_str, dev),
                IP: nullable(ip_str, ip),
                TARGET: nullable(pl.concat([con_str, acc_str]), tgt_idx),
            }
        )
        .select(EVENT_COLUMNS)
        .cast(EVENT_SCHEMA)
    )

    # Truth and labels cover every account with at least one event, in id order.
    present = np.flatnonzero(np.bincount(acct, minlength=A) > 0)
    present = present[np.argsort(acc_rank[present])]
    truth = truth_table(plan, s.acc.hn, present, acc_str)
    labels = label_table(s.cfg, rng, plan, present, acc_str)
    return World(events=events, labels=labels, truth=truth)
