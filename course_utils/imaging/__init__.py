"""Imaging physics and modality helpers (lesson 01).

Each module simulates one way of turning a patient into numbers, with physical units on
every axis and an exact ground truth to compare against:

* :mod:`~course_utils.imaging.projection`: attenuation, Beer-Lambert, sinograms, photon
  counts, an HU-calibrated Shepp-Logan phantom;
* :mod:`~course_utils.imaging.reconstruction`: (filtered) back-projection and errors;
* :mod:`~course_utils.imaging.kspace`: which MRI k-space lines are acquired;
* :mod:`~course_utils.imaging.ultrasound`: RF echoes from a speckle phantom;
* :mod:`~course_utils.imaging.pet`: a PET DICOM dataset with SUV attributes, dynamic PET;
* :mod:`~course_utils.imaging.modalities`: the patient journey's data sizes, fluoroscopy.
"""

from course_utils.imaging.kspace import line_mask
from course_utils.imaging.pet import F18_HALF_LIFE_S, pet_dataset
from course_utils.imaging.projection import MU_WATER_PER_MM, hu_phantom, line_integrals
from course_utils.imaging.reconstruction import reconstruct
from course_utils.imaging.ultrasound import simulate_rf

__all__ = [
    "F18_HALF_LIFE_S",
    "MU_WATER_PER_MM",
    "hu_phantom",
    "line_integrals",
    "line_mask",
    "pet_dataset",
    "reconstruct",
    "simulate_rf",
]
