"""The account-entity model: edges from a log, co-targeting carried to unlabelled members, no
label read outside the training mask, determinism."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import torch

from graphguard import schema
from graphguard.metrics import auprc
from graphguard.models.hetero import KINDS, account_entity_edges, fit_predict_hetero


def test_edges_are_distinct_pairs_per_kind_and_hour():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = pl.DataFrame(
        {
            schema.TIME: [t0, t0 + timedelta(minutes=5), t0 + timedelta(hours=2), t0],
            schema.ACCOUNT: ["a", "a", "a", "b"],
            schema.EVENT_TYPE: ["like"] * 4,
            schema.DEVICE: ["d1", "d1", None, "d2"],
            schema.IP: ["i1", "i1", "i1", "i1"],
            schema.TARGET: ["p", "p", "p", "p"],
        }
    )
    edges = account_entity_edges(events, pl.Series(["b", "a", "z"]))
    assert tuple(edges) == KINDS
    a, e, n = edges["device"]
    assert n == 2 and sorted(zip(a.tolist(), e.tolist(), strict=True)) == [(0, 1), (1, 0)]
    a, e, n = edges["ip"]
    assert n == 1 and a.tolist() == [0, 1]
    a, e, n = edges["target_hour"]  # a: p@hour0, p@hour2; b: p@hour0
    assert n == 2 and a.tolist() == [0, 1, 1]


def _rings(seed: int = 0):
    """600 accounts with noise features; 6 rings of 10 that each engage their own 4 targets,
    among 300 organic targets everyone engages at random."""
    rng = np.random.default_rng(seed)
    n, rings, size = 600, 6, 10
    y = np.zeros(n, dtype=np.int64)
    y[: rings * size] = 1
    a_list, e_list = [], []
    for acc in range(n):
        picks = rng.choice(300, 8, replace=False)
        a_list += [acc] * picks.size
        e_list += list(picks)
    for r in range(rings):
        for acc in range(r * size, (r + 1) * size):
            for tgt in 300 + 4 * r + np.arange(4):
                a_list.append(acc)
                e_list.append(tgt)
    a, e = np.array(a_list), np.array(e_list)
    order = np.lexsort((e, a))
    edges = {"target": (a[order], e[order], 300 + 4 * rings)}
    x = rng.normal(size=(n, 5)).astype(np.float32)
    split = rng.random(n)
    train, val = split < 0.4, (split >= 0.4) & (split < 0.55)
    return x, edges, y, train, val, ~(train | val)


def test_co_targeting_reaches_unlabelled_members():
    torch.set_num_threads(1)
    x, edges, y, train, val, test = _rings()
    score = fit_predict_hetero(x, edges, y, train, val, seed=0, epochs=150, patience=40)
    prevalence = y[test].mean()
    assert auprc(y[test] > 0, score[test]) > 0.9 > 5 * prevalence


def test_labels_outside_training_are_never_read_and_runs_repeat():
    torch.set_num_threads(1)
    x, edges, y, train, val, test = _rings(1)
    kwargs = dict(seed=3, epochs=30, patience=30)
    first = fit_predict_hetero(x, edges, y, train, val, **kwargs)
    hidden = y.copy()
    hidden[test] = -1  # the test rows' labels withheld entirely
    flipped = y.copy()
    flipped[test] = 1 - y[test]  # or wrong: nothing changes either way
    assert np.array_equal(first, fit_predict_hetero(x, edges, hidden, train, val, **kwargs))
    assert np.array_equal(first, fit_predict_hetero(x, edges, flipped, train, val, **kwargs))
