"""What the service commands share: ``--data-dir`` and opening the service's state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from medsight.errors import UsageError
from medsight.services.context import ServiceContext
from medsight.settings import ServiceSettings

__all__ = ["DataDirOption", "open_context", "service_settings"]

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="MEDSIGHT_DATA_DIR",
        help="The service's state: database and DICOM objects (default: ./var).",
        show_default=False,
    ),
]


def service_settings(data_dir: Path | None, **overrides: object) -> ServiceSettings:
    """Settings from the environment, with ``--data-dir`` and other options on top."""
    values = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        return ServiceSettings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        # Name the settings, never their values (a URL may hold a password).
        names = sorted({f"MEDSIGHT_{str(error['loc'][0]).upper()}" for error in exc.errors() if error["loc"]})
        listed = ", ".join(names) or "unknown"
        raise UsageError(f"invalid service setting(s): {listed} (see medsight.settings)") from None


@contextmanager
def open_context(data_dir: Path | None) -> Iterator[ServiceContext]:
    """The service's state on ``--data-dir``, closed afterwards."""
    context = ServiceContext.open(service_settings(data_dir))
    try:
        yield context
    finally:
        context.close()
