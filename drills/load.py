"""``python -m drills.load ARGS [-- ARGS …]``: several ``flask`` commands in one process.

The drills' stack loads its data with the service's own commands (``flask setup-db``,
``flask catalogue load --confirm``, ``flask demo load``, ``flask create-user``), exactly as an
operator would; run as separate ``flask`` processes each paid the import of the app again
(about 2.5 s a command on 2 busy cores). Here the app is imported once and each command runs
through Flask's CLI runner, in order, with a fresh database session; the first that fails
stops the run with its output and exit code. Prints one timing line per command.
"""

from __future__ import annotations

import sys
import time


def split(argv: list[str]) -> list[list[str]]:
    commands, current = [], []
    for arg in argv:
        if arg == "--":
            if current:
                commands.append(current)
            current = []
        else:
            current.append(arg)
    if current:
        commands.append(current)
    return commands


def main(argv: list[str] | None = None) -> int:
    commands = split(sys.argv[1:] if argv is None else argv)
    from wsgi import app

    from core.extensions import db

    runner = app.test_cli_runner()
    for args in commands:
        t = time.monotonic()
        result = runner.invoke(args=args, catch_exceptions=True)
        with app.app_context():
            db.session.remove()
        print(f"flask {' '.join(args)}: {time.monotonic() - t:.1f} s", flush=True)
        if result.exit_code:
            print(result.output, file=sys.stderr)
            if result.exc_info and result.exception is not None:
                import traceback

                traceback.print_exception(*result.exc_info, file=sys.stderr)
            return result.exit_code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
