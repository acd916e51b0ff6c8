"""Private attributes known to be safe (Retain Safe Private Option, PS3.15 E.3.10).

A private data element is identified by its Private Creator, its group and the low byte
of its element number (PS3.5 7.8.1): ``(creator, group, byte)``. The list is a subset of
PS3.15 Table E.3.10-1 (quantitative acquisition parameters that carry no identity:
diffusion b-values and directions, PET scale factors); everything else private is
removed even under the option. A Private Creator element is kept when its creator has
a safe entry, so the kept elements still resolve.
"""

from __future__ import annotations

SafeKey = tuple[str, int, int]

__all__ = ["SAFE_PRIVATE", "is_safe_private"]

SAFE_PRIVATE: frozenset[SafeKey] = frozenset(
    {
        ("SIEMENS MR HEADER", 0x0019, 0x0C),  # B_value
        ("SIEMENS MR HEADER", 0x0019, 0x0D),  # DiffusionDirectionality
        ("SIEMENS MR HEADER", 0x0019, 0x0E),  # DiffusionGradientDirection
        ("SIEMENS MR HEADER", 0x0019, 0x27),  # B_matrix
        ("GEMS_PARM_01", 0x0043, 0x39),  # b-value and slope/intercept
        ("Philips Imaging DD 001", 0x2001, 0x03),  # Diffusion B-Factor
        ("Philips PET Private Group", 0x7053, 0x00),  # SUV Factor
        ("Philips PET Private Group", 0x7053, 0x09),  # Activity Concentration Scale Factor
    }
)
_SAFE_CREATORS = frozenset((creator, group) for creator, group, _ in SAFE_PRIVATE)


def is_safe_private(tag: int, creator: str | None, creator_value: object = None) -> bool:
    """Whether a private element may stay under Retain Safe Private.

    Args:
        tag: the element's tag.
        creator: the Private Creator of its block (data elements only).
        creator_value: the element's own value, when it is a Private Creator (gggg,0010-00FF).
    """
    group, element = tag >> 16, tag & 0xFFFF
    if 0x0010 <= element <= 0x00FF:
        return isinstance(creator_value, str) and (creator_value.strip(), group) in _SAFE_CREATORS
    if creator is None:
        return False
    return (creator.strip(), group, element & 0xFF) in SAFE_PRIVATE
