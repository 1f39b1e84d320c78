"""Large worlds as independent blocks, so that any size can be generated in bounded memory.

A world of `n_accounts` benign accounts is split into `ceil(n_accounts / block_accounts)`
blocks of as equal a size as possible (`block_accounts=0`: one block). Each block is a complete
world of its own -- benign population, hard negatives, campaigns scaled to its size (so the
campaign share, and the quality a detector reaches, do not change with the world's size) --
generated from its own seed: block 0 from `seed` itself, block k > 0 from a seed derived from
`(seed, k)`. So a block never depends on another block, on the order blocks are made in, or on
how many processes make them; and a world that fits in one block is exactly the world
`simulate` always made.

Blocks share no account, device, content or campaign: in a world of more than one block every
account, device and target id gets the block's number as three hex digits after its first
letter (``u00a3f...``; ids of one block still sort like the block's own ids, and blocks sort in
block order), and campaign ids read ``KIND-BLOCK-NN`` (``device_farm-00a-03``). IP addresses are
drawn from one address space by every block and are not tagged, so two blocks occasionally draw
the same home or hotspot address (about as often as two random households share one); that is
the only thing blocks have in common.

What a many-block world is, then: the disjoint union of worlds of the block size. It is not the
single world `block_accounts=0` would make at the same size, whose hubs (viral posts, interest
communities, popular creators) grow with the whole population; per event it looks like a world
of one block, at every size.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TypeVar

import numpy as np
import polars as pl

from graphguard.schema import ACCOUNT, DEVICE, TARGET
from graphguard.simulate.config import SimulationConfig

F = TypeVar("F", pl.DataFrame, pl.LazyFrame)

#: Hex digits of the block number in a many-block world's ids.
TAG_DIGITS = 3
MAX_BLOCKS = 16**TAG_DIGITS


def block_sizes(config: SimulationConfig) -> list[int]:
    """Benign accounts of each block: `n_accounts` split as evenly as possible."""
    n, per = int(config.n_accounts), int(config.block_accounts)
    count = 1 if per <= 0 else math.ceil(n / per)
    if count > MAX_BLOCKS:
        raise ValueError(
            f"simulate.block_accounts={per} cuts {n:,} accounts into {count:,} blocks; at most "
            f"{MAX_BLOCKS:,} are supported: raise block_accounts"
        )
    base, extra = divmod(n, count)
    return [base + (1 if k < extra else 0) for k in range(count)]


def block_seed(seed: int, block: int) -> int:
    """The seed of block `block`: `seed` itself for block 0, else drawn from (seed, block)."""
    if block == 0:
        return int(seed)
    state = np.random.SeedSequence([int(seed), int(block), 0xB10C]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) | (int(state[1]) >> 1)


def block_configs(config: SimulationConfig) -> list[SimulationConfig]:
    """The one-block config each block is simulated from, in block order."""
    return [
        dataclasses.replace(
            config, n_accounts=size, seed=block_seed(config.seed, k), block_accounts=0
        )
        for k, size in enumerate(block_sizes(config))
    ]


def _tag_ids(column: str, tag: str) -> pl.Expr:
    # Ids are a letter then hex digits ("u3fa...", "d...", "c..."): the tag goes after the letter.
    col = pl.col(column)
    return (col.str.slice(0, 1) + pl.lit(tag) + col.str.slice(1)).alias(column)


def tag_block(events: F, labels: F, truth: F, block: int) -> tuple[F, F, F]:
    """The frames (eager or lazy) of block `block` with its number in every id (for worlds of
    several blocks)."""
    tag = f"{block:0{TAG_DIGITS}x}"
    events = events.with_columns(
        _tag_ids(ACCOUNT, tag), _tag_ids(DEVICE, tag), _tag_ids(TARGET, tag)
    )
    labels = labels.with_columns(_tag_ids(ACCOUNT, tag))
    truth = truth.with_columns(
        _tag_ids(ACCOUNT, tag),
        pl.col("campaign_id").str.replace(r"-(\d+)$", f"-{tag}-$1"),
    )
    return events, labels, truth
