"""declaration_search: the public search index (CJK unigrams/bigrams, atoms)

One row per declaration with a shown version (``declare.search``), the token columns and the
filter/sort columns; on PostgreSQL a generated ``tsv`` column with a GIN index, on SQLite an
FTS5 external-content table kept by triggers (both created by the same DDL the models use).
The rows are filled by ``flask search rebuild`` after upgrading an existing database.

Revision ID: d4e5f6a7b8c9
Revises: d7e1a0c4b9f2
Create Date: 2026-12-07 18:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import core.models
from declare.search import PG_CREATE, SQLITE_CREATE, SQLITE_DROP


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8c9'
down_revision = 'd7e1a0c4b9f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'declaration_search',
        sa.Column('declaration_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('region_code', sa.String(length=6), nullable=False),
        sa.Column('published_at', core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('number_key', sa.String(length=80), nullable=False),
        sa.Column('heads', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('filters', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id']),
        sa.ForeignKeyConstraint(['version_id'], ['declaration_versions.id']),
        sa.PrimaryKeyConstraint('declaration_id'),
    )
    with op.batch_alter_table('declaration_search', schema=None) as batch_op:
        batch_op.create_index(
            'ix_declaration_search_recent', ['status', 'published_at', 'declaration_id'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_declaration_search_number_key'), ['number_key'], unique=False)
    dialect = op.get_bind().dialect.name
    for sql in {'postgresql': PG_CREATE, 'sqlite': SQLITE_CREATE}.get(dialect, ()):
        op.execute(sql)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for sql in SQLITE_DROP:
            op.execute(sql)
    with op.batch_alter_table('declaration_search', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declaration_search_number_key'))
        batch_op.drop_index('ix_declaration_search_recent')
    op.drop_table('declaration_search')
