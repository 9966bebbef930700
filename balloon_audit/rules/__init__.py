"""Audit rules: one module per rule family. Importing this package registers them all."""

from balloon_audit.rules import (  # noqa: F401
    allocation,
    balloon_driver,
    data_quality,
    guest,
    host_balloon,
    hosts,
    pools,
    reclamation,
    tools,
)
