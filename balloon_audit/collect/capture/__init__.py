"""Record a scan's SOAP conversation to a scrubbed capture file, and audit from one offline.

A capture is a vcrpy cassette (YAML) with one extra top-level key, ``balloon_audit``,
naming the sources it holds. Usage::

    with recording(path, servers=["vc01:443"]):
        snapshot = collect_all(targets)

    with replaying(path) as info:
        snapshot = collect_all(replay_targets(path), page_size=info.page_size)

(:func:`balloon_audit.audit.replay` does the second for a whole audit.)

Nothing unscrubbed reaches disk: interactions stay in memory until the recording ends,
then :class:`~balloon_audit.collect.capture.scrub.Scrubber` rewrites them and the file is
written atomically. Replay never opens a socket: a request the capture cannot answer
raises :class:`CaptureMismatchError`.

Modules: ``scrub`` (pure text rules), ``fileformat`` (the file: read, scrub, write),
``vcr_session`` (the only one that touches vcrpy).
"""

from __future__ import annotations

from balloon_audit.collect.capture.fileformat import (
    CaptureInfo,
    capture_info,
    check_capture_path,
    replay_targets,
)
from balloon_audit.collect.capture.vcr_session import (
    CaptureMismatchError,
    recording,
    replaying,
)

__all__ = [
    "CaptureInfo",
    "CaptureMismatchError",
    "capture_info",
    "check_capture_path",
    "recording",
    "replay_targets",
    "replaying",
]
