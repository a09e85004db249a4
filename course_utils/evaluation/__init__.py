"""Evaluation helpers (lesson 06): synthetic cohorts with known truth, calibration figures,
a simulated leaderboard and class-conditional conformal prediction.

* :mod:`~course_utils.evaluation.cohorts`: several images per patient, a second site's
  scanner, a burned-in marker (all synthetic, announced as such);
* :mod:`~course_utils.evaluation.calibration`: reliability diagrams;
* :mod:`~course_utils.evaluation.leaderboard`: public vs private test-split scores;
* :mod:`~course_utils.evaluation.conformal`: class-conditional prediction sets.
"""

from course_utils.evaluation.calibration import reliability_diagram
from course_utils.evaluation.cohorts import (
    Cohort,
    burn_in_marker,
    patient_cohort,
    relabel,
    second_site,
)
from course_utils.evaluation.conformal import class_conditional_sets, set_summary
from course_utils.evaluation.leaderboard import simulate_leaderboard

__all__ = [
    "Cohort",
    "burn_in_marker",
    "class_conditional_sets",
    "patient_cohort",
    "relabel",
    "reliability_diagram",
    "second_site",
    "set_summary",
    "simulate_leaderboard",
]
