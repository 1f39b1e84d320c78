"""What is known about the accounts: the full truth table and the partial, noisy labels.

The truth says, for every account that occurs in the events, its true label, its campaign and
campaign kind, and its hard-negative kind. The labels are what a trust-and-safety team would
have: a seeded random `label_fraction` of those accounts, minus every account of
`unlabeled_kinds` (a kind of attack nobody has labelled yet), with a `label_noise` share of the
labelled abusive accounts saying 'benign'.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.schema import (
    ACCOUNT,
    BENIGN,
    CAMPAIGN_LABEL,
    HARD_NEGATIVE_KINDS,
    LABEL,
    TRUTH_SCHEMA,
)
from graphguard.simulate.config import SimulationConfig
from graphguard.simulate.state import CampaignPlan


def _label_names(plan: CampaignPlan) -> pl.Series:
    """True label by campaign index + 1 (row 0: benign)."""
    return pl.Series([BENIGN, *(CAMPAIGN_LABEL[k] for k in plan.kinds)], dtype=pl.String)


def truth_table(
    plan: CampaignPlan, hn: np.ndarray, present: np.ndarray, acc_str: pl.Series
) -> pl.DataFrame:
    """`schema.TRUTH_SCHEMA` rows for the account indices `present` (in output order).

    `hn` is the hard-negative code per account (-1 for none), `acc_str` the id per account.
    """
    ci = pl.Series(plan.of_account[present] + 1)
    campaign_id = pl.Series([None, *plan.ids], dtype=pl.String)
    campaign_kind = pl.Series([None, *plan.kinds], dtype=pl.String)
    hard_negative = pl.Series([None, *HARD_NEGATIVE_KINDS], dtype=pl.String)
    return pl.DataFrame(
        {
            ACCOUNT: acc_str.gather(pl.Series(present)),
            LABEL: _label_names(plan).gather(ci),
            "campaign_id": campaign_id.gather(ci),
            "campaign_kind": campaign_kind.gather(ci),
            "hard_negative": hard_negative.gather(pl.Series(hn[present].astype(np.int64) + 1)),
        }
    ).cast(TRUTH_SCHEMA)


def label_table(
    cfg: SimulationConfig,
    rng: np.random.Generator,
    plan: CampaignPlan,
    present: np.ndarray,
    acc_str: pl.Series,
) -> pl.DataFrame:
    """account_id, label for a random `label_fraction` of `present`, unlabelled kinds dropped,
    `label_noise` of the labelled abusive accounts flipped to benign."""
    camp = plan.of_account[present]
    n = present.size
    chosen = np.zeros(n, dtype=bool)
    chosen[rng.permutation(n)[: int(round(cfg.label_fraction * n))]] = True
    kinds_present = np.array([""] + plan.kinds, dtype=object)[camp + 1]
    for k in cfg.unlabeled_kinds:
        chosen &= kinds_present != k
    labels_arr = _label_names(plan).gather(pl.Series(camp + 1)).to_numpy().astype(object)
    abusive = np.flatnonzero(chosen & (camp >= 0))
    n_flip = int(round(cfg.label_noise * abusive.size))
    flip = rng.permutation(abusive)[:n_flip]
    labels_arr[flip] = BENIGN
    rows = np.flatnonzero(chosen)
    return pl.DataFrame(
        {
            ACCOUNT: acc_str.gather(pl.Series(present[rows])),
            LABEL: pl.Series(labels_arr[rows].tolist(), dtype=pl.String),
        }
    )
