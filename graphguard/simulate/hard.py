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
more; but every member joins at least one of its campaign's waves, pod posts or orders made
after it signed up (`_at_least_once`). Without that floor a fifth to a quarter of the members
(the quiet ones) drew no coordinated event at all and were labelled abusive for a campaign
the log holds nothing of (`benchmarks/hard_world_signal.py`: ceiling AUPRC 0.81). Campaign
sizes and counts are those of the easy world (`config.CAMPAIGN_SIZE`). Every
member's organic volume is its benign activity draw; then, per member and event type, as many
of its organic likes, comments, shares and follows are dropped as it made coordinated ones
(where it has them), so the coordinated events replace organic engagement instead of adding to
it: event counts, type mix, hours, devices, IPs and age match the benign population closely;
and one of the member's organic sessions moves to just before each of its coordinated
sessions (`_move_sessions`), so the campaign does not add active days or lone events.
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
    arrays = tuple(col[keep] for col in arrays)
    _move_sessions(s, arrays)
    s.log.organic[-1] = (arrays, pref[keep])


def _move_sessions(s: SimState, arrays: tuple) -> None:
    """Move one organic session of the member to end just before each of its coordinated
    sessions (on the same device and IP, a lognormal gap of median 25 s as inside organic
    sessions), so that the member opens the app for the campaign on one of its usual active
    days' worth of sessions instead of on extra days: without this, the members' median gap
    between events and events per active day gave them away on their own. Sessions are cut
    where the account's organic events lie more than 30 minutes apart; the member's organic
    sessions are taken in a random order, as many as it has coordinated sessions."""
    rng = s.rng
    t = np.concatenate([ch[0] for ch in s.log.chunks])
    acct = np.concatenate([ch[1] for ch in s.log.chunks]).astype(np.int64)
    dev = np.concatenate([ch[3] for ch in s.log.chunks])
    ip = np.concatenate([ch[4] for ch in s.log.chunks])
    order = np.lexsort((t, acct))
    t, acct, dev, ip = t[order], acct[order], dev[order], ip[order]
    lead = np.ones(t.size, dtype=bool)
    lead[1:] = (acct[1:] != acct[:-1]) | (t[1:] - t[:-1] > 5 * MIN)
    c_acct, c_t, c_dev, c_ip = acct[lead], t[lead], dev[lead], ip[lead]
    big = np.int64(1) << 32
    # organic sessions of the campaign accounts, in a random order per account
    o_t, o_acct = arrays[0], arrays[1].astype(np.int64)
    o_order = np.lexsort((o_t, o_acct))
    ot, oa = o_t[o_order], o_acct[o_order]
    new_sess = np.ones(ot.size, dtype=bool)
    new_sess[1:] = (oa[1:] != oa[:-1]) | (ot[1:] - ot[:-1] > 30 * MIN)
    sess = np.cumsum(new_sess) - 1  # session of each sorted organic event
    s_acct = oa[new_sess]
    s_first = ot[new_sess]
    s_last = np.maximum.reduceat(ot, np.flatnonzero(new_sess)) if ot.size else ot
    shuffled = np.lexsort((rng.random(s_acct.size), s_acct))
    s_rank = np.empty(s_acct.size, dtype=np.int64)
    s_rank[shuffled] = np.arange(s_acct.size) - np.searchsorted(
        s_acct[shuffled], s_acct[shuffled], side="left"
    )
    c_rank = np.arange(c_acct.size) - np.searchsorted(c_acct, c_acct, side="left")
    c_key = c_acct * big + c_rank
    s_key = s_acct * big + s_rank
    pos = np.minimum(np.searchsorted(c_key, s_key), max(c_key.size - 1, 0))
    matched = c_key.size > 0
    matched = (c_key[pos] == s_key) if matched else np.zeros(s_key.size, dtype=bool)
    gap = rng.lognormal(np.log(25.0), 1.0, s_key.size)
    end = c_t[pos] - gap
    shift = np.where(matched, end - s_last, 0.0)
    created = np.maximum(s.acc.created[s_acct], 0.0)
    shift = np.where(matched, np.maximum(shift, created - s_first), 0.0)
    ev = o_order[matched[sess]]
    ev_sess = sess[matched[sess]]
    arrays[0][ev] = o_t[ev] + shift[ev_sess]
    arrays[3][ev] = c_dev[pos[ev_sess]]
    arrays[4][ev] = c_ip[pos[ev_sess]]


def _eagerness(s: SimState, a: np.ndarray) -> np.ndarray:
    """How much more than the mean member each account joins in: its activity draw / mean."""
    act = s.acc.activity[a]
    return np.minimum(act / s.cfg.events_per_account, 3.0)


def _at_least_once(rng: np.random.Generator, hit: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """`hit` (actions x members) with one random eligible action added for every member that
    has none and is eligible for some."""
    lonely = ~hit.any(axis=0) & eligible.any(axis=0)
    if lonely.any():
        pick = np.argmax(
            np.where(eligible[:, lonely], rng.random((hit.shape[0], int(lonely.sum()))), -1.0),
            axis=0,
        )
        hit = hit.copy()
        hit[pick, np.flatnonzero(lonely)] = True
    return hit


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
    eligible = acc.created[a][None, :] < w_t[:, None]
    part = _at_least_once(rng, (rng.random((nw, a.size)) < f) & eligible, eligible)
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
    eligible = (author[:, None] != a[None, :]) & (acc.created[a][None, :] < pt[:, None])
    hit = _at_least_once(
        rng, (rng.random((pt.size, a.size)) < p_member[None, :]) & eligible, eligible
    )
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
    eligible = acc.created[a][None, :] < ot[:, None]
    hit = _at_least_once(rng, (rng.random((n_orders, a.size)) < f) & eligible, eligible)
    oo, mm = np.nonzero(hit)
    delay = 15.0 + 600.0 * rng.random(oo.size) ** 1.2
    reactions(s, ot, oc, oo, a[mm], delay, 0.15, 0.0, follow_target=cust, p_follow=0.3)
