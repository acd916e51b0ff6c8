"""Alembic migration environment of the store (run through :mod:`medsight.store.migrate`)."""
