"""How scores combine: the one noisy-OR and the one arg-max of the project.

Suspicion (behaviour or infrastructure), an account's risk (its behavioural or its
infrastructural part), the fusion of a model with the evidence (abusive if the model or the
evidence says so) and the experiments' fused baselines all combine independent chances of abuse
the same way, ``1 - prod(1 - p)``. A class label, a dominant relation and an edge's strongest
relation are all the name of the largest of a few columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

import numpy as np
import polars as pl

from graphguard.schema import LABELS, SCORE_COLUMNS


def noisy_or(*parts: pl.Expr) -> pl.Expr:
    """``1 - prod(1 - p)`` of the given probabilities: true if any part is."""
    return 1.0 - reduce(lambda acc, p: acc * (1.0 - p), parts[1:], 1.0 - parts[0])


def noisy_or_array(*parts: np.ndarray) -> np.ndarray:
    """`noisy_or` on numpy arrays."""
    return 1.0 - reduce(lambda acc, p: acc * (1.0 - p), parts[1:], 1.0 - parts[0])


def name_of_max(columns: Sequence[str | pl.Expr], names: Sequence[str]) -> pl.Expr:
    """The name (from ``names``) of the largest of ``columns``; the first on ties."""
    return (
        pl.concat_list(list(columns))
        .list.arg_max()
        .replace_strict(list(range(len(names))), list(names), return_dtype=pl.String)
    )


def predicted_label() -> pl.Expr:
    """The class with the highest score (`schema.SCORE_COLUMNS`, in `schema.LABELS` order)."""
    return name_of_max(SCORE_COLUMNS, LABELS)
