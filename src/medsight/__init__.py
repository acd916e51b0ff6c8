"""medsight: deep learning on medical images, end to end.

Layers, lowest first (each imports only from those below it; checked by import-linter,
see docs/architecture.md)::

    L0  errors, types, settings
    L1  imaging        images, volumes, cines and their geometry (numpy only)
    L2  io             the only place files are read or written
    L4  services       one use case per module
    L5  cli            parse, call a service, render
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
