"""Alembic migrations, run programmatically from the package (no ``alembic.ini``).

The migration scripts ship inside the package (``migrations/``), so an installed
medsight can create or upgrade its own database: :func:`upgrade` is ``alembic upgrade
head`` on a given engine.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

__all__ = ["MIGRATIONS", "alembic_config", "upgrade"]

#: The folder that holds ``env.py`` and ``versions/``.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that runs the package's migrations on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py takes the connection from here instead of building an engine from a URL.
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` (the latest by default)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
