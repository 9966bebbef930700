"""Where balloon-audit finds its own files: one lookup for wheel, editable install and checkout.

``templates/`` and ``docs/`` live at the top of the source tree (the project's layout);
the wheel carries copies inside the package (``balloon_audit/templates``,
``balloon_audit/docs``, see ``[tool.hatch.build.targets.wheel.force-include]``).
:func:`data_dir` looks in exactly these two places, in this order:

1. inside the installed package (an installed wheel);
2. the source checkout the package is imported from (an editable install, or the
   checkout on ``PYTHONPATH``): :func:`checkout_root`.

:func:`checkout_root` is also how the lab finds the checkout's ``.tools/bin`` (vcsim
and govc from ``scripts/provision.sh``); an installed wheel has no checkout, so it
uses ``$BALLOON_AUDIT_VCSIM`` / ``$BALLOON_AUDIT_GOVC`` or ``PATH`` only.
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PACKAGE = "balloon_audit"
PROJECT_NAME = 'name = "balloon-audit"'


@lru_cache(maxsize=1)
def checkout_root() -> Path | None:
    """The source checkout this package is imported from, or None for an installed package.

    A checkout is recognised by its ``pyproject.toml`` (declaring balloon-audit) next to
    the package directory; site-packages never has one.
    """
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    try:
        return root if PROJECT_NAME in pyproject.read_text(encoding="utf-8") else None
    except OSError:
        return None


def data_dir(name: str) -> Traversable:
    """The ``templates`` or ``docs`` directory: in the package (wheel), else in the checkout.

    Raises FileNotFoundError naming both places when neither has it (a broken install).
    """
    packaged = importlib.resources.files(PACKAGE).joinpath(name)
    if packaged.is_dir():
        return packaged
    root = checkout_root()
    if root is not None and (root / name).is_dir():
        return root / name
    raise FileNotFoundError(
        f"balloon-audit's {name}/ is missing: looked in {packaged} and in the source checkout"
    )


def doc_location(name: str) -> str:
    """Where a user can read ``docs/<name>``: the file shipped with this installation."""
    try:
        return str(data_dir("docs").joinpath(name))
    except FileNotFoundError:
        return f"docs/{name}"
