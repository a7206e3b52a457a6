"""run entries without foreign-key constraints; objections entry index

Writing a ranking snapshot checked five foreign keys per entry (run, declaration, version,
enterprise, product); PostgreSQL does each with a row lock on the referenced row, which made
the write 4-5x slower (perf/README.md). The ids are those the run read, and the run it wrote,
in the same transaction; declarations, versions, enterprises and products are never deleted,
and a preview run is deleted only with its entries. Deleting old preview entries checks, per
entry, the objections that could refer to it: now by index.

Revision ID: 7d0d15add586
Revises: 0a46dcdfaf62
Create Date: 2026-11-22 16:17:31.889955

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7d0d15add586'
down_revision = '0a46dcdfaf62'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objections_entry_id'), ['entry_id'], unique=False)

    with op.batch_alter_table('run_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_run_entries_version_id_declaration_versions'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_run_entries_declaration_id_declarations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_run_entries_product_id_products'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_run_entries_enterprise_id_enterprises'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_run_entries_run_id_ranking_runs'), type_='foreignkey')


def downgrade():
    with op.batch_alter_table('run_entries', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_run_entries_run_id_ranking_runs'), 'ranking_runs', ['run_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_run_entries_enterprise_id_enterprises'), 'enterprises', ['enterprise_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_run_entries_product_id_products'), 'products', ['product_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_run_entries_declaration_id_declarations'), 'declarations', ['declaration_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_run_entries_version_id_declaration_versions'), 'declaration_versions', ['version_id'], ['id'])

    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objections_entry_id'))
