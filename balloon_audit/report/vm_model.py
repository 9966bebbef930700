"""The ``balloon-audit-vm/1`` JSON of ``balloon-audit vm --json``, as a declared model.

The entities are the dataclasses the command works with (``model.py``, ``vmmemory.py``),
so a field added there is part of the document, and of ``docs/vm.schema.json``, at once.
``scripts/gen_schemas.py`` writes the schema; a test fails when it drifts from this
model, and another validates what the command writes against it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from balloon_audit.model import VM, Finding, Host, ResourcePool, RuleDoc, SourceInfo
from balloon_audit.vmmemory import BalloonCap, HostMemoryState, Line, Segment

_READ = ConfigDict(
    strict=True, extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True
)


class SeriesDoc(BaseModel):
    """One live counter's samples, oldest first, in the display unit."""

    model_config = _READ

    counter: str
    """Full counter name, e.g. ``mem.vmmemctl.average``."""
    entity: Literal["vm", "host"]
    label: str
    unit: str
    """``MB``, ``MB/s`` or ``state`` (mem.state: 0 high, 1 clear, 2 soft, 3 hard, 4 low)."""
    interval_s: int
    times: tuple[AwareDatetime, ...]
    values: tuple[float | None, ...]
    """One per time; null where the server had no sample."""
    last: float | None
    min: float | None
    max: float | None


class CountersDoc(BaseModel):
    """The live counters read for one VM and its host over ``since`` .. ``until``."""

    model_config = _READ

    since: AwareDatetime
    until: AwareDatetime
    series: tuple[SeriesDoc, ...]
    notes: tuple[str, ...]
    """Why a counter is missing: not offered, no samples, the query failed, powered off."""


class VerdictDoc(BaseModel):
    model_config = _READ

    verdict: str
    """Balloon: inflating, deflating, steady, unknown. Swap: swapping now, swapped earlier
    (stale), not swapping, unknown."""
    reason: str


class VerdictsDoc(BaseModel):
    model_config = _READ

    balloon: VerdictDoc | None
    swap: VerdictDoc | None


class LimitDoc(BaseModel):
    model_config = _READ

    mb: int | None
    """The tightest memory limit over the VM and its pools; null: unlimited."""
    set_by: str


class VmDoc(BaseModel):
    """One explained VM."""

    model_config = _READ

    vm: VM
    host: Host | None
    resource_pools: tuple[ResourcePool, ...]
    """Enclosing pools and vApps, innermost first."""
    breakdown: tuple[Line, ...]
    bar: tuple[Segment, ...]
    effective_limit: LimitDoc
    balloon_cap: BalloonCap
    host_state: HostMemoryState | None
    counters: CountersDoc | None
    verdicts: VerdictsDoc
    findings: tuple[Finding, ...]
    """In the order to act on them: severity, then limits and pools, Tools and the balloon
    driver, host pressure, the reclamation itself."""
    rules: tuple[RuleDoc, ...]
    notes: tuple[str, ...]


class VmDocument(BaseModel):
    """What ``balloon-audit vm --json`` writes."""

    model_config = ConfigDict(**_READ, title="balloon-audit-vm/1", populate_by_name=True)

    schema_: Literal["balloon-audit-vm/1"] = Field(alias="schema")
    generated_at: AwareDatetime
    tool_version: str
    pattern: str
    """The NAME_OR_GLOB asked for."""
    source: SourceInfo
    names_read: int
    """VM names read to find the pattern (the only thing read from every VM)."""
    vms_read: int
    """VMs whose properties were read: the matches and their neighbours."""
    since_seconds: int
    notes: tuple[str, ...]
    vms: tuple[VmDoc, ...]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the document (what ``docs/vm.schema.json`` holds)."""
    schema = VmDocument.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
