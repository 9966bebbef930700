"""Run history: a store of past runs, identity across runs, and what changed between two runs.

- ``identity``: stable keys for vCenters, VMs, hosts and findings.
- ``view``: the comparable part of one run (``RunView``), from a result or from the store.
- ``compare``: two views in, ``Changes`` out (pure, no I/O).
- ``changes``: the ``Changes`` data that renderers read.
- ``schema`` / ``migrations`` / ``store``: the SQL store (SQLite by default, PostgreSQL by URL).
"""
