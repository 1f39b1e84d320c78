"""Seeded, scalable synthetic world with planted coordinated-abuse campaigns and hard negatives.

`simulate(SimulationConfig(...))` returns a `World`: an event log in the canonical columns of
`graphguard.schema`, a partial and optionally noisy label table, and a full truth table that also
says which campaign each abusive account belongs to and which benign accounts are *hard negatives*
(benign populations that naive rules would flag). `write_world` saves the three frames.

Everything is generated as integer-coded numpy arrays and turned into strings only at the very
end, so a block of 10M events takes about 10 s and 2 GiB. There are no Python loops over
events or accounts; loops run over campaigns, communities, hard-negative groups and the handful
of populations.

Modules, in the order a world is built:

    config          SimulationConfig; event types, campaign kinds, per-kind sizes
    clock           the time window, local hours, draws at human hours
    state           SimState, the shared state: the generator, accounts, device/IP/content
                    registries, the growing event log
    benign          ordinary users: attributes, personal devices, carrier NAT, organic sessions
    hard_negatives  benign populations that naive rules flag (CGNAT, campus wifi, kiosks, ...)
    campaigns       the planted campaigns (device farms, proxy rings, engagement pods, ...)
    infrastructure  households, shared pools, the device and IP of every session
    events          sessions, reactions and posts as event rows
    content         the post backlog, target sets, organic engagement targets
    ids             id and IP strings that reveal nothing about populations
    labels          the truth table and the partial, noisy labels
    blocks          large worlds as independent blocks: sizes, seeds, ids tagged by block
    world           World, `simulate` (the order of the steps), `write_world` and
                    `write_world_chunked` (one block at a time, in bounded memory)

A world larger than `block_accounts` benign accounts (300,000 by default, about 10.7M events)
is the disjoint union of independent blocks, each a whole world of its own seeded from
(seed, block); `simulate` and `write_world_chunked` give the same frames for the same config.
"""

from graphguard.simulate.config import CAMPAIGN_KINDS, EVENT_TYPES, SimulationConfig
from graphguard.simulate.world import (
    BlockDone,
    World,
    WorldSummary,
    simulate,
    write_world,
    write_world_chunked,
)

__all__ = [
    "BlockDone",
    "CAMPAIGN_KINDS",
    "EVENT_TYPES",
    "SimulationConfig",
    "World",
    "WorldSummary",
    "simulate",
    "write_world",
    "write_world_chunked",
]
