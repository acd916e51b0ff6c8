"""Series waiting to be stable before routing rules run on them (see medsight.store.models.PendingRoute).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_routes",
        sa.Column("series_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("sop_classes", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("series_instance_uid", name=op.f("pk_pending_routes")),
    )
    with op.batch_alter_table("pending_routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_routes_due_at"), ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_routes_due_at"))
    op.drop_table("pending_routes")
