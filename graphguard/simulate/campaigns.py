"""The planted campaigns: the coordinated abuse a detector is meant to find.

Truth `campaign_id` is like "device_farm-03", numbered from 01 per kind. Counts at
`n_accounts=20_000, campaign_scale=1` (`config.BASE_CAMPAIGNS`): device_farm 3, proxy_ring 3,
engagement_pod 4, paid_boost 3, tiny_ring 6, scaled by `n_accounts / 20000 * campaign_scale`
(at least 1 each when `campaign_scale > 0`). Every campaign account also gets camouflage:
organic sessions at human hours on popular content, sized so that 30-50% (per campaign) of its
events are organic. The camouflage uses the campaign's own infrastructure (devices/IPs).

    device_farm    40-200 accounts; 3-10 farm devices and 2-6 datacenter IPs in one or two /24s
                   (no device or IP is personal); signups in one 3-hour burst inside the first half
                   of the window; 15-40 farm "jobs": each account runs sessions of 3-8 actions,
                   2-15 s apart (Poisson(4-10) sessions per account), starting within 45 min of a
                   job start, at any hour; actions are like/share on 20-60 target posts (skewed to
                   a few) and follows of 5-20 creators. Farm jobs run 3 h+ after the burst.
    proxy_ring     40-150 accounts; a never-reused device id for every session (also camouflage and
                   signup), IPs drawn per session from real users' home IPs (60%) and the CGNAT pool
                   (40%); half the accounts are old, the others created at scattered times. 20-45
                   waves: each wave, 40-80% of the ring likes one target post within 4 minutes
                   (start U(0, 240 s)), some also share it or follow one of 3-8 target accounts.
    engagement_pod 12-40 aged accounts on personal devices and home/mobile IPs. Each member makes
                   1 + Poisson(days/15) pod posts at human hours; each other member (prob 0.5-0.9
                   per member) likes it after 20 s + lognormal(median 4 min, sigma 0.6) (95%
                   within ~12 min), 25% also comment, 5% share, seconds to a minute later. Pod
                   posts are never picked by organic engagement. Their camouflage is ordinary
                   community-driven activity (they may also post organically).
    paid_boost     80-300 accounts created 30-365 days before the window; 30% on a few shared
                   emulator devices, the rest personal; 50% on 5-20 datacenter IPs in 2-3 /24s,
                   the rest on personal home/mobile IPs. 15-40 orders: a benign creator (customer,
                   not in the pool) posts, and a random 30-60% of the pool likes within 15 s +
                   600 * U**1.2 s (<= ~10 min); 30% also follow the customer, 15% comment.
    tiny_ring      5-8 accounts sharing 1-2 devices, 1-2 IPs, or both; 8-25 waves in which 60-100%
                   of the ring likes one of 3-10 target posts within 5 minutes (15% also follow one
                   of 1-3 target accounts).
"""

from __future__ import annotations

import numpy as np

from graphguard.simulate.benign import MIX_CAMO, MIX_REGULAR, organic_sessions
from graphguard.simulate.clock import DAY, HOUR, MIN
from graphguard.simulate.config import (
    BASE_CAMPAIGNS,
    CAMPAIGN_KINDS,
    CAMPAIGN_SIZE,
    FOLLOW,
    LIKE,
    POD,
    SHARE,
    SimulationConfig,
)
from graphguard.simulate.content import campaign_content, pick_creators
from graphguard.simulate.events import emit_sessions, post_events, reactions, segment_positions
from graphguard.simulate.infrastructure import add_pool, households
from graphguard.simulate.state import CampaignPlan, SimState


def plan_campaigns(cfg: SimulationConfig, rng: np.random.Generator) -> CampaignPlan:
    """How many campaigns of each kind, how large, and which account indices they get."""
    N = cfg.n_accounts
    scale_c = N / 20_000 * cfg.campaign_scale
    camps = []  # (kind, size)
    for kind in CAMPAIGN_KINDS:
        if cfg.campaign_scale <= 0:
            continue
        k = max(1, int(round(BASE_CAMPAIGNS[kind] * scale_c)))
        lo, hi = CAMPAIGN_SIZE[kind]
        for size in rng.integers(lo, hi + 1, k):
            camps.append((kind, int(size)))
    kinds = [k for k, _ in camps]
    sizes = np.array([s for _, s in camps], dtype=np.int64)
    start = N + np.cumsum(sizes) - sizes
    numbering: dict[str, int] = {}
    ids = []
    for kind in kinds:
        numbering[kind] = numbering.get(kind, 0) + 1
        ids.append(f"{kind}-{numbering[kind]:02d}")
    A = N + int(sizes.sum())
    of_account = np.full(A, -1, dtype=np.int64)
    popcode = np.zeros(A, dtype=np.int8)
    for c, kind in enumerate(kinds):
        sl = slice(start[c], start[c] + sizes[c])
        of_account[sl] = c
        popcode[sl] = CAMPAIGN_KINDS.index(kind) + 1
    return CampaignPlan(
        kinds=kinds,
        ids=ids,
        start=start,
        size=sizes,
        n_benign=N,
        n_total=A,
        of_account=of_account,
        popcode=popcode,
        burst=np.zeros(len(kinds)),
        camo_share=np.zeros(len(kinds)),
    )


def setup_campaigns(s: SimState) -> None:
    """Creation times, devices and IPs of every campaign's accounts, per kind."""
    rng, acc, net, plan = s.rng, s.acc, s.net, s.plan
    T = s.clock.span
    plan.camo_share = rng.uniform(0.3, 0.5, len(plan.kinds))
    for c, kind in enumerate(plan.kinds):
        a = plan.accounts(c)
        m = a.size
        old = -rng.uniform(200, 2000, m) * DAY
        if kind == "device_farm":
            plan.burst[c] = rng.uniform(0.03, 0.5) * T
            acc.created[a] = plan.burst[c] + rng.uniform(0, 3 * HOUR, m)
            n_pref = int(rng.integers(1, 3))
            add_pool(
                s,
                a,
                net.new_devices(int(rng.integers(3, 11))),
                net.subnet_ips(n_pref, int(rng.integers(max(2, n_pref), 7))),
            )
            acc.tz[a] = 0.0
        elif kind == "proxy_ring":
            new = rng.random(m) < 0.5
            acc.created[a] = np.where(new, rng.uniform(0, 0.6 * T, m), old)
            acc.dev_mode[a] = 2
            acc.ip_mode[a] = 2
        elif kind == "engagement_pod":
            acc.created[a] = old
            households(s, a, [1.0], 1, False)
        elif kind == "paid_boost":
            acc.created[a] = -rng.uniform(30, 365, m) * DAY
            households(s, a, [1.0], 1, False)
            acc.mobile[a] = rng.uniform(0, 0.3, m)
            emu = a[rng.random(m) < 0.3]
            if emu.size:
                add_pool(s, emu, net.new_devices(max(2, emu.size // 8)), None)
            dc = a[rng.random(m) < 0.5]
            if dc.size:
                n_pref = int(rng.integers(2, 4))
                add_pool(s, dc, None, net.subnet_ips(n_pref, int(rng.integers(5, 21))))
        elif kind == "tiny_ring":
            new = rng.random(m) < 0.5
            acc.created[a] = np.where(new, rng.uniform(0, 0.7 * T, m), old)
            households(s, a, [1.0], 1, False)
            variant = int(rng.integers(0, 3))  # 0: device, 1: IP, 2: both shared
            devs = net.new_devices(int(rng.integers(1, 3))) if variant != 1 else None
            ips = net.single_ips(int(rng.integers(1, 3))) if variant != 0 else None
            add_pool(s, a, devs, ips)
        # Campaign accounts are not popular creators.
        acc.pop[a] = 0.002


def campaign_activity(s: SimState) -> None:
    """The coordinated events of every campaign, in plan order."""
    for c, kind in enumerate(s.plan.kinds):
        if kind == "device_farm":
            _device_farm(s, c)
        elif kind == "proxy_ring":
            _waves(s, c, (10, 31), (3, 9), (20, 46), (0.4, 0.8), 240.0, 0.3, 0.2)
        elif kind == "engagement_pod":
            _engagement_pod(s, c)
        elif kind == "paid_boost":
            _paid_boost(s, c)
        elif kind == "tiny_ring":
            _waves(s, c, (3, 11), (1, 4), (8, 26), (0.6, 1.0), 300.0, 0.0, 0.15)


def camouflage(s: SimState) -> None:
    """Organic activity for campaign accounts: 30-50% (per campaign) of their events."""
    plan = s.plan
    N, A = plan.n_benign, plan.n_total
    if A == N:
        return
    acct = np.concatenate([ch[1] for ch in s.log.chunks]).astype(np.int64)
    counts = np.bincount(acct, minlength=A)[N:]
    a = np.arange(N, A)
    r = plan.camo_share[plan.of_account[a]]
    mean = np.maximum(3.0, counts * r / (1 - r))
    # Pods pass as ordinary users (community interests); others just hit popular content.
    pod = plan.popcode[a] == POD
    mix = np.where(pod, MIX_REGULAR, MIX_CAMO)
    organic_sessions(s, a[pod], mean[pod], mix[pod], pref=0.5)
    organic_sessions(s, a[~pod], mean[~pod], mix[~pod], pref=0.0)


def _bot_sessions(
    s: SimState,
    s_acct: np.ndarray,
    s_t: np.ndarray,
    lens: np.ndarray,
    gap_lo: float,
    gap_hi: float,
    kinds: list[int],
    p_kinds: list[float],
    tgt_c: np.ndarray,
    tgt_a: np.ndarray,
) -> None:
    """Sessions of fast scripted actions on a target set (skewed to its first items)."""
    rng = s.rng
    ev_sess, _, first = segment_positions(lens)
    gaps = rng.uniform(gap_lo, gap_hi, ev_sess.size)
    gaps[first] = 0
    cs = np.cumsum(gaps)
    ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
    etype = np.asarray(kinds, np.int8)[rng.choice(len(kinds), ev_sess.size, p=p_kinds)]
    tc = tgt_c[(tgt_c.size * rng.random(ev_sess.size) ** 2).astype(np.int64)]
    ta = tgt_a[(tgt_a.size * rng.random(ev_sess.size)).astype(np.int64)]
    fol = etype == FOLLOW
    tc = np.where(fol, -1, tc)
    ta = np.where(fol, ta, -1)
    emit_sessions(s, s_acct, s_t, ev_sess, ev_t, etype, tc, ta)


def _device_farm(s: SimState, c: int) -> None:
    """Scripted sessions of the farm's accounts around its jobs."""
    rng, T = s.rng, s.clock.span
    a = s.plan.accounts(c)
    ready = s.plan.burst[c] + 3 * HOUR
    jobs = np.sort(rng.uniform(ready, T - HOUR, int(rng.integers(15, 41))))
    tgt_c, _ = campaign_content(s, int(rng.integers(20, 61)), ready)
    tgt_a = pick_creators(s, int(rng.integers(5, 21)))
    n_sess = np.maximum(rng.poisson(rng.uniform(4, 10), a.size), 1)
    s_acct = np.repeat(a, n_sess)
    s_t = jobs[rng.integers(0, jobs.size, s_acct.size)] + rng.uniform(0, 45 * MIN, s_acct.size)
    lens = rng.integers(3, 9, s_acct.size)
    _bot_sessions(
        s, s_acct, s_t, lens, 2, 15, [LIKE, FOLLOW, SHARE], [0.55, 0.2, 0.25], tgt_c, tgt_a
    )


def _waves(
    s: SimState,
    c: int,
    n_targets: tuple[int, int],
    n_acc_targets: tuple[int, int],
    n_waves: tuple[int, int],
    frac: tuple[float, float],
    spread: float,
    p_share: float,
    p_follow: float,
) -> None:
    """Controller waves: many ring accounts like one target post within `spread` seconds."""
    rng, T = s.rng, s.clock.span
    a = s.plan.accounts(c)
    tgt_c, tgt_t = campaign_content(s, int(rng.integers(*n_targets)), 0.6 * T)
    tgt_a = pick_creators(s, int(rng.integers(*n_acc_targets)))
    nw = int(rng.integers(*n_waves))
    item = rng.integers(0, tgt_c.size, nw)
    base = np.maximum(tgt_t[item], 0.0) + 10 * MIN
    w_t = base + rng.random(nw) * np.maximum(T - HOUR - base, 0.0)
    f = rng.uniform(*frac, nw)
    part = (rng.random((nw, a.size)) < f[:, None]) & (s.acc.created[a][None, :] < w_t[:, None])
    wi, mi = np.nonzero(part)
    post_c = tgt_c[item]
    follow_t = tgt_a[rng.integers(0, tgt_a.size, nw)]
    delay = rng.uniform(0, spread, wi.size)
    _wave_reactions(s, w_t, post_c, wi, a[mi], delay, p_share, follow_t, p_follow)


def _wave_reactions(
    s: SimState,
    w_t: np.ndarray,
    post_c: np.ndarray,
    wi: np.ndarray,
    accts: np.ndarray,
    delay: np.ndarray,
    p_share: float,
    follow_t: np.ndarray,
    p_follow: float,
) -> None:
    """A like per (wave, participant), maybe a share and a follow: `events.reactions` in shape,
    but at bot speed (1-20 s between actions)."""
    rng = s.rng
    n = accts.size
    if n == 0:
        return
    s_t = w_t[wi] + delay
    share = rng.random(n) < p_share
    follow = rng.random(n) < p_follow
    lens = 1 + share + follow
    ev_sess, pos, first = segment_positions(lens)
    gaps = rng.uniform(1, 20, ev_sess.size)
    gaps[first] = 0
    cs = np.cumsum(gaps)
    ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
    etype = np.full(ev_sess.size, LIKE, dtype=np.int8)
    # position 1 is a share when present, otherwise a follow; position 2 is the follow
    sess = ev_sess
    is_share = (pos == 1) & share[sess]
    is_follow = ((pos == 1) & ~share[sess] & follow[sess]) | (pos == 2)
    etype[is_share] = SHARE
    etype[is_follow] = FOLLOW
    tc = np.where(is_follow, -1, post_c[wi][sess])
    ta = np.where(is_follow, follow_t[wi][sess], -1)
    emit_sessions(s, accts, s_t, ev_sess, ev_t, etype, tc, ta)


def _engagement_pod(s: SimState, c: int) -> None:
    """Pod posts, each liked (sometimes commented, shared) within minutes by the other members."""
    rng, T, acc = s.rng, s.clock.span, s.acc
    a = s.plan.accounts(c)
    n_posts = rng.poisson(s.cfg.days / 15.0, a.size) + 1
    author = np.repeat(a, n_posts)
    pt = s.clock.human_times(
        rng, np.maximum(acc.created[author], 0.0) + HOUR, T - HOUR, acc.tz[author]
    )
    # Pod posts are invisible to organic engagement: almost nobody outside the pod sees them.
    pc = post_events(s, author, pt, pickable=False)
    p_member = rng.uniform(0.5, 0.9, a.size)
    hit = rng.random((pt.size, a.size)) < p_member[None, :]
    hit &= author[:, None] != a[None, :]
    pp, mm = np.nonzero(hit)
    delay = 20.0 + rng.lognormal(np.log(4 * MIN), 0.6, pp.size)
    reactions(s, pt, pc, pp, a[mm], delay, 0.25, 0.05)


def _paid_boost(s: SimState, c: int) -> None:
    """Orders: a customer's post, liked by a random share of the pool within minutes."""
    rng, T = s.rng, s.clock.span
    a = s.plan.accounts(c)
    n_orders = int(rng.integers(15, 41))
    customers = pick_creators(s, max(2, n_orders // 3))
    cust = customers[rng.integers(0, customers.size, n_orders)]
    ot = s.clock.human_times(rng, HOUR, T - HOUR, s.acc.tz[cust])
    oc = post_events(s, cust, ot, pickable=True)
    f = rng.uniform(0.3, 0.6, n_orders)
    hit = rng.random((n_orders, a.size)) < f[:, None]
    oo, mm = np.nonzero(hit)
    delay = 15.0 + 600.0 * rng.random(oo.size) ** 1.2
    reactions(s, ot, oc, oo, a[mm], delay, 0.15, 0.0, follow_target=cust, p_follow=0.3)
