"""The study store: DICOM objects in content-addressed files, indexed in a database (L3).

SQLAlchemy 2 over SQLite (WAL) by default or PostgreSQL (``MEDSIGHT_DATABASE_URL``),
with Alembic migrations shipped in the package; objects by sha256 under
``<data-dir>/objects``, checked on every read. It imports :mod:`medsight.io` for
parsing (only io reads DICOM) and never torch, MONAI or a web framework: the
DICOMweb service sits on top of it.
"""

from medsight.store.query import (
    InstanceQuery,
    InstanceResult,
    SeriesQuery,
    SeriesResult,
    StudyQuery,
    StudyResult,
)
from medsight.store.rows import IngestStatus
from medsight.store.store import IngestResult, PreparedObject, Store

__all__ = [
    "IngestResult",
    "IngestStatus",
    "InstanceQuery",
    "InstanceResult",
    "PreparedObject",
    "SeriesQuery",
    "SeriesResult",
    "Store",
    "StudyQuery",
    "StudyResult",
]
