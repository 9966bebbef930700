"""A locked, corrupt, unwritable or unreachable history database is a clear HistoryError."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from balloon_audit.errors import HistoryError
from balloon_audit.history.store import HistoryStore, database_url, default_path
from tests.history.conftest import day, result, vm
from tests.pgserver import PgServer


def test_default_path_honours_xdg_state_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_path() == tmp_path / "balloon-audit" / "history.sqlite"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == tmp_path / ".local/state/balloon-audit/history.sqlite"
    assert database_url(None) == f"sqlite:///{default_path()}"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore.open(str(path)).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore.open(str(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = HistoryStore(*_reuse(path, timeout=0.3))
        with pytest.raises(HistoryError, match="locked") as caught:
            store.record(result([vm("a", None, ballooned=1000)], day(0)))
        assert "another balloon-audit" in (caught.value.hint or "")
    finally:
        holder.rollback()
        holder.close()


def _reuse(path: Path, timeout: float):  # type: ignore[no-untyped-def]
    from balloon_audit.history.store import _sqlite_engine

    url = database_url(str(path))
    return _sqlite_engine(url, timeout), url


def test_locked_while_opening(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore.open(str(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError, match="locked"):
            HistoryStore.open(str(path), timeout=0.3)
    finally:
        holder.rollback()
        holder.close()


def test_corrupt_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    with pytest.raises(HistoryError, match="not a database") as caught:
        HistoryStore.open(str(path))
    assert "damaged" in (caught.value.hint or "")


def test_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(HistoryError, match="cannot create the history directory"):
        HistoryStore.open(str(blocker / "sub" / "h.sqlite"))
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(HistoryError, match="unable to open"):
        HistoryStore.open(str(tmp_path / "dir.sqlite"))


def test_bad_url() -> None:
    with pytest.raises(HistoryError, match="invalid history URL"):
        HistoryStore.open("nosuchdb://x/y")


def test_postgresql_wrong_password_hides_it(pg_server: PgServer) -> None:
    url = pg_server.url().replace(pg_server.password, "wrong-secret-123")
    with pytest.raises(HistoryError) as caught:
        HistoryStore.open(url)
    text = f"{caught.value} {caught.value.hint}"
    assert "wrong-secret-123" not in text and pg_server.password not in text
    assert "password authentication failed" in text


def test_postgresql_unreachable() -> None:
    url = f"postgresql://balloon:pw@127.0.0.1:{_closed_port()}/x"
    with pytest.raises(HistoryError, match="127.0.0.1") as caught:
        HistoryStore.open(url, timeout=3)
    assert "pw@" not in str(caught.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
