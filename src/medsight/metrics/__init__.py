"""Evaluation statistics for classifiers: metrics, bootstrap intervals and curves.

Pure numpy (scipy at most): nothing here imports torch, MONAI or a file format, so the
same numbers come out of training, ``medsight evaluate`` and a notebook.

- :mod:`~medsight.metrics.classification`: metrics at a threshold, AUC, ECE, Brier.
- :mod:`~medsight.metrics.bootstrap`: percentile bootstrap CIs of all of them at once.
- :mod:`~medsight.metrics.curves`: ROC curve and reliability table.
- :mod:`~medsight.metrics.proportions`: Wilson intervals for rates and subset accuracies.
"""

from medsight.metrics.bootstrap import bootstrap_ci, bootstrap_draws, percentile_interval
from medsight.metrics.classification import (
    BINARY_METRICS,
    DEFAULT_ECE_BINS,
    binary_metrics,
    brier_score,
    expected_calibration_error,
    roc_auc,
)
from medsight.metrics.curves import ReliabilityTable, reliability_table, roc_curve
from medsight.metrics.proportions import wilson_interval

__all__ = [
    "BINARY_METRICS",
    "DEFAULT_ECE_BINS",
    "ReliabilityTable",
    "binary_metrics",
    "bootstrap_ci",
    "bootstrap_draws",
    "brier_score",
    "expected_calibration_error",
    "percentile_interval",
    "reliability_table",
    "roc_auc",
    "roc_curve",
    "wilson_interval",
]
