"""Plan images from DICOM objects that a study store holds (read on demand, not from paths).

The same header path, series planning and typed errors as reading files
(:func:`medsight.io.scan`), fed by a reader per object: the analysis service passes the
store's checked reads, so nothing is copied to a temporary file, and an object's bytes
are held only while its header is parsed or its pixels decoded, never a whole series at
once. Labels are the caller's (the service passes hash prefixes), never a UID or a value
from the object.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from medsight.errors import MedsightError, MissingPixelDataError
from medsight.io.dicom.header import InstanceHeader, read_header
from medsight.io.dicom.parse import parse_member, translating
from medsight.io.dicom.series import plan_images
from medsight.io.reader import ReadFailure, Scan
from medsight.io.sources import Member
from medsight.settings import ReadLimits

__all__ = ["StoredObject", "scan_objects"]


@dataclass(frozen=True)
class StoredObject:
    """One object: a label for messages, its size in bytes, and how to read its bytes."""

    label: str
    size: int
    read: Callable[[], bytes]


def scan_objects(objects: Sequence[StoredObject], limits: ReadLimits) -> Scan:
    """Plan the images in ``objects`` without decoding pixels.

    Objects without pixels (reports) are ``skipped``; objects that fail to parse or to
    be read, and series that cannot be assembled, are ``failures``; nothing is raised.
    """
    result = Scan()
    headers: list[InstanceHeader] = []
    for stored in objects:
        member = Member(label=stored.label, size=stored.size, path=None, opener=_opener(stored.read))
        try:
            parsed = parse_member(member)
            with translating(stored.label, "reading the header"):
                headers.append(read_header(member, parsed, limits))
        except MissingPixelDataError as error:
            result.skipped.append(ReadFailure.of(stored.label, error))
        except MedsightError as error:
            result.failures.append(ReadFailure.of(stored.label, error))
    planned, failed = plan_images(headers)
    result.planned.extend(planned)
    result.failures.extend(ReadFailure.of(label, error) for label, error in failed)
    return result


def _opener(read: Callable[[], bytes]) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(read())
