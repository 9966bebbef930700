#!/usr/bin/env bash
# Set everything up, start the bundled vcsim lab with the `demo` scenario, audit it,
# and leave the reports (JSON, HTML, XLSX) in ./reports/ (or the folder given as $1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-reports}"
scripts/provision.sh

state="$root/.tools/lab-demo"
.venv/bin/balloon-audit lab down --state-dir "$state" >/dev/null
.venv/bin/balloon-audit lab up --scenario demo --state-dir "$state" --json > "$state.json"
trap '.venv/bin/balloon-audit lab down --state-dir "$state" >/dev/null; rm -f "$state.json"' EXIT
server="$(.venv/bin/python -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%s:%s" % (d["host"], d["port"]))' "$state.json")"

# vcsim accepts any user and password; a real vCenter needs real ones (see README).
export BALLOON_AUDIT_PASSWORD=lab
set +e
.venv/bin/balloon-audit scan --server "$server" --user lab --insecure --output-dir "$out"
rc=$?
set -e
# 1 means "findings at or above --fail-on": expected for the demo fleet.
if [[ $rc -gt 1 ]]; then
  echo "the audit failed (exit $rc)" >&2
  exit "$rc"
fi
echo
echo "Reports written to $out/:"
ls -1 "$out" | grep -E '^balloon-audit-' | tail -3 | sed "s|^|  $out/|"
