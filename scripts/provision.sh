#!/usr/bin/env bash
# Set up everything balloon-audit needs in this checkout, idempotently:
#   .venv/        Python virtual environment with balloon-audit (editable) and test tools
#   .tools/bin/   vcsim and govc v0.46.3 (the last govmomi release that `go install` can build)
# Needs: Python >= 3.10 and Go >= 1.22 on PATH, and access to PyPI and the Go module proxy.
# Re-running is quick: nothing is reinstalled when it is already present.
set -euo pipefail

GOVMOMI_VERSION=v0.46.3
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[provision] %s\n' "$*" >&2; }

python_bin="${PYTHON:-python3}"
if ! command -v "$python_bin" >/dev/null 2>&1; then
  say "error: $python_bin not found (Python >= 3.10 is required)"; exit 1
fi

# --- vcsim and govc -----------------------------------------------------------
mkdir -p .tools/bin
stamp=.tools/bin/.govmomi-version
if [[ -x .tools/bin/vcsim && -x .tools/bin/govc && "$(cat "$stamp" 2>/dev/null)" == "$GOVMOMI_VERSION" ]]; then
  say "vcsim and govc $GOVMOMI_VERSION already in .tools/bin"
else
  if ! command -v go >/dev/null 2>&1; then
    say "error: go not found: Go >= 1.22 is needed to install vcsim (or set BALLOON_AUDIT_VCSIM)"; exit 1
  fi
  say "installing vcsim and govc $GOVMOMI_VERSION into .tools/bin (takes a minute the first time)"
  GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install \
    "github.com/vmware/govmomi/vcsim@$GOVMOMI_VERSION" \
    "github.com/vmware/govmomi/govc@$GOVMOMI_VERSION"
  echo "$GOVMOMI_VERSION" > "$stamp"
fi
.tools/bin/vcsim -h >/dev/null 2>&1 || { rc=$?; [[ $rc -le 2 ]] || { say "error: vcsim does not run"; exit 1; }; }

# --- Python environment -------------------------------------------------------
pystamp=.venv/.provisioned
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ -x .venv/bin/python && "$(cat "$pystamp" 2>/dev/null)" == "$want" ]]; then
  say "Python environment .venv is up to date"
else
  say "creating .venv and installing balloon-audit with its test tools"
  [[ -x .venv/bin/python ]] || "$python_bin" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  echo "$want" > "$pystamp"
fi
say "ready: .venv/bin/balloon-audit, .tools/bin/vcsim, .tools/bin/govc"
