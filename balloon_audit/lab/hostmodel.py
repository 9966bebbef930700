"""Host values through ``vcsim -load``: vcsim cannot ``SET`` host properties over the API.

The route: start vcsim with the scenario's model flags, ``govc object.save`` the
inventory, stop it, rewrite the saved HostSystem files (memory size, memory
usage, connection state, advanced options in ``config.option``) and the
compute-resource totals, then serve the directory with ``vcsim -load DIR``.
(A loaded host has no OptionManager object, so its advanced options cannot be
set over the API afterwards; they are written into the file instead.)

Two things ``-load`` needs that the saved files do not give:

* Datastores: the saved ``info.url`` points into the temporary directory of the
  vcsim that was saved, which removed it when it exited; CreateVM_Task then
  fails with ``FileFault``. Each datastore is pointed at a directory the lab owns.
* The saved model is the same for every run with the same flags, so it is
  cached per flag set (and vcsim binary) under the user's cache directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from balloon_audit import userdirs
from balloon_audit.errors import LabError
from balloon_audit.lab.scenario_model import Scenario
from balloon_audit.lab.vcsim import find_tool, find_vcsim, start_vcsim, stop_vcsim

MB = 1024 * 1024
_FILE_RE = re.compile(r"^\d+-(?P<type>[A-Za-z]+)-(?P<moid>[^.]+)\.xml$")
_PROPSET_RE = re.compile(r"<propSet>\s*<name>([^<]+)</name>(.*?)</propSet>", re.S)
_TAG_RE = re.compile(r"<(/?)([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)([^>]*?)(/?)>")
_TYPED_REF_RE = re.compile(r'<(\w+) type="HostSystem">([^<]+)</\1>')


def cache_dir() -> Path:
    """Where saved models are cached: $BALLOON_AUDIT_CACHE_DIR or $XDG_CACHE_HOME/balloon-audit."""
    explicit = os.environ.get("BALLOON_AUDIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return userdirs.cache_home() / "balloon-audit" / "vcsim-models"


def saved_model(args: list[str], progress: Callable[[str], None] | None = None) -> Path:
    """A ``govc object.save`` directory of vcsim started with ``args``; built once, then cached."""
    vcsim = find_vcsim()
    stat = vcsim.stat()
    key = hashlib.sha256(
        "\0".join([str(vcsim), str(stat.st_size), str(stat.st_mtime_ns), *args]).encode()
    ).hexdigest()[:16]
    target = cache_dir() / key
    if (target / ".complete").is_file():
        return target
    govc = find_tool("govc")
    if govc is None:
        raise LabError(
            "govc not found (needed to set host values through vcsim -load)",
            hint="run scripts/provision.sh (installs govc v0.46.3 into .tools/bin), "
            "set BALLOON_AUDIT_GOVC, or put govc on PATH",
        )
    if progress:
        progress(f"saving the vcsim model ({' '.join(args)}) to the cache")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    endpoint = start_vcsim(args)
    try:
        env = {
            **os.environ,
            "GOVC_URL": endpoint.url,
            "GOVC_USERNAME": "lab",
            "GOVC_PASSWORD": "lab",
            "GOVC_INSECURE": "1",
            "GOVC_PERSIST_SESSION": "false",
        }
        result = subprocess.run(
            [str(govc), "object.save", "-d", str(staging / "model")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise LabError(f"govc object.save failed: {result.stderr.strip()[:300]}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        stop_vcsim(endpoint.pid)
    (staging / "model" / ".complete").touch()
    if target.exists() and not (target / ".complete").is_file():
        shutil.rmtree(target, ignore_errors=True)  # left behind by an interrupted run
    with contextlib.suppress(OSError):  # another process cached it first: keep theirs
        os.replace(staging / "model", target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def prepare_model(
    scenario: Scenario, workdir: Path, progress: Callable[[str], None] | None = None
) -> Path:
    """Copy the cached model into ``workdir/model`` and apply the scenario's host values.

    Returns the directory to pass to ``vcsim -load``. Datastore directories are
    created under ``workdir/datastores``.
    """
    source = saved_model(scenario.model.vcsim_args(), progress)
    model = workdir / "model"
    if model.exists():
        shutil.rmtree(model)
    shutil.copytree(source, model, ignore=shutil.ignore_patterns(".complete"))
    files = _index(model)
    _relocate_datastores(files.get("Datastore", {}), workdir / "datastores")

    host_names = {moid: _entity_name(path) for moid, path in files.get("HostSystem", {}).items()}
    host_bytes: dict[str, int] = {}
    host_connected: dict[str, bool] = {}
    for moid, path in files.get("HostSystem", {}).items():
        spec = scenario.host_spec(host_names[moid])
        text = path.read_text(encoding="utf-8")
        if spec is not None:
            text = _apply_host(text, spec.memory_bytes, spec.memory_usage_mb, spec.connection_state)
            text = _add_options(text, spec.advanced_options)
            path.write_text(text, encoding="utf-8")
        host_bytes[moid] = int(_get(text, "hardware", ["memorySize"]) or 0)
        host_connected[moid] = _get(text, "runtime", ["connectionState"]) == "connected"

    for kind in ("ComputeResource", "ClusterComputeResource"):
        for path in files.get(kind, {}).values():
            text = path.read_text(encoding="utf-8")
            host_block = _propset(text, "host") or ""
            members = [m for _, m in _TYPED_REF_RE.findall(host_block)]
            total = sum(host_bytes.get(m, 0) for m in members)
            effective = [m for m in members if host_connected.get(m)]
            text = _set(text, "summary", ["totalMemory"], str(total))
            # The API documents effectiveMemory in MB (vcsim writes bytes).
            text = _set(
                text,
                "summary",
                ["effectiveMemory"],
                str(sum(host_bytes.get(m, 0) for m in effective) // MB),
            )
            text = _set(text, "summary", ["numEffectiveHosts"], str(len(effective)))
            path.write_text(text, encoding="utf-8")
    return model


def _index(model: Path) -> dict[str, dict[str, Path]]:
    out: dict[str, dict[str, Path]] = {}
    for path in model.iterdir():
        match = _FILE_RE.match(path.name)
        if match and path.is_file():
            out.setdefault(match["type"], {})[match["moid"]] = path
    return out


def _entity_name(path: Path) -> str:
    value = _propset(path.read_text(encoding="utf-8"), "name") or ""
    match = re.search(r"<val[^>]*>([^<]*)</val>", value)
    return _unescape(match.group(1)) if match else ""


def _relocate_datastores(datastores: dict[str, Path], root: Path) -> None:
    for moid, path in datastores.items():
        text = path.read_text(encoding="utf-8")
        old = _get(text, "info", ["url"])
        if not old:
            continue
        new = root / moid
        new.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace(f">{old}<", f">{new}<"), encoding="utf-8")


def _apply_host(text: str, memory_bytes: int | None, usage_mb: int | None, state: str) -> str:
    if memory_bytes is not None:
        text = _set(text, "hardware", ["memorySize"], str(memory_bytes))
        text = _set(text, "summary", ["hardware", "memorySize"], str(memory_bytes))
    if usage_mb is not None:
        text = _set(text, "summary", ["quickStats", "overallMemoryUsage"], str(usage_mb))
    text = _set(text, "runtime", ["connectionState"], state)
    text = _set(text, "summary", ["runtime", "connectionState"], state)
    return text


def _add_options(text: str, options: tuple[tuple[str, int], ...]) -> str:
    """Append integer OptionValues to the host's ``config.option`` list."""
    if not options:
        return text
    span = _propset_span(text, "config")
    if span is None:
        raise LabError("saved model has no 'config' property to add host options to")
    block = text[span[0] : span[1]]
    anchor = block.rfind("</option>")
    if anchor < 0:
        raise LabError("saved model: the host's config has no option list")
    anchor += len("</option>")
    xsi = "XMLSchema-instance"
    added = "".join(
        f'<option {xsi}:type="OptionValue"><key>{_escape(key)}</key>'
        f'<value {xsi}:type="xsd:int">{value}</value></option>'
        for key, value in options
    )
    block = block[:anchor] + added + block[anchor:]
    return text[: span[0]] + block + text[span[1] :]


# ----------------------------------------------------------------- minimal XML surgery
# The saved files are large (about 270 KB per host) and carry namespace-prefixed
# xsi:type attributes that a round trip through ElementTree would rename, so the
# edits are made in place: find the element by its path of direct children below
# the propSet's <val>, and replace (or add) its text.


def _propset_span(text: str, name: str) -> tuple[int, int] | None:
    for match in _PROPSET_RE.finditer(text):
        if match.group(1) == name:
            return match.start(2), match.end(2)
    return None


def _propset(text: str, name: str) -> str | None:
    span = _propset_span(text, name)
    return text[span[0] : span[1]] if span else None


def _find(block: str, path: list[str]) -> tuple[int, int, int] | None:
    """Locate ``val/<path>`` in a propSet block.

    Returns (end of its open tag, start of its close tag, number of path elements
    matched, counting ``val``). When the leaf is missing, the span is that of
    the deepest existing parent, so the caller can insert the rest.
    """
    target = ["val", *path]
    stack: list[str] = []
    matched = 0
    opened: dict[int, int] = {}
    for tag in _TAG_RE.finditer(block):
        closing, name, _attrs, selfclosing = tag.groups()
        if selfclosing:
            continue
        if closing:
            if matched and len(stack) == matched:
                return opened[matched], tag.start(), matched
            stack.pop()
            continue
        if len(stack) == matched and matched < len(target) and name == target[matched]:
            matched += 1
            opened[matched] = tag.end()
        stack.append(name)
    return None


def _get(text: str, prop: str, path: list[str]) -> str | None:
    span = _propset_span(text, prop)
    if span is None:
        return None
    block = text[span[0] : span[1]]
    found = _find(block, path)
    if found is None or found[2] != len(path) + 1:
        return None
    return _unescape(block[found[0] : found[1]])


def _set(text: str, prop: str, path: list[str], value: str) -> str:
    span = _propset_span(text, prop)
    if span is None:
        raise LabError(f"saved model has no {prop!r} property to change")
    block = text[span[0] : span[1]]
    found = _find(block, path)
    if found is None:
        raise LabError(f"saved model: {prop} has no value")
    start, end, matched = found
    if matched == len(path) + 1:
        block = block[:start] + _escape(value) + block[end:]
    else:  # add the missing elements inside the deepest parent (element order is free)
        missing = path[matched - 1 :]
        xml = _escape(value)
        for name in reversed(missing):
            xml = f"<{name}>{xml}</{name}>"
        block = block[:start] + xml + block[start:]
    return text[: span[0]] + block + text[span[1] :]


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(value: str) -> str:
    return (
        value.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"').replace("&amp;", "&")
    )
