"""Fetal head biometry from a fitted ellipse: HC, BPD, OFD in mm, and gestational age.

- **HC** (head circumference): the perimeter of the ellipse fitted to the outer skull
  contour, as in HC18 (van den Heuvel et al., PLoS ONE 13(8): e0200412, 2018);
- **BPD** (biparietal diameter) and **OFD** (occipito-frontal diameter): the ellipse's
  minor and major axes (outer to outer);
- **gestational age** from HC by Hadlock's formula (Hadlock FP, Deter RL, Harrist RB,
  Park SK. "Estimating fetal age: computer-assisted analysis of multiple fetal growth
  parameters." Radiology 1984; 152(2): 497-501): ``GA (weeks) = 8.96 + 0.540 HC +
  0.0003 HC^3``, HC in cm. Flagged as extrapolated outside 14-40 weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medsight.imaging.ellipse import Ellipse

__all__ = ["GA_RANGE_WEEKS", "HeadBiometry", "hadlock_ga_weeks", "head_biometry"]

#: Range of gestational age (weeks) over which the formula is used without a flag.
GA_RANGE_WEEKS = (14.0, 40.0)


def hadlock_ga_weeks(hc_mm: float) -> float:
    """Gestational age in weeks from head circumference in mm (Hadlock 1984)."""
    hc_cm = hc_mm / 10.0
    return 8.96 + 0.540 * hc_cm + 0.0003 * hc_cm**3


@dataclass(frozen=True)
class HeadBiometry:
    """Measurements of one head, in mm and weeks.

    Attributes:
        hc_mm: head circumference.
        bpd_mm: biparietal diameter (minor axis).
        ofd_mm: occipito-frontal diameter (major axis).
        ga_weeks: gestational age by Hadlock from HC.
        ga_extrapolated: GA lies outside :data:`GA_RANGE_WEEKS`.
    """

    hc_mm: float
    bpd_mm: float
    ofd_mm: float
    ga_weeks: float
    ga_extrapolated: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "hc_mm": round(self.hc_mm, 2),
            "bpd_mm": round(self.bpd_mm, 2),
            "ofd_mm": round(self.ofd_mm, 2),
            "ga_weeks": round(self.ga_weeks, 1),
            "ga_method": "Hadlock 1984 (HC)",
            "ga_extrapolated": self.ga_extrapolated,
        }


def head_biometry(ellipse_mm: Ellipse) -> HeadBiometry:
    """Biometry of a head outline given in mm."""
    hc = ellipse_mm.perimeter
    ga = hadlock_ga_weeks(hc)
    low, high = GA_RANGE_WEEKS
    return HeadBiometry(
        hc_mm=hc,
        bpd_mm=2 * ellipse_mm.semi_minor,
        ofd_mm=2 * ellipse_mm.semi_major,
        ga_weeks=ga,
        ga_extrapolated=not low <= ga <= high,
    )
