"""The DICOM JSON Model (PS3.18 Annex F): attributes by tag, for QIDO-RS, WADO-RS and STOW-RS.

Two ways in:

* :func:`element` builds one attribute from plain values (the study store's index,
  a STOW-RS response), with the VR from the data dictionary (PS3.6);
* :func:`instance_metadata` turns a stored object into its metadata (WADO-RS
  ``/metadata``): every attribute but Pixel Data, which is left out, as are other
  binary values above :data:`BULK_DATA_THRESHOLD` bytes (PS3.18 8.7.3.3 permits
  either, or a BulkDataURI; this service offers no bulk data resource).

:func:`attribute_tag` reads a query parameter's attribute, by keyword or by tag.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from medsight.errors import InvalidDicomError, UsageError
from medsight.io.dicom.parse import translating

__all__ = ["BULK_DATA_THRESHOLD", "DicomJson", "attribute_tag", "element", "instance_metadata", "keyword_for", "vr_for"]

#: One data set in the DICOM JSON Model: ``{"0020000D": {"vr": "UI", "Value": [...]}}``.
DicomJson = dict[str, dict[str, Any]]

#: Binary values larger than this many bytes are left out of metadata.
BULK_DATA_THRESHOLD = 1024

_OMITTED = "medsight:omitted"  # BulkDataURI marker of a value left out
_NUMBER_VRS = frozenset({"DS", "FL", "FD", "IS", "SL", "SS", "SV", "UL", "US", "UV"})
_MAX_NAME = 64


def attribute_tag(name: str, *, parameter: str = "query") -> int:
    """The tag of an attribute named by keyword (``PatientID``) or by tag (``00100020``).

    Args:
        name: the attribute as given.
        parameter: what to call it in an error (a QIDO parameter or ``includefield``).

    Raises:
        UsageError: neither a keyword of the data dictionary nor eight hex digits.
    """
    text = name.strip()
    if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        return int(text, 16)
    tag = tag_for_keyword(text) if text and len(text) <= _MAX_NAME else None
    if tag is None:
        # The name is echoed only when it looks like a keyword: never free text.
        shown = text if text.isascii() and text.isalnum() and len(text) <= _MAX_NAME else "(not shown)"
        raise UsageError(f"{parameter}: unknown attribute {shown}; use a DICOM keyword or an 8-digit hex tag")
    return int(tag)


def keyword_for(tag: int) -> str:
    """The data dictionary's keyword of ``tag``, or its hex form when it has none."""
    return keyword_for_tag(tag) or f"{tag:08X}"


@lru_cache(maxsize=4096)
def vr_for(tag: int) -> str:
    """The data dictionary's VR of ``tag`` (the first, where PS3.6 lists several); UN if unknown."""
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        return "UN"
    return vr.split(" or ")[0]


def element(tag: int, values: Iterable[object] | object | None, vr: str | None = None) -> dict[str, Any]:
    """One attribute in the DICOM JSON Model.

    Args:
        tag: the attribute.
        values: one value, several, or None/empty for an attribute without a value.
        vr: the VR; the data dictionary's when omitted.
    """
    vr = vr or vr_for(tag)
    if isinstance(values, str) and values and vr not in _NUMBER_VRS:  # the common case, made quick
        return {"vr": vr, "Value": [{"Alphabetic": values}] if vr == "PN" else [values]}
    if values is None:
        items: list[object] = []
    elif isinstance(values, str | bytes | int | float | dict):
        items = [values]
    else:
        items = list(values)  # type: ignore[call-overload]
    items = [v for v in items if v is not None and v != ""]
    if not items:
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [v if isinstance(v, dict) else {"Alphabetic": str(v)} for v in items]}
    if vr in _NUMBER_VRS:
        return {"vr": vr, "Value": [_number(v) for v in items]}
    return {"vr": vr, "Value": items}


def _number(value: object) -> int | float:
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def instance_metadata(data: bytes, label: str = "stored object") -> DicomJson:
    """The DICOM JSON metadata of one object: every attribute except bulk data.

    Raises:
        InvalidDicomError: the bytes do not parse as DICOM.
    """
    with translating(label, "reading metadata"):
        dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        if "SOPInstanceUID" not in dataset:  # random bytes parse too when forced
            raise InvalidDicomError(f"{label}: not a DICOM object")
        try:
            found = _to_json(dataset, suppress=False)
        except Exception:
            # A value pydicom cannot put in JSON: leave that attribute out, keep the rest.
            # (Suppressing from the start would also drop values pydicom merely warns about.)
            found = _to_json(dataset, suppress=True)
    return _without_bulk(found)


def _to_json(dataset: Dataset, *, suppress: bool) -> DicomJson:
    found: DicomJson = dataset.to_json_dict(
        bulk_data_threshold=BULK_DATA_THRESHOLD,
        bulk_data_element_handler=lambda _element: _OMITTED,
        suppress_invalid_tags=suppress,
    )
    return found


def _without_bulk(dataset: DicomJson) -> DicomJson:
    out: DicomJson = {}
    for tag, attribute in dataset.items():
        if attribute.get("BulkDataURI") == _OMITTED:
            continue
        if attribute.get("vr") == "SQ" and "Value" in attribute:
            attribute = {**attribute, "Value": [_without_bulk(item) for item in attribute["Value"]]}
        out[tag] = attribute
    return out
