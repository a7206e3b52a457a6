"""declarations.lock_version: the counter every write of a declaration claims

Two requests that read the same declaration (two concurrent revise, publish, abolish or edit)
used to race to the database's unique constraints and the loser got a 500. Every write in
``declare.operations`` now first moves this counter from the value it read to the next one
(``UPDATE … WHERE lock_version = :read``); the loser finds the row changed and answers 409.
Existing rows start at 1.

Revision ID: d7e1a0c4b9f2
Revises: c1d2e3f4a5b6
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7e1a0c4b9f2'
down_revision = 'c1d2e3f4a5b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('lock_version', sa.Integer(), server_default='1', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.drop_column('lock_version')
