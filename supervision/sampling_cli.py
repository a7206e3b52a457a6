"""``flask supervision draw ...``: spot-check draw commands (redo a recorded draw)."""

from __future__ import annotations

import click

draw_group = click.Group("draw", help="Spot-check draws (双随机).")
