"""CLI commands of supervision (``flask supervision ...``)."""

from __future__ import annotations

import click

supervision_group = click.Group("supervision", help="Post-declaration supervision.")


def register_cli(app) -> None:
    app.cli.add_command(supervision_group)
