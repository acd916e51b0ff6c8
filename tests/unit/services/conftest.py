"""Service tests that need a store run on both backends, with the store tests' fixtures."""

from tests.unit.store.conftest import postgres_engine, postgres_schema, postgres_url, store

__all__ = ["postgres_engine", "postgres_schema", "postgres_url", "store"]
