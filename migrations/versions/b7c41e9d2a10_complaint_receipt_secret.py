"""complaints: the digest of the complainant's secret (status by receipt number + secret)

Revision ID: b7c41e9d2a10
Revises: 062eba1bb5d9
Create Date: 2026-12-07 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c41e9d2a10'
down_revision = '062eba1bb5d9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        # Complaints filed before have no secret: their status is not shown publicly.
        batch_op.add_column(
            sa.Column('secret_sha256', sa.String(length=64), nullable=False,
                      server_default=sa.text("''"))
        )


def downgrade():
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('secret_sha256')
