"""Runtime settings, read from the environment (``MEDSIGHT_*``) by pydantic-settings.

Settings are never built at import time: callers get them from :func:`get_settings`
(cached) and pass them down, so tests and the server can supply their own.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ReadLimits", "ServiceSettings", "Settings", "StoreSettings", "get_settings"]

_MIB = 1024 * 1024


class ReadLimits(BaseSettings):
    """Bounds that keep a hostile or broken file from exhausting the machine.

    Attributes:
        max_pixel_bytes: most bytes one decoded image or assembled volume may take
            as float32; larger inputs are refused before any allocation.
        max_archive_bytes: most bytes a zip archive may expand to in total.
        max_archive_members: most files a zip archive may hold.
        max_compression_ratio: largest uncompressed/compressed ratio of a zip member;
            higher ones are treated as a zip bomb.
    """

    model_config = SettingsConfigDict(env_prefix="MEDSIGHT_", frozen=True)

    max_pixel_bytes: int = Field(default=4096 * _MIB, gt=0)
    max_archive_bytes: int = Field(default=8192 * _MIB, gt=0)
    max_archive_members: int = Field(default=100_000, gt=0)
    max_compression_ratio: float = Field(default=200.0, gt=1.0)


class StoreSettings(BaseSettings):
    """Where the study store keeps its database and DICOM objects.

    Attributes:
        data_dir: the store's folder (``MEDSIGHT_DATA_DIR``): the SQLite database
            ``medsight.db`` and the content-addressed ``objects/`` live here.
        database_url: a SQLAlchemy URL (``MEDSIGHT_DATABASE_URL``), for example
            ``postgresql+psycopg://user@host/db``; None keeps SQLite in ``data_dir``.
            A secret: it may hold a password, so it never shows in a repr or a log.
        max_object_bytes: largest DICOM object the store accepts.
        master_key_file: the master key for encryption at rest (``MEDSIGHT_MASTER_KEY_FILE``,
            base64 of 32 bytes; ``medsight keys generate`` writes one). Keep it off the
            disk that holds the data. None looks for ``master.key`` in ``data_dir``.
        master_key: the same key as base64 text (``MEDSIGHT_MASTER_KEY``), for secret
            managers that inject environment variables; it wins over the file.
    """

    model_config = SettingsConfigDict(env_prefix="MEDSIGHT_", frozen=True)

    data_dir: Path = Path("./var")
    database_url: SecretStr | None = None
    max_object_bytes: int = Field(default=1024 * _MIB, gt=0)
    master_key_file: Path | None = None
    master_key: SecretStr | None = None


class ServiceSettings(StoreSettings):
    """The imaging service (``medsight serve``): the store's settings plus the server's.

    Attributes:
        host: address to listen on; loopback unless a deployment says otherwise.
        port: TCP port.
        max_upload_bytes: largest request body STOW-RS accepts (413 above it).
        analysis_workers: threads that run analysis jobs (each holds a model in memory).
        job_lease_s: how long a running job stays claimed without a heartbeat before
            another worker (after a crash, a restarted server) takes it over.
        routing_rules: a JSON file of rules that start analyses on arrival; None uses
            the built-in rules (CR/DX chest images to ``cxr-pneumonia``).
        auto_analyze: whether arriving studies are routed at all.
        routing_stable_s: how long a series must receive no new instance before the rules
            of tasks that read a whole series (MRI segmentation) run on it; 0 runs them at
            every arrival (a series sent one instance per request would then be segmented
            again, and a partial SEG filed, at each).
        max_streams: live streams open at once (``/api/v1/streams``); one more closes 4503.
        stream_threads: threads that decode and analyse live frames, shared by all streams.
        stream_idle_s: a live stream silent this long is closed (1001).
        ledger_publish_s: how often the ledger's head is signed again while nothing happens
            (every recorded event signs one anyway); 0 turns the periodic publication off.
        ledger_witness_file: an append-only file (elsewhere than the data folder) that each
            periodically published head is also written to, refused on a rollback.
        release_policy: ``record``: any installed model runs, and every analysis says
            whether its model (name, weights and input gate) was released through the
            fairness gate (``medsight models promote``); ``require``: only released models
            run, with the settings they were released with (``Bundle.config_sha256``), and
            an analysis with another is refused (``model.unreleased``, 409).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_upload_bytes: int = Field(default=2048 * _MIB, gt=0)
    analysis_workers: int = Field(default=1, ge=0, le=64)
    job_lease_s: float = Field(default=60.0, gt=0)
    routing_rules: Path | None = None
    auto_analyze: bool = True
    routing_stable_s: float = Field(default=30.0, ge=0, le=86400)
    max_streams: int = Field(default=16, ge=1, le=1024)
    stream_threads: int = Field(default=2, ge=1, le=64)
    stream_idle_s: float = Field(default=60.0, gt=0)
    ledger_publish_s: float = Field(default=3600.0, ge=0)
    ledger_witness_file: Path | None = None
    release_policy: Literal["record", "require"] = "record"


class Settings(BaseSettings):
    """Everything configurable about a medsight process."""

    model_config = SettingsConfigDict(env_prefix="MEDSIGHT_", env_nested_delimiter="__", frozen=True)

    limits: ReadLimits = Field(default_factory=ReadLimits)
    read_workers: int = Field(default=0, ge=0, description="threads for folder reads; 0 = one per core")

    @property
    def effective_workers(self) -> int:
        """Threads to read with: ``read_workers``, or the number of cores when it is 0."""
        return self.read_workers or (os.cpu_count() or 1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
