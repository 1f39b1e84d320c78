"""Refined dense blocks as communities of their own, for `graphguard detect` on logs without
devices or IPs (``community.dense_blocks``).

Modularity sees a sparse block (each of 100 fakes rating 10 of 100 films, and as many popular
films besides) as a few more edges among heavy raters: Leiden spreads it over the organic
communities of those raters, and each community's dense block is then diluted (MovieLens-100k,
"sparse 0.1, biased camouflage": 49 fakes in a community of 263, lift 2-7). The refined blocks
of `graphguard dense` (`refine.refined_ranked` from both peelings' blocks,
`refine.peeled_seeds`) find it whole. `dense_block_members` returns the members of the refined
blocks that `graphguard dense` flags (`refine.flag_refined`: lift >= ``dense.min_lift``, share
>= ``dense.min_share``, chosen on MovieLens benchmark seeds 1-2); `community.leiden.carve` makes
each one community, taken out of the communities Leiden put its accounts in. Whether the
carved community is flagged is still decided by detect's own evidence (its dense block against
the configuration null of the accounts outside it, `community.blocks`).
"""

from __future__ import annotations

import numpy as np

from graphguard.config import DenseConfig
from graphguard.dense.bipartite import Bipartite
from graphguard.dense.refine import peeled_seeds, refined_ranked


def dense_block_members(graph: Bipartite, config: DenseConfig) -> list[np.ndarray]:
    """Account indices of each flagged refined block of ``graph``, highest lift first (an
    account may be in several; `leiden.carve` gives it to the first). Empty without edges."""
    if graph.n_edges == 0:
        return []
    seeds = peeled_seeds(graph, config.blocks, offset=config.log_offset)
    ranked = refined_ranked(graph, seeds, alpha=config.refine_alpha)
    return [
        r.accounts for _, r in ranked if r.lift >= config.min_lift and r.share >= config.min_share
    ]
