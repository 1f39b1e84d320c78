"""Account features for the supervised model, built from the pipeline's own tables."""

from graphguard.features.account import (
    FEATURE_NAMES,
    FEATURES,
    account_features,
    select_features,
)

__all__ = ["FEATURES", "FEATURE_NAMES", "account_features", "select_features"]
