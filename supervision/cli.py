"""CLI commands of supervision (``flask supervision flags ...``, ``flask supervision draw ...``).

Each slice keeps its commands in its own module (``flags.cli``, ``sampling.cli``,
``inspections.cli``); this module only groups them.
"""

from __future__ import annotations

import click

from supervision.flags.cli import flags_group
from supervision.inspections.cli import inspections_group
from supervision.sampling.cli import draw_group

supervision_group = click.Group("supervision", help="Post-declaration supervision.")
supervision_group.add_command(flags_group)
supervision_group.add_command(draw_group)
supervision_group.add_command(inspections_group)


def register_cli(app) -> None:
    app.cli.add_command(supervision_group)
