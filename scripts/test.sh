#!/usr/bin/env bash
# Set everything up (scripts/provision.sh) and run the whole test suite:
# lint, unit tests, live tests against vcsim, cassette replays, report and browser tests.
# Extra arguments go to pytest, e.g. scripts/test.sh -k xlsx
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/provision.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q -ra "$@"
