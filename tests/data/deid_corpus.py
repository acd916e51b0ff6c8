"""A synthetic corpus with fake patient data planted in every Table E.1-1 attribute.

Used by the de-identification tests and the benchmark (no pytest needed). Every row of
PS3.15 Table E.1-1 that pydicom's dictionary knows (and that may sit in a data set:
not the command group 0000 nor the File Meta 0002, which is planted through the File
Meta) gets a unique, searchable value of its VR:

* strings: ``PHI`` + the tag + a file number (CS-legal: upper case and digits);
* dates, times and date-times: unique valid values (``1937`` onwards);
* UIDs: ``1.2.826.0.1.3680043.10.999.<tag>.<file>``;
* binary VRs (OB, OW, UN, ...): ``PHI-BIN-<tag>-<file>``;
* numbers: a recognisable value, checked by parsing rather than by bytes;
* sequences: one item holding a planted Person Name (0040,A123), a planted Referenced
  SOP Instance UID (0008,1155) and a nested sequence (Referenced Image Sequence) with
  another planted UID, so recursion shows.

Private attributes (a block of creator ``PHI CORP`` with text, binary and a private
sequence), a curve (5000,3000), an overlay (6000,3000 / 6000,4000) and burned-in text
(``ultrasound=True``: an US image with a Sequence of Ultrasound Regions and text in its
margin and inside the region) are added. :func:`planted_values` lists what to search for.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, UltrasoundImageStorage

from medsight.privacy.profile import table

__all__ = ["Planted", "planted_value", "planted_values", "text_image", "write_corpus", "write_planted"]

_ROOT = "1.2.826.0.1.3680043.10.999"
_NUMERIC = {"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"}
_BINARY = {"OB", "OW", "OD", "OF", "OL", "OV", "UN"}
_OVERRIDDEN = {0x00100020, 0x00100010, 0x00080020}  # planted per patient instead
TEXT_IN_PIXELS = "PHI JANE DOE 1937"


@dataclass(frozen=True, slots=True)
class Planted:
    """One planted value: the attribute, its VR and the bytes to search for (None: numeric)."""

    tag: int
    name: str
    vr: str
    needle: bytes | None


def _vr(tag: int) -> str | None:
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        return None
    return vr.split(" or ")[0]


def _plantable() -> list[tuple[int, str, str]]:
    rows = []
    for row in table():
        if row.tag == "private" or "x" in row.tag:
            continue
        tag = int(row.tag, 16)
        if tag >> 16 in (0x0000, 0x0002):
            continue
        vr = _vr(tag)
        if vr is not None:
            rows.append((tag, row.name, vr))
    return rows


def _value(tag: int, vr: str, n: int) -> str | bytes | int | float | list[int]:
    day = (tag * 7 + n) % 9000
    year, month, dom = 1937 + day // 336, 1 + (day // 28) % 12, 1 + day % 28
    text = f"PHI{tag:08X}N{n:04d}"
    values: dict[str, str | bytes | int | float | list[int]] = {
        "DA": f"{year:04d}{month:02d}{dom:02d}",
        "TM": f"{10 + day % 12:02d}{day % 60:02d}{(tag >> 3) % 60:02d}.{tag % 999983:06d}",
        "DT": f"{year:04d}{month:02d}{dom:02d}1{day % 10}{day % 60:02d}{tag % 60:02d}.{tag % 999983:06d}",
        "UI": f"{_ROOT}.{tag}.{n}",
        "AS": "077Y",
        "DS": f"{tag % 99991}.{n % 1000 + 1}",
        "IS": f"{7_000_000 + tag % 999_983}",
        "PN": f"PHI{tag:08X}^N{n:04d}",
        "AE": f"PHI{tag:08X}"[:16],
        "CS": text[:16],
        "SH": text[:16],
        "UR": f"http://phi.invalid/{text}",
    }
    if vr in values:
        return values[vr]
    if vr in _BINARY:
        return f"PHI-BIN-{tag:08X}-{n:04d}".encode().ljust(24, b"\0")
    if vr == "AT":
        return [0x00100010]
    if vr in _NUMERIC:
        return 1.5 if vr in ("FL", "FD") else 7
    return text  # LO, LT, ST, UT, UC


def planted_value(tag: int, vr: str, n: int = 0) -> object:
    """The value planted in ``tag`` of file ``n`` (for the numeric ones, checked by parsing)."""
    return _value(tag, vr, n)


def _needle(vr: str, value: object) -> bytes | None:
    if vr in _NUMERIC or vr == "AS":
        return None
    if isinstance(value, bytes):
        return value.rstrip(b"\0")
    return str(value).encode("ascii")


def _item(n: int, depth: int) -> Dataset:
    item = Dataset()
    item.PersonName = f"PHINESTED{depth}^N{n:04d}"
    item.ReferencedSOPClassUID = CTImageStorage
    item.ReferencedSOPInstanceUID = f"{_ROOT}.9.{depth}.{n}"
    if depth < 2:
        item.ReferencedImageSequence = Sequence([_item(n, depth + 1)])
    return item


def _item_needles(n: int) -> list[bytes]:
    return [f"PHINESTED{d}^N{n:04d}".encode() for d in range(3)] + [f"{_ROOT}.9.{d}.{n}".encode() for d in range(3)]


def planted_values(n: int = 0, patient: int = 0) -> list[Planted]:
    """Every value :func:`write_planted` plants in file ``n`` of ``patient``."""
    out = [
        Planted(0x00100020, "Patient ID", "LO", f"PHIPATIENT{patient:04d}".encode()),
        Planted(0x00100010, "Patient's Name", "PN", f"PHIDOE^PATIENT{patient:04d}".encode()),
        Planted(0x00080020, "Study Date", "DA", f"{2001 + patient % 20:04d}0615".encode()),
    ]
    for tag, name, vr in _plantable():
        if tag in _OVERRIDDEN:
            continue
        if vr == "SQ":
            out += [Planted(tag, name, vr, needle) for needle in _item_needles(n)]
        else:
            out.append(Planted(tag, name, vr, _needle(vr, _value(tag, vr, n))))
    out += [
        Planted(0x00090010, "Private Creator", "LO", b"PHI CORP"),
        Planted(0x00091001, "Private text", "LO", f"PHIPRIVATE{n:04d}".encode()),
        Planted(0x00091002, "Private binary", "OB", f"PHI-PRIVBIN-{n:04d}".encode()),
        Planted(0x00091003, "Private sequence", "SQ", f"PHIPRIVSEQ{n:04d}".encode()),
        Planted(0x50003000, "Curve Data", "OB", f"PHI-CURVE-{n:04d}".encode()),
        Planted(0x60003000, "Overlay Data", "OW", f"PHI-OVERLAY-{n:04d}".encode()),
        Planted(0x60004000, "Overlay Comments", "LT", f"PHIOVERLAYCOMMENT{n:04d}".encode()),
        Planted(0x00020016, "Source Application Entity Title", "AE", b"PHISRCAE"),
    ]
    return out


def _dataset(n: int, patient: int, ultrasound: bool, size: int) -> Dataset:
    ds = Dataset()
    for tag, _, vr in _plantable():
        if vr == "SQ":
            ds.add_new(tag, vr, Sequence([_item(n, 0)]))
        else:
            ds.add_new(tag, vr, _value(tag, vr, n))
    ds.PatientID = f"PHIPATIENT{patient:04d}"
    ds.PatientName = f"PHIDOE^PATIENT{patient:04d}"
    ds.StudyDate = f"{2001 + patient % 20:04d}0615"
    ds.Modality = "US" if ultrasound else "CT"
    ds.SOPClassUID = UltrasoundImageStorage if ultrasound else CTImageStorage
    ds.BurnedInAnnotation = "YES" if ultrasound else "NO"
    private = ds.private_block(0x0009, "PHI CORP", create=True)
    private.add_new(0x01, "LO", f"PHIPRIVATE{n:04d}")
    private.add_new(0x02, "OB", f"PHI-PRIVBIN-{n:04d}".encode())
    nested = Dataset()
    nested.add_new(0x00100010, "PN", f"PHIPRIVSEQ{n:04d}")
    private.add_new(0x03, "SQ", Sequence([nested]))
    ds.add_new(0x50003000, "OB", f"PHI-CURVE-{n:04d}".encode())
    ds.add_new(0x60003000, "OW", f"PHI-OVERLAY-{n:04d}".encode())
    ds.add_new(0x60004000, "LT", f"PHIOVERLAYCOMMENT{n:04d}")
    _pixels(ds, ultrasound, size)
    return ds


def _pixels(ds: Dataset, ultrasound: bool, size: int) -> None:
    rng = np.random.default_rng(size)
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelRepresentation = 0
    if ultrasound:
        image = text_image(size)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        region = Dataset()
        margin = size // 8
        region.RegionLocationMinX0, region.RegionLocationMinY0 = margin, margin
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = size - margin - 1, size - margin - 1
        region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0
        ds.SequenceOfUltrasoundRegions = Sequence([region])
        ds.PixelData = image.tobytes()
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelData = rng.integers(0, 4096, (size, size), dtype=np.uint16).tobytes()


def text_image(size: int, text: str = TEXT_IN_PIXELS, at: tuple[int, int] = (2, 2)) -> np.ndarray:
    """A speckled grey image with ``text`` drawn in white at ``at`` and inside the middle."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    noise = rng.gamma(2.0, 20.0, (size + 2, size + 2))  # B-mode-like speckle: grains of about 3 pixels
    grains = sum(noise[dy : dy + size, dx : dx + size] for dy in range(3) for dx in range(3)) / 9
    speckle = (2 * grains).clip(0, 150).astype(np.uint8)
    picture = Image.fromarray(speckle)
    draw = ImageDraw.Draw(picture)
    draw.text(at, text, fill=255)
    draw.text((size // 4, size // 2), text, fill=230)
    return np.asarray(picture, dtype=np.uint8).copy()


def write_planted(path: Path, n: int = 0, *, patient: int = 0, ultrasound: bool = False, size: int = 64) -> Path:
    """Write file number ``n`` of the planted corpus to ``path``."""
    ds = _dataset(n, patient, ultrasound, size)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "PHISRCAE"
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_corpus(folder: Path, files: int, *, patients: int = 20, size: int = 64, seed: int = 0) -> Iterator[Path]:
    """Write ``files`` planted files (10% ultrasound with burned-in text) under ``folder``."""
    rng = random.Random(seed)
    for n in range(files):
        patient = rng.randrange(patients)
        yield write_planted(
            folder / f"p{patient:04d}" / f"f{n:05d}.dcm", n, patient=patient, ultrasound=n % 10 == 9, size=size
        )
