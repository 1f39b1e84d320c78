"""Hard negatives: benign populations that naive rules would flag as coordinated.

Marked in the truth's `hard_negative` column; each account is at most one kind; sizes are
fractions of `n_accounts * hard_negative_scale` (`HARD_NEGATIVE_SHARE`), groups drawn until the
target is met, at least one group. Creators are never hard negatives.

    cgnat          ~1.0%: 85-100% of sessions via CGNAT, 1.5x activity.
    campus_wifi    ~1.5%: groups of 50-300 sharing 1-3 IPs of one /24 on weekdays 08-18 local
                   (85% of those sessions), daytime-heavy; home IPs otherwise.
    family_device  ~1.0%: households of 2-5 sharing one device and one home IP.
    shared_kiosk   ~1.0%: kiosks (own device + IP) each used by 20-60 accounts, 1-3 short daytime
                   sessions each, on top of their normal activity.
    app_reinstall  ~1.0%: device id changes 4-14 times over the window (5-15 ids), frequent users
                   (3-6x the mean activity) so the ids actually show up.
    signup_cohort  ~1.5%: groups of 30-200 new accounts signing up within the same hour, each on
                   its own device and home IP, then ordinary behaviour.
    viral_engager  ~4.0%: 2-12 viral posts, each liked by hundreds to thousands of real users within
                   the hour after posting (delay ~ 3600 * U**1.7 s), some also share/comment.
    fan_community  ~1.5%: groups of 30-150 fans of one creator who posts 15-40 times; each fan
                   engages each post with prob 0.25-0.7 after 20 min + lognormal(median 5 h).

`assign_hard_negatives` shapes the accounts and their hardware (and gives every other benign
account its ordinary household); `viral_and_fans` and `kiosk_sessions` add their own activity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphguard.schema import HARD_NEGATIVE_KINDS
from graphguard.simulate.benign import MIX_KIOSK, draw_types
from graphguard.simulate.clock import DAY, HOUR, MIN
from graphguard.simulate.config import HN_CODE, LOGIN
from graphguard.simulate.content import pick_creators
from graphguard.simulate.events import post_events, reactions, segment_positions
from graphguard.simulate.infrastructure import households
from graphguard.simulate.state import SimState

#: Share of the benign population in each kind, before hard_negative_scale.
HARD_NEGATIVE_SHARE = {
    "cgnat": 0.01,
    "campus_wifi": 0.015,
    "family_device": 0.01,
    "shared_kiosk": 0.01,
    "app_reinstall": 0.01,
    "signup_cohort": 0.015,
    "viral_engager": 0.04,
    "fan_community": 0.015,
}

_ORDINARY_HOUSEHOLDS = [0.55, 0.25, 0.13, 0.07]  # sizes 1-4


@dataclass
class HardNegativeGroups:
    """The groups whose activity is generated after the setup."""

    kiosks: list[tuple[np.ndarray, int, int]] = field(default_factory=list)  # members, dev, ip
    viral: list[np.ndarray] = field(default_factory=list)  # engagers of each viral post
    fans: list[np.ndarray] = field(default_factory=list)  # each fan community


def _group_sizes(rng: np.random.Generator, target: float, lo: int, hi: int) -> list[int]:
    """Group sizes in [lo, hi] until `target` accounts are covered (at least one group)."""
    sizes: list[int] = []
    remaining = target
    while not sizes or remaining > 0:
        s = int(rng.integers(lo, hi + 1))
        s = min(s, max(lo, int(round(remaining))))
        sizes.append(s)
        remaining -= s
    return sizes


def assign_hard_negatives(s: SimState) -> HardNegativeGroups:
    """Pick the hard-negative accounts, shape their attributes and hardware, and give every
    benign account its household."""
    cfg, rng, acc, net = s.cfg, s.rng, s.acc, s.net
    N, T = s.plan.n_benign, s.clock.span
    scale = cfg.hard_negative_scale
    groups = HardNegativeGroups()
    if scale <= 0:
        households(s, np.arange(N), _ORDINARY_HOUSEHOLDS, 1, False)
        return groups
    target = {k: v * N * scale for k, v in HARD_NEGATIVE_SHARE.items()}
    plan: dict[str, list[int]] = {
        "cgnat": [max(1, int(round(target["cgnat"])))],
        "campus_wifi": _group_sizes(rng, target["campus_wifi"], 50, 300),
        "family_device": [max(2, int(round(target["family_device"])))],
        "shared_kiosk": _group_sizes(rng, target["shared_kiosk"], 20, 60),
        "app_reinstall": [max(1, int(round(target["app_reinstall"])))],
        "signup_cohort": _group_sizes(rng, target["signup_cohort"], 30, 200),
        "fan_community": _group_sizes(rng, target["fan_community"], 30, 150),
    }
    v_total = target["viral_engager"]
    n_items = int(np.clip(round(v_total / 400), 2, 12))
    plan["viral_engager"] = [
        max(20, int(round(x))) for x in rng.dirichlet(np.full(n_items, 8.0)) * v_total
    ]
    # Never give more than 60% of the benign population a hard-negative role.
    total = sum(sum(v) for v in plan.values())
    if total > 0.6 * N:
        f = 0.6 * N / total
        plan = {k: [max(2, int(x * f)) for x in v] for k, v in plan.items()}
    # Creators stay out of hard-negative groups: they are the fan/viral/customer hubs.
    pool = rng.permutation(np.flatnonzero(~acc.creator[:N]))
    cursor = 0
    members_of: dict[str, list[np.ndarray]] = {}
    for kind in HARD_NEGATIVE_KINDS:
        kind_groups = []
        for size in plan[kind]:
            g = pool[cursor : cursor + size]
            cursor += g.size
            kind_groups.append(g)
        members_of[kind] = kind_groups
        for g in kind_groups:
            acc.hn[g] = HN_CODE[kind]
    hn_any = np.concatenate([g for v in members_of.values() for g in v])
    # All hard negatives except signup cohorts are established (old) accounts.
    acc.created[hn_any] = -rng.uniform(30, 2000, hn_any.size) * DAY

    # Households: family_device gets 2-5 sized households sharing a device; everyone else
    # benign gets ordinary 1-4 households.
    fam = np.concatenate(members_of["family_device"])
    households(s, fam, [0.35, 0.35, 0.2, 0.1], 2, True)
    rest = np.setdiff1d(np.arange(N), fam)
    households(s, rest, _ORDINARY_HOUSEHOLDS, 1, False)

    cg = np.concatenate(members_of["cgnat"])
    acc.mobile[cg] = rng.uniform(0.85, 1.0, cg.size)
    acc.activity[cg] = np.maximum(acc.activity[cg], cfg.events_per_account) * 1.5

    for gi, g in enumerate(members_of["campus_wifi"]):
        ips = net.subnet_ips(1, int(rng.integers(1, 4)))
        net.campus.append(ips)
        acc.campus_grp[g] = gi
        acc.daytime[g] = True
        acc.tz[g] = rng.normal(0, 0.3) + rng.normal(0, 0.1, g.size)  # one place, one zone

    for g in members_of["shared_kiosk"]:
        dev = int(net.new_devices(1)[0])
        ip = int(net.single_ips(1)[0])
        groups.kiosks.append((g, dev, ip))

    ri = np.concatenate(members_of["app_reinstall"])
    k = rng.integers(4, 15, ri.size)  # 4-14 change points -> 5-15 ids in all
    # Each reinstaller owns a block of k+1 consecutive device indices (ids are scrambled).
    block = net.new_devices(int((k + 1).sum()))
    acc.dev1[ri] = block[np.cumsum(k + 1) - (k + 1)]
    acc.dev2[ri] = -1
    acc.dev_mode[ri] = 3
    acc.reinstall_k[ri] = k
    acc.reinstall_gamma[ri] = rng.uniform(0.6, 1.6, ri.size)
    # Frequent users: enough sessions to actually pass through most of their device ids.
    acc.activity[ri] = rng.uniform(3, 6, ri.size) * cfg.events_per_account

    for g in members_of["signup_cohort"]:
        t0 = s.clock.human_times(rng, min(DAY, 0.2 * T), max(T - 5 * DAY, 0.6 * T), 0.0)[0]
        acc.created[g] = t0 + rng.uniform(0, HOUR, g.size)

    groups.viral = members_of["viral_engager"]
    groups.fans = members_of["fan_community"]
    return groups


def viral_and_fans(s: SimState, groups: HardNegativeGroups) -> None:
    """Viral posts with their crowds of real engagers, and fan communities around one creator."""
    rng, clock = s.rng, s.clock
    T = clock.span
    if groups.viral:
        viral = groups.viral
        creators = pick_creators(s, len(viral))
        creators = creators[np.arange(len(viral)) % creators.size]
        vt = clock.human_times(rng, DAY, T - 2 * HOUR, s.acc.tz[creators])
        vc = post_events(s, creators, vt, pickable=True, weight_mult=30.0)
        part_post = np.repeat(np.arange(len(viral)), [g.size for g in viral])
        part_acct = np.concatenate(viral)
        # Most of the crowd comes within minutes of the post, the tail over the hour.
        delay = 3600.0 * rng.random(part_acct.size) ** 1.7 + rng.uniform(5, 30, part_acct.size)
        reactions(s, vt, vc, part_post, part_acct, delay, 0.1, 0.15)
    if groups.fans:
        hubs = pick_creators(s, len(groups.fans))
        for gi, fans in enumerate(groups.fans):
            hub = hubs[gi % hubs.size]
            n_posts = int(rng.integers(15, 41))
            pt = np.sort(clock.human_times(rng, 0.0, T - HOUR, np.full(n_posts, s.acc.tz[hub])))
            pc = post_events(s, np.full(n_posts, hub), pt, pickable=True)
            propensity = rng.uniform(0.25, 0.7, fans.size)
            hit = rng.random((n_posts, fans.size)) < propensity[None, :]
            pp, ff = np.nonzero(hit)
            delay = 20 * MIN + rng.lognormal(np.log(5 * HOUR), 1.0, pp.size)
            reactions(s, pt, pc, pp, fans[ff], delay, 0.2, 0.1)


def kiosk_sessions(s: SimState, groups: HardNegativeGroups) -> None:
    """1-3 short daytime sessions per kiosk user on the kiosk's device and IP, on top of their
    normal activity."""
    rng, days = s.rng, s.cfg.days
    for members, dev, ip in groups.kiosks:
        n = rng.integers(1, 4, members.size)
        a = np.repeat(members, n)
        day = rng.integers(0, days, a.size)
        s_t = day * DAY + rng.uniform(9, 18, a.size) * HOUR - s.clock.offset0
        lens = rng.integers(2, 7, a.size)
        ev_sess, pos, first = segment_positions(lens)
        gaps = rng.lognormal(np.log(25.0), 1.0, ev_sess.size)
        gaps[first] = 0
        cs = np.cumsum(gaps)
        ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
        etype = draw_types(rng, np.full(ev_sess.size, MIX_KIOSK))
        etype[(pos == 0)] = LOGIN  # a shared machine always needs a login
        arrays = (
            ev_t,
            a[ev_sess],
            etype,
            np.full(ev_sess.size, dev),
            np.full(ev_sess.size, ip),
            np.full(ev_sess.size, -1, dtype=np.int64),
        )
        s.log.organic.append((arrays, np.full(ev_sess.size, 0.5)))
