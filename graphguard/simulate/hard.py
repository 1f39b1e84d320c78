"""Hard worlds (`simulate.difficulty: hard`): campaigns that only their co-activity gives away.

In a hard world every campaign account is, on its own, an ordinary user: it keeps the benign
attributes `benign.draw_accounts` gave it (account age, time zone, mobile share, personal
devices), gets a home IP of its own (no member shares a device or an IP with another), and its
events are organic sessions sized from the benign activity distribution, with the regular type
mix and community interests. What the campaign does together is a small part of that volume, at
human hours and human speed:

    ring kinds     device_farm, proxy_ring and tiny_ring all become rings that rotate everything
                   but their targets and timing: 6-14 waves at human hours, in each of which
                   20-50% of the ring likes one of its 3-12 target posts within minutes (20 s +
                   lognormal, median 3 min), sometimes commenting, sharing or following one of
                   1-4 target creators, each from the member's own device and IP of that day.
    engagement_pod members post 1 + Poisson(days/60) times at human hours; each other member
                   joins a post with probability 3.5 / (pod size) and likes within minutes, 25%
                   also comment. The posts are seen by no one else (organic cover, no shared
                   infrastructure).
    paid_boost     10-25 orders: a benign creator posts and a random 10-25% of the pool likes it
                   within about ten minutes; 30% also follow the customer.

A member's chance to join a wave, pod post or order is scaled by its benign activity draw
(relative to the mean, capped at 3x), so busy members coordinate more, as busy users engage
more. Campaign sizes and counts are those of the easy world (`config.CAMPAIGN_SIZE`). Every
member's organic volume is its benign activity draw; then, per member and event type, as many
of its organic likes, comments, shares and follows are dropped as it made coordinated ones
(where it has them), so the coordinated events replace organic engagement instead of adding to
it: event counts, type mix, hours, devices, IPs and age match the benign population closely.
"""

from __future__ import annotations

import numpy as np

from graphguard.simulate.benign import MIX_REGULAR, organic_sessions
from graphguard.simulate.clock import DAY, HOUR, MIN
from graphguard.simulate.config import BOOST, COMMENT, FOLLOW, LIKE, POD, SHARE
from graphguard.simulate.content import campaign_content, pick_creators
from graphguard.simulate.events import post_events, reactions
from graphguard.simulate.infrastructure import households
from graphguard.simulate.state import SimState


def setup_hard_campaigns(s: SimState) -> None:
    """Campaign accounts keep their benign draw; each gets a home IP of its own."""
    plan = s.plan
    for c in range(len(plan.kinds)):
        households(s, plan.accounts(c), [1.0], 1, False)
    a = np.arange(plan.n_benign, plan.n_total)
    s.acc.pop[a] = 0.002  # campaign accounts are not popular creators


def hard_campaign_activity(s: SimState) -> None:
    """The coordinated events of every campaign of a hard world, in plan order."""
    for c in range(len(s.plan.kinds)):
        code = s.plan.popcode[s.plan.start[c]]
        if code == POD:
            _pod(s, c)
        elif code == BOOST:
            _boost(s, c)
        else:
            _ring(s, c)


#: Engagement types whose coordinated events replace organic ones of the same type.
_REPLACED = np.array([LIKE, COMMENT, SHARE, FOLLOW], dtype=np.int8)


def hard_camouflage(s: SimState) -> None:
    """Organic sessions for campaign accounts (their benign activity draw, the regular mix and
    community interests), less as many organic likes, comments, shares and follows per member
    as it made coordinated ones."""
    plan = s.plan
    N, A = plan.n_benign, plan.n_total
    if A == N:
        return
    a = np.arange(N, A)
    acct = np.concatenate([ch[1] for ch in s.log.chunks]).astype(np.int64)
    etype = np.concatenate([ch[2] for ch in s.log.chunks]).astype(np.int64)
    coordinated = np.bincount(acct * 8 + etype, minlength=A * 8)  # per (account, type)
    organic_sessions(s, a, s.acc.activity[a], np.full(a.size, MIX_REGULAR), pref=0.5)
    arrays, pref = s.log.organic[-1]
    ev_acct, ev_type = arrays[1].astype(np.int64), arrays[2].astype(np.int64)
    key = ev_acct * 8 + ev_type
    # rank of each event among its (account, type) group, in a random order
    order = np.lexsort((s.rng.random(key.size), key))
    sorted_key = key[order]
    group_start = np.searchsorted(sorted_key, sorted_key, side="left")
    rank = np.empty(key.size, dtype=np.int64)
    rank[order] = np.arange(key.size) - group_start
    drop = np.isin(ev_type, _REPLACED) & (rank < coordinated[key])
    keep = ~drop
    s.log.organic[-1] = (tuple(col[keep] for col in arrays), pref[keep])


def _eagerness(s: SimState, a: np.ndarray) -> np.ndarray:
    """How much more than the mean member each account joins in: its activity draw / mean."""
    act = s.acc.activity[a]
    return np.minimum(act / s.cfg.events_per_account, 3.0)


def _minutes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Human reaction delays: 20 s + lognormal with a median of 3 minutes."""
    return 20.0 + rng.lognormal(np.log(3 * MIN), 0.7, n)


def _ring(s: SimState, c: int) -> None:
    rng, T, acc = s.rng, s.clock.span, s.acc
    a = s.plan.accounts(c)
    tgt_c, tgt_t = campaign_content(s, int(rng.integers(3, 13)), 0.6 * T)
    tgt_a = pick_creators(s, int(rng.integers(1, 5)))
    nw = int(rng.integers(6, 15))
    item = rng.integers(0, tgt_c.size, nw)
    lo = np.maximum(tgt_t[item], 0.0) + 10 * MIN
    w_t = s.clock.human_times(rng, lo, np.maximum(T - HOUR, lo + HOUR), 0.0)
    f = rng.uniform(0.2, 0.5, nw)[:, None] * _eagerness(s, a)[None, :]
    part = (rng.random((nw, a.size)) < f) & (acc.created[a][None, :] < w_t[:, None])
    wi, mi = np.nonzero(part)
    follow_t = tgt_a[rng.integers(0, tgt_a.size, nw)]
    reactions(
        s,
        w_t,
        tgt_c[item],
        wi,
        a[mi],
        _minutes(rng, wi.size),
        0.1,
        0.05,
        follow_target=follow_t,
        p_follow=0.1,
    )


def _pod(s: SimState, c: int) -> None:
    rng, T, acc = s.rng, s.clock.span, s.acc
    a = s.plan.accounts(c)
    n_posts = rng.poisson(s.cfg.days / 60.0, a.size) + 1
    author = np.repeat(a, n_posts)
    lo = np.maximum(acc.created[author], 0.0) + HOUR
    pt = s.clock.human_times(rng, lo, np.maximum(T - HOUR, lo + DAY), acc.tz[author])
    pc = post_events(s, author, pt, pickable=False)
    p_member = 3.5 / a.size * _eagerness(s, a)
    hit = rng.random((pt.size, a.size)) < p_member[None, :]
    hit &= author[:, None] != a[None, :]
    hit &= acc.created[a][None, :] < pt[:, None]
    pp, mm = np.nonzero(hit)
    reactions(s, pt, pc, pp, a[mm], _minutes(rng, pp.size), 0.25, 0.0)


def _boost(s: SimState, c: int) -> None:
    rng, T, acc = s.rng, s.clock.span, s.acc
    a = s.plan.accounts(c)
    n_orders = int(rng.integers(10, 26))
    customers = pick_creators(s, max(2, n_orders // 3))
    cust = customers[rng.integers(0, customers.size, n_orders)]
    ot = s.clock.human_times(rng, HOUR, T - HOUR, acc.tz[cust])
    oc = post_events(s, cust, ot, pickable=True)
    f = rng.uniform(0.1, 0.25, n_orders)[:, None] * _eagerness(s, a)[None, :]
    hit = (rng.random((n_orders, a.size)) < f) & (acc.created[a][None, :] < ot[:, None])
    oo, mm = np.nonzero(hit)
    delay = 15.0 + 600.0 * rng.random(oo.size) ** 1.2
    reactions(s, ot, oc, oo, a[mm], delay, 0.15, 0.0, follow_target=cust, p_follow=0.3)
