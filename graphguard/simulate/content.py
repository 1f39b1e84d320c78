"""Posts and what engagement points at.

Posts are registered as they are made (`add_content`); organic engagement picks its targets
only at the end (`resolve_targets`), once every post exists, so that an event at time t can hit
a post of a lognormal age (median 5 h) made before t, weighted by popularity, half the time
within the account's own interest community. Campaigns pick their target sets here too.
"""

from __future__ import annotations

import numpy as np

from graphguard.simulate.clock import DAY, HOUR
from graphguard.simulate.config import CONTENT_EVENTS, FOLLOW, LOGIN
from graphguard.simulate.state import SimState


def add_content(
    s: SimState, t: np.ndarray, author: np.ndarray, pickable: bool, weight_mult: float = 1.0
) -> np.ndarray:
    """Register posts; weight = author popularity * lognormal quality (Zipf-like overall)."""
    w = s.acc.pop[author] * s.rng.lognormal(0.0, 0.75, t.size) * weight_mult
    return s.content.add(t, author, w, pickable)


def backlog(s: SimState) -> None:
    """Posts from the 3 days before the window, so early engagement has something to hit.

    Their `post` events lie before the window, so the log never says who wrote them.
    """
    rng = s.rng
    t, author, _, _ = s.content.arrays()
    n = max(50, int(t.size * 3 / s.cfg.days))
    if t.size:
        auth = author[rng.integers(0, t.size, n)]
    else:
        cr = np.flatnonzero(s.acc.creator)
        auth = cr[rng.integers(0, max(cr.size, 1), n)] if cr.size else np.zeros(n, int)
    add_content(s, -rng.uniform(0, 3 * DAY, n), auth, pickable=True)


def pick_creators(s: SimState, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """k distinct benign creators, popularity-weighted (not hard negatives)."""
    acc = s.acc
    cand = np.flatnonzero(acc.creator & (acc.hn < 0))
    if exclude is not None:
        cand = np.setdiff1d(cand, exclude)
    if cand.size == 0:
        cand = np.arange(s.plan.n_benign)
    w = acc.pop[cand]
    return s.rng.choice(cand, size=min(k, cand.size), replace=False, p=w / w.sum())


def campaign_content(s: SimState, k: int, before: float) -> tuple[np.ndarray, np.ndarray]:
    """k distinct organic posts made before `before` (ids, post times) as a target set."""
    t, _, _, pick = s.content.arrays()
    cand = np.flatnonzero(pick & (t < before))
    if cand.size == 0:
        cand = np.flatnonzero(pick)
    chosen = s.rng.choice(cand, size=min(k, cand.size), replace=False)
    return chosen, t[chosen]


def _pick_posts(
    rng: np.random.Generator,
    t: np.ndarray,
    age: np.ndarray,
    pool_t: np.ndarray,
    pool_cw: np.ndarray,
) -> np.ndarray:
    """Index into a time-sorted pool: a post near time t - age, weighted by popularity,
    always posted before t; falls back to any earlier post; -1 when there is none."""
    h = 0.5 * age + 2 * HOUR
    center = t - age
    lo = np.searchsorted(pool_t, center - h, side="left")
    hi = np.searchsorted(pool_t, np.minimum(center + h, t), side="left")
    empty = np.flatnonzero(pool_cw[hi] <= pool_cw[lo])
    lo[empty] = 0
    hi[empty] = np.searchsorted(pool_t, t[empty], side="left")
    wl, wh = pool_cw[lo], pool_cw[hi]
    u = wl + rng.random(t.size) * (wh - wl)
    k = np.searchsorted(pool_cw, u, side="right") - 1
    k = np.clip(k, lo, np.maximum(hi - 1, lo))
    return np.where(wh > wl, k, -1)


def resolve_targets(s: SimState) -> None:
    """Targets of organic view/like/comment/share (content) and follow (account) events, then
    emit the organic chunks waiting in the log."""
    rng, acc = s.rng, s.acc
    n_comm, n_total = acc.n_comm, s.plan.n_total
    c_t, c_author, c_w, c_pick = s.content.arrays()
    pool = np.flatnonzero(c_pick)
    pool_comm = acc.community[c_author[pool]]
    order = np.lexsort((c_t[pool], pool_comm))
    pool = pool[order]
    pool_comm = pool_comm[order]
    g_order = np.argsort(c_t[pool], kind="stable")
    g_ids = pool[g_order]
    g_t = c_t[g_ids]
    g_cw = np.concatenate([[0.0], np.cumsum(c_w[g_ids])])
    comm_bounds = np.searchsorted(pool_comm, np.arange(n_comm + 1))

    # Follow targets: accounts by popularity (campaign accounts keep the floor weight).
    acc_comm_order = np.argsort(acc.community, kind="stable")
    acc_bounds = np.searchsorted(acc.community[acc_comm_order], np.arange(n_comm + 1))
    acc_cw = np.concatenate([[0.0], np.cumsum(acc.pop)])

    for arrays, pref in s.log.organic:
        ev_t, ev_acct, etype, dev, ip, tc = arrays
        ta = np.full(ev_t.size, -1, dtype=np.int64)
        idx = np.flatnonzero(np.isin(etype, CONTENT_EVENTS))
        age = rng.lognormal(np.log(5 * HOUR), 1.3, idx.size)
        use_comm = rng.random(idx.size) < pref[idx]
        res = np.full(idx.size, -1, dtype=np.int64)
        sel = np.flatnonzero(use_comm)
        ecomm = acc.community[ev_acct[idx[sel]]]
        eorder = np.argsort(ecomm, kind="stable")
        ebounds = np.searchsorted(ecomm[eorder], np.arange(n_comm + 1))
        for c in range(n_comm):
            e = sel[eorder[ebounds[c] : ebounds[c + 1]]]
            p0, p1 = comm_bounds[c], comm_bounds[c + 1]
            if e.size == 0 or p1 == p0:
                continue
            ids = pool[p0:p1]
            cw = np.concatenate([[0.0], np.cumsum(c_w[ids])])
            k = _pick_posts(rng, ev_t[idx[e]], age[e], c_t[ids], cw)
            res[e] = np.where(k >= 0, ids[np.maximum(k, 0)], -1)
        rest = np.flatnonzero(res < 0)
        k = _pick_posts(rng, ev_t[idx[rest]], age[rest], g_t, g_cw)
        res[rest] = np.where(k >= 0, g_ids[np.maximum(k, 0)], -1)
        tc[idx] = res
        etype[idx[res < 0]] = LOGIN  # nothing posted yet: the event degrades to a login

        fidx = np.flatnonzero(etype == FOLLOW)
        use_comm = rng.random(fidx.size) < pref[fidx]
        u = rng.random(fidx.size)
        tgt = np.searchsorted(acc_cw, u * acc_cw[-1], side="right") - 1
        sel = np.flatnonzero(use_comm)
        fcomm = acc.community[ev_acct[fidx[sel]]]
        forder = np.argsort(fcomm, kind="stable")
        fbounds = np.searchsorted(fcomm[forder], np.arange(n_comm + 1))
        for c in range(n_comm):
            e = sel[forder[fbounds[c] : fbounds[c + 1]]]
            a0, a1 = acc_bounds[c], acc_bounds[c + 1]
            if e.size == 0 or a1 == a0:
                continue
            members = acc_comm_order[a0:a1]
            cw = np.concatenate([[0.0], np.cumsum(acc.pop[members])])
            j = np.searchsorted(cw, u[e] * cw[-1], side="right") - 1
            tgt[e] = members[np.clip(j, 0, members.size - 1)]
        tgt = np.clip(tgt, 0, n_total - 1)
        selfie = tgt == ev_acct[fidx]
        tgt[selfie] = (tgt[selfie] + 1) % n_total
        ta[fidx] = tgt
        s.log.emit(ev_t, ev_acct, etype, dev, ip, tc, ta)
    s.log.organic = []
