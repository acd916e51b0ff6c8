"""Access tables: users, hashed bearer tokens, study submitters (see medsight.store.models).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "tokens",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"], name=op.f("fk_tokens_user_pk_users"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_id", name=op.f("uq_tokens_token_id")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "study_submitters",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_study_submitters")),
        sa.UniqueConstraint("study_instance_uid", "actor", name=op.f("uq_study_submitters_study_instance_uid")),
    )
    with op.batch_alter_table("study_submitters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_submitters_actor"), ["actor"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("study_submitters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_submitters_actor"))
    op.drop_table("study_submitters")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_user_pk"))
    op.drop_table("tokens")
    op.drop_table("users")
