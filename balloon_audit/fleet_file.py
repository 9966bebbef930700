"""The fleet file: one entry per vCenter / ESXi host, each with its own credentials.

A fleet is an array of ``[[fleet]]`` tables, either in the configuration file or in
a file of its own (``--fleet FILE``)::

    [[fleet]]
    name = "paris"                       # optional; how the entry is named in errors
    server = "vc-paris.example.com"      # host, host:port or https://host/sdk
    user = "audit@vsphere.local"
    password_env = "VC_PARIS_PASSWORD"   # exactly one password_* key per entry
    ca_bundle = "/etc/ssl/vc-paris.pem"
    labels = { site = "paris", environment = "prod" }

Everything is validated, and every password fetched, before any server is contacted:
an error names the entry and the key. Passwords are never logged or shown.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, ValidationError, model_validator

from balloon_audit.errors import ConfigError
from balloon_audit.history.setting import HistoryValueField
from balloon_audit.model import Snapshot
from balloon_audit.notify import NotifySection
from balloon_audit.validation import (
    InputModel,
    dotted,
    lookup,
    non_empty_text,
    port_number,
    problems,
    reject,
    suggest,
)

if TYPE_CHECKING:
    from balloon_audit.collect.target import Target

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

PASSWORD_KEYS = ("password_env", "password_file", "password_command", "password_keyring")
ENTRY_KEYS = (
    "name",
    "server",
    "port",
    "user",
    *PASSWORD_KEYS,
    "ca_bundle",
    "insecure",
    "connect_timeout",
    "timeout",
    "deadline",
    "labels",
)
COMMAND_TIMEOUT_S = 30.0
"""Longest wait for a ``password_command`` to print the password."""

_HINT = "see 'Fleet file' in docs/fleet.md"
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _server(value: Any) -> str:
    from balloon_audit.collect.target import parse_server

    text = non_empty_text(value)
    try:
        parse_server(text)
    except ConfigError as exc:
        reject(f"{exc} ({exc.hint})" if exc.hint else str(exc))
    return text


def _env_name(value: Any) -> str:
    text = non_empty_text(value)
    if not _ENV_NAME.match(text):
        reject(f"must be the name of an environment variable, e.g. VC01_PASSWORD (got {text!r})")
    return text


def _command(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        reject('must be a non-empty array of strings, e.g. ["pass", "show", "vc01"]')
    return tuple(value)


def _seconds(limit: float) -> Any:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            reject(f"must be a number of seconds between 1 and {limit:g}")
        if not 1 <= value <= limit:
            reject(f"must be between 1 and {limit:g} seconds (got {value})")
        return float(value)

    return BeforeValidator(check)


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        reject('must be a table of strings, e.g. { site = "paris", environment = "prod" }')
    for key, text in value.items():
        if not _LABEL.match(key):
            reject(f"label name {key!r} must be letters, digits and _ (not first a digit)")
        if not isinstance(text, str) or not text.strip():
            reject(f"label {key!r} must be a non-empty string")
    return {key: text.strip() for key, text in value.items()}


Text = Annotated[str, BeforeValidator(non_empty_text)]


class FleetEntry(InputModel):
    """``[[fleet]]``: one vCenter or ESXi host and how to log in to it."""

    name: Text | None = None
    server: Annotated[str, BeforeValidator(_server)]
    port: Annotated[int | None, BeforeValidator(port_number)] = None
    user: Text | None = None
    password_env: Annotated[str | None, BeforeValidator(_env_name)] = None
    password_file: Text | None = None
    password_command: Annotated[tuple[str, ...] | None, BeforeValidator(_command)] = None
    password_keyring: Text | None = None
    """Keyring service name; the keyring user is ``user``."""
    ca_bundle: Text | None = None
    insecure: StrictBool = False
    connect_timeout: Annotated[float, _seconds(600)] = 15.0
    timeout: Annotated[float, _seconds(3600)] = 300.0
    deadline: Annotated[float, _seconds(86400)] = 3600.0
    labels: Annotated[dict[str, str], BeforeValidator(_labels)] = Field(default_factory=dict)

    @classmethod
    def unknown_key(cls, key: str) -> str:
        if key == "password":
            return (
                "a password is never written in the fleet file: use password_env, "
                "password_file, password_command or password_keyring"
            )
        return f"unknown fleet key{suggest(key, ENTRY_KEYS)}"

    @classmethod
    def missing_key(cls, key: str) -> str:
        return f"missing: every fleet entry needs a {key}"

    @classmethod
    def not_a_table(cls, value: Any) -> str:
        return "each fleet entry must be a table ([[fleet]])"

    @model_validator(mode="after")
    def _one_password_source(self) -> FleetEntry:
        given = [key for key in PASSWORD_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            reject(
                ("has " + " and ".join(given) if given else "has no password source")
                + f": give exactly one of {', '.join(PASSWORD_KEYS)}",
                key="password_env" if not given else given[1],
            )
        if self.password_keyring is not None and not self.user:
            reject("password_keyring needs a user (the keyring user name)", key="user")
        return self

    @property
    def title(self) -> str:
        """How errors name the entry."""
        return self.name or self.server


def _entries(value: Any) -> Any:
    if not isinstance(value, list):
        reject("must be an array of tables ([[fleet]])")
    return value


class FleetFile(InputModel):
    """A ``--fleet FILE``: ``[[fleet]]`` entries, and maybe ``[notify]`` and ``history``."""

    fleet: Annotated[tuple[FleetEntry, ...], BeforeValidator(_entries)]
    notify: NotifySection | None = None
    """A ``[notify]`` table may live here too (docs/notify.md)."""
    history: HistoryValueField = None
    """``history = …``: where the fleet's runs are recorded (docs/history.md)."""

    @classmethod
    def unknown_key(cls, key: str) -> str:
        return (
            f"unknown top-level key{suggest(key, ('fleet', 'notify', 'history'))} "
            "(a fleet file holds [[fleet]], [notify] and history)"
        )

    @classmethod
    def missing_key(cls, key: str) -> str:
        return "no [[fleet]] entry"


@dataclass(frozen=True)
class FleetSource:
    """A fleet entry with its password fetched: ready to become a collection Target."""

    entry: FleetEntry
    password: str = field(repr=False)


def load_fleet(path: Path) -> tuple[FleetEntry, ...]:
    """Read and validate the fleet file at ``path`` (ConfigError naming entry and key)."""
    return load_fleet_file(path).fleet


def load_fleet_file(path: Path) -> FleetFile:
    """The whole fleet file at ``path``: entries and an optional ``[notify]`` table."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"fleet file {path} does not exist", hint=_HINT) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"fleet file {path} cannot be read: {reason}", hint=_HINT) from None
    return parse_fleet_file(data, source=f"fleet file {path}")


def parse_fleet(data: Mapping[str, Any], source: str = "fleet file") -> tuple[FleetEntry, ...]:
    """Validate parsed TOML holding ``[[fleet]]`` entries."""
    return parse_fleet_file(data, source).fleet


def parse_fleet_file(data: Mapping[str, Any], source: str = "fleet file") -> FleetFile:
    """Validate parsed TOML holding ``[[fleet]]`` entries and maybe ``[notify]``."""
    try:
        parsed = FleetFile.model_validate(data)
    except ValidationError as exc:
        raise fleet_error(exc, FleetFile, data, source) from None
    check_entries(parsed.fleet, source)
    return parsed


def fleet_error(exc: ValidationError, model: Any, data: Any, source: str) -> ConfigError:
    """One ConfigError listing each problem as ``fleet[2] (paris).password_env: reason``."""

    def label(prefix: Any) -> str:
        entry = lookup(data, prefix)
        title = entry_title(entry) if prefix[0] == "fleet" else None
        return f" ({title})" if title else ""

    lines = [f"{dotted(p.loc, label)}: {p.message}" for p in problems(exc, model)]
    if len(lines) == 1:
        return ConfigError(f"{source}: {lines[0]}", hint=_HINT)
    listed = "".join(f"\n  {line}" for line in lines)
    return ConfigError(f"{source}: {len(lines)} problems:{listed}", hint=_HINT)


def entry_title(entry: Any) -> str | None:
    """How an error names a raw fleet table: its name, else its server without any user info."""
    if not isinstance(entry, Mapping):
        return None
    title = entry.get("name") or entry.get("server")
    if not isinstance(title, str):
        return None
    if "@" in title:  # never echo a password written into a URL
        scheme, sep, rest = title.rpartition("://")
        title = scheme + sep + rest.rpartition("@")[2]
    return title


def check_entries(entries: Sequence[FleetEntry], source: str) -> None:
    """Entry names are unique; paths named by an entry exist (before anything is contacted)."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"{source}: fleet[{index}] ({entry.title})"
        if entry.title in seen:
            raise ConfigError(
                f"{where}: the name {entry.title!r} is already used by fleet[{seen[entry.title]}]",
                hint="give each entry its own name (or server)",
            )
        seen[entry.title] = index
        if entry.ca_bundle is not None and not Path(entry.ca_bundle).expanduser().is_file():
            raise ConfigError(f"{where}.ca_bundle: {entry.ca_bundle} is not a file", hint=_HINT)


def select(entries: Sequence[FleetEntry], wanted: Sequence[str]) -> tuple[FleetEntry, ...]:
    """The entries carrying every ``key=value`` label in ``wanted`` (``--label site=paris``;
    ``fleet=NAME`` picks an entry by name)."""
    pairs = []
    for item in wanted:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--label {item!r} is not KEY=VALUE", hint="e.g. --label site=paris")
        pairs.append((key.strip(), value.strip()))
    chosen = tuple(e for e in entries if all(_labels_of(e).get(k) == v for k, v in pairs))
    if not chosen:
        known = sorted({f"{k}={v}" for e in entries for k, v in _labels_of(e).items()})
        raise ConfigError(
            f"no fleet entry has the labels {', '.join(wanted)}",
            hint=f"labels in the fleet: {', '.join(known) or 'none'}",
        )
    return chosen


def _labels_of(entry: FleetEntry) -> dict[str, str]:
    """The entry's labels and, when it has a name, ``fleet = name`` (as results carry it)."""
    return {**entry.labels, **({"fleet": entry.name} if entry.name else {})}


def fetch_passwords(
    entries: Sequence[FleetEntry], environ: Mapping[str, str] | None = None
) -> list[FleetSource]:
    """Each entry with its password, all fetched before any server is contacted."""
    env = os.environ if environ is None else environ
    return [
        FleetSource(entry, fetch_password(index, entry, env)) for index, entry in enumerate(entries)
    ]


def fetch_password(index: int, entry: FleetEntry, environ: Mapping[str, str]) -> str:
    """The entry's password from its one source; ConfigError naming entry and key if none."""
    where = f"fleet[{index}] ({entry.title})"
    if entry.password_env is not None:
        value = environ.get(entry.password_env, "")
        if not value:
            raise ConfigError(
                f"{where}.password_env: ${entry.password_env} is not set or empty",
                hint=f"export {entry.password_env} in the environment that runs balloon-audit",
            )
        return value
    if entry.password_file is not None:
        return read_secret_file(where, Path(entry.password_file).expanduser())
    if entry.password_command is not None:
        return _from_command(where, entry.password_command)
    return _from_keyring(where, entry.password_keyring or "", entry.user or "")


def read_secret_file(where: str, path: Path) -> str:
    """The first line of a password file that only its owner can read (mode 0600 or stricter)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(
            f"{where}.password_file: {path}: {exc.strerror}", hint="check the path"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{where}.password_file: {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{where}.password_file: {path} has mode {mode:04o}; "
            "a password file must be readable by its owner only",
            hint=f"chmod 600 {path}",
        )
    try:
        first = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"{where}.password_file: {path} cannot be read: {reason}") from None
    if not first or not first[0]:
        raise ConfigError(f"{where}.password_file: {path} is empty (the first line is used)")
    return first[0]


def _from_command(where: str, command: Sequence[str]) -> str:
    """Run the command (no shell); its first line of output is the password."""
    try:
        done = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            f"{where}.password_command: {command[0]} was not found", hint="check the program path"
        ) from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{where}.password_command: no answer within {COMMAND_TIMEOUT_S:g}s",
            hint="the command must print the password without asking anything",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{where}.password_command: cannot run: {exc.strerror}") from None
    if done.returncode != 0:  # its output is not shown: it could hold the secret
        raise ConfigError(
            f"{where}.password_command: {command[0]} exited with code {done.returncode}",
            hint="run the command by hand to see why",
        )
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0]:
        raise ConfigError(f"{where}.password_command: {command[0]} printed nothing")
    return lines[0]


def _from_keyring(where: str, service: str, user: str) -> str:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise ConfigError(
            f"{where}.password_keyring: the keyring library is not installed",
            hint="pip install 'balloon-audit[keyring]' (or pip install keyring)",
        ) from None
    try:
        value = keyring.get_password(service, user)
    except KeyringError as exc:
        raise ConfigError(f"{where}.password_keyring: keyring error: {exc}") from None
    if not value:
        raise ConfigError(
            f"{where}.password_keyring: no password for user {user!r} in service {service!r}",
            hint=f"store it with: keyring set {service} {user}",
        )
    return value


def fleet_targets(sources: Sequence[FleetSource]) -> list[Target]:
    """One collection Target per fleet entry, with its own user, password, TLS and limits."""
    from balloon_audit.collect.target import DEFAULT_PORT, Target, parse_server

    targets = []
    for source in sources:
        entry = source.entry
        host, url_port, url_user = parse_server(entry.server)
        targets.append(
            Target(
                server=host,
                port=entry.port or url_port or DEFAULT_PORT,
                user=entry.user or url_user or "",
                password=source.password,
                insecure=entry.insecure,
                ca_bundle=Path(entry.ca_bundle).expanduser() if entry.ca_bundle else None,
                connect_timeout_s=entry.connect_timeout,
                request_timeout_s=entry.timeout,
                deadline_s=entry.deadline,
            )
        )
    return targets


def label_sources(snapshot: Snapshot, sources: Sequence[FleetSource]) -> Snapshot:
    """The snapshot with each source carrying its fleet entry's labels (and ``fleet`` name)."""
    by_label = {}
    for target, source in zip(fleet_targets(sources), sources, strict=True):
        labels = dict(source.entry.labels)
        if source.entry.name:
            labels.setdefault("fleet", source.entry.name)
        by_label[target.label] = labels
    return dataclasses.replace(
        snapshot,
        sources=tuple(
            dataclasses.replace(s, labels=by_label.get(s.server, s.labels))
            for s in snapshot.sources
        ),
    )
