"""balloon_audit: a read-only vSphere auditor for memory ballooning and reclamation."""

__version__ = "0.1.0"
