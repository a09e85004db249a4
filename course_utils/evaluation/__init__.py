"""Evaluation helpers (lesson 06): metrics with confidence intervals, calibration, splits.

The public names are re-exported here as the lesson adds them.
"""

__all__: list[str] = []
