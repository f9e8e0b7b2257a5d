"""Benchmarks: the service as production runs it (gunicorn, workers, a database), on loopback.

``python -m bench`` (or ``make bench``) starts everything it needs, runs each scenario and writes
``bench/results.json`` and ``bench/RESULTS.md``. Nothing under ``provider/`` imports this package.
"""
