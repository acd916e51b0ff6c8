"""Training runs on consent-governed data and the images each used (see medsight.store.models.TrainingRun).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column("dataset_sha256", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("consent_checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("patients", sa.Integer(), nullable=False),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.Column("withdrawn_dropped", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_training_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_training_runs_run_id")),
    )
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_runs_model_name"), ["model_name"], unique=False)
    op.create_table(
        "training_run_data",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("instance_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_pk"],
            ["training_runs.pk"],
            name=op.f("fk_training_run_data_run_pk_training_runs"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_training_run_data")),
    )
    with op.batch_alter_table("training_run_data", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_run_data_pseudonym"), ["pseudonym"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_run_data_run_pk"), ["run_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("training_run_data", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_run_data_run_pk"))
        batch_op.drop_index(batch_op.f("ix_training_run_data_pseudonym"))
    op.drop_table("training_run_data")
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_runs_model_name"))
    op.drop_table("training_runs")
