"""Jobs name the input gate their model ran with (the sha256 of its weights).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27

An input gate decides which inputs a model refuses, and attaching one changes neither the
model's weights nor its version: a job records the gate so that its result, its release
check and its idempotency key know it. Jobs queued before this revision have none recorded
(NULL: not known).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_input_gate_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("model_input_gate_sha256")
