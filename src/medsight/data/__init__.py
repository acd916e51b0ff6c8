"""Labelled datasets for training and evaluation, in the layouts users have.

See :mod:`medsight.data.layouts` for the layouts; every one yields a :class:`LabelledSet`.
"""

from medsight.data.cases import ALL_SPLITS, Case, LabelledSet
from medsight.data.layouts import KNOWN_SPLITS, load_dataset

__all__ = ["ALL_SPLITS", "KNOWN_SPLITS", "Case", "LabelledSet", "load_dataset"]
