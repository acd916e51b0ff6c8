"""Evaluation plots as PNG bytes: ROC curve and reliability diagram, also one line per subgroup.

matplotlib's Agg renderer through ``Figure`` and ``FigureCanvasAgg`` directly, never pyplot:
no global backend choice, no figure registry, no display, no file I/O (the caller writes
the bytes where it wants, through ``medsight.io``). Imports ``medsight.metrics`` for the
curves so the plots show exactly the numbers the reports give.
"""

from medsight.plots.groups import group_calibration_plot_png, group_roc_plot_png
from medsight.plots.reliability import reliability_plot_png
from medsight.plots.roc import roc_plot_png
from medsight.plots.saliency import perturbation_plot_png

__all__ = [
    "group_calibration_plot_png",
    "group_roc_plot_png",
    "perturbation_plot_png",
    "reliability_plot_png",
    "roc_plot_png",
]
