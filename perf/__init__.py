"""The performance harness: a synthetic-data generator and one measuring command.

``python -m perf.run`` (see perf/README.md). Not the domain ``benchmarks/`` package, which holds
the reference catalogue; nothing in the service imports this package.
"""
