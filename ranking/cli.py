"""CLI of the ranking package: its part of ``flask demo load``.

``register_cli`` is called by ``core.cli.register`` after declare's, so the demo command finds
the 领跑者 loader in its registry (declare never imports ranking).
"""

from __future__ import annotations


def register_cli(app) -> None:
    from declare.cli import register_demo_loader

    register_demo_loader(app, "ranking", _load_demo)


def _load_demo(seed: int) -> dict:
    """The 领跑者 demo (imported on use: the demo's modules stay out of every app start)."""
    from ranking.demo import load_ranking_demo

    return load_ranking_demo(seed)
