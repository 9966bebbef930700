#!/usr/bin/env python3
"""Write a synthetic capture of many VMs, for client-side benchmarks that need no vcsim.

Takes the committed 2,500-VM capture (cassettes/large.yaml.gz) as the template of the
conversation: the same requests, the same host pass, and its VM objects as they were
recorded, repeated with new managed object IDs and names until there are ``--vms``
VMs per source, in pages of the recorded page size. The repeated objects are written
compactly, as vCenter serialises them (one ``xsi`` namespace on the envelope, not one
per value as vcsim writes it). ``--sources N`` repeats the whole conversation for N
vCenters (``vcenter-1.invalid`` … ``vcenter-N.invalid``).

Usage:  .venv/bin/python scripts/make_synthetic_capture.py --vms 10000 --out /tmp/syn-10k.yaml.gz
        .venv/bin/python scripts/make_synthetic_capture.py --vms 10000 --sources 10 \\
            --out /tmp/syn-10x10k.yaml.gz
Replay it with ``balloon-audit scan --replay FILE`` or scripts/bench_collect.py --replay.
Large outputs are not meant to be committed (100,000 VMs are about 20 MB gzipped).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "cassettes" / "large.yaml.gz"

_OBJECTS = re.compile(r"<objects>.*?</objects>", re.S)
_VIEW_PREFIX = re.compile(r' xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"')
_OBJ = re.compile(r'<obj type="VirtualMachine">([^<]*)</obj>')
_NAME = re.compile(r"(<propSet><name>name</name><val[^>]*>)([^<]*)(</val>)")
_RETURNVAL = re.compile(r"<returnval>.*</returnval>", re.S)
_UUID = re.compile(r"<instanceUuid>([^<]*)</instanceUuid>")
_MAX_OBJECTS = re.compile(r"<maxObjects>(\d+)</maxObjects>")


def compact(xml: str) -> str:
    """vcsim's per-value namespace declarations → the envelope's ``xsi`` prefix."""
    return _VIEW_PREFIX.sub("", xml).replace("XMLSchema-instance:type=", "xsi:type=")


def operation(item: dict) -> str:
    body = item["request"].get("body") or ""
    match = re.search(r"<soapenv:Body><(\w+)", body)
    return match.group(1) if match else item["request"]["method"]


def vm_pass(interactions: list[dict]) -> tuple[int, int]:
    """Index of the VM pass's RetrievePropertiesEx and of the first call after its pages."""
    start = next(
        i
        for i, item in enumerate(interactions)
        if operation(item) == "RetrievePropertiesEx"
        and "<type>VirtualMachine</type>" in (item["request"]["body"] or "")
    )
    end = start + 1
    while operation(interactions[end]) == "ContinueRetrievePropertiesEx":
        end += 1
    return start, end


def synthetic_objects(templates: list[str], count: int) -> list[str]:
    objects = []
    stride = next(n for n in (7919, 7907, 7901) if len(templates) % n)  # every template, mixed
    for index in range(count):
        text = templates[(index * stride) % len(templates)]
        round_ = index // len(templates)
        text = _OBJ.sub(f'<obj type="VirtualMachine">vm-{index + 1}</obj>', text, count=1)
        if round_:
            text = _NAME.sub(lambda m, r=round_: f"{m[1]}{m[2]}-r{r}{m[3]}", text, count=1)
        objects.append(text)
    return objects


def page_body(envelope: str, objects: list[str], token: str | None) -> str:
    token_xml = f"<token>{token}</token>" if token else ""
    inner = f"<returnval>{token_xml}{''.join(objects)}</returnval>"
    return compact(_RETURNVAL.sub(lambda _: inner, envelope, count=1))


def build(vms: int, sources: int) -> dict[str, Any]:
    template = yaml.load(gzip.decompress(TEMPLATE.read_bytes()), Loader=yaml.CSafeLoader)
    items = template["interactions"]
    start, end = vm_pass(items)
    page_size = int(_MAX_OBJECTS.search(items[start]["request"]["body"])[1])
    recorded = [
        compact(obj)
        for item in items[start:end]
        for obj in _OBJECTS.findall(item["response"]["body"]["string"])
    ]
    envelope = items[start]["response"]["body"]["string"]
    continue_item = items[start + 1]
    objects = synthetic_objects(recorded, vms)
    pages = [objects[i : i + page_size] for i in range(0, len(objects), page_size)] or [[]]
    vm_items = []
    for number, page in enumerate(pages):
        item = copy.deepcopy(items[start] if number == 0 else continue_item)
        token = f"page-{number + 1}" if number + 1 < len(pages) else None
        item["response"]["body"]["string"] = page_body(envelope, page, token)
        vm_items.append(item)
    one_source = [*items[:start], *vm_items, *items[end:]]
    interactions = []
    names = [f"vcenter-{n}.invalid" for n in range(1, sources + 1)]
    for number, name in enumerate(names, 1):
        for item in one_source:
            copied = dict(item)
            request = copy.deepcopy(item["request"])
            request["uri"] = request["uri"].replace("vcenter-1.invalid", name)
            copied["request"] = request
            copied["response"] = copy.deepcopy(item["response"])  # no YAML aliases
            body = copied["response"]["body"]
            # each source its own vCenter: one instance UUID under two names is audited once
            body["string"] = _UUID.sub(
                lambda m, n=number: f"<instanceUuid>{m[1][:-8]}{n:08d}</instanceUuid>",
                body["string"],
            )
            interactions.append(copied)
    meta = dict(template["balloon_audit"])
    meta["sources"] = names
    meta["synthetic"] = f"{vms} VMs per source from {TEMPLATE.name}"
    return {"balloon_audit": meta, "version": 1, "interactions": interactions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10000, help="VMs per source")
    parser.add_argument("--sources", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="FILE.yaml or FILE.yaml.gz")
    opts = parser.parse_args()
    started = time.perf_counter()
    document = build(opts.vms, opts.sources)
    text = yaml.dump(
        document, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=120
    ).encode("utf-8")
    payload = gzip.compress(text, compresslevel=6, mtime=0) if opts.out.suffix == ".gz" else text
    opts.out.write_bytes(payload)
    print(
        f"{opts.out}: {opts.sources} source(s) x {opts.vms:,} VMs, {len(text) / 1e6:.0f} MB of "
        f"YAML, {len(payload) / 1e6:.1f} MB on disk, {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
