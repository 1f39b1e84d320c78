"""Seeded, scalable synthetic world with planted coordinated-abuse campaigns and hard negatives.

`simulate(SimulationConfig(...))` returns a `World`: an event log in the canonical columns of
`graphguard.schema`, a partial and optionally noisy label table, and a full truth table that also
says which campaign each abusive account belongs to and which benign accounts are *hard negatives*
(benign populations that naive rules would flag). `write_world` saves the three frames.

Everything is generated as integer-coded numpy arrays and turned into strings only at the very
end, so 10M events take a few seconds and well under 4 GiB. There are no Python loops over
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
    world           World, `simulate` (the order of the steps) and `write_world`
"""

from graphguard.simulate.config import CAMPAIGN_KINDS, EVENT_TYPES, SimulationConfig
from graphguard.simulate.world import World, simulate, write_world

__all__ = [
    "CAMPAIGN_KINDS",
    "EVENT_TYPES",
    "SimulationConfig",
    "World",
    "simulate",
    "write_world",
]
