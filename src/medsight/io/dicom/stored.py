"""Plan images from DICOM objects held in memory (a study store's instances).

The same header path, series planning and typed errors as reading files
(:func:`medsight.io.scan`), fed bytes instead of paths: the analysis service reads the
store's checked bytes and never writes a temporary file. Labels are the caller's (the
service passes hash prefixes), never a UID or a value from the object.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import BinaryIO

from medsight.errors import MedsightError, MissingPixelDataError
from medsight.io.dicom.header import InstanceHeader, read_header
from medsight.io.dicom.parse import parse_member, translating
from medsight.io.dicom.series import plan_images
from medsight.io.reader import ReadFailure, Scan
from medsight.io.sources import Member
from medsight.settings import ReadLimits

__all__ = ["scan_objects"]


def scan_objects(objects: Sequence[tuple[str, bytes]], limits: ReadLimits) -> Scan:
    """Plan the images in ``objects`` (label, bytes) without decoding pixels.

    Objects without pixels (reports) are ``skipped``; objects that fail to parse, and
    series that cannot be assembled, are ``failures``; nothing is raised for them.
    """
    result = Scan()
    headers: list[InstanceHeader] = []
    for label, data in objects:
        member = Member(label=label, size=len(data), path=None, opener=_opener(data))
        try:
            parsed = parse_member(member)
            with translating(label, "reading the header"):
                headers.append(read_header(member, parsed, limits))
        except MissingPixelDataError as error:
            result.skipped.append(ReadFailure.of(label, error))
        except MedsightError as error:
            result.failures.append(ReadFailure.of(label, error))
    planned, failed = plan_images(headers)
    result.planned.extend(planned)
    result.failures.extend(ReadFailure.of(label, error) for label, error in failed)
    return result


def _opener(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(data)
