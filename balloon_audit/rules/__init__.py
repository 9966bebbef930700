"""Audit rules: one module per rule family. Importing this package registers them all."""

from balloon_audit.rules import (  # noqa: F401
    allocation,
    balloon_driver,
    data_quality,
    guest,
    hosts,
    reclamation,
    tools,
)
