"""Imaging physics and modality helpers (lesson 01).

Each module simulates one way of turning a patient into numbers, with physical units on
every axis and an exact ground truth to compare against. The public names are re-exported
here as the lesson adds them.
"""

__all__: list[str] = []
