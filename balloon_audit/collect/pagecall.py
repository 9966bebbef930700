"""Send a PropertyCollector call with pyVmomi and stream its answer into :class:`PageParser`.

pyVmomi's ``SoapStubAdapter.InvokeMethod`` serialises the request, posts it on a
pooled connection and hands the response stream to its own deserialiser, with no
hook in between. This module does the same steps with the stub's own parts
(``SerializeRequest``, its connection pool, session cookie and headers) and only
swaps the deserialiser of a successful (HTTP 200) answer. A fault (HTTP 500) is
deserialised and raised by pyVmomi exactly as ``InvokeMethod`` would. Because the
request goes through the same connection classes, captures record and replay it
like any other call.

``BALLOON_AUDIT_PARSER=pyvmomi`` (see :func:`streaming_enabled`) turns all of this
off: pages are then read through pyVmomi's ``RetrievePropertiesEx`` as before.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from http.client import HTTPException
from http.cookies import SimpleCookie
from typing import Any

from pyVmomi import SoapAdapter, VmomiSupport

from balloon_audit.collect.pageparser import Page, PageParser

PARSER_ENV = "BALLOON_AUDIT_PARSER"
CHUNK = 256 * 1024
_STUB_PARTS = ("SerializeRequest", "GetConnection", "ReturnConnection", "DropConnections", "path")


def streaming_enabled() -> bool:
    """False when ``BALLOON_AUDIT_PARSER=pyvmomi`` asks for pyVmomi's deserialiser."""
    return os.environ.get(PARSER_ENV, "").strip().lower() not in ("pyvmomi", "pyvmomi-objects")


def can_stream(mo: Any) -> bool:
    """True when ``mo``'s stub is a SOAP stub this module knows how to drive."""
    stub = getattr(mo, "_stub", None)
    return stub is not None and all(hasattr(stub, part) for part in _STUB_PARTS)


def call_page(
    mo: Any,
    method: str,
    unknown_values: Counter[str],
    on_token: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> Page:
    """Invoke ``method`` (RetrievePropertiesEx or ContinueRetrievePropertiesEx) on ``mo``.

    Arguments are checked and serialised by pyVmomi; faults are raised as pyVmomi raises
    them. A ``None`` result (no objects at all) is an empty :class:`Page`. ``on_token``
    is called with the page's continuation token as soon as it has been read (it comes
    before the objects), while the rest of the page is still arriving.
    """
    stub = mo._stub
    info = mo._GetMethodInfo(method)
    args = [kwargs.get(param.name) for param in info.params]
    for param, arg in zip(info.params, args, strict=True):
        VmomiSupport.CheckField(param, arg)
    body = stub.SerializeRequest(mo, info, args)
    for modifier in getattr(stub, "requestModifierList", ()):
        body = modifier(body)
    conn = stub.GetConnection()
    try:
        conn.request("POST", stub.path, body, _headers(stub))
        resp = conn.getresponse()
    except (OSError, HTTPException):
        conn.close()
        stub.DropConnections()
        raise
    _remember_cookie(stub, resp)
    if resp.status not in (200, 500):
        conn.close()
        raise HTTPException(f"{resp.status} {resp.reason}")
    try:
        stream = _decoded(resp)
        if resp.status == 500:
            fault = SoapAdapter.SoapResponseDeserializer(stub).Deserialize(stream, info.result)
            if isinstance(fault, BaseException):
                raise fault
            raise HTTPException(f"500 {resp.reason}: the answer holds no fault")
        parser = PageParser(stub, unknown_values)
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            parser.feed(chunk)
            if on_token is not None and parser.page.token:
                on_token(parser.page.token)
                on_token = None
        page = parser.close()
        if on_token is not None and page.token:
            on_token(page.token)
    except BaseException:
        conn.close()
        stub.DropConnections()
        raise
    resp.read()
    stub.ReturnConnection(conn)
    return page


def _headers(stub: Any) -> dict[str, str]:
    """The headers ``SoapStubAdapter.InvokeMethod`` sends."""
    headers = {
        "Cookie": stub.cookie,
        "SOAPAction": stub.versionId,
        "Content-Type": f"text/xml; charset={SoapAdapter.XML_ENCODING}",
        "User-Agent": (
            f"pyvmomi {SoapAdapter.version_info_str} {SoapAdapter.kind} "
            f"Python/{SoapAdapter.PYTHON_VERSION} ({SoapAdapter.OS_NAME}; "
            f"{SoapAdapter.OS_VERSION}; {SoapAdapter.OS_ARCH})"
        ),
    }
    custom = getattr(stub, "_customHeaders", None)
    if custom:
        headers.update(custom)
    if getattr(stub, "_acceptCompressedResponses", False):
        headers["Accept-Encoding"] = "gzip, deflate"
    return headers


def _remember_cookie(stub: Any, resp: Any) -> None:
    """A new session cookie is kept, as ``InvokeMethod`` keeps it."""
    cookie = resp.getheader("Set-Cookie") or resp.getheader("set-cookie")
    if not cookie:
        return
    stub.cookie = cookie
    session = SimpleCookie(cookie).get(SoapAdapter.COOKIE_NAME)
    if session:
        SoapAdapter.StubAdapterBase.SetSessionId(stub, session.value)


def _decoded(resp: Any) -> Any:
    encoding = (resp.getheader("Content-Encoding", "identity") or "identity").lower()
    if encoding == "gzip":
        return SoapAdapter.GzipReader(resp, encoding=SoapAdapter.GzipReader.GZIP)
    if encoding == "deflate":
        return SoapAdapter.GzipReader(resp, encoding=SoapAdapter.GzipReader.DEFLATE)
    return resp
