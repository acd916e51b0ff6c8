"""Share links remember the patient's pseudonym, so consent to sharing is checked at every opening.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pseudonym", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_shares_pseudonym"), ["pseudonym"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shares_pseudonym"))
        batch_op.drop_column("pseudonym")
