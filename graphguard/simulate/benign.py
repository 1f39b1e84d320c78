"""Ordinary users: who they are, their devices and IPs, and their organic activity.

Every account starts with benign attributes here (hard-negative and campaign modules override
some later), and the organic sessions made here are everyone's everyday activity, campaign
camouflage included.

    * Accounts live in households (1-4 accounts share a residential home IP, ~10% IPv6); most have
      one device, ~30% a second one. ~45% of users are partly mobile, and mobile sessions come from
      a carrier-grade NAT pool (a few hundred IPs for 20k users, grouped in the carriers' /24s) that
      thousands of accounts share. ~1.5% of sessions come from a pool of public hotspot IPs.
    * Activity is heavy-tailed (lognormal events per account), in sessions of a few events seconds
      to minutes apart (lognormal gaps, median 25 s), at diurnal hours (per-account time-zone
      shift), on a random subset of days. Sessions start with a `login` half of the time.
    * ~8% of accounts are created inside the window (they get a `signup` event and act only after
      it); all others are older and have no signup.
    * Interest communities (Zipf sizes) give organic structure: ~half of a user's engagement goes to
      posts by creators of their own community. ~6% of accounts are creators with Zipf popularity;
      posts carry `popularity * lognormal` weight. An engagement at time t picks a post whose age
      is lognormal (median 5 h; ~2% older than 3 days), weighted by post weight, among posts made
      before t. A 3-day pre-window backlog of posts exists (ids appear as targets, but their `post`
      events lie before the window, so their author is unknown to the log).
    * Follows go to accounts in proportion to creator popularity (again half within community).
    * 1% of sessions carry no device id and 0.2% of events no IP (web clients, logging gaps).
"""

from __future__ import annotations

import numpy as np

from graphguard.simulate.clock import DAY, HOUR, Clock
from graphguard.simulate.config import (
    COMMENT,
    FOLLOW,
    LIKE,
    LOGIN,
    POST,
    SHARE,
    SIGNUP,
    VIEW,
    SimulationConfig,
)
from graphguard.simulate.content import add_content
from graphguard.simulate.events import segment_positions, simple_events
from graphguard.simulate.infrastructure import assign_infra
from graphguard.simulate.state import Accounts, CampaignPlan, Network, SimState

#: Event-type mixes for organic sessions over (view, like, follow, comment, share, post).
MIX_TYPES = np.array([VIEW, LIKE, FOLLOW, COMMENT, SHARE, POST], dtype=np.int8)
MIX_REGULAR, MIX_CREATOR, MIX_CAMO, MIX_KIOSK = range(4)
_MIXES = np.array(
    [
        [0.56, 0.22, 0.05, 0.07, 0.05, 0.006],  # regular user
        [0.45, 0.20, 0.04, 0.08, 0.05, 0.08],  # creator: posts often
        [0.50, 0.30, 0.07, 0.05, 0.08, 0.0],  # campaign camouflage: engagement, no posts
        [0.60, 0.25, 0.05, 0.05, 0.05, 0.0],  # kiosk session
    ]
)
_MIX_CUM = np.cumsum(_MIXES / _MIXES.sum(axis=1, keepdims=True), axis=1)

_CARRIER_SHARE = np.array([0.4, 0.3, 0.2, 0.1])


def draw_accounts(
    cfg: SimulationConfig,
    rng: np.random.Generator,
    clock: Clock,
    plan: CampaignPlan,
    net: Network,
) -> Accounts:
    """Benign attributes for every account (campaign overrides come later), the carrier NAT
    pools and hotspots, and everyone's personal devices."""
    A, N, T = plan.n_total, plan.n_benign, clock.span
    # Creation: 8% of benign accounts sign up inside the window, the rest are older.
    new = rng.random(A) < 0.08
    created = np.where(new, rng.uniform(0, 0.95 * T, A), -rng.uniform(30, 2000, A) * DAY)
    # Heavy-tailed activity with the requested mean.
    sigma = 1.1
    act = rng.lognormal(np.log(cfg.events_per_account) - sigma**2 / 2, sigma, A)
    activity = np.minimum(act, 100 * cfg.events_per_account)
    # Interest communities with Zipf-like sizes.
    n_comm = int(np.clip(round(np.sqrt(N) / 6), 6, 80))
    p = 1.0 / (np.arange(n_comm) + 3.0)
    community = rng.choice(n_comm, size=A, p=p / p.sum())
    # Creators (benign only) with Zipf popularity in random rank order.
    creator = np.zeros(A, dtype=bool)
    creator[:N] = rng.random(N) < 0.06
    cidx = np.flatnonzero(creator)
    pop = np.full(A, 0.002)
    pop[cidx] = 1.0 / (rng.permutation(cidx.size) + 1.0) ** 0.9
    activity[cidx] *= 2.0
    activity[:N] *= cfg.events_per_account / activity[:N].mean()
    tz = np.clip(rng.normal(0, 0.75, A), -3, 3)
    # Mobile share: ~45% of users go through carrier NAT part of the time.
    mobile = np.where(rng.random(A) < 0.45, rng.uniform(0.15, 0.7, A), rng.uniform(0, 0.08, A))
    carrier = rng.choice(_CARRIER_SHARE.size, size=A, p=_CARRIER_SHARE)
    # A few hundred carrier NAT addresses for 20k users, in each carrier's own /24s.
    n_cg = int(np.clip(N / 100, 60, 1000))
    cg_sizes = np.maximum(np.round(n_cg * _CARRIER_SHARE).astype(int), 8)
    pools = [net.subnet_ips(max(1, int(np.ceil(s / 64))), int(s)) for s in cg_sizes]
    net.cg_start = np.array([p[0] for p in pools])
    net.cg_n = np.array([p.size for p in pools])
    net.cg_all = np.concatenate(pools)
    net.hotspots = net.single_ips(max(20, N // 100), v6_share=0.0)
    dev1 = net.new_devices(A)
    has2 = rng.random(A) < 0.3
    dev2 = np.full(A, -1, dtype=np.int64)
    dev2[has2] = net.new_devices(int(has2.sum()))
    return Accounts(
        n_comm=n_comm,
        created=created,
        activity=activity,
        community=community,
        creator=creator,
        pop=pop,
        tz=tz,
        daytime=np.zeros(A, dtype=bool),
        mobile=mobile,
        carrier=carrier,
        hn=np.full(A, -1, dtype=np.int8),
        dev_mode=np.zeros(A, dtype=np.int8),
        ip_mode=np.zeros(A, dtype=np.int8),
        dev1=dev1,
        dev2=dev2,
        dev_start=np.zeros(A, dtype=np.int64),
        dev_n=np.zeros(A, dtype=np.int64),
        ip_start=np.zeros(A, dtype=np.int64),
        ip_n=np.zeros(A, dtype=np.int64),
        reinstall_k=np.zeros(A, dtype=np.int64),
        reinstall_gamma=np.ones(A),
        campus_grp=np.full(A, -1, dtype=np.int64),
        home_ip=np.full(A, -1, dtype=np.int64),
    )


def draw_types(rng: np.random.Generator, mix_ev: np.ndarray) -> np.ndarray:
    """An event type per event from its mix (`MIX_REGULAR`, ...)."""
    u = rng.random(mix_ev.size)
    out = np.empty(mix_ev.size, dtype=np.int8)
    for m in range(_MIX_CUM.shape[0]):
        idx = np.flatnonzero(mix_ev == m)
        if idx.size:
            j = np.minimum(np.searchsorted(_MIX_CUM[m], u[idx], side="right"), 5)
            out[idx] = MIX_TYPES[j]
    return out


def organic_sessions(
    s: SimState,
    accts: np.ndarray,
    mean_events: np.ndarray,
    mix: np.ndarray,
    pref: float,
    session_len: float = 4.0,
) -> None:
    """Organic sessions for `accts`: diurnal, on a random subset of days, after creation.

    `mix` is each account's event-type mix; `pref` the chance that an engagement goes to the
    account's own community. Posts are registered as content immediately; other targets are
    resolved later (`content.resolve_targets`) once all content exists.
    """
    rng, acc, clock, days = s.rng, s.acc, s.clock, s.cfg.days
    T = clock.span
    n_acc = accts.size
    if n_acc == 0:
        return
    n_sess = np.maximum(rng.poisson(mean_events / session_len), 1)
    n_active = np.clip(np.rint(n_sess * rng.uniform(0.35, 0.9, n_acc)), 1, days).astype(np.int64)
    owner = np.repeat(np.arange(n_acc), n_sess)  # sorted by construction
    k = (rng.random(owner.size) * n_active[owner]).astype(np.int64)
    day = np.empty(owner.size, dtype=np.int64)
    # k-th day of a per-account random day order (chunks keep the key matrix small).
    chunk = max(1, 4_000_000 // days)
    for lo in range(0, n_acc, chunk):
        hi = min(n_acc, lo + chunk)
        order = np.argsort(rng.random((hi - lo, days), dtype=np.float32), axis=1)
        s0, s1 = np.searchsorted(owner, [lo, hi])
        day[s0:s1] = order[owner[s0:s1] - lo, k[s0:s1]]
    a = accts[owner]
    created = acc.created[a]
    new = created >= 0
    cday = np.floor(np.maximum(created, 0) / DAY)
    day = np.where(new, cday + np.floor(day * (days - cday) / days), day)
    hours = clock.sample_hours(rng, owner.size, acc.daytime[a])
    s_t = day * DAY + (hours - acc.tz[a]) * HOUR - clock.offset0
    early = s_t < created
    s_t[early] = created[early] + rng.uniform(20, 900, int(early.sum()))
    # Time-zone shifts can push a session over a window edge: move it a day inwards.
    s_t = np.where(s_t < 0, s_t + DAY, np.where(s_t >= T, s_t - DAY, s_t))
    s_t = np.maximum(s_t, created)

    lens = rng.geometric(1.0 / session_len, owner.size)
    ev_sess, pos, first = segment_positions(lens)
    gaps = rng.lognormal(np.log(25.0), 1.0, ev_sess.size)
    gaps[first] = 0.0
    cs = np.cumsum(gaps)
    ev_t = s_t[ev_sess] + (cs - cs[first][ev_sess])
    etype = draw_types(rng, mix[owner][ev_sess])
    login = (pos == 0) & (rng.random(ev_sess.size) < 0.5)
    etype[login] = LOGIN
    ev_acct = a[ev_sess]
    tc = np.full(ev_sess.size, -1, dtype=np.int64)
    posts = np.flatnonzero((etype == POST) & (ev_t < T))
    tc[posts] = add_content(s, ev_t[posts], ev_acct[posts], pickable=True)
    dev, ip = assign_infra(s, a, s_t)
    chunk_arrays = (ev_t, ev_acct, etype, dev[ev_sess], ip[ev_sess], tc)
    s.log.organic.append((chunk_arrays, np.full(ev_sess.size, pref)))


def benign_activity(s: SimState) -> None:
    """Organic sessions of every benign account; creators post more."""
    benign = np.arange(s.plan.n_benign)
    mix = np.where(s.acc.creator[benign], MIX_CREATOR, MIX_REGULAR)
    organic_sessions(s, benign, s.acc.activity[benign], mix, pref=0.5)


def signups(s: SimState) -> None:
    """A `signup` event for every account created inside the window."""
    created = s.acc.created
    a = np.flatnonzero((created >= 0) & (created < s.clock.span))
    simple_events(s, a, created[a], np.full(a.size, SIGNUP, np.int8))
