"""The HTML report's VM table rows, built in Python rather than in the template.

A 10,000-VM fleet gives a table of 190,000 cells. In jinja2 with autoescaping every
cell costs an ``escape()`` call and a ``Markup`` object (about a third of the whole
report's time); here each row is one f-string and text is escaped only when it holds a
character that needs it. The output is what the template's loop wrote: names escaped
for element content (``&``, ``<``, ``>``, as the ``body`` filter does), every other
text as autoescaping escapes it (quotes too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from markupsafe import Markup

from balloon_audit import formatting as fmt
from balloon_audit.model import VM, Severity
from balloon_audit.report.words import enum_word


def escape_body(text: str) -> str:
    """``&``, ``<``, ``>`` escaped: enough in element content."""
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def escape(value: object) -> str:
    """As jinja2's autoescape (markupsafe) escapes ``value``, without a Markup object."""
    text = value if isinstance(value, str) else str(value)
    text = escape_body(text)
    if '"' in text or "'" in text:
        text = text.replace('"', "&#34;").replace("'", "&#39;")
    return text


def _word(value: str | None) -> str:
    return escape(enum_word(value) or "")


def vm_rows(
    vms: Iterable[VM],
    per_entity: Mapping[tuple[str, str], tuple[int, Severity]],
    one_server: bool,
    one_dc: bool,
) -> Markup:
    """The ``<tr>`` rows of the VM table (columns as in its header in the template)."""
    mb = fmt.cell_mb
    rows = []
    for vm in vms:
        found = per_entity.get((vm.server, vm.moid))
        state = "Template" if vm.is_template else (enum_word(vm.power_state) or fmt.DASH)
        limit = "unlimited" if vm.memory_limit_mb is None else mb(vm.memory_limit_mb)
        rows.append(
            f"<tr><td>{escape_body(vm.name)}"
            f"{'' if one_server else '<td>' + escape(vm.server)}"
            f"{'' if one_dc else '<td>' + escape(vm.datacenter or '')}"
            f"<td>{escape(vm.cluster or '')}<td>{escape(vm.host or '')}<td>{escape(state)}"
            f"<td>{escape(vm.guest_id or '')}<td>{_word(fmt.tools_status_text(vm))}"
            f"<td>{_word(vm.tools_running_status)}"
            f"<td>{'' if vm.maxmemctl is None else escape(vm.maxmemctl)}"
            f"<td>{mb(vm.memory_mb)}<td>{limit}<td>{mb(vm.memory_reservation_mb)}"
            f"<td>{mb(vm.ballooned_mb)}<td>{fmt.cell_num(vm.compressed_mb)}"
            f"<td>{mb(vm.swapped_mb)}<td>{mb(vm.host_memory_usage_mb)}"
            f"<td>{mb(vm.guest_memory_usage_mb)}<td>"
            + (f'<span class="sev {escape(found[1].value)}">{found[0]}</span>' if found else "")
        )
    return Markup("".join(rows))
