"""PropertyCollector paging over a ContainerView: the fast way to read many objects.

One ``RetrievePropertiesEx`` returns up to ``page_size`` objects; the token is
followed with ``ContinueRetrievePropertiesEx`` until the server has sent everything.
No property is ever read through a managed object attribute (one round trip each).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from pyVmomi import vim, vmodl

from balloon_audit.collect.deadline import DeadlineExceeded
from balloon_audit.collect.lookahead import PageSequence
from balloon_audit.collect.pagecall import can_stream, streaming_enabled

PC = vmodl.query.PropertyCollector

PropertyRow = tuple[Any, dict[str, Any]]
"""(managed object reference, {property path: value})."""


@contextmanager
def container_view(content: Any, types: Sequence[type], root: Any = None) -> Iterator[Any]:
    """A recursive ContainerView of ``types`` under ``root`` (default: the root folder),
    destroyed on exit."""
    container = content.rootFolder if root is None else root
    view = content.viewManager.CreateContainerView(container, list(types), True)
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


def count_view(content: Any, view: Any) -> int | None:
    """How many objects ``view`` holds: one request for its ``view`` property.

    Cheap next to collecting them (one reference per object, no properties); used only
    to show "N of M" progress. ``None`` when the server does not say.
    """
    spec = PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=False)],
        propSet=[PC.PropertySpec(type=vim.view.ContainerView, pathSet=["view"])],
    )
    try:
        for page in retrieve_pages(content, spec, 1):
            for _, props in page:
                return len(props.get("view") or ())
    except Exception as exc:  # noqa: BLE001 - progress is optional; the collection reports
        if isinstance(exc, DeadlineExceeded) and exc.kind != "request":
            raise  # the vCenter's time is up, or the run was stopped
        return None
    return None


def retrieve_pages(
    content: Any, spec: Any, page_size: int, unknown_values: Counter[str] | None = None
) -> Iterator[list[PropertyRow]]:
    """Yield one list of (object, properties) per page.

    Only ``propSet`` is read; ``missingSet`` entries (a property the server could not
    read for one object) simply leave that path out, which the model keeps as ``None``.
    If the caller stops early, the server-side result is cancelled. Pages are parsed by
    :mod:`~balloon_audit.collect.pageparser` as they arrive, the next one asked for while
    the current one is read (:mod:`~balloon_audit.collect.lookahead`), unless
    ``BALLOON_AUDIT_PARSER=pyvmomi`` asks for pyVmomi's deserialiser; enum values this
    pyVmomi does not know are counted in ``unknown_values`` (``Type=value``).
    """
    pc = content.propertyCollector
    if streaming_enabled() and can_stream(pc):
        yield from _streamed_pages(pc, spec, page_size, unknown_values)
        return
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


def _streamed_pages(
    pc: Any, spec: Any, page_size: int, unknown_values: Counter[str] | None
) -> Iterator[list[PropertyRow]]:
    """Pages parsed as they arrive, the next one asked for as soon as the token is read."""
    pages = PageSequence(pc, unknown_values if unknown_values is not None else Counter())
    token = None
    try:
        page = pages.first(specSet=[spec], options=PC.RetrieveOptions(maxObjects=page_size))
        while True:
            token = page.token
            yield page.rows
            if not token:
                break
            page = pages.next(token)
            token = None
    finally:
        unread = pages.close(token)
        if unread:
            with suppress(Exception):  # best effort
                pc.CancelRetrievePropertiesEx(token=unread)
