"""ROC curve plot with the chance diagonal, the AUC (and its CI) and the operating point."""

from __future__ import annotations

import math

from numpy.typing import ArrayLike

from medsight.metrics import binary_metrics, roc_auc, roc_curve
from medsight.plots._figure import new_figure, png_bytes

__all__ = ["roc_plot_png"]


def _auc_label(auc: float, auc_ci: tuple[float, float] | None) -> str:
    if math.isnan(auc):
        return "ROC (AUC undefined: one class)"
    if auc_ci is None:
        return f"ROC, AUC {auc:.3f}"
    return f"ROC, AUC {auc:.3f} (CI {auc_ci[0]:.3f}–{auc_ci[1]:.3f})"


def roc_plot_png(
    y: ArrayLike,
    prob: ArrayLike,
    *,
    title: str,
    threshold: float | None = None,
    auc_ci: tuple[float, float] | None = None,
) -> bytes:
    """The ROC curve of ``prob`` against ``y`` as PNG bytes (5 x 5 in at 150 dpi).

    Args:
        y: 1-D labels in {0, 1}.
        prob: 1-D probabilities of the positive class in [0, 1].
        title: the plot's title (the model and split, say).
        threshold: operating threshold to mark on the curve, with its sensitivity and
            specificity in the legend.
        auc_ci: confidence interval of the AUC to show in the legend (from
            :func:`medsight.metrics.bootstrap_ci`).

    Raises:
        UsageError: invalid inputs (as :func:`medsight.metrics.binary_metrics`).
    """
    fpr, tpr, _ = roc_curve(y, prob)
    figure = new_figure()
    axes = figure.add_subplot()
    axes.plot([0.0, 1.0], [0.0, 1.0], linestyle="--", color="0.6", linewidth=1.0, label="chance")
    axes.plot(fpr, tpr, color="tab:blue", linewidth=2.0, label=_auc_label(roc_auc(y, prob), auc_ci))
    if threshold is not None:
        point = binary_metrics(y, prob, threshold)
        axes.plot(
            [1.0 - point["specificity"]],
            [point["sensitivity"]],
            marker="o",
            markersize=8,
            color="tab:red",
            linestyle="none",
            label=f"threshold {threshold:.3f}: sens {point['sensitivity']:.3f}, spec {point['specificity']:.3f}",
        )
    axes.set(
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        xlabel="1 − specificity (false-positive rate)",
        ylabel="Sensitivity (true-positive rate)",
        title=title,
        aspect="equal",
    )
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    return png_bytes(figure)
