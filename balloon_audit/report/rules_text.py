"""``balloon-audit rules`` on a terminal: one short block per rule, readable at any width.

The thresholds are written exactly as in the configuration file (TOML), so a line can
be pasted under ``[rules.BA301]`` as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from balloon_audit.config_toml import thresholds_text
from balloon_audit.report.terminal import printable, safe

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def render_rules(rows: Iterable[Mapping[str, Any]], console: Console) -> None:
    """Rows as ``rules --json`` has them: id, name, severity, enabled, checks, thresholds,
    overridden."""
    console.print("[dim]Thresholds as in the configuration file; * = set by it.[/]")
    for row in rows:
        style = SEVERITY_STYLE.get(row["severity"], "")
        state = "" if row["enabled"] else " [dim](disabled)[/]"
        console.print()
        console.print(
            f"[bold]{row['id']}[/] {safe(row['name'])} · [{style}]{row['severity']}[/]{state}"
        )
        console.print(Padding(Text(printable(row["checks"])), (0, 0, 0, 6)))
        if row["thresholds"]:
            text = thresholds_text(row["thresholds"], row.get("overridden", ()))
            console.print(Padding(Text(printable(text), style="green"), (0, 0, 0, 6)))
