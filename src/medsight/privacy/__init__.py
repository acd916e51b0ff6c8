"""Patient privacy: PS3.15 de-identification decisions as pure Python/numpy (layer L1).

Nothing here reads or writes a file format: :mod:`medsight.io.dicom.deid` carries the
decisions out on pydicom data sets through the :class:`~medsight.privacy.engine.Node` seam.
"""

from __future__ import annotations

from medsight.privacy.burned_in import PixelFacts, burned_in_reason
from medsight.privacy.engine import Context, Finding, Node, context_for, deidentify, residual
from medsight.privacy.profile import Op, Option, Profile, Rule, compile_profile, parse_options
from medsight.privacy.pseudonym import Pseudonym, Pseudonymizer

__all__ = [
    "Context",
    "Finding",
    "Node",
    "Op",
    "Option",
    "PixelFacts",
    "Profile",
    "Pseudonym",
    "Pseudonymizer",
    "Rule",
    "burned_in_reason",
    "compile_profile",
    "context_for",
    "deidentify",
    "parse_options",
    "residual",
]
