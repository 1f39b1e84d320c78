"""Campaigns across runs (``graphguard detect --previous``).

`matching` holds the rules (links by shared members and, for rotated members, by shared
devices, IPs and targets; ids; statuses; their thresholds); `previous` reads and checks the
previous run. The pipeline calls `track_campaigns`; readers see only the columns and the run.json
section it leaves (`graphguard.rundir`).
"""

from graphguard.campaigns.matching import (
    CAMPAIGN_FORMAT,
    CAMPAIGN_ID_PATTERN,
    RULES,
    Campaigns,
    content_ids,
    track_campaigns,
)
from graphguard.campaigns.previous import PreviousRun, PreviousRunError, load_previous

__all__ = [
    "CAMPAIGN_FORMAT",
    "CAMPAIGN_ID_PATTERN",
    "RULES",
    "Campaigns",
    "PreviousRun",
    "PreviousRunError",
    "content_ids",
    "load_previous",
    "track_campaigns",
]
