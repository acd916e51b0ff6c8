"""Jobs name the settings their model ran with (``Bundle.config_sha256``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27

A model's threshold, calibration and distribution check decide its result as much as its
weights, and moving them changes neither the weights nor the version: a job records the
digest of those settings so that its result, its release check and its idempotency key
know them. Jobs queued before this revision have none recorded (NULL: not known).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_config_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("model_config_sha256")
