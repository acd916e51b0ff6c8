"""Training (torch, MONAI): from a labelled dataset to a calibrated, verified model bundle."""

from medsight.training.fit import FitOptions, FitProgress, FitResult, fit_classifier
from medsight.training.loop import EpochLog, TrainOptions

__all__ = ["EpochLog", "FitOptions", "FitProgress", "FitResult", "TrainOptions", "fit_classifier"]
