"""The VM table's rows built in Python are what the template's jinja2 loop wrote."""

from __future__ import annotations

import dataclasses

import pytest

from balloon_audit import formatting as fmt
from balloon_audit.model import AuditResult, Snapshot
from balloon_audit.report import presentation as p
from balloon_audit.report.html import _environment, render_html
from balloon_audit.report.html_inventory import vm_rows
from tests.report.sample import hostile_result
from tests.report.test_html import Page

TEMPLATE_LOOP = (
    "{% for vm in vms %}\n"
    "{% set fe = per_entity.get((vm.server, vm.moid)) %}\n"
    "<tr><td>{{ vm.name|body }}{% if not one_server %}<td>{{ vm.server }}{% endif %}"
    '{% if not one_dc %}<td>{{ vm.datacenter or "" }}{% endif %}<td>{{ vm.cluster or "" }}'
    '<td>{{ vm.host or "" }}<td>{{ "Template" if vm.is_template else '
    '(vm.power_state|word or unknown) }}<td>{{ vm.guest_id or "" }}'
    "<td>{{ tools_text(vm)|word }}<td>{{ vm.tools_running_status|word }}"
    '<td>{{ vm.maxmemctl if vm.maxmemctl is not none else "" }}<td>{{ vm.memory_mb|mb }}'
    '<td>{{ vm.memory_limit_mb|mb if vm.memory_limit_mb is not none else "unlimited" }}'
    "<td>{{ vm.memory_reservation_mb|mb }}<td>{{ vm.ballooned_mb|mb }}"
    "<td>{{ vm.compressed_mb|mb1 }}<td>{{ vm.swapped_mb|mb }}"
    "<td>{{ vm.host_memory_usage_mb|mb }}<td>{{ vm.guest_memory_usage_mb|mb }}"
    '<td>{% if fe %}<span class="sev {{ fe[1].value }}">{{ fe[0] }}</span>{% endif %}\n'
    "{% endfor %}\n"
)
"""The loop report.html.j2 had before the rows moved to html_inventory.py (the reference)."""

HARSH = '<b>&amp;\'"x"</b>'


def harsh_fleet() -> AuditResult:
    """The hostile sample with hostile text in every text column, two vCenters and
    datacenters, unknown enum values and missing values."""
    result = hostile_result()
    vms = [
        dataclasses.replace(
            vm,
            server=f"vc{i % 2}.{HARSH}",
            datacenter=None if i % 7 == 0 else f"DC{i % 3}{HARSH}",
            cluster=None if i % 4 == 0 else vm.cluster,
            host=None if i % 3 == 0 else f"host{HARSH}",
            guest_id=HARSH,
            power_state=None if i % 5 == 0 else f"weird{HARSH}",
            tools_running_status=f"run{HARSH}",
            maxmemctl=None if i % 2 else HARSH,
        )
        for i, vm in enumerate(result.snapshot.vms)
    ]
    snap = result.snapshot
    return dataclasses.replace(
        result, snapshot=Snapshot(snap.sources, snap.clusters, snap.hosts, tuple(vms))
    )


@pytest.mark.parametrize("one_server, one_dc", [(True, True), (False, False), (True, False)])
def test_rows_are_what_the_template_loop_wrote(one_server, one_dc):
    result = harsh_fleet()
    vms = p.inventory_vms(result.snapshot)
    per_entity = p.findings_per_entity(result)
    reference = (
        _environment()
        .from_string(TEMPLATE_LOOP)
        .render(
            vms=vms,
            per_entity=per_entity,
            one_server=one_server,
            one_dc=one_dc,
            unknown=fmt.DASH,
            tools_text=fmt.tools_status_text,
        )
    )
    assert str(vm_rows(vms, per_entity, one_server, one_dc)) == reference


def test_harsh_text_reads_back_exactly_from_the_report():
    result = harsh_fleet()
    page = Page(render_html(result))
    assert page.rows["vmtab"] == len(result.snapshot.vms)
    text = page.all_text
    for piece in (f"vc1.{HARSH}", f"DC2{HARSH}", f"host{HARSH}", f"weird{HARSH}", f"run{HARSH}"):
        assert piece in text, piece
    assert "<b>" not in render_html(result).split("id=vmtab")[1].split("</table>")[0]
