"""The only place medsight reads or writes files.

Readers turn a DICOM file, a folder of DICOM files, a DICOMDIR, a zip archive, a NIfTI
file or a PNG/JPEG/TIFF image into :class:`~medsight.imaging.Image` objects. Foreign
errors (pydicom, nibabel, Pillow, OS) are translated into
:class:`~medsight.errors.MedsightError` here and never cross this package.
"""

from medsight.io.reader import ImageSummary, ReadFailure, Scan, read, read_image, scan

__all__ = ["ImageSummary", "ReadFailure", "Scan", "read", "read_image", "scan"]
