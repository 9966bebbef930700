"""Parse PropertyCollector result pages straight from the response bytes (stdlib expat).

pyVmomi's deserialiser builds a DataObject for every element of a
``RetrievePropertiesEx`` / ``ContinueRetrievePropertiesEx`` answer (ObjectContent,
DynamicProperty, …) before the collector reads two fields of each. This parser turns
the bytes, fed chunk by chunk as they arrive, directly into the rows the snapshot
builder reads: ``(reference, {property path: value})``.

Values are typed with pyVmomi's own type information (``VmomiSupport`` lookups of the
``xsi:type`` names and of data object property types), so an ``xsd:long`` becomes
pyVmomi's ``long``, an enum value pyVmomi's enum value, a reference a pyVmomi managed
object bound to the session: the same values pyVmomi's deserialiser produces. Nested
data objects (an extraConfig ``OptionValue``, an allocation) become :class:`Record`
objects that read like pyVmomi's (attribute access; an unset property is ``None``).

Newer servers may send what this pyVmomi does not know: an enum value stays a plain
``str`` and is counted in :attr:`PageParser.unknown_values`; an unknown type or data
object property is kept untyped (text as ``str``, children as a :class:`Record`).
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.parsers.expat import ParserCreate

from pyVmomi import Iso8601, VmomiSupport
from pyVmomi.VmomiSupport import (
    XMLNS_VMODL_BASE,
    XMLNS_XSI,
    DataObject,
    Enum,
    ManagedMethod,
    ManagedObject,
    PropertyPath,
    binary,
)

from balloon_audit.collect import fastobjects as fast

NS_SEP = " "
_UTF8 = re.compile(rb"""encoding\s*=\s*["']utf-8["']""")
"""The one spelling of UTF-8 expat knows by itself (pyexpat reads others, such as
"UTF8", as single-byte encodings)."""
XSI_TYPE = XMLNS_XSI + NS_SEP + "type"
_MOREF = "ManagedObjectReference"

Row = tuple[Any, dict[str, Any]]
"""(managed object reference, {property path: value}), as pyVmomi's path yields them."""


class Record(dict):
    """A data object's properties that the server sent, by name.

    Reads like a pyVmomi DataObject (``option.key``): a property that was not sent
    reads as pyVmomi's default for it (``None``, or ``False`` / ``0`` / ``""`` / ``[]``
    for a required one, which servers may leave out). ``wsdl_type`` is the type name
    (``OptionValue``); ``data_type`` the pyVmomi class, when known.
    """

    __slots__ = ("data_type", "wsdl_type")

    def __init__(self, wsdl_type: str, data_type: Any = None) -> None:
        super().__init__()
        self.wsdl_type = wsdl_type
        self.data_type = data_type

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            return _default(self.data_type, name)

    def __repr__(self) -> str:
        return f"{self.wsdl_type}({dict.__repr__(self)})"


_DEFAULTS: dict[tuple[Any, str], Any] = {}


def _default(data_type: Any, name: str) -> Any:
    """What pyVmomi's DataObject holds for a property that was not set."""
    if data_type is None:
        return None
    key = (data_type, name)
    try:
        value = _DEFAULTS[key]
    except KeyError:
        value = _DEFAULTS[key] = _pyvmomi_default(data_type, name)
    return [] if value is _EMPTY_LIST else value


_EMPTY_LIST = object()


def _pyvmomi_default(data_type: Any, name: str) -> Any:
    try:
        info = data_type._GetPropertyInfo(name)
    except AttributeError:
        return None
    ptype = info.type
    if issubclass(ptype, list):
        return _EMPTY_LIST
    if info.flags & VmomiSupport.F_OPTIONAL or issubclass(ptype, Enum):
        return None
    if ptype is bool:
        return False
    if issubclass(ptype, str):
        return ""
    if issubclass(ptype, (int, float)):
        return ptype(0)
    return None


@dataclass
class Page:
    """One parsed result page."""

    rows: list[Row] = field(default_factory=list)
    token: str | None = None
    """Continuation token; ``None`` on the last page."""
    missing: list[tuple[str, str, str]] = field(default_factory=list)
    """``missingSet`` entries: (moid, property path, fault type name)."""


# ----------------------------------------------------------------------------- typing

_SCALAR, _ENUM, _REF, _DATA, _ARRAY, _UNTYPED = range(6)
"""Kinds of values; the first three are leaves (text only)."""


class _Kind:
    """How to build values of one pyVmomi type (cached per type)."""

    __slots__ = ("code", "pytype", "convert", "name", "props", "item")

    def __init__(self, code: int, pytype: Any, name: str) -> None:
        self.code = code
        self.pytype = pytype
        self.name = name
        self.convert: Callable[[str], Any] | None = None
        self.props: dict[str, tuple[str, Any, bool] | None] = {}
        """Data objects: XML name → (attribute name, declared type, is a list) or None."""
        self.item: Any = None
        """Arrays: the item type."""


def _lookup_wsdl(ns: str, name: str) -> Any:
    """The pyVmomi type for an XML type name, as pyVmomi's deserialiser looks it up."""
    try:
        return VmomiSupport.GetWsdlType(ns, name)
    except KeyError:
        pass
    if name.endswith(_MOREF):
        try:
            return VmomiSupport.GetWsdlType(XMLNS_VMODL_BASE, name[: -len("Reference")])
        except KeyError:
            pass
    try:
        return VmomiSupport.GuessWsdlType(name)
    except KeyError:
        return None


def _parse_bool(text: str) -> bool:
    if text == "1" or text.lower() == "true":
        return True
    if text == "0" or text.lower() == "false":
        return False
    raise TypeError(text)


def _parse_datetime(text: str) -> datetime:
    value = Iso8601.ParseISO8601(text)
    if not value:
        raise TypeError(text)
    return value


def _parse_type(text: str) -> Any:
    return _lookup_wsdl(XMLNS_VMODL_BASE, text.rsplit(":", 1)[-1]) if text else None


def _parse_method(text: str) -> Any:
    name = text.rsplit(":", 1)[-1]
    for find in (
        lambda: VmomiSupport.GetWsdlMethod(XMLNS_VMODL_BASE, name),
        lambda: VmomiSupport.GuessWsdlMethod(name),
    ):
        try:
            return find()
        except KeyError:
            continue
    return VmomiSupport.UnknownManagedMethod(name)


_CONVERTERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    bool: _parse_bool,
    datetime: _parse_datetime,
    binary: lambda text: binary(base64.b64decode(text)),
    type: _parse_type,
    ManagedMethod: _parse_method,
}


class _Types:
    """pyVmomi type lookups, cached: the parser asks the same few questions all the time."""

    def __init__(self) -> None:
        self._by_pytype: dict[Any, _Kind] = {}
        self._by_qname: dict[tuple[str, str], _Kind | None] = {}
        self.untyped = _Kind(_UNTYPED, None, "")
        self.moref = self.of(ManagedObject)

    def by_name(self, ns: str, name: str) -> _Kind | None:
        key = (ns, name)
        try:
            return self._by_qname[key]
        except KeyError:
            pytype = _lookup_wsdl(ns, name)
            kind = None if pytype is None else self.of(pytype)
            if kind is None:
                kind = _Kind(_UNTYPED, None, name)
            self._by_qname[key] = kind
            return kind

    def of(self, pytype: Any) -> _Kind:
        try:
            return self._by_pytype[pytype]
        except KeyError:
            kind = self._build(pytype)
            self._by_pytype[pytype] = kind
            return kind

    def _build(self, pytype: Any) -> _Kind:
        name = getattr(pytype, "_wsdlName", getattr(pytype, "__name__", str(pytype)))
        if isinstance(pytype, type) and issubclass(pytype, list):
            kind = _Kind(_ARRAY, pytype, name)
            kind.item = pytype.Item  # type: ignore[attr-defined]  # pyVmomi array types
            return kind
        if isinstance(pytype, type) and issubclass(pytype, ManagedObject):
            return _Kind(_REF, pytype, name)
        if isinstance(pytype, type) and issubclass(pytype, DataObject):
            return _Kind(_DATA, pytype, name)
        if isinstance(pytype, type) and issubclass(pytype, Enum):
            kind = _Kind(_ENUM, pytype, name)
            return kind
        kind = _Kind(_SCALAR, pytype, name)
        kind.convert = _CONVERTERS.get(pytype, pytype)
        return kind

    @staticmethod
    def prop(kind: _Kind, xml_name: str) -> tuple[str, Any, bool] | None:
        try:
            return kind.props[xml_name]
        except KeyError:
            try:
                info = kind.pytype._GetPropertyInfo(xml_name)
            except AttributeError:
                found = None  # a property this pyVmomi does not know (newer server)
            else:
                is_list = isinstance(info.type, type) and issubclass(info.type, list)
                found = (info.name, info.type, is_list)
            kind.props[xml_name] = found
            return found


_TYPES = _Types()

(
    _E_OTHER,
    _E_VAL,
    _E_OBJECTS,
    _E_OBJ,
    _E_PROPSET,
    _E_NAME,
    _E_MISSINGSET,
    _E_PATH,
    _E_FAULT,
    _E_TOKEN,
) = range(10)
_ELEMENTS = {
    "val": _E_VAL,
    "objects": _E_OBJECTS,
    "obj": _E_OBJ,
    "propSet": _E_PROPSET,
    "name": _E_NAME,
    "missingSet": _E_MISSINGSET,
    "path": _E_PATH,
    "fault": _E_FAULT,
    "token": _E_TOKEN,
}
"""Elements of a RetrieveResult outside the values, by local name."""


def _xsi_name(attrs: dict[str, str]) -> str:
    """The type name of an ``xsi:type`` attribute, without its prefix ('' if none)."""
    return (attrs.get(XSI_TYPE) or "").rpartition(":")[2]


# ----------------------------------------------------------------------------- parser


class _Frame:
    """One element being built inside a ``<val>``."""

    __slots__ = ("kind", "value", "attr", "append", "serverguid", "ref_type")

    def __init__(self, kind: _Kind, attr: str | None, append: bool) -> None:
        self.kind = kind
        self.attr = attr
        self.append = append
        self.value: Any = None
        self.serverguid: str | None = None
        self.ref_type: Any = None


class PageParser:
    """Feed one response body in chunks with :meth:`feed`, then :meth:`close` for the page.

    ``stub`` binds the managed object references (as pyVmomi does), so that they can
    be used for later calls (performance queries). One parser reads one page; the
    ``unknown_values`` counter may be shared between pages.
    """

    def __init__(
        self,
        stub: Any = None,
        unknown_values: Counter[str] | None = None,
        *,
        fast_path: bool = True,
    ) -> None:
        self.stub = stub
        self.keep_server_guid = stub is None or not _supports_guids(stub)
        self.unknown_values: Counter[str] = (
            unknown_values if unknown_values is not None else Counter()
        )
        self.page = Page()
        self._parser: Any = ParserCreate(namespace_separator=NS_SEP)
        self._parser.buffer_text = True
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._text
        self._parser.StartNamespaceDeclHandler = self._ns_start
        self._parser.EndNamespaceDeclHandler = self._ns_end
        self._ns: dict[str | None, list[str]] = {}
        self._qnames: dict[str, _Kind | None] = {}
        """xsi:type value → kind, valid while no prefix changes its namespace."""
        self._codes: dict[str, int] = {}
        self._data = ""
        self._skipping = 0
        """Depth inside a skipped subtree (a missingSet fault); 0 when not skipping."""
        # object being read
        self._obj_type: Any = None
        self._obj_guid: str | None = None
        self._ref: Any = None
        self._props: dict[str, Any] = {}
        self._prop_name: str | None = None
        self._prop_value: Any = None
        self._leaf: _Kind | None = None
        """A ``<val>`` of a simple type being read (the common case: no frame needed)."""
        self._leaf_ref: tuple[str | None, str | None] = (None, None)
        self._missing_path: str | None = None
        self._missing_fault = ""
        self._values: list[_Frame] = []
        self._refs: dict[tuple[str | None, str | None, str], Any] = {}
        self._in_object = False
        # fast path (see fastobjects): blocks it may read, and what it has learnt
        self._fast = fast_path
        self._pending = b""
        self._clean = False
        """The text fed to expat so far ends where an ``<objects>`` may begin."""
        self._started = False
        self._converters: dict[bytes, Callable[[str], Any]] = {}
        self._fast_unknown: list[str] = []
        self.fast_rows = 0
        """How many objects the fast path read (the rest went through expat)."""
        self._val_scope: tuple[Any, ...] | None = None
        self._scope_changed = True
        self._names: dict[bytes, str] = {}

    def feed(self, chunk: bytes) -> None:
        if not self._fast:
            self._parser.Parse(chunk, False)
            return
        buf = self._pending + chunk if self._pending else chunk
        pos = 0
        while self._fast:
            start = buf.find(b"<objects>", pos)
            if start < 0:
                # up to the last tag that ends before a tail that may hold part of "<objects>"
                keep = max(pos, buf.rfind(b">", pos, len(buf) - 9) + 1)
                self._segment(buf[pos:keep])
                pos = keep
                break
            end = buf.find(b"</objects>", start + 9)
            if start > pos:
                self._segment(buf[pos:start])
                pos = start
            if end < 0 or not self._fast:
                break  # the object is not all here yet
            end += 10
            if not (self._clean and self._between_objects() and self._fast_object(buf, start, end)):
                self._expat_block(buf[start:end])
            self._clean = True
            pos = end
        if self._fast:
            self._pending = buf[pos:]
        else:
            self._pending = b""
            self._parser.Parse(buf[pos:], False)

    def close(self) -> Page:
        # The expat parser holds this object's bound methods: dropping it breaks the
        # cycle, so a parsed page is freed as soon as its rows are, not at the next
        # garbage collection (100 pages of 100,000 VMs held about 280 MB until then).
        parser, self._parser = self._parser, None
        self._converters = {}  # they hold this object too
        pending, self._pending = self._pending, b""
        parser.Parse(pending, False)
        parser.Parse(b"", True)
        return self.page

    # -- the fast path: whole simple objects (see fastobjects)

    def _segment(self, text: bytes) -> None:
        """Text between objects blocks (the envelope, the token ...) goes to expat.

        A comment, CDATA section, processing instruction or document type may hide
        markup from a text search: after one, expat reads the rest of the page.
        """
        if not text:
            return
        check = text
        if not self._started:
            self._started = True
            check = self._skip_declaration(text)
        if b"<!" in check or b"<?" in check or check.endswith(b"<"):
            self._fast = False
        self._parser.Parse(text, False)
        stripped = text.strip()
        if stripped:  # white space between objects changes nothing
            self._clean = stripped.endswith((b"</token>", b"<returnval>"))

    def _skip_declaration(self, text: bytes) -> bytes:
        """The text after an XML declaration; the fast path only reads UTF-8."""
        if not text.startswith(b"<?xml"):
            return text
        end = text.find(b"?>")
        if end < 0:
            self._fast = False
            return text
        declaration = text[:end].lower()
        if b"encoding" in declaration and not _UTF8.search(declaration):
            self._fast = False
        return text[end + 2 :]

    def _expat_block(self, block: bytes) -> None:
        if b"<!" in block or b"<?" in block:
            self._fast = False
        self._parser.Parse(block, False)

    def _between_objects(self) -> bool:
        return not (self._in_object or self._values or self._skipping or self._leaf is not None)

    def _fast_object(self, buf: bytes, start: int, end: int) -> bool:
        """Read one ``<objects>`` block without expat; False: expat must read it."""
        block = buf[start:end]
        unknown = self._fast_unknown
        unknown.clear()
        try:
            entities = fast.needs_entities(block)
            parts = block[: -len(fast.OBJECTS_END)].split(fast.PROPSET)
            head = fast.OBJ.fullmatch(parts[0])
            if head is None:
                return False
            props, without_val = self._fast_props(parts, entities)
            # every tag is accounted for: no markup hides in a name or a value
            tags = 4 + 4 * without_val + 6 * (len(parts) - 1 - without_val)
            if block.count(b"<") != tags:
                return False
            ref = self._make_ref(_TYPES.moref, head[1].decode(), None, fast.text(head[2]))
        except Exception:  # noqa: BLE001 - anything unusual: expat reads it, errors included
            return False
        for value in unknown:
            self.unknown_values[value] += 1
        self.page.rows.append((ref, props))
        self.fast_rows += 1
        return True

    def _fast_props(self, parts: list[bytes], entities: bool) -> tuple[dict[str, Any], int]:
        """``name</name><val …>text</val></propSet>`` (or no ``<val>``) per part but the first.

        Returns the properties and how many had no ``<val>``.
        """
        props: dict[str, Any] = {}
        names = self._names
        converters = self._converters
        without_val = 0
        val_end = fast.VAL_END
        for i in range(1, len(parts)):
            raw_name, _, rest = parts[i].partition(b"</name>")
            name = names.get(raw_name)
            if name is None:
                name = names[raw_name] = fast.name_text(raw_name)
            if rest == fast.PROPSET_END:
                props[name] = None
                without_val += 1
                continue
            if not rest.endswith(val_end):
                raise fast.NotSimple("not a simple propSet")
            head, _, raw = rest[:-16].partition(b">")
            convert = converters.get(head)
            if convert is None:
                convert = self._converter(head)
            data = raw.decode()
            if entities and "&" in data:
                data = fast.text(raw)
            props[name] = convert(data)
        return props, without_val

    def _converter(self, head: bytes) -> Callable[[str], Any]:
        """How to read the text of a ``<val …>`` (cached per attribute text)."""
        if self._scope_changed:  # the cache holds for one set of namespaces in scope
            self._scope_changed = False
            scope = fast.scope_key(self._ns)
            if scope != self._val_scope:
                self._converters.clear()
                self._val_scope = scope
        uri, type_name, ref_type = fast.val_attributes(head, self._ns)
        kind = _TYPES.by_name(uri, type_name)
        if kind is None or kind.code > _REF:
            raise fast.NotSimple(f"a {type_name} value")
        convert = self._converters[head] = self._leaf_reader(kind, ref_type)
        return convert

    def _leaf_reader(self, kind: _Kind, ref_type: str | None) -> Callable[[str], Any]:
        """:meth:`_leaf_value` for one kind, as a function of the text alone."""
        if kind.code == _SCALAR:
            return kind.convert  # type: ignore[return-value]
        if kind.code == _ENUM:
            pytype, unknown = kind.pytype, self._fast_unknown

            def enum_value(data: str) -> Any:
                value = getattr(pytype, data, None)
                if isinstance(value, pytype):
                    return value
                unknown.append(f"{kind.name}={data}")  # counted when the object is read
                return str(data)

            return enum_value
        refs = self._refs

        def reference(data: str) -> Any:
            key = (ref_type, None, data)
            try:
                return refs[key]
            except KeyError:
                made = refs[key] = self._make_ref(kind, ref_type, None, data)
                return made

        return reference

    # -- expat callbacks (hot: about 70 elements per VM)

    def _ns_start(self, prefix: str | None, uri: str) -> None:
        self._scope_changed = True
        stack = self._ns.setdefault(prefix, [])
        if stack and stack[-1] != uri:
            self._qnames.clear()
        stack.append(uri)

    def _ns_end(self, prefix: str | None) -> None:
        self._scope_changed = True
        stack = self._ns[prefix]
        uri = stack.pop()
        if stack and stack[-1] != uri:
            self._qnames.clear()

    def _text(self, data: str) -> None:
        self._data += data

    def _code(self, tag: str) -> int:
        code = self._codes[tag] = _ELEMENTS.get(tag.rpartition(NS_SEP)[2], _E_OTHER)
        return code

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        self._data = ""
        if self._skipping:
            self._skipping += 1
            if self._skipping == 2 and not self._missing_fault:
                self._missing_fault = _xsi_name(attrs)  # the fault inside
            return
        if self._values:
            self._start_value(tag.rpartition(NS_SEP)[2], attrs)
            return
        code = self._codes.get(tag)
        if code is None:
            code = self._code(tag)
        if code == _E_VAL:
            qname = attrs.get(XSI_TYPE)
            kind = self._kind_of(qname) if qname else None
            if kind is not None and kind.code <= _REF:  # scalar, enum or reference
                self._leaf = kind
                if kind.code == _REF:
                    self._leaf_ref = (attrs.get("type"), attrs.get("serverGuid"))
            else:
                self._start_value("val", attrs)
        elif code == _E_OBJECTS:
            self._ref, self._props = None, {}
            self._in_object = True
        elif code == _E_OBJ:
            self._obj_type = attrs.get("type")
            self._obj_guid = attrs.get("serverGuid")
        elif code == _E_PROPSET:
            self._prop_name, self._prop_value = None, None
        elif code == _E_MISSINGSET:
            self._missing_path, self._missing_fault = None, ""
        elif code == _E_FAULT:  # missingSet's LocalizedMethodFault: only its type is kept
            self._missing_fault = _xsi_name(attrs)
            self._skipping = 1

    def _end(self, tag: str) -> None:
        leaf = self._leaf
        if leaf is not None:
            self._leaf = None
            self._prop_value = self._leaf_value(leaf)
            return
        if self._skipping:
            self._skipping -= 1
            return
        if self._values:
            self._end_value()
            return
        code = self._codes.get(tag)
        if code is None:
            code = self._code(tag)
        if code == _E_NAME:
            self._prop_name = self._data
        elif code == _E_PROPSET:
            if self._prop_name is not None:
                self._props[self._prop_name] = self._prop_value
        elif code == _E_OBJ:
            self._ref = self._make_ref(_TYPES.moref, self._obj_type, self._obj_guid)
        elif code == _E_OBJECTS:
            self.page.rows.append((self._ref, self._props))
            self._in_object = False
        elif code == _E_PATH:
            self._missing_path = self._data
        elif code == _E_MISSINGSET:
            moid = getattr(self._ref, "_moId", "")
            self.page.missing.append((moid, self._missing_path or "", self._missing_fault))
            self._missing_path = None
        elif code == _E_TOKEN:
            self.page.token = self._data or None

    def _kind_of(self, qname: str) -> _Kind | None:
        try:
            return self._qnames[qname]
        except KeyError:
            prefix, _, local = qname.rpartition(":")
            uris = self._ns.get(prefix or None)
            kind = self._qnames[qname] = _TYPES.by_name(uris[-1] if uris else "", local)
            return kind

    def _leaf_value(self, kind: _Kind, data: str | None = None, ref: Any = None) -> Any:
        data = self._data if data is None else data
        code = kind.code
        if code == _SCALAR:
            return kind.convert(data)  # type: ignore[misc]
        if code == _ENUM:
            value = getattr(kind.pytype, data, None)
            if isinstance(value, kind.pytype):
                return value
            self.unknown_values[f"{kind.name}={data}"] += 1
            return str(data)
        type_name, guid = self._leaf_ref if ref is None else ref
        key = (type_name, guid, data)
        try:  # the same few hosts and folders are referenced by thousands of objects
            return self._refs[key]
        except KeyError:
            made = self._refs[key] = self._make_ref(kind, type_name, guid, data)
            return made

    # -- values

    def _start_value(self, name: str, attrs: dict[str, str]) -> None:
        attr, declared, append = self._slot(name)
        kind = self._value_kind(declared, attrs.get(XSI_TYPE))
        frame = _Frame(kind, attr, append)
        if kind.code == _DATA or kind.code == _UNTYPED:
            frame.value = Record(kind.name or name, kind.pytype)
        elif kind.code == _ARRAY:
            frame.value = []
        elif kind.code == _REF:
            frame.ref_type = attrs.get("type")
            frame.serverguid = attrs.get("serverGuid")
        self._values.append(frame)

    def _slot(self, name: str) -> tuple[str | None, Any, bool]:
        """Where element ``name`` goes in its parent value: (attribute, declared type, append)."""
        if not self._values:
            return None, None, False
        parent = self._values[-1].kind
        if parent.code == _ARRAY:
            return None, parent.item, True
        if parent.code == _DATA:
            found = _Types.prop(parent, name)
            if found is not None:
                return found
        return name, None, False

    def _value_kind(self, declared: Any, qname: str | None) -> _Kind:
        """The element's kind: its declared type, unless ``xsi:type`` names a dynamic one."""
        declared_kind = _TYPES.of(declared) if declared is not None else None
        kind = declared_kind
        if qname and not (declared is not None and _is_dynamic(declared)):
            dynamic = self._kind_of(qname)
            if not (
                dynamic is not None
                and dynamic.code == _ARRAY
                and declared_kind is not None
                and declared_kind.code == _ARRAY
            ):
                kind = dynamic
        elif declared_kind is not None and declared_kind.code == _ARRAY:
            kind = _TYPES.of(declared_kind.item)
        return kind if kind is not None else _TYPES.untyped

    def _end_value(self) -> None:
        frame = self._values.pop()
        kind = frame.kind
        if kind.code <= _REF:
            value = self._leaf_value(kind, ref=(frame.ref_type, frame.serverguid))
        elif kind.code == _UNTYPED and not frame.value:
            value = str(self._data)
        else:
            value = frame.value
        self._data = ""
        if not self._values:
            self._prop_value = value
            return
        parent = self._values[-1].value
        if isinstance(parent, list):
            parent.append(value)
        elif frame.append and not isinstance(value, list):
            parent.setdefault(frame.attr, []).append(value)
        else:
            parent[frame.attr] = value

    def _make_ref(
        self, kind: _Kind | None, type_name: str | None, guid: str | None, moid: str | None = None
    ) -> Any:
        moid = self._data if moid is None else moid
        pytype = _ref_type(type_name or "")
        if pytype is None:  # a managed object type this pyVmomi does not know
            pytype = kind.pytype if kind is not None and kind.pytype else ManagedObject
        return pytype(moid, self.stub, guid if self.keep_server_guid else None)


_REF_TYPES: dict[str, Any] = {}


def _ref_type(name: str) -> Any:
    try:
        return _REF_TYPES[name]
    except KeyError:
        found = _lookup_wsdl(XMLNS_VMODL_BASE, name.rpartition(":")[2]) if name else None
        _REF_TYPES[name] = found
        return found


def _is_dynamic(pytype: Any) -> bool:
    """pyVmomi ignores ``xsi:type`` on TypeName, MethodName and PropertyPath values."""
    return pytype is ManagedMethod or pytype is PropertyPath or pytype is type


def _supports_guids(stub: Any) -> bool:
    supports = getattr(stub, "SupportServerGUIDs", None)
    return bool(supports()) if callable(supports) else False


def parse_page(body: bytes, stub: Any = None, unknown_values: Counter[str] | None = None) -> Page:
    """Parse one whole response body (tests and benchmarks; collection streams chunks)."""
    parser = PageParser(stub, unknown_values)
    parser.feed(body)
    return parser.close()
