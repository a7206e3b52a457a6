"""accounts: e-mail (unique where set), session epoch and password-changed stamp, lock-out
counters, enterprise sub-accounts (parent_id; enterprise_id no longer unique)

The downgrade restores the unique enterprise_id and so fails while sub-accounts exist (delete
them first: they would otherwise claim their enterprise's declarations).

Revision ID: c1dfdb30bd79
Revises: 61ebac147476
Create Date: 2026-12-07 21:22:35.570843

"""
from alembic import op
import sqlalchemy as sa

import core.models


# revision identifiers, used by Alembic.
revision = 'c1dfdb30bd79'
down_revision = '61ebac147476'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('password_changed_at', core.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', core.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_users_enterprise_id'), type_='unique')
        batch_op.create_index(batch_op.f('ix_users_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_parent_id'), ['parent_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_users_email'), ['email'])
        batch_op.create_foreign_key(batch_op.f('fk_users_parent_id_users'), 'users', ['parent_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_parent_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_users_email'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_users_parent_id'))
        batch_op.drop_index(batch_op.f('ix_users_enterprise_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_users_enterprise_id'), ['enterprise_id'])
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('session_epoch')
        batch_op.drop_column('email')
        batch_op.drop_column('parent_id')
