"""Reliability diagram: observed positive fraction against predicted probability, per bin."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from medsight.metrics import DEFAULT_ECE_BINS, reliability_table
from medsight.plots._figure import new_figure, png_bytes

__all__ = ["reliability_plot_png"]


def reliability_plot_png(
    y: ArrayLike,
    prob: ArrayLike,
    *,
    title: str,
    n_bins: int = DEFAULT_ECE_BINS,
    ece: float | None = None,
) -> bytes:
    """A reliability diagram with a histogram of cases per bin below, as PNG bytes.

    The top panel shows, for each equal-width bin of the predicted probability, the
    observed fraction of positives against the mean prediction (points on the diagonal are
    perfectly calibrated), with the gap to the diagonal shaded. The bottom panel counts the
    cases in each bin, so a reader sees which points rest on a handful of cases.

    Args:
        y: 1-D labels in {0, 1}.
        prob: 1-D probabilities of the positive class in [0, 1].
        title: the plot's title.
        n_bins: equal-width bins (as for the ECE).
        ece: expected calibration error to show in the legend.

    Raises:
        UsageError: invalid inputs or ``n_bins``.
    """
    table = reliability_table(y, prob, n_bins)
    filled = table.counts > 0
    centres = (table.bin_edges[:-1] + table.bin_edges[1:]) / 2.0
    widths = np.diff(table.bin_edges)
    figure = new_figure()
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    top.plot([0.0, 1.0], [0.0, 1.0], linestyle="--", color="0.6", linewidth=1.0, label="perfect calibration")
    top.bar(
        table.mean_predicted[filled],
        table.observed_fraction[filled] - table.mean_predicted[filled],
        bottom=table.mean_predicted[filled],
        width=widths[filled] * 0.6,
        color="tab:red",
        alpha=0.25,
        label="gap",
    )
    label = "observed" if ece is None else f"observed (ECE {ece:.3f})"
    top.plot(
        table.mean_predicted[filled],
        table.observed_fraction[filled],
        marker="o",
        color="tab:blue",
        linewidth=1.5,
        label=label,
    )
    top.set(xlim=(0.0, 1.0), ylim=(-0.02, 1.02), ylabel="Observed fraction positive", title=title)
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize="small")
    bottom.bar(centres, table.counts, width=widths * 0.9, color="0.4")
    bottom.set(xlim=(0.0, 1.0), xlabel="Predicted probability of the positive class", ylabel="Cases")
    bottom.grid(True, alpha=0.3)
    return png_bytes(figure)
