"""Stable keys that identify the same vCenter, VM, host and finding across runs.

A VM keeps its key when it is renamed, vMotioned or re-registered in the same
vCenter: the key is the vCenter's ``about.instanceUuid`` plus the VM's
``config.instanceUuid``. Hosts are keyed by their hardware UUID, which survives a
move to another vCenter. Where the server did not report a UUID (old captures,
standalone ESXi), the managed object ID stands in, scoped to its server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from balloon_audit.model import VM, Entity, Host, SourceInfo


def source_key(source: SourceInfo) -> str:
    """``vc:<instanceUuid>``, or ``server:<name>`` when the endpoint gave no UUID."""
    if source.instance_uuid:
        return f"vc:{source.instance_uuid.lower()}"
    return server_key(source.server)


def server_key(server: str) -> str:
    return f"server:{server.lower()}"


def source_keys(sources: Iterable[SourceInfo]) -> dict[str, str]:
    """Server name as the user gave it -> source key."""
    return {source.server: source_key(source) for source in sources}


def _scoped(keys: Mapping[str, str], server: str) -> str:
    return keys.get(server) or server_key(server)


def vm_key(vm: VM, keys: Mapping[str, str]) -> str:
    if vm.instance_uuid:
        return f"{_scoped(keys, vm.server)}/vm:{vm.instance_uuid.lower()}"
    return f"{_scoped(keys, vm.server)}/moid:{vm.moid}"


def host_key(host: Host, keys: Mapping[str, str]) -> str:
    if host.uuid:
        return f"host:{host.uuid.lower()}"
    return f"{_scoped(keys, host.server)}/moid:{host.moid}"


def moid_key(server: str, moid: str | None, name: str, keys: Mapping[str, str]) -> str:
    """Key of an entity known only by its moid (clusters), or by name when it has none."""
    if moid:
        return f"{_scoped(keys, server)}/moid:{moid}"
    return f"{_scoped(keys, server)}/name:{name}"


class EntityIndex:
    """Finds the key of a finding's entity through the run's VMs and hosts."""

    def __init__(
        self,
        keys: Mapping[str, str],
        vm_keys: Mapping[tuple[str, str], str],
        host_keys: Mapping[tuple[str, str], str],
    ) -> None:
        self._keys = keys
        self._vm_keys = vm_keys
        self._host_keys = host_keys

    def key_of(self, entity: Entity) -> str:
        ref = (entity.server, entity.moid or "")
        if entity.type == "VirtualMachine" and ref in self._vm_keys:
            return self._vm_keys[ref]
        if entity.type == "HostSystem" and ref in self._host_keys:
            return self._host_keys[ref]
        if entity.type == "vCenter":
            return _scoped(self._keys, entity.server)
        return moid_key(entity.server, entity.moid, entity.name, self._keys)


def finding_key(rule: str, entity_key: str) -> str:
    return f"{rule}|{entity_key}"
