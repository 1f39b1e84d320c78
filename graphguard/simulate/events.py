"""Building blocks that turn sessions into event rows, shared by every population.

A session is one account at one start time on one device and IP; its events follow each other
by some gaps. Everything here is vectorised over sessions and events.
"""

from __future__ import annotations

import numpy as np

from graphguard.simulate.config import COMMENT, FOLLOW, LIKE, POST, SHARE
from graphguard.simulate.content import add_content
from graphguard.simulate.infrastructure import assign_infra
from graphguard.simulate.state import SimState


def segment_positions(lens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For segments of `lens`, return (segment id per element, position in segment, first index
    of each segment)."""
    first = np.cumsum(lens) - lens
    seg = np.repeat(np.arange(lens.size), lens)
    pos = np.arange(seg.size) - first[seg]
    return seg, pos, first


def emit_sessions(
    s: SimState,
    s_acct: np.ndarray,
    s_t: np.ndarray,
    ev_sess: np.ndarray,
    ev_t: np.ndarray,
    etype: np.ndarray,
    tc: np.ndarray | None = None,
    ta: np.ndarray | None = None,
) -> None:
    """Emit events grouped in sessions; device and IP are chosen once per session."""
    dev, ip = assign_infra(s, s_acct, s_t)
    s.log.emit(ev_t, s_acct[ev_sess], etype, dev[ev_sess], ip[ev_sess], tc, ta)


def simple_events(
    s: SimState,
    acct: np.ndarray,
    t: np.ndarray,
    kinds: np.ndarray,
    tc: np.ndarray | None = None,
    ta: np.ndarray | None = None,
) -> None:
    """Events that are each their own session (single actions)."""
    dev, ip = assign_infra(s, acct, t)
    s.log.emit(t, acct, kinds, dev, ip, tc, ta)


def post_events(
    s: SimState, author: np.ndarray, t: np.ndarray, pickable: bool, weight_mult: float = 1.0
) -> np.ndarray:
    """`post` events by `author` at `t`, registering the posts; returns their content ids."""
    c = add_content(s, t, author, pickable=pickable, weight_mult=weight_mult)
    simple_events(s, author, t, np.full(t.size, POST, np.int8), tc=c)
    return c


def reactions(
    s: SimState,
    post_t: np.ndarray,
    post_c: np.ndarray,
    part_post: np.ndarray,
    part_acct: np.ndarray,
    delay: np.ndarray,
    p_comment: float,
    p_share: float,
    follow_target: np.ndarray | None = None,
    p_follow: float = 0.0,
) -> None:
    """One session per (post, participant): a like after `delay`, maybe a comment, share or
    follow of the author shortly after."""
    rng = s.rng
    n = part_acct.size
    if n == 0:
        return
    s_t = post_t[part_post] + delay
    extra = np.stack(
        [
            rng.random(n) < p_comment,
            rng.random(n) < p_share,
            rng.random(n) < p_follow if follow_target is not None else np.zeros(n, bool),
        ]
    )
    lens = 1 + extra.sum(axis=0)
    ev_sess, pos, first = segment_positions(lens)
    gaps = rng.uniform(5, 90, ev_sess.size)
    gaps[first] = 0
    cs = np.cumsum(gaps)
    ev_t = s_t[ev_sess] + cs - cs[first][ev_sess]
    # kind of the k-th action: like, then the present extras in order comment/share/follow
    kinds_tbl = np.array([COMMENT, SHARE, FOLLOW], dtype=np.int8)
    rank = np.cumsum(extra, axis=0) * extra  # 1-based position of each present extra
    etype = np.full(ev_sess.size, LIKE, dtype=np.int8)
    later = pos > 0
    s_of = ev_sess[later]
    p_of = pos[later]
    which = np.argmax(rank[:, s_of] == p_of[None, :], axis=0)
    etype[later] = kinds_tbl[which]
    tc = post_c[part_post][ev_sess].astype(np.int64)
    ta = np.full(ev_sess.size, -1, dtype=np.int64)
    fol = etype == FOLLOW
    if follow_target is not None:
        ta[fol] = follow_target[part_post][ev_sess][fol]
    tc[fol] = -1
    emit_sessions(s, part_acct, s_t, ev_sess, ev_t, etype, tc, ta)
