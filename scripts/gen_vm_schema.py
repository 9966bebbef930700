#!/usr/bin/env python3
"""Generate docs/vm.schema.json (the balloon-audit-vm/1 JSON of `vm --json`) from its model.

    python scripts/gen_vm_schema.py            # rewrite docs/vm.schema.json
    python scripts/gen_vm_schema.py --check    # exit 1 if the committed file is stale

The model is ``balloon_audit/report/vm_model.py`` (its entities are the
dataclasses of ``balloon_audit/model.py``). tests/test_vm_units.py
renders the same text in memory and fails when the committed file differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "docs" / "vm.schema.json"
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from balloon_audit.report.vm_model import json_schema  # noqa: E402


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the schema file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(
                f"{SCHEMA_PATH} is out of date: run python scripts/gen_vm_schema.py",
                file=sys.stderr,
            )
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
