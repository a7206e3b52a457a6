"""``flask supervision flags ...``: risk-flag commands."""

from __future__ import annotations

import click

flags_group = click.Group("flags", help="Risk flags of declarations.")
