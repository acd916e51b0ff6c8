"""How a de-identified object records its method (PS3.15 E.1.1, PS3.3 C.7.1.1, CID 7050)."""

from __future__ import annotations

from collections.abc import Iterable

from medsight.privacy.profile import OPTION_CODES, Option

__all__ = ["method_codes", "method_names", "temporal_modified"]


def method_codes(options: Iterable[Option], *, cleaned_pixels: bool = False) -> list[tuple[str, str]]:
    """De-identification Method Code Sequence entries: 113100, then one per option in force.

    Clean Pixel Data (113101) is listed only when pixels were cleaned.
    """
    chosen = set(options)
    if not cleaned_pixels:
        chosen.discard(Option.CLEAN_PIXEL_DATA)
    codes = [OPTION_CODES[None]]
    codes += [OPTION_CODES[o] for o in sorted(chosen, key=lambda o: OPTION_CODES[o][0]) if o in OPTION_CODES]
    return codes


def method_names(options: Iterable[Option]) -> list[str]:
    """De-identification Method (LO, 1-n): the tool and profile, then each option's name."""
    return ["medsight PS3.15 Basic Profile", *sorted(o.value for o in options)]


def temporal_modified(options: Iterable[Option]) -> str:
    """Longitudinal Temporal Information Modified (0028,0303): MODIFIED, UNMODIFIED or REMOVED."""
    chosen = set(options)
    if Option.RETAIN_MODIFIED_DATES in chosen:
        return "MODIFIED"
    return "UNMODIFIED" if Option.RETAIN_FULL_DATES in chosen else "REMOVED"
