"""A bare Agg figure and its PNG bytes, without pyplot.

pyplot keeps a global registry of figures and picks a backend for the whole process;
building ``Figure`` with its own ``FigureCanvasAgg`` touches neither, so plotting from a
server thread or a test leaves no state behind and needs no display.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["DPI", "SIZE_IN", "new_figure", "png_bytes"]

#: Resolution and size of every plot: 750 x 750 px, legible on a screen and in a report.
DPI = 150
SIZE_IN = (5.0, 5.0)


def new_figure() -> Figure:
    """An empty figure with an Agg canvas attached."""
    figure = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure) -> bytes:
    """Render ``figure`` to PNG bytes at :data:`DPI`."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
