"""Where a student's bootstrap bound falls in the reference bootstrap distribution.

Lessons 05 (a confidence interval of an AUC) and 06 (a paired interval of an AUC
difference) both compare a student's percentile bound with ``scipy.stats.bootstrap``'s.
Both are Monte-Carlo estimates, so the bound cannot be compared with a fixed tolerance:
a bound computed from ``n_boot`` resamples is an empirical percentile, and where it falls
in the reference distribution, ``F(bound)``, is about normal around the wanted level ``p``
with variance ``p (1 - p) / n_boot`` (the binomial count of resamples below it); the
reference ``F``, estimated from its own resamples, adds ``p (1 - p) / n_reference``. A
bound passes when its level lies within :data:`MC_SIGMAS` such standard errors of ``p``
(ties counted either way). The lessons word their own messages around
:class:`BoundPlacement`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MC_SIGMAS", "BoundPlacement", "place_bound"]

#: How many Monte-Carlo standard errors a bound may stray from the reference percentile.
MC_SIGMAS = 5.0


@dataclass(frozen=True)
class BoundPlacement:
    """One bound's place in the reference distribution (levels are fractions in [0, 1])."""

    #: The wanted level: ``alpha / 2`` for the lower bound, ``1 - alpha / 2`` for the upper.
    p: float
    #: The accepted band of levels, ``p`` +- the Monte-Carlo margin, clipped to [0, 1].
    lowest: float
    highest: float
    #: The bound's level in the reference distribution (mid-rank of ties).
    level: float
    #: The level a one-sided mistake would give: ``alpha`` or ``1 - alpha``.
    tail: float
    #: The Monte-Carlo margin around ``p``.
    margin: float
    #: Whether the level lies in the band.
    ok: bool
    #: The reference bound itself (scipy's interval end), for messages.
    expected: float

    @property
    def which(self) -> str:
        """``"upper bound"`` or ``"lower bound"``."""
        return "upper bound" if self.p > 0.5 else "lower bound"

    @property
    def one_sided(self) -> bool:
        """Whether the level is where an interval with all of alpha in one tail puts it."""
        return abs(self.level - self.tail) <= self.margin


def place_bound(got: float, result: Any, *, upper: bool, alpha: float,
                n_boot: int) -> BoundPlacement:
    """Place ``got`` in the reference bootstrap distribution of ``result``.

    Parameters
    ----------
    got : float
        The student's bound.
    result : scipy.stats._resampling.BootstrapResult
        The reference: ``scipy.stats.bootstrap``'s result (its ``bootstrap_distribution``
        and ``confidence_interval``).
    upper : bool
        Whether ``got`` is the upper bound.
    alpha : float
        One minus the confidence level of the two-sided interval.
    n_boot : int
        How many resamples the student's bound was computed from.

    Returns
    -------
    BoundPlacement
    """
    values = np.sort(np.asarray(result.bootstrap_distribution, dtype=float).ravel())
    interval = result.confidence_interval
    p = 1 - alpha / 2 if upper else alpha / 2
    margin = MC_SIGMAS * math.sqrt(p * (1 - p) * (1 / n_boot + 1 / values.size))
    lowest, highest = max(p - margin, 0.0), min(p + margin, 1.0)
    below, upto = float(np.mean(values < got)), float(np.mean(values <= got))
    return BoundPlacement(p=p, lowest=lowest, highest=highest, level=(below + upto) / 2,
                          tail=1 - alpha if upper else alpha, margin=margin,
                          ok=upto >= lowest and below <= highest,
                          expected=float(interval.high if upper else interval.low))
