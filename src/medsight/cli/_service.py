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

__all__ = ["DataDirOption", "open_context", "service_settings", "settings_error"]

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
        raise settings_error(exc, "service setting") from None


def settings_error(exc: ValidationError, what: str = "setting") -> UsageError:
    """The usage error for ``MEDSIGHT_*`` values that do not parse: it names the variables,
    never their values (a database URL may hold a password)."""
    names = sorted({"MEDSIGHT_" + "__".join(str(part) for part in e["loc"]).upper() for e in exc.errors() if e["loc"]})
    return UsageError(f"invalid {what}(s): {', '.join(names) or 'unknown'} (see medsight.settings)")


@contextmanager
def open_context(data_dir: Path | None) -> Iterator[ServiceContext]:
    """The service's state on ``--data-dir``, closed afterwards."""
    context = ServiceContext.open(service_settings(data_dir))
    try:
        yield context
    finally:
        context.close()
