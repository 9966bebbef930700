"""PropertyCollector paging over a ContainerView: the fast way to read many objects.

One ``RetrievePropertiesEx`` returns up to ``page_size`` objects; the token is
followed with ``ContinueRetrievePropertiesEx`` until the server has sent everything.
No property is ever read through a managed object attribute (one round trip each).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from pyVmomi import vim, vmodl

PC = vmodl.query.PropertyCollector

PropertyRow = tuple[Any, dict[str, Any]]
"""(managed object reference, {property path: value})."""


@contextmanager
def container_view(content: Any, types: Sequence[type]) -> Iterator[Any]:
    """A recursive ContainerView of ``types`` under the root folder, destroyed on exit."""
    view = content.viewManager.CreateContainerView(content.rootFolder, list(types), True)
    try:
        yield view
    finally:
        with suppress(Exception):  # the session may be gone already; views die with it
            view.DestroyView()


def filter_spec(view: Any, specs: Sequence[tuple[type, Sequence[str]]]) -> Any:
    """Every object in ``view``, with the given leaf paths per managed object type."""
    traverse = PC.TraversalSpec(name="traverseView", type=vim.view.ContainerView, path="view")
    return PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
        propSet=[PC.PropertySpec(type=t, pathSet=list(paths)) for t, paths in specs],
    )


def retrieve_pages(content: Any, spec: Any, page_size: int) -> Iterator[list[PropertyRow]]:
    """Yield one list of (object, properties) per page.

    Only ``propSet`` is read; ``missingSet`` entries (a property the server could not
    read for one object) simply leave that path out, which the model keeps as ``None``.
    If the caller stops early, the server-side result is cancelled.
    """
    pc = content.propertyCollector
    result = pc.RetrievePropertiesEx(
        specSet=[spec], options=PC.RetrieveOptions(maxObjects=page_size)
    )
    token = None
    try:
        while result is not None:
            token = result.token
            yield [(oc.obj, {p.name: p.val for p in oc.propSet}) for oc in result.objects]
            if not token:
                break
            result = pc.ContinueRetrievePropertiesEx(token=token)
            token = None
    finally:
        if token:
            with suppress(Exception):  # best effort
                pc.CancelRetrievePropertiesEx(token=token)
