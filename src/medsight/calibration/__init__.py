"""Post-hoc calibration of binary classifiers, fitted on held-out data.

Pure numpy/scipy: nothing here imports torch, MONAI or another part of medsight but its
errors, so a model's calibration can be fitted, stored as JSON and applied anywhere.

- :mod:`~medsight.calibration.temperature`: temperature scaling of the logit (Guo et al. 2017).
- :mod:`~medsight.calibration.softmax`: the same for a multi-class softmax (per-voxel labels).
- :mod:`~medsight.calibration.threshold`: the operating threshold (Youden, or a minimum
  sensitivity), chosen so that it does not depend on prevalence.
- :mod:`~medsight.calibration.conformal`: class-conditional conformal prediction sets, a
  per-case uncertainty with a per-class coverage guarantee.
"""

from medsight.calibration.conformal import ConformalCalibrator, fit_conformal
from medsight.calibration.softmax import apply_softmax_temperature, fit_softmax_temperature
from medsight.calibration.temperature import apply_temperature, fit_temperature
from medsight.calibration.threshold import THRESHOLD_RULES, ThresholdChoice, choose_threshold

__all__ = [
    "THRESHOLD_RULES",
    "ConformalCalibrator",
    "ThresholdChoice",
    "apply_softmax_temperature",
    "apply_temperature",
    "choose_threshold",
    "fit_conformal",
    "fit_softmax_temperature",
    "fit_temperature",
]
