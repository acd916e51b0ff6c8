"""Jobs' triage flags, positive and uncertain, for the worklist's filter and sort, and an
index for its newest job per study and task.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27

Jobs finished before this revision get their flags from their stored result, by the rule
of ``medsight.services.triage`` as it stands at this revision (copied: a migration must
not change when that module does).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("positive", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("uncertain", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index("ix_jobs_study_task_pk", ["study_instance_uid", "task", "pk"], unique=False)
    jobs = sa.table(
        "jobs",
        sa.column("pk", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("result", sa.Text()),
        sa.column("positive", sa.Boolean()),
        sa.column("uncertain", sa.Boolean()),
    )
    connection = op.get_bind()
    done = connection.execute(sa.select(jobs.c.pk, jobs.c.result).where(jobs.c.status == "done")).all()
    for pk, text in done:
        positive, uncertain = _flags(text)
        if positive is not None:
            connection.execute(sa.update(jobs).where(jobs.c.pk == pk).values(positive=positive, uncertain=uncertain))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_study_task_pk")
        batch_op.drop_column("uncertain")
        batch_op.drop_column("positive")


def _flags(text: str | None) -> tuple[bool | None, bool]:
    """(positive, uncertain) of a finished job's result JSON; (None, False) for a segmentation."""
    try:
        result: Any = json.loads(text) if text else {}
    except ValueError:
        return None, False
    if not isinstance(result, dict):
        return None, False
    probability, threshold = result.get("probability"), result.get("threshold")
    if not isinstance(probability, float | int) or not isinstance(threshold, float | int):
        return None, False
    if isinstance(probability, bool) or isinstance(threshold, bool):
        return None, False
    uncertainty = result.get("uncertainty")
    uncertainty = uncertainty if isinstance(uncertainty, dict) else {}
    members = uncertainty.get("members")
    split = isinstance(members, dict) and members.get("unanimous") is False
    return probability >= threshold, bool(uncertainty.get("ambiguous")) or split
