"""graphguard: graph-based detection of coordinated abuse in event logs."""

__version__ = "0.1.0"
