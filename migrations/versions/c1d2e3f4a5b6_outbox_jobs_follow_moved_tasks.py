"""outbox jobs follow the tasks that moved into supervision's slices

Supervision's job functions moved from ``supervision.tasks`` into ``supervision.flags.tasks``
(and the overdue rectifications into ``supervision.inspections.tasks``). A job still waiting in
the outbox under an old path would fail to import when a worker picks it up; this rewrites the
path of every job not done yet. Data only, no schema change.

Revision ID: c1d2e3f4a5b6
Revises: b7c41e9d2a10
Create Date: 2026-12-07 16:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1d2e3f4a5b6'
down_revision = 'b7c41e9d2a10'
branch_labels = None
depends_on = None

MOVED = {
    "supervision.tasks.rectifications_overdue": "supervision.inspections.tasks.rectifications_overdue",
    **{
        f"supervision.tasks.{name}": f"supervision.flags.tasks.{name}"
        for name in (
            "flags_for_declarations",
            "flags_for_category",
            "flags_for_region",
            "flags_for_leader_lists",
            "recompute_all",
        )
    },
}

outbox = sa.table("outbox_jobs", sa.column("func", sa.String), sa.column("status", sa.String))


def _rename(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(
            outbox.update()
            .where(outbox.c.func == old, outbox.c.status != "done")
            .values(func=new)
        )


def upgrade():
    _rename(MOVED)


def downgrade():
    _rename({new: old for old, new in MOVED.items()})
