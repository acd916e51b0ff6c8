"""Deletion and insertion curves of a saliency audit: the map's order against a random map's."""

from __future__ import annotations

from collections.abc import Sequence

from medsight.plots._figure import new_figure, png_bytes

__all__ = ["perturbation_plot_png"]


def perturbation_plot_png(
    fractions: Sequence[float],
    curves: dict[str, Sequence[float]],
    *,
    title: str,
    ylabel: str = "Calibrated probability (mean over images)",
) -> bytes:
    """Mean deletion and insertion curves as PNG bytes, one panel each.

    Args:
        fractions: fraction of pixels moved, 0 to 1.
        curves: ``deletion``, ``deletion_random``, ``insertion``, ``insertion_random``
            (the keys of :meth:`medsight.audit.saliency.SaliencyReport.to_dict`'s ``curves``).
        title: the plot's title (the model and split).
    """
    figure = new_figure()
    figure.set_size_inches(9.0, 4.2)
    figure.suptitle(title)
    panels = (
        ("deletion", "Deletion: most salient pixels replaced first", "lower is better"),
        ("insertion", "Insertion: most salient pixels put back first", "higher is better"),
    )
    for index, (name, heading, better) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, 2, index)
        axes.plot(fractions, curves[name], color="C3", linewidth=2.0, label="saliency order")
        axes.plot(fractions, curves[f"{name}_random"], color="0.45", linestyle="--", label="random smooth map")
        axes.fill_between(fractions, curves[name], curves[f"{name}_random"], color="C3", alpha=0.12)
        axes.set(
            xlim=(0.0, 1.0),
            ylim=(-0.01, 1.01),
            xlabel="Fraction of pixels moved",
            ylabel=ylabel if index == 1 else "",
            title=f"{heading}\n({better})",
        )
        axes.title.set_fontsize("small")
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best", fontsize="x-small")
    return png_bytes(figure)
