"""PET: a course-written FDG PET DICOM dataset with the attributes SUV needs (synthetic).

The standardised uptake value (body-weight SUV) divides the measured activity
concentration by the injected dose per gram of patient, with the dose decay-corrected
from the injection time to the time the pixel values refer to (the series start when
(0054,1102) *Decay Correction* is ``START``):

    SUV = C [Bq/ml] x weight [g] / (dose [Bq] x 2 ** (-dt / T_half))

Fluorine-18 decays with a half-life of 109.77 minutes (6586.2 s).

References
----------
.. [1] DICOM PS3.3, C.8.9.1 *PET Series Module* ((0054,1001) Units, (0054,1102) Decay
   Correction) and C.8.9.2 *PET Isotope Module* ((0018,1072) Radiopharmaceutical Start
   Time, (0018,1074) Radionuclide Total Dose, (0018,1075) Radionuclide Half Life).
.. [2] Quantitative Imaging Biomarkers Alliance, "Standardized Uptake Value (SUV)", QIBA
   wiki, https://qibawiki.rsna.org/index.php/Standardized_Uptake_Value_(SUV)
.. [3] Laboratoire National Henri Becquerel, *Table of radionuclides*, F-18: half-life
   109.77 min.
"""

from __future__ import annotations

import numpy as np

from course_utils.validation import check_array, check_number

__all__ = ["F18_HALF_LIFE_S", "dynamic_pet", "pet_dataset", "suv_phantom", "tm_seconds"]

#: Half-life of fluorine-18 in seconds (109.77 min).
F18_HALF_LIFE_S = 109.77 * 60

_PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"


def tm_seconds(value: str) -> float:
    """Seconds since midnight of a DICOM TM value ``HHMMSS.FFFFFF`` (PS3.5 6.2).

    Parameters
    ----------
    value : str
        ``"HH"``, ``"HHMM"``, ``"HHMMSS"`` or ``"HHMMSS.FFFFFF"``.

    Returns
    -------
    float
    """
    text = str(value).strip()
    digits, _, fraction = text.partition(".")
    if len(digits) not in (2, 4, 6) or not digits.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"value must be a DICOM time HHMMSS.FFFFFF, got {value!r}")
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    return hours * 3600 + minutes * 60 + seconds + (float("0." + fraction) if fraction else 0.0)


def _tm(seconds: float) -> str:
    whole, micro = divmod(round((seconds % 86400) * 1e6), 1_000_000)
    whole %= 86400
    return f"{whole // 3600:02d}{whole % 3600 // 60:02d}{whole % 60:02d}.{micro:06d}"


def suv_phantom(shape: tuple[int, int, int] = (24, 96, 96)) -> np.ndarray:
    """A body-like SUV map (z, y, x): background 0.5, liver 2.5, a hot lesion of SUV 8."""
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    suv = np.zeros(shape)
    body = (x / 0.9) ** 2 + (y / 0.65) ** 2 <= 1
    suv[body] = 0.5
    suv[body & ((x + 0.35) ** 2 / 0.12 + (y + 0.1) ** 2 / 0.08 <= 1)] = 2.5          # liver
    suv[(x - 0.3) ** 2 + (y - 0.1) ** 2 + (z * 0.5) ** 2 <= 0.015] = 8.0             # lesion
    suv[body & ((x - 0.05) ** 2 + (y - 0.35) ** 2 <= 0.01)] = 1.8                    # aorta
    return suv


def pet_dataset(activity_bq_ml: np.ndarray, *, weight_kg: float, dose_bq: float,
                injection_s: float, series_s: float,
                half_life_s: float = F18_HALF_LIFE_S):
    """Write a PET Image Storage dataset (one slice) with the SUV attributes set.

    Parameters
    ----------
    activity_bq_ml : numpy.ndarray
        2-D activity concentration in Bq/ml, decay-corrected to the series start.
    weight_kg : float
        (0010,1030) *Patient's Weight* in kg.
    dose_bq : float
        (0018,1074) *Radionuclide Total Dose* in Bq, at injection time.
    injection_s, series_s : float
        Seconds since midnight of the injection ((0018,1072) *Radiopharmaceutical Start
        Time*) and of the series start ((0008,0031) *Series Time*).
    half_life_s : float
        (0018,1075) *Radionuclide Half Life* in s.

    Returns
    -------
    pydicom.dataset.FileDataset
        Pixels stored as int16 with (0028,1053) *Rescale Slope* so that
        ``pixel_array * RescaleSlope`` is Bq/ml; (0054,1001) *Units* ``BQML``.
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    activity = check_array(activity_bq_ml, "activity_bq_ml", ndim=2, kind="real", finite=True)
    if float(np.min(activity)) < 0:
        raise ValueError("activity_bq_ml must be >= 0 everywhere")
    weight_kg = check_number(weight_kg, "weight_kg", minimum=0, strict_minimum=True)
    dose_bq = check_number(dose_bq, "dose_bq", minimum=0, strict_minimum=True)
    injection_s = check_number(injection_s, "injection_s", minimum=0, maximum=86400)
    series_s = check_number(series_s, "series_s", minimum=0, maximum=86400)
    half_life_s = check_number(half_life_s, "half_life_s", minimum=0, strict_minimum=True)
    peak = float(np.max(activity)) or 1.0
    slope = peak / 32000.0
    stored = np.round(np.asarray(activity, float) / slope).astype(np.int16)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _PET_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("pet_synthetic.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = _PET_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "PT"
    ds.PatientName = "SYNTHETIC^PET"
    ds.PatientID = "COURSE-PET-0001"
    ds.PatientWeight = f"{weight_kg:.2f}"
    ds.SeriesTime = _tm(series_s)
    ds.AcquisitionTime = _tm(series_s)
    ds.Units = "BQML"
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["DECY", "ATTN"]
    item = pydicom.Dataset()
    item.Radiopharmaceutical = "Fludeoxyglucose F^18^"
    item.RadiopharmaceuticalStartTime = _tm(injection_s)
    item.RadionuclideTotalDose = f"{dose_bq:.6g}"
    item.RadionuclideHalfLife = f"{half_life_s:.6g}"
    ds.RadiopharmaceuticalInformationSequence = [item]
    ds.Rows, ds.Columns = stored.shape
    ds.PixelSpacing = [4.0, 4.0]
    ds.SliceThickness = "4.0"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleSlope = f"{slope:.10g}"
    ds.RescaleIntercept = "0"
    ds.PixelData = stored.tobytes()
    return ds


def dynamic_pet(frame_mid_s: np.ndarray, shape: tuple[int, int, int] = (8, 48, 48),
                dose_bq: float = 370e6, weight_kg: float = 75.0) -> np.ndarray:
    """A dynamic FDG series (time, z, y, x) in Bq/ml: blood clears, tumour keeps taking up.

    The blood curve is a sum of exponentials (a fast 40 s and a slow 15 min clearance
    over a plateau); tissue with influx rate ``Ki`` (irreversible uptake, as FDG in a
    tumour) accumulates ``Ki x integral of the blood curve``, plus 5 % blood volume; the
    aorta is blood.
    Values are plausible, not fitted to a patient. Physical decay is applied (the values
    are not decay-corrected).

    Parameters
    ----------
    frame_mid_s : array_like
        Mid-frame times after injection, in seconds.
    shape : (int, int, int)
        (z, y, x) of each frame.
    dose_bq, weight_kg : float
        Injected dose and patient weight.

    Returns
    -------
    numpy.ndarray
        float64, shape (time, z, y, x), Bq/ml.
    """
    times = check_array(np.asarray(frame_mid_s, float), "frame_mid_s", ndim=1, finite=True)
    suv = suv_phantom(shape)
    concentration = dose_bq / (weight_kg * 1000)        # Bq/ml if spread evenly
    blood = concentration * (6 * np.exp(-times / 40) + 1.5 * np.exp(-times / 900) + 0.6)
    integral = concentration * (6 * 40 * (1 - np.exp(-times / 40))
                                + 1.5 * 900 * (1 - np.exp(-times / 900)) + 0.6 * times)
    ki = np.clip(suv - 0.4, 0, None) / 3600.0           # per s: SUV ~ Ki x 1 h of blood
    decay = 2.0 ** (-times / F18_HALF_LIFE_S)
    aorta = suv == 1.8                                   # blood itself
    ki[aorta] = 0.0
    fraction_blood = np.where(aorta, 1.0, np.where(suv > 0, 0.05, 0.0))
    series = (fraction_blood[None] * blood[:, None, None, None]
              + ki[None] * integral[:, None, None, None])
    return series * decay[:, None, None, None]
