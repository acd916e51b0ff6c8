"""Shared vocabulary: identifiers that must not mix, and closed vocabularies."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

__all__ = ["Modality", "SOPInstanceUID", "SeriesUID", "StudyUID"]

StudyUID = NewType("StudyUID", str)
SeriesUID = NewType("SeriesUID", str)
SOPInstanceUID = NewType("SOPInstanceUID", str)


class Modality(StrEnum):
    """DICOM modality codes medsight knows by name (PS3.3 C.7.3.1.1.1); others pass as OT."""

    CT = "CT"
    MR = "MR"
    CR = "CR"
    DX = "DX"
    MG = "MG"
    US = "US"
    PT = "PT"
    NM = "NM"
    XA = "XA"
    RF = "RF"
    SEG = "SEG"
    SC = "SC"
    OT = "OT"

    @classmethod
    def parse(cls, value: str | None) -> Modality:
        """Coerce a DICOM value to a member; unknown or empty values become OT."""
        try:
            return cls((value or "").strip().upper())
        except ValueError:
            return cls.OT
