"""The pipeline: the one place where the order of the stages lives."""
