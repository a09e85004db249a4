"""A simulated challenge leaderboard: how much of a ranking is test-set noise?

Teams submit models whose true accuracies differ by little; each is scored on a small
public test split and a larger private one, as on Kaggle. The gap between the two
rankings is the evaluation noise that Varoquaux & Cheplygina (2022) measured on real
medical-imaging challenges.

References
----------
.. [1] G. Varoquaux and V. Cheplygina, "Machine learning for medical imaging:
   methodological failures and recommendations for the future", npj Digital Medicine 5,
   48 (2022). https://doi.org/10.1038/s41746-022-00592-y
"""

from __future__ import annotations

import numpy as np

from course_utils.validation import check_int, check_number

__all__ = ["simulate_leaderboard"]


def simulate_leaderboard(
    n_teams: int = 40,
    *,
    n_public: int = 200,
    n_private: int = 2000,
    mean_accuracy: float = 0.85,
    spread: float = 0.01,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Score ``n_teams`` models on a public and a private test split.

    Each team's true accuracy is ``mean_accuracy + spread * N(0, 1)`` (clipped to
    [0.5, 0.999]); its public (private) score is the fraction right among ``n_public``
    (``n_private``) independent test cases: ``Binomial(n, accuracy) / n``.

    Parameters
    ----------
    n_teams : int, default 40
        Number of teams (at least 3).
    n_public, n_private : int
        Test cases in each split (at least 1).
    mean_accuracy, spread : float
        Centre and spread of the teams' true accuracies.
    seed : int, default 0
        Seed.

    Returns
    -------
    dict of str to numpy.ndarray
        ``true``, ``public``, ``private``: float64 ``(n_teams,)`` accuracies.
    """
    n_teams = check_int(n_teams, "n_teams", minimum=3)
    n_public = check_int(n_public, "n_public", minimum=1)
    n_private = check_int(n_private, "n_private", minimum=1)
    mean_accuracy = check_number(mean_accuracy, "mean_accuracy", minimum=0.5, maximum=0.999)
    spread = check_number(spread, "spread", minimum=0, maximum=0.5)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    true = np.clip(mean_accuracy + spread * rng.standard_normal(n_teams), 0.5, 0.999)
    return {"true": true,
            "public": rng.binomial(n_public, true) / n_public,
            "private": rng.binomial(n_private, true) / n_private}
