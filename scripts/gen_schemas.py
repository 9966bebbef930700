#!/usr/bin/env python3
"""Generate the JSON Schemas in docs/ from their models.

    python scripts/gen_schemas.py            # rewrite both files
    python scripts/gen_schemas.py --check    # exit 1 if a committed file is stale

- docs/result.schema.json: the balloon-audit/1 JSON result
  (``balloon_audit/report/result_model.py``; tests/report/test_result_schema.py);
- docs/vm.schema.json: the balloon-audit-vm/1 JSON of `vm --json`
  (``balloon_audit/report/vm_model.py``; tests/test_vm_units.py).

The tests render the same text in memory and fail when a committed file differs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

SCHEMAS = {
    "result.schema.json": "balloon_audit.report.result_model",
    "vm.schema.json": "balloon_audit.report.vm_model",
}
"""File in docs/ -> the module whose ``json_schema()`` describes it."""


def render(name: str) -> str:
    schema = importlib.import_module(SCHEMAS[name]).json_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a schema file is stale")
    args = parser.parse_args(argv)
    stale = 0
    for name in SCHEMAS:
        path = ROOT / "docs" / name
        text = render(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        elif (path.read_text(encoding="utf-8") if path.exists() else "") != text:
            print(f"{path} is out of date: run python scripts/gen_schemas.py", file=sys.stderr)
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
