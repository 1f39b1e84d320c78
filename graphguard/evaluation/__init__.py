"""Measuring a run or a model against labels: metrics, evaluate, experiments."""
