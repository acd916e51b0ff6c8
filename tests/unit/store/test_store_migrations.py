"""The shipped Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from medsight.store import Store
from medsight.store.migrate import MIGRATIONS, alembic_config, upgrade
from medsight.store.models import Base


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_at_the_single_head(store: Store) -> None:
    upgrade(store.engine)
    with store.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
        heads = ScriptDirectory.from_config(alembic_config(connection)).get_heads()
    assert len(heads) == 1
    assert current == tuple(heads)


def test_the_indexes_queries_filter_on_exist(store: Store) -> None:
    inspector = inspect(store.engine)
    indexed = {
        table: {column for index in inspector.get_indexes(table) for column in index["column_names"]}
        | {column for unique in inspector.get_unique_constraints(table) for column in unique["column_names"]}
        for table in ("patients", "studies", "series", "instances", "jobs")
    }
    assert {"patient_id", "patient_name_search"} <= indexed["patients"]
    assert {"study_instance_uid", "study_date", "accession_number", "patient_pk"} <= indexed["studies"]
    assert {"series_instance_uid", "modality", "study_pk"} <= indexed["series"]
    assert {"sop_instance_uid", "series_pk", "sha256"} <= indexed["instances"]
    assert {"study_instance_uid", "task", "pk", "status"} <= indexed["jobs"]


def test_migrations_ship_with_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert list((MIGRATIONS / "versions").glob("v*.py"))
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert '"store/migrations/**/*"' in pyproject


def test_env_refuses_to_run_without_a_connection() -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with pytest.raises(RuntimeError, match=r"medsight\.store\.migrate\.upgrade"):
        command.upgrade(config, "head")


def test_jobs_finished_before_the_triage_flags_get_them_from_their_result(tmp_path: Path) -> None:
    """Revision 0011 adds jobs.positive and jobs.uncertain and fills them for finished jobs."""
    import json
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0010")
    results = {
        "tb": {"probability": 0.7, "threshold": 0.55, "uncertainty": {"members": {"unanimous": False}}},
        "clear": {"probability": 0.1, "threshold": 0.5, "uncertainty": {"ambiguous": False}},
        "unsure": {"probability": 0.4, "threshold": 0.5, "uncertainty": {"ambiguous": True}},
        "volume": {"volumes_ml": {"tumour": 3.6}},
        "refused": {"refused": {"reason": "not a chest radiograph"}},
    }
    with engine.begin() as connection:
        for number, (name, result) in enumerate(results.items()):
            connection.execute(
                text(
                    "INSERT INTO jobs (job_id, key, task, model_name, model_version, model_sha256, study_instance_uid,"
                    " inputs, requested_by, status, attempts, created_at, result) VALUES (:id, :key, 't', 'm', '1',"
                    " 's', '1.2.3', '[]', 'a', :status, 1, :now, :result)"
                ),
                {
                    "id": name,
                    "key": str(number),
                    "status": "refused" if name == "refused" else "done",
                    "now": datetime(2026, 11, 27, tzinfo=UTC),
                    "result": json.dumps(result),
                },
            )
    upgrade(engine)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT job_id, positive, uncertain FROM jobs")).all()
    rows = {job_id: (positive, uncertain) for job_id, positive, uncertain in found}
    assert rows == {
        "tb": (1, 1),
        "clear": (0, 0),
        "unsure": (0, 1),
        "volume": (None, 0),
        "refused": (None, 0),
    }
    engine.dispose()
