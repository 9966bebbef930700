#!/usr/bin/env bash
# Set everything up (scripts/provision.sh) and run the whole test suite:
# quality gates (ruff, mypy, radon), unit tests, live tests against vcsim, cassette replays,
# report and browser tests.
# Extra arguments go to pytest, e.g. scripts/test.sh -k xlsx
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/provision.sh
# Lint, complexity (C901: at most 15 per function) and argument count (PLR0913): pyproject.toml
.venv/bin/ruff check .
# Types of the package (configuration in pyproject.toml)
.venv/bin/mypy
# No function of complexity rank D or worse (above 20) as radon measures it
too_complex="$(.venv/bin/radon cc -s -n D balloon_audit)"
if [[ -n "$too_complex" ]]; then
  printf 'functions too complex (radon cc -n D balloon_audit); split them:\n%s\n' \
    "$too_complex" >&2
  exit 1
fi
exec .venv/bin/python -m pytest -q -ra "$@"
